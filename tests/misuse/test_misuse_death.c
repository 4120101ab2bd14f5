/*
 * test_misuse_death.c — concurrent misuse of a map ends the process with Go's
 * message and a report that names both threads.
 *
 * Every case forks a child that misuses a map on purpose; the parent reads
 * the child's stderr through a pipe and waits for it. The child also sends
 * facts the report must contain (the map's address, each thread's name and
 * id) on a second pipe before it starts misusing the map. A detection is a
 * child killed by SIGABRT whose stderr starts with Go's exact line
 * ("fatal error: concurrent map writes" and the like). Every child arms
 * alarm(CHILD_ALARM) as a hang guard: a child killed by SIGALRM failed to
 * detect what it was built to detect.
 *
 * Deterministic cases (no data race, so they run under every sanitizer):
 *   - parked writer: a map with a custom hash function that, called on the
 *     writer thread, stops that thread inside its write (the write mark is
 *     set) until the process ends (or, in the cases that must not detect
 *     anything, until the test lets it finish). Another thread then does
 *     one operation:
 *     every write (set, assign, delete, clear, shrink) must die with
 *     "concurrent map writes", every lookup (get, get_copy, clone) with
 *     "concurrent map read and map write", an iterator step with
 *     "concurrent map iteration and map write". Each of them meets a parked
 *     set; a set, a clear, a get and an iterator step also meet a parked
 *     assign, delete and shrink; in fast and strict mode. A typed lookup
 *     (gomap_get_str) meets a set parked in the allocator of a string map
 *     whose lookups take the fast path (its `lookup_shape` test is then
 *     the misuse check).
 *     The report must give the map's address and check mode, both threads'
 *     names and ids, and the symbolized thread functions of both sides.
 *   - check mode off, and GOMAP_CHECK=off|fast|strict with GOMAP_CHECK_AUTO:
 *     off lets the reads through (the child exits 0 with a silent stderr),
 *     fast and strict detect.
 *   - the fault handler: it runs after the report is printed, on a thread of
 *     its own, receives the facts of the report (and the report itself,
 *     byte for byte), and the process still dies of SIGABRT when the handler
 *     returns or calls pthread_exit; a removed handler is not called.
 *
 * Racing cases (real data races, skipped under ThreadSanitizer, which
 * would report the race itself first):
 *   - two threads calling gomap_set on one map: strict mode must detect in
 *     STRICT_RUNS of STRICT_RUNS children, each report naming both writers;
 *   - the same in fast mode (best effort, as in Go): FAST_RUNS children,
 *     each giving up after FAST_SECONDS; the rate is printed and must be at
 *     least one half. A child that crashes some other way (a sanitizer
 *     report, a corrupted map) counts as not detected;
 *   - one writer deleting and re-inserting keys while another thread looks
 *     keys up, or iterates: the reader must die with "read and map write",
 *     the iterator with "iteration and map write" (one writer: fast and
 *     strict mode behave alike);
 *   - strict writers with the recording fault handler installed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "check.h"
#include "child.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

enum {
    CHILD_ALARM = 20,     /* seconds: hang guard of every child */
    STRICT_RUNS = 100,
    FAST_RUNS = 40,
    HANDLER_RACE_RUNS = 10,
    RACE_KEYS = 2048,     /* racing writers use keys below this (map presized) */
    OBSERVE_KEYS = 1024,  /* entries of the map in the reader/iterator races */
    PARK_FILL = 200,      /* entries of the parked-writer map */
};

#define FAST_SECONDS 0.5

#define MSG_WRITES "concurrent map writes"
#define MSG_READ "concurrent map read and map write"
#define MSG_ITER "concurrent map iteration and map write"

/* ------------------------------------------------------------------------ */
/* Running a child                                                           */
/* ------------------------------------------------------------------------ */

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, len, "ended with wait status %#x", (unsigned)status);
}

/* Prints what a child did, for a failure message. */
static void show_child(const char *label, const child_result *r)
{
    char st[96];
    describe_status(r->status, st, sizeof st);
    fprintf(stderr, "---- child '%s' %s; its stderr (%zu bytes):\n%.*s%s---- info:\n%s----\n",
            label, st, r->err_len, (int)(r->err_len > 6000 ? 6000 : r->err_len), r->err,
            r->err_len > 6000 ? "\n[...]\n" : "", r->info);
}

static bool died_of_abort(const child_result *r)
{
    return WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
}

static bool first_line_is(const child_result *r, const char *msg)
{
    char want[160];
    snprintf(want, sizeof want, "fatal error: %s\n", msg);
    return strncmp(r->err, want, strlen(want)) == 0;
}

static bool detected(const child_result *r, const char *msg)
{
    return died_of_abort(r) && first_line_is(r, msg);
}

/* Fails the test unless the child died of SIGABRT with Go's exact line,
 * and no sanitizer reported anything on the way (ThreadSanitizer warnings,
 * for one, do not stop the process). */
static void expect_death(const child_result *r, const char *msg, const char *label)
{
    bool ok = detected(r, msg) && !strstr(r->err, "Sanitizer");
    if (!ok) {
        show_child(label, r);
        CHECK_MSG(ok, "child '%s': expected SIGABRT, \"fatal error: %s\" and no sanitizer report",
                  label, msg);
    }
}

/* Fails the test unless the child exited 0 and wrote nothing on stderr. */
static void expect_clean_exit(const child_result *r, const char *label)
{
    bool ok = WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 && r->err_len == 0;
    if (!ok) {
        show_child(label, r);
        CHECK_MSG(ok, "child '%s': expected exit 0 and an empty stderr", label);
    }
}

/* ------------------------------------------------------------------------ */
/* Looking at a report                                                       */
/* ------------------------------------------------------------------------ */

/* The value of the info line "key value" (copied to out); false if none. */
static bool info_get(const char *info, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    for (const char *p = info; *p;) {
        size_t n = strcspn(p, "\n");
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            size_t vn = n - klen - 1 < len ? n - klen - 1 : len - 1;
            memcpy(out, p + klen + 1, vn);
            out[vn] = '\0';
            return true;
        }
        p += n;
        if (*p)
            p++;
    }
    return false;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

/* Does text[0, len) hold `word`, not as part of a longer word? */
static bool has_word_n(const char *text, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; i++) {
        if (memcmp(text + i, word, wl) == 0 && (i == 0 || !word_char(text[i - 1])) &&
            (i + wl == len || !word_char(text[i + wl])))
            return true;
    }
    return false;
}

static bool has_word(const char *text, const char *word)
{
    return has_word_n(text, strlen(text), word);
}

/* Does some line of text hold both words? (A thread's name and its id.) */
static bool line_has_both(const char *text, const char *a, const char *b)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        if (has_word_n(p, n, a) && has_word_n(p, n, b))
            return true;
        p += n;
        if (*p)
            p++;
    }
    return false;
}

/* Checks a report against the facts the child sent: the map's address
 * (info "map"), for each named thread its name with its id on one line, and
 * the given function names (symbolized call sites and backtraces). */
static void expect_report(const child_result *r, const char *label, const char *const *threads,
                          const char *const *functions)
{
    char buf[64];
    bool ok = true;
    char why[256] = "";
    if (!info_get(r->info, "map", buf, sizeof buf) || !has_word(r->err, buf)) {
        ok = false;
        snprintf(why, sizeof why, "map address '%s' missing", buf);
    }
    for (int i = 0; ok && threads[i]; i++) {
        if (!info_get(r->info, threads[i], buf, sizeof buf) ||
            !line_has_both(r->err, threads[i], buf)) {
            ok = false;
            snprintf(why, sizeof why, "thread \"%s\" (id %s) not named with its id", threads[i],
                     buf);
        }
    }
    for (int i = 0; ok && functions[i]; i++) {
        if (!has_word(r->err, functions[i])) {
            ok = false;
            snprintf(why, sizeof why, "function %s not in the report", functions[i]);
        }
    }
    if (!ok) {
        show_child(label, r);
        CHECK_MSG(ok, "child '%s': %s", label, why);
    }
}

/* The report's line with the map's address names the check mode. */
static void expect_mode_named(const child_result *r, const char *label, const char *mode)
{
    char map[64] = "";
    bool ok = info_get(r->info, "map", map, sizeof map) && line_has_both(r->err, map, mode);
    if (!ok) {
        show_child(label, r);
        CHECK_MSG(ok, "child '%s': the map line does not name check mode %s", label, mode);
    }
}

/* ------------------------------------------------------------------------ */
/* Helpers used inside children                                              */
/* ------------------------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void wait_flag(atomic_int *flag)
{
    while (!atomic_load_explicit(flag, memory_order_acquire))
        sleep_ms(1);
}

/* Names the calling thread and tells the parent its name and id. */
static void name_self(const char *name)
{
    CHECK(pthread_setname_np(pthread_self(), name) == 0);
    child_info("%s %ld\n", name, (long)gettid());
}

static const char *mode_word(gomap_check_mode mode)
{
    return mode == GOMAP_CHECK_STRICT ? "strict" : mode == GOMAP_CHECK_FAST ? "fast" : "off";
}

/* ------------------------------------------------------------------------ */
/* Fault handlers                                                            */
/* ------------------------------------------------------------------------ */

enum { HANDLER_NONE, HANDLER_RECORD, HANDLER_RETURN, HANDLER_THREAD_EXIT, HANDLER_REMOVED };

static int handler_token; /* its address is the handler's context */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* Writes everything it was given as one line of "key=value|" fields. */
static void record_handler(const gomap_fault *f, void *ctx)
{
    size_t rlen = f->report ? strlen(f->report) : 0;
    dprintf(STDERR_FILENO,
            "FAULT-HANDLER|message=%s|map=%p|tid=%llu|name=%s|other_tid=%llu|other_name=%s"
            "|handler_tid=%ld|ctx_ok=%d|report_len=%zu|report_hash=%016llx|\n",
            f->message, (const void *)f->map, (unsigned long long)f->thread_id,
            f->thread_name, (unsigned long long)f->other_thread_id, f->other_thread_name,
            (long)gettid(), ctx == &handler_token, rlen,
            (unsigned long long)fnv1a(f->report ? f->report : "", rlen));
}

static void returning_handler(const gomap_fault *f, void *ctx)
{
    (void)f;
    (void)ctx;
    dprintf(STDERR_FILENO, "RETURNING-HANDLER ran\n");
}

static void thread_exit_handler(const gomap_fault *f, void *ctx)
{
    (void)f;
    (void)ctx;
    dprintf(STDERR_FILENO, "EXITING-HANDLER ran\n");
    pthread_exit(NULL);
}

static void install_handler(int which)
{
    switch (which) {
    case HANDLER_RECORD:
        gomap_set_fault_handler(record_handler, &handler_token);
        break;
    case HANDLER_RETURN:
        gomap_set_fault_handler(returning_handler, NULL);
        break;
    case HANDLER_THREAD_EXIT:
        gomap_set_fault_handler(thread_exit_handler, NULL);
        break;
    case HANDLER_REMOVED:
        gomap_set_fault_handler(record_handler, &handler_token);
        gomap_set_fault_handler(NULL, NULL);
        break;
    default:
        break;
    }
}

/* The field `key` of the FAULT-HANDLER line. */
static bool handler_field(const char *line, const char *key, char *out, size_t len)
{
    char pat[48];
    snprintf(pat, sizeof pat, "|%s=", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = strcspn(p, "|\n");
    if (n >= len)
        n = len - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* Checks the recording handler's line: it follows the report, which it
 * received byte for byte, ran on a thread of its own, got its context, and
 * saw the message, the map, the detecting thread `self` and the other
 * thread `other` (names sent as info, with their ids). With `either`, the
 * two may be the other way round (two racing writers: either detects). */
static void expect_handler_record(const child_result *r, const char *label, const char *msg,
                                  const char *self, const char *other, bool either)
{
    char why[256] = "";
    bool ok = false;
    const char *line = strstr(r->err, "FAULT-HANDLER|");
    char v[128] = "", map[64] = "", tid_a[32] = "", tid_b[32] = "";
    info_get(r->info, "map", map, sizeof map);
    info_get(r->info, self, tid_a, sizeof tid_a);
    info_get(r->info, other, tid_b, sizeof tid_b);
    do {
        if (!line) {
            snprintf(why, sizeof why, "no FAULT-HANDLER line");
            break;
        }
        size_t at = (size_t)(line - r->err);
        size_t rlen = 0;
        unsigned long long hash = 0;
        if (!handler_field(line, "report_len", v, sizeof v) || sscanf(v, "%zu", &rlen) != 1 ||
            !handler_field(line, "report_hash", v, sizeof v) || sscanf(v, "%llx", &hash) != 1) {
            snprintf(why, sizeof why, "malformed handler line");
            break;
        }
        if (rlen == 0 || at < rlen || fnv1a(r->err, rlen) != hash) {
            snprintf(why, sizeof why,
                     "the handler's report (%zu bytes) is not what stderr starts with, or the "
                     "handler line (at byte %zu) does not follow it",
                     rlen, at);
            break;
        }
        if (!handler_field(line, "message", v, sizeof v) || strcmp(v, msg) != 0) {
            snprintf(why, sizeof why, "handler message '%s'", v);
            break;
        }
        if (!handler_field(line, "map", v, sizeof v) || strcmp(v, map) != 0) {
            snprintf(why, sizeof why, "handler map '%s', child's map '%s'", v, map);
            break;
        }
        if (!handler_field(line, "ctx_ok", v, sizeof v) || strcmp(v, "1") != 0) {
            snprintf(why, sizeof why, "handler context not passed through");
            break;
        }
        char tid[32], name[32], otid[32], oname[32], htid[32];
        if (!handler_field(line, "tid", tid, sizeof tid) ||
            !handler_field(line, "name", name, sizeof name) ||
            !handler_field(line, "other_tid", otid, sizeof otid) ||
            !handler_field(line, "other_name", oname, sizeof oname) ||
            !handler_field(line, "handler_tid", htid, sizeof htid)) {
            snprintf(why, sizeof why, "malformed handler line");
            break;
        }
        bool straight = !strcmp(name, self) && !strcmp(tid, tid_a) && !strcmp(oname, other) &&
                        !strcmp(otid, tid_b);
        bool swapped = !strcmp(name, other) && !strcmp(tid, tid_b) && !strcmp(oname, self) &&
                       !strcmp(otid, tid_a);
        if (!(straight || (either && swapped))) {
            snprintf(why, sizeof why, "handler threads %s/%s and %s/%s, expected %s/%s and %s/%s",
                     name, tid, oname, otid, self, tid_a, other, tid_b);
            break;
        }
        if (!strcmp(htid, tid) || !strcmp(htid, otid)) {
            snprintf(why, sizeof why, "the handler ran on thread %s, not a thread of its own",
                     htid);
            break;
        }
        ok = true;
    } while (0);
    if (!ok) {
        show_child(label, r);
        CHECK_MSG(ok, "child '%s': %s", label, why);
    }
}

/* ------------------------------------------------------------------------ */
/* Deterministic: a writer parked inside its write                          */
/* ------------------------------------------------------------------------ */

/* The operations a case combines. The first five are writes. */
typedef enum {
    OP_SET,
    OP_ASSIGN,
    OP_DELETE,
    OP_CLEAR,
    OP_SHRINK,
    OP_GET,
    OP_GET_COPY,
    OP_CLONE,
    OP_ITER_NEXT,
    OP_GET_STR,   /* on a string map (the others: on a custom-kind map) */
    OP_COUNT
} map_op;

static const char *const op_names[OP_COUNT] = {
    "set", "assign", "delete", "clear", "shrink", "get", "get_copy", "clone", "iter_next",
    "get_str",
};

static const char *op_message(map_op op)
{
    return op <= OP_SHRINK ? MSG_WRITES : op == OP_ITER_NEXT ? MSG_ITER : MSG_READ;
}

typedef struct {
    gomap_check_mode mode;
    map_op parked_op;   /* set, assign, delete or shrink */
    map_op observe_op;  /* what the other thread does while the writer is parked */
    const char *env;    /* GOMAP_CHECK for the child; NULL: unset */
    int handler;        /* HANDLER_* */
} parked_cfg;

/* Child state: the writer thread sets park_here before its write; the
 * custom hash function (or, for a string map, the allocator), called
 * inside that write, then stops it there. */
static _Thread_local bool park_here;
static atomic_int parked;         /* the writer is inside its write */
static atomic_int unpark;         /* let it finish (only when nothing detects) */
static atomic_int observer_ready; /* the observer has prepared its operation */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void park_if_asked(void)
{
    if (park_here) {
        park_here = false;
        /* Release: whatever this thread did before is visible to the
         * observer, which acquires `parked` before it acts. */
        atomic_store_explicit(&parked, 1, memory_order_release);
        wait_flag(&unpark);
    }
}

static void *parking_alloc(size_t size, void *ctx)
{
    (void)ctx;
    park_if_asked();
    return malloc(size);
}

static void parking_free(void *ptr, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    free(ptr);
}

static uint64_t parking_hash(const void *key, uint64_t seed)
{
    park_if_asked();
    uint64_t k;
    memcpy(&k, key, sizeof k);
    return mix64(k ^ seed);
}

static bool u64_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

typedef struct {
    gomap_t *m;
    const parked_cfg *cfg;
} parked_arg;

enum { PARK_KEY_NEW = 100000, PARK_KEY_PRESENT = 7, OBSERVE_KEY_NEW = 200000,
       OBSERVE_KEY_PRESENT = 3 };

/* Enters one write and stays in it (the hash call parks it). Each public
 * call is made from this function itself, so the call site named in the
 * report is in parked_writer_thread. */
static void *parked_writer_thread(void *p)
{
    parked_arg *a = p;
    name_self("writer-a");
    wait_flag(&observer_ready);
    uint64_t k = a->cfg->parked_op == OP_DELETE ? PARK_KEY_PRESENT : PARK_KEY_NEW;
    uint64_t v = 42;
    void *slot = NULL;
    park_here = true;
    switch (a->cfg->parked_op) {
    case OP_SET:
        if (a->cfg->observe_op == OP_GET_STR)
            CHECK_EQ(gomap_set_str(a->m, "new", 3, &v), 0); /* parks copying "new" */
        else
            CHECK_EQ(gomap_set(a->m, &k, &v), 0);
        break;
    case OP_ASSIGN:
        CHECK_EQ(gomap_assign(a->m, &k, &slot), 1);
        break;
    case OP_DELETE:
        CHECK(gomap_delete(a->m, &k));
        break;
    case OP_SHRINK:
        CHECK_EQ(gomap_shrink(a->m), 0);
        break;
    default:
        CHECK_MSG(0, "not a parking write: %d", (int)a->cfg->parked_op);
    }
    CHECK(!park_here); /* the write did call the hash function */
    return NULL;
}

/* Prepares its operation, lets the writer park, then does the operation
 * (again each public call directly in this function). */
static void *observer_thread(void *p)
{
    parked_arg *a = p;
    gomap_t *m = a->m;
    name_self("observer-b");
    gomap_iter it;
    if (a->cfg->observe_op == OP_ITER_NEXT) {
        gomap_iter_init(&it, m);
        CHECK(gomap_iter_next(&it, NULL, NULL));
    }
    atomic_store_explicit(&observer_ready, 1, memory_order_release);
    wait_flag(&parked);
    uint64_t k = OBSERVE_KEY_PRESENT, knew = OBSERVE_KEY_NEW, v = 7;
    void *slot = NULL;
    gomap_t *c = NULL;
    switch (a->cfg->observe_op) {
    case OP_SET:
        (void)gomap_set(m, &knew, &v);
        break;
    case OP_ASSIGN:
        (void)gomap_assign(m, &knew, &slot);
        break;
    case OP_DELETE:
        (void)gomap_delete(m, &k);
        break;
    case OP_CLEAR:
        gomap_clear(m);
        break;
    case OP_SHRINK:
        (void)gomap_shrink(m);
        break;
    case OP_GET:
        CHECK(gomap_get(m, &k) != NULL);
        break;
    case OP_GET_COPY:
        CHECK(gomap_get_copy(m, &k, &v));
        break;
    case OP_CLONE:
        CHECK_EQ(gomap_clone(&c, m), 0);
        gomap_free(c);
        break;
    case OP_ITER_NEXT:
        CHECK(gomap_iter_next(&it, NULL, NULL));
        gomap_iter_done(&it);
        break;
    case OP_GET_STR:
        CHECK(gomap_get_str(m, "3", 1) != NULL);
        break;
    default:
        break;
    }
    return NULL;
}

static void parked_body(void *p)
{
    const parked_cfg *c = p;
    if (c->env)
        CHECK(setenv("GOMAP_CHECK", c->env, 1) == 0);
    else
        CHECK(unsetenv("GOMAP_CHECK") == 0);
    install_handler(c->handler);
    static gomap_allocator parking_allocator = {parking_alloc, parking_free, NULL};
    bool str = c->observe_op == OP_GET_STR;
    gomap_options o;
    memset(&o, 0, sizeof o);
    if (str) {
        /* Presized, so that it is not growing when the writer parks:
         * lookups take the fast path but for the write in progress. */
        o.key_kind = GOMAP_KEY_STR;
        o.alloc = &parking_allocator;
        o.hint = 2 * PARK_FILL;
    } else {
        o.key_kind = GOMAP_KEY_CUSTOM;
        o.key_size = sizeof(uint64_t);
        o.hash = parking_hash;
        o.equal = u64_equal;
    }
    o.val_size = sizeof(uint64_t);
    o.check = c->mode;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    for (uint64_t k = 0; k < PARK_FILL; k++) {
        char s[24];
        int n = snprintf(s, sizeof s, "%llu", (unsigned long long)k);
        CHECK_EQ(str ? gomap_set_str(m, s, (size_t)n, &k) : gomap_set(m, &k, &k), 0);
    }
    if (c->parked_op == OP_SHRINK) /* leave the shrink something to give back */
        for (uint64_t k = PARK_FILL / 4; k < PARK_FILL; k++)
            CHECK(gomap_delete(m, &k));
    size_t before = gomap_len(m);
    child_info("map %p\n", (void *)m);

    parked_arg a = {m, c};
    pthread_t w, obs;
    CHECK(pthread_create(&w, NULL, parked_writer_thread, &a) == 0);
    CHECK(pthread_create(&obs, NULL, observer_thread, &a) == 0);
    CHECK(pthread_join(obs, NULL) == 0);
    /* Only reached when the operation was not detected (check mode off):
     * the writer finishes its write and the map must be whole. */
    atomic_store_explicit(&unpark, 1, memory_order_release);
    CHECK(pthread_join(w, NULL) == 0);
    CHECK_VALID(m);
    CHECK_EQ(gomap_len(m), before + (c->parked_op == OP_SET || c->parked_op == OP_ASSIGN));
    gomap_free(m);
}

static child_result run_parked(const parked_cfg *c, char *label, size_t label_len)
{
    snprintf(label, label_len, "%s: %s while %s is parked (env GOMAP_CHECK=%s)",
             c->mode == GOMAP_CHECK_AUTO ? "auto" : mode_word(c->mode), op_names[c->observe_op],
             op_names[c->parked_op], c->env ? c->env : "unset");
    return run_child(parked_body, (void *)c, CHILD_ALARM);
}

static const char *const parked_threads[] = {"writer-a", "observer-b", NULL};
static const char *const parked_functions[] = {"parked_writer_thread", "observer_thread", NULL};

/* Every write, lookup and iterator step meets a parked set; a write, a
 * lookup and an iterator step meet a parked write of every other kind; in
 * fast and strict mode. */
static void test_parked_writer_every_operation(void)
{
    static const gomap_check_mode modes[] = {GOMAP_CHECK_FAST, GOMAP_CHECK_STRICT};
    static const map_op parks[] = {OP_SET, OP_ASSIGN, OP_DELETE, OP_SHRINK};
    int runs = 0;
    for (size_t mi = 0; mi < 2; mi++) {
        for (size_t pi = 0; pi < 4; pi++) {
            for (int op = 0; op < OP_COUNT; op++) {
                if (parks[pi] != OP_SET && op != OP_SET && op != OP_CLEAR && op != OP_GET &&
                    op != OP_ITER_NEXT)
                    continue;
                /* A live iterator makes gomap_shrink return -EBUSY before it
                 * writes anything: that pair cannot park. */
                if (parks[pi] == OP_SHRINK && op == OP_ITER_NEXT)
                    continue;
                parked_cfg c = {modes[mi], parks[pi], (map_op)op, NULL, HANDLER_NONE};
                char label[160];
                child_result r = run_parked(&c, label, sizeof label);
                expect_death(&r, op_message((map_op)op), label);
                expect_report(&r, label, parked_threads, parked_functions);
                expect_mode_named(&r, label, mode_word(modes[mi]));
                child_result_free(&r);
                runs++;
            }
        }
    }
    printf("%d parked-writer cases detected with the right message and report\n", runs);
}

/* Check mode off: reads beside a parked write are not reported, and the
 * write completes. */
static void test_check_off_reports_nothing(void)
{
    static const map_op reads[] = {OP_GET, OP_GET_COPY, OP_CLONE, OP_ITER_NEXT, OP_GET_STR};
    for (size_t i = 0; i < 5; i++) {
        parked_cfg c = {GOMAP_CHECK_OFF, OP_SET, reads[i], NULL, HANDLER_RECORD};
        char label[160];
        child_result r = run_parked(&c, label, sizeof label);
        expect_clean_exit(&r, label);
        child_result_free(&r);
    }
}

/* GOMAP_CHECK_AUTO takes the mode from GOMAP_CHECK at creation. */
static void test_env_selects_mode(void)
{
    static const char *const envs[] = {"fast", "strict", NULL};
    for (size_t i = 0; i < 3; i++) {
        parked_cfg c = {GOMAP_CHECK_AUTO, OP_SET, OP_GET, envs[i], HANDLER_NONE};
        char label[160];
        child_result r = run_parked(&c, label, sizeof label);
        expect_death(&r, MSG_READ, label);
        expect_report(&r, label, parked_threads, parked_functions);
        if (envs[i])
            expect_mode_named(&r, label, envs[i]);
        child_result_free(&r);

        c.observe_op = OP_SET;
        r = run_parked(&c, label, sizeof label);
        expect_death(&r, MSG_WRITES, label);
        child_result_free(&r);
    }
    parked_cfg off = {GOMAP_CHECK_AUTO, OP_SET, OP_GET, "off", HANDLER_NONE};
    char label[160];
    child_result r = run_parked(&off, label, sizeof label);
    expect_clean_exit(&r, label);
    child_result_free(&r);
}

/* The fault handler runs after the report, with its facts, and the process
 * dies of SIGABRT whatever the handler does. */
static void test_fault_handler(void)
{
    char label[160];
    static const map_op ops[] = {OP_SET, OP_GET, OP_ITER_NEXT};
    for (size_t i = 0; i < 3; i++) {
        for (int strict = 0; strict < 2; strict++) {
            parked_cfg c = {strict ? GOMAP_CHECK_STRICT : GOMAP_CHECK_FAST, OP_SET, ops[i], NULL,
                            HANDLER_RECORD};
            child_result r = run_parked(&c, label, sizeof label);
            expect_death(&r, op_message(ops[i]), label);
            expect_handler_record(&r, label, op_message(ops[i]), "observer-b", "writer-a",
                                  false);
            child_result_free(&r);
        }
    }

    parked_cfg c = {GOMAP_CHECK_STRICT, OP_SET, OP_GET, NULL, HANDLER_RETURN};
    child_result r = run_parked(&c, label, sizeof label);
    expect_death(&r, MSG_READ, label);
    CHECK_MSG(strstr(r.err, "RETURNING-HANDLER ran\n") != NULL, "returning handler not run");
    child_result_free(&r);

    c.handler = HANDLER_THREAD_EXIT;
    r = run_parked(&c, label, sizeof label);
    expect_death(&r, MSG_READ, label);
    CHECK_MSG(strstr(r.err, "EXITING-HANDLER ran\n") != NULL, "pthread_exit handler not run");
    child_result_free(&r);

    c.handler = HANDLER_REMOVED;
    r = run_parked(&c, label, sizeof label);
    expect_death(&r, MSG_READ, label);
    CHECK_MSG(strstr(r.err, "FAULT-HANDLER") == NULL, "a removed handler was called");
    child_result_free(&r);
}

/* ------------------------------------------------------------------------ */
/* Racing writers                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_check_mode mode;
    double max_seconds;  /* 0: race until detected; else stop after this long */
    int handler;         /* HANDLER_* */
    uint64_t seed;
} race_cfg;

typedef struct {
    gomap_t *m;
    const char *name;
    pthread_barrier_t *start;
    uint64_t seed;
    double max_seconds;
} racer_arg;

/* Calls gomap_set on the shared map with no lock, until the process dies
 * (or max_seconds pass). */
static void *racer_thread(void *p)
{
    racer_arg *a = p;
    name_self(a->name);
    pthread_barrier_wait(a->start);
    double end = a->max_seconds > 0 ? now_seconds() + a->max_seconds : 0;
    uint64_t s = a->seed;
    for (uint64_t i = 1;; i++) {
        uint64_t k = test_rand_below(&s, RACE_KEYS), v = i;
        (void)gomap_set(a->m, &k, &v);
        if (end > 0 && (i & 255) == 0 && now_seconds() > end)
            return NULL;
    }
}

static void race_body(void *p)
{
    const race_cfg *c = p;
    install_handler(c->handler);
    /* Presized for every key the racers use, so the map never grows: the
     * first overlap is the only thing going on. */
    gomap_t *m = check_u64_map(c->mode, RACE_KEYS, 0);
    child_info("map %p\n", (void *)m);
    pthread_barrier_t start;
    CHECK(pthread_barrier_init(&start, NULL, 2) == 0);
    racer_arg a[2] = {
        {m, "writer-a", &start, c->seed, c->max_seconds},
        {m, "writer-b", &start, c->seed ^ 0x9E3779B97F4A7C15ull, c->max_seconds},
    };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, racer_thread, &a[i]) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    /* Not detected within max_seconds: exit 0. (The map may be corrupt.) */
}

static const char *const racer_threads[] = {"writer-a", "writer-b", NULL};
static const char *const racer_functions[] = {"racer_thread", NULL};

static bool skip_races(const char *what)
{
    if (UNDER_TSAN) {
        printf("%s: skipped under TSan (a real data race, which TSan reports first)\n", what);
        return true;
    }
    return false;
}

static void test_strict_writers_always_detected(void)
{
    if (skip_races("strict racing writers"))
        return;
    uint64_t seed = test_seed();
    for (int i = 0; i < STRICT_RUNS; i++) {
        race_cfg c = {GOMAP_CHECK_STRICT, 0, HANDLER_NONE, seed + (uint64_t)i};
        char label[64];
        snprintf(label, sizeof label, "strict racing writers #%d", i);
        child_result r = run_child(race_body, &c, CHILD_ALARM);
        expect_death(&r, MSG_WRITES, label);
        expect_report(&r, label, racer_threads, racer_functions);
        expect_mode_named(&r, label, "strict");
        child_result_free(&r);
    }
    printf("strict mode: detected %d of %d racing children\n", STRICT_RUNS, STRICT_RUNS);
}

static void test_fast_writers_mostly_detected(void)
{
    if (skip_races("fast racing writers"))
        return;
    uint64_t seed = test_seed();
    int found = 0, other_abort = 0, exited = 0, exited_other = 0, signalled = 0;
    for (int i = 0; i < FAST_RUNS; i++) {
        race_cfg c = {GOMAP_CHECK_FAST, FAST_SECONDS, HANDLER_NONE, seed * 31 + (uint64_t)i};
        child_result r = run_child(race_body, &c, CHILD_ALARM);
        if (detected(&r, MSG_WRITES))
            found++;
        else if (died_of_abort(&r))
            other_abort++; /* e.g. the corruption check, on a map the race broke */
        else if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
            exited++;      /* no overlap was caught within FAST_SECONDS */
        else if (WIFEXITED(r.status))
            exited_other++; /* e.g. a sanitizer's report on a map the race broke */
        else
            signalled++;
        child_result_free(&r);
    }
    printf("fast mode: detected %d of %d racing children (%.0f%%); not detected: %d other "
           "abort, %d gave up after %.1f s, %d exited non-zero, %d other signal\n",
           found, FAST_RUNS, 100.0 * found / FAST_RUNS, other_abort, exited, FAST_SECONDS,
           exited_other, signalled);
    CHECK_MSG(2 * found >= FAST_RUNS, "fast mode detected %d of %d", found, FAST_RUNS);
}

/* Strict racing writers with the recording handler: it runs after the
 * report and the child still dies of SIGABRT. */
static void test_fault_handler_racing(void)
{
    if (skip_races("racing writers with a fault handler"))
        return;
    uint64_t seed = test_seed();
    for (int i = 0; i < HANDLER_RACE_RUNS; i++) {
        race_cfg c = {GOMAP_CHECK_STRICT, 0, HANDLER_RECORD, seed * 7 + (uint64_t)i};
        char label[64];
        snprintf(label, sizeof label, "strict racing writers with handler #%d", i);
        child_result r = run_child(race_body, &c, CHILD_ALARM);
        expect_death(&r, MSG_WRITES, label);
        expect_handler_record(&r, label, MSG_WRITES, "writer-a", "writer-b", true);
        child_result_free(&r);
    }
}

/* ------------------------------------------------------------------------ */
/* Racing a writer with a reader or an iterator                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_check_mode mode;
    bool iterate;  /* the observer iterates; else it looks keys up */
    bool copy;     /* lookups use gomap_get_copy */
    uint64_t seed;
} observe_cfg;

typedef struct {
    gomap_t *m;
    const observe_cfg *cfg;
    pthread_barrier_t *start;
} observe_arg;

/* Deletes and re-inserts keys of the map forever. Every key stays below
 * OBSERVE_KEYS, so the map (presized) never grows and never empties. */
static void *mutator_thread(void *p)
{
    observe_arg *a = p;
    name_self("writer-a");
    pthread_barrier_wait(a->start);
    uint64_t s = a->cfg->seed;
    for (;;) {
        uint64_t k = test_rand_below(&s, OBSERVE_KEYS), v = k;
        (void)gomap_delete(a->m, &k);
        (void)gomap_set(a->m, &k, &v);
    }
    return NULL;
}

static void *lookup_thread(void *p)
{
    observe_arg *a = p;
    name_self("reader-b");
    pthread_barrier_wait(a->start);
    uint64_t s = a->cfg->seed ^ 1, v;
    for (;;) {
        uint64_t k = test_rand_below(&s, OBSERVE_KEYS);
        if (a->cfg->copy)
            (void)gomap_get_copy(a->m, &k, &v);
        else
            (void)gomap_get(a->m, &k);
    }
    return NULL;
}

static void *iterate_thread(void *p)
{
    observe_arg *a = p;
    name_self("iter-c");
    pthread_barrier_wait(a->start);
    for (;;) {
        gomap_iter it;
        gomap_iter_init(&it, a->m);
        while (gomap_iter_next(&it, NULL, NULL))
            ;
    }
    return NULL;
}

static void observe_body(void *p)
{
    const observe_cfg *c = p;
    gomap_t *m = check_u64_map(c->mode, OBSERVE_KEYS, 0);
    for (uint64_t k = 0; k < OBSERVE_KEYS; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    child_info("map %p\n", (void *)m);
    pthread_barrier_t start;
    CHECK(pthread_barrier_init(&start, NULL, 2) == 0);
    observe_arg a = {m, c, &start};
    pthread_t w, o;
    CHECK(pthread_create(&w, NULL, mutator_thread, &a) == 0);
    CHECK(pthread_create(&o, NULL, c->iterate ? iterate_thread : lookup_thread, &a) == 0);
    CHECK(pthread_join(o, NULL) == 0); /* never returns: alarm() ends a miss */
}

static void test_reader_and_iterator_meet_writer(void)
{
    if (skip_races("racing reader and iterator"))
        return;
    static const char *const reader_threads[] = {"writer-a", "reader-b", NULL};
    static const char *const reader_functions[] = {"mutator_thread", "lookup_thread", NULL};
    static const char *const iter_threads[] = {"writer-a", "iter-c", NULL};
    static const char *const iter_functions[] = {"mutator_thread", "iterate_thread", NULL};
    uint64_t seed = test_seed();
    for (int strict = 0; strict < 2; strict++) {
        for (int kind = 0; kind < 3; kind++) {
            observe_cfg c = {strict ? GOMAP_CHECK_STRICT : GOMAP_CHECK_FAST, kind == 2,
                             kind == 1, seed * 13 + (uint64_t)(strict * 3 + kind)};
            char label[96];
            snprintf(label, sizeof label, "%s writer racing %s", mode_word(c.mode),
                     kind == 0 ? "gomap_get" : kind == 1 ? "gomap_get_copy" : "an iterator");
            child_result r = run_child(observe_body, &c, CHILD_ALARM);
            expect_death(&r, c.iterate ? MSG_ITER : MSG_READ, label);
            expect_report(&r, label, c.iterate ? iter_threads : reader_threads,
                          c.iterate ? iter_functions : reader_functions);
            child_result_free(&r);
        }
    }
    printf("reader and iterator racing a writer: both messages seen, fast and strict\n");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_parked_writer_every_operation);
    RUN(test_check_off_reports_nothing);
    RUN(test_env_selects_mode);
    RUN(test_fault_handler);
    RUN(test_strict_writers_always_detected);
    RUN(test_fast_writers_mostly_detected);
    RUN(test_fault_handler_racing);
    RUN(test_reader_and_iterator_meet_writer);
    printf("ok\n");
    return 0;
}

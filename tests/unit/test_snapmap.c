/*
 * test_snapmap.c — behaviour of the copy-on-write snapshot map
 * (gomap/snapmap.h): every function's contract, single-threaded except
 * where a view crosses threads.
 *
 *   misuse_reported      a write from inside an update callback (set,
 *                        delete, clear, update) and gomap_snap_free with a
 *                        view held end the process with a report (forked
 *                        children), instead of deadlocking or hanging.
 *   bad_input            -EINVAL / false / NULL for NULL arguments, bad
 *                        keys, a NULL value, mem_limit and options gomap_new
 *                        rejects (*out NULL); nothing published or changed.
 *   basics               set/get/delete/len/clear return values and zero-
 *                        filled misses; a write that changes nothing (same
 *                        value, absent key, empty map) publishes nothing,
 *                        every other write exactly one version (stats).
 *   update               commit publishes one version with the whole batch;
 *                        abandon (any nonzero return) publishes nothing and
 *                        returns fn's value; fn sees a copy equal to the
 *                        current version, may read the map (get, len,
 *                        acquire, stats, validate) and still sees the old
 *                        version there; a batch that grows the map is
 *                        published with its growth finished.
 *   views                a view taken before writes keeps showing the old
 *                        version exactly (view_get, view_range, the core
 *                        map of gomap_snap_view_map) while the map moves on;
 *                        stats.views counts views; retired versions are
 *                        freed once released; range stops early on false,
 *                        may write the map and even release its own view.
 *   views_across_threads acquire on one thread, release on another (and a
 *                        thread that exits holding nothing).
 *   (random sequences against the reference map: test_snapmap_model.c)
 *   float_keys           -0 replaces +0 (a new version, though the value is
 *                        the same); NaN keys add entries no lookup finds.
 *   clone_of_version     a published version is frozen (a write on it is a
 *                        misuse death: tests/misuse/test_snapmap_misuse.c),
 *                        but gomap_clone of a view's map is an ordinary map
 *                        that takes writes, and validate stays happy.
 *
 * Seeds: test_seed() (printed; GOMAP_TEST_SEED reproduces a run).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "child.h"
#include "hashvariant.h"
#include "refmap.h"

#include <gomap.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define CHECK_SNAP_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_snap_validate((m), why_, sizeof why_); \
         if (rc_ != 0) check_fail(__FILE__, __LINE__, "gomap_snap_validate(" #m ")", why_); } while (0)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static gomap_snap_t *new_map(gomap_options o)
{
    gomap_snap_t *m = NULL;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    CHECK(m != NULL);
    return m;
}

/* uint64_t keys under the running hash variant, uint64_t values. */
static gomap_snap_t *new_u64_map(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, hv_current);
    o.val_size = sizeof(uint64_t);
    return new_map(o);
}

static gomap_snap_stats_t stats_of(gomap_snap_t *m)
{
    gomap_snap_stats_t s;
    memset(&s, 0xEE, sizeof s);
    CHECK_EQ(gomap_snap_stats(m, &s), 0);
    return s;
}

static void set_u64(gomap_snap_t *m, uint64_t k, uint64_t v)
{
    CHECK_EQ(gomap_snap_set(m, &k, &v), 0);
}

/* The value of k (UINT64_MAX when absent, after checking the zero fill). */
static uint64_t get_u64(gomap_snap_t *m, uint64_t k)
{
    uint64_t v = 0xABCD;
    if (gomap_snap_get(m, &k, &v))
        return v;
    CHECK_EQ(v, 0);
    return UINT64_MAX;
}

static uint64_t view_u64(const gomap_snap_view_t *view, uint64_t k)
{
    uint64_t v = 0xABCD;
    if (gomap_snap_view_get(view, &k, &v))
        return v;
    CHECK_EQ(v, 0);
    return UINT64_MAX;
}

static uint64_t u64_at(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Waits (up to ~10 s) for every replaced version to be freed; returns the
 * number still retired (0 on success). */
static size_t drain(gomap_snap_t *m)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    gomap_snap_stats_t s = stats_of(m);
    for (int i = 0; i < 2000 && s.retired_versions != 0; i++) {
        nanosleep(&ts, NULL);
        s = stats_of(m);
    }
    if (s.retired_versions == 0)
        CHECK_EQ(s.retired_bytes, 0);
    return s.retired_versions;
}

/* A range's record of keys 0..RMAX-1. */
enum { RMAX = 4096 };

typedef struct {
    uint64_t val[RMAX];
    bool seen[RMAX];
    size_t n;
    size_t stop_after;    /* 0: never stop */
} seen_t;

static bool record_fn(const void *key, const void *val, void *ctx)
{
    seen_t *s = ctx;
    uint64_t k = u64_at(key);
    CHECK_MSG(k < RMAX && !s->seen[k], "range produced key %" PRIu64 " (unknown or twice)", k);
    s->seen[k] = true;
    s->val[k] = u64_at(val);
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static seen_t *range_of(const gomap_snap_view_t *view, size_t stop_after)
{
    seen_t *s = calloc(1, sizeof *s);
    CHECK(s);
    s->stop_after = stop_after;
    gomap_snap_view_range(view, record_fn, s);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Misuse: reported, not a deadlock or a hang                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_snap_t *m;
    int which;       /* the write the callback tries: set, delete, clear, update */
} reentry;

static int reentering_fn(gomap_t *copy, void *ctx)
{
    (void)copy;
    reentry *r = ctx;
    uint64_t k = 1, v = 2;
    switch (r->which) {
    case 0: (void)gomap_snap_set(r->m, &k, &v); break;
    case 1: (void)gomap_snap_delete(r->m, &k); break;
    case 2: (void)gomap_snap_clear(r->m); break;
    default: (void)gomap_snap_update(r->m, reentering_fn, r); break;
    }
    return 0;
}

static void reentry_body(void *arg)
{
    hv_current = HV_BUILTIN;
    reentry r = {new_u64_map(), *(int *)arg};
    set_u64(r.m, 1, 1);
    (void)gomap_snap_update(r.m, reentering_fn, &r);
}

static void free_with_view_body(void *arg)
{
    (void)arg;
    hv_current = HV_BUILTIN;
    gomap_snap_t *m = new_u64_map();
    set_u64(m, 1, 1);
    (void)gomap_snap_acquire(m);
    gomap_snap_free(m);
}

static void expect_abort(child_result *r, const char *msg, const char *label)
{
    char want[160];
    snprintf(want, sizeof want, "fatal error: %s\n", msg);
    bool ok = WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT &&
              strncmp(r->err, want, strlen(want)) == 0 && !strstr(r->err, "Sanitizer");
    if (!ok)
        fprintf(stderr, "---- child '%s' (status %#x) stderr:\n%s----\n", label,
                (unsigned)r->status, r->err);
    CHECK_MSG(ok, "%s: expected SIGABRT after \"%s\"", label, want);
    child_result_free(r);
}

static void test_misuse_reported(void)
{
    static const char *const names[] = {"set", "delete", "clear", "update"};
    for (int which = 0; which < 4; which++) {
        child_result r = run_child(reentry_body, &which, 20);
        char label[64];
        snprintf(label, sizeof label, "%s from an update callback", names[which]);
        expect_abort(&r, "re-entrant write to a locked gomap snapshot map (would deadlock)",
                     label);
    }
    child_result r = run_child(free_with_view_body, NULL, 20);
    expect_abort(&r, "gomap snapshot map freed while a view of it is held", "free with a view");
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

static void check_new_rejects(const gomap_options *o)
{
    gomap_snap_t *m = (gomap_snap_t *)(uintptr_t)o; /* must become NULL */
    CHECK_EQ(gomap_snap_new(&m, o), -EINVAL);
    CHECK(m == NULL);
}

static int never_called(gomap_t *copy, void *ctx)
{
    (void)copy;
    (void)ctx;
    CHECK_MSG(false, "update called fn on bad input");
    return 0;
}

/* Counts the entries of a range in *(size_t *)ctx. */
static bool count_fn(const void *key, const void *val, void *ctx)
{
    (void)key, (void)val;
    *(size_t *)ctx += 1;
    return true;
}

static void test_bad_input(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);

    gomap_snap_t *m = (gomap_snap_t *)&o;
    CHECK_EQ(gomap_snap_new(NULL, &o), -EINVAL);
    CHECK_EQ(gomap_snap_new(&m, NULL), -EINVAL);
    CHECK(m == NULL);
    gomap_options bad = o;
    bad.mem_limit = 1 << 20;
    check_new_rejects(&bad);
    bad = o;
    bad.val_size = GOMAP_MAX_VAL_SIZE + 1;
    check_new_rejects(&bad);
    bad = o;
    bad.key_kind = (gomap_key_kind)77;
    check_new_rejects(&bad);
    bad = o;
    bad.key_kind = GOMAP_KEY_CUSTOM;
    bad.key_size = 8;
    check_new_rejects(&bad);
    bad = o;
    bad.key_kind = GOMAP_KEY_BYTES;
    bad.key_size = GOMAP_MAX_KEY_SIZE + 1;
    check_new_rejects(&bad);
    gomap_snap_free(NULL);

    /* NULL map. */
    uint64_t k = 1, v = 2, out = 0x55;
    gomap_snap_stats_t st;
    size_t calls = 0;
    CHECK(!gomap_snap_get(NULL, &k, &out));
    CHECK_EQ(gomap_snap_set(NULL, &k, &v), -EINVAL);
    CHECK_EQ(gomap_snap_delete(NULL, &k), -EINVAL);
    CHECK_EQ(gomap_snap_update(NULL, never_called, NULL), -EINVAL);
    CHECK_EQ(gomap_snap_clear(NULL), -EINVAL);
    CHECK_EQ(gomap_snap_len(NULL), 0);
    CHECK(gomap_snap_acquire(NULL) == NULL);
    gomap_snap_release(NULL);
    CHECK(gomap_snap_view_map(NULL) == NULL);
    CHECK(!gomap_snap_view_get(NULL, &k, &out));
    gomap_snap_view_range(NULL, count_fn, &calls);
    CHECK_EQ(calls, 0);
    CHECK_EQ(gomap_snap_stats(NULL, &st), -EINVAL);
    CHECK_EQ(gomap_snap_validate(NULL, NULL, 0), -EINVAL);

    /* A map with keys 0..9; nothing below may change it. */
    m = new_map(o);
    for (uint64_t i = 0; i < 10; i++)
        set_u64(m, i, i + 100);
    CHECK_EQ(gomap_snap_stats(m, NULL), -EINVAL);
    uint64_t versions = stats_of(m).versions;
    CHECK_EQ(versions, 10);

    out = 0x55;
    CHECK(!gomap_snap_get(m, NULL, &out) && out == 0);
    CHECK(!gomap_snap_get(m, NULL, NULL));
    CHECK_EQ(gomap_snap_set(m, NULL, &v), -EINVAL);
    CHECK_EQ(gomap_snap_set(m, &k, NULL), -EINVAL);
    CHECK_EQ(gomap_snap_delete(m, NULL), -EINVAL);
    CHECK_EQ(gomap_snap_update(m, NULL, NULL), -EINVAL);

    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    CHECK(view != NULL);
    out = 0x55;
    CHECK(!gomap_snap_view_get(view, NULL, &out) && out == 0);
    gomap_snap_view_range(view, NULL, NULL);
    gomap_snap_release(view);

    CHECK_EQ(stats_of(m).versions, versions);
    CHECK_EQ(gomap_snap_len(m), 10);
    for (uint64_t i = 0; i < 10; i++)
        CHECK_EQ(get_u64(m, i), i + 100);
    CHECK_SNAP_VALID(m);
    gomap_snap_free(m);

    /* String keys: {NULL, len > 0} is not a key. */
    o.key_kind = GOMAP_KEY_STR;
    m = new_map(o);
    gomap_str bad_key = {NULL, 3}, empty = {NULL, 0};
    out = 0x55;
    CHECK(!gomap_snap_get(m, &bad_key, &out) && out == 0);
    CHECK_EQ(gomap_snap_set(m, &bad_key, &v), -EINVAL);
    CHECK_EQ(gomap_snap_delete(m, &bad_key), -EINVAL);
    CHECK_EQ(gomap_snap_set(m, &empty, &v), 0);
    CHECK(gomap_snap_get(m, &empty, &out) && out == v);
    view = gomap_snap_acquire(m);
    CHECK(!gomap_snap_view_get(view, &bad_key, NULL));
    gomap_snap_release(view);
    CHECK_EQ(gomap_snap_len(m), 1);
    CHECK_SNAP_VALID(m);
    gomap_snap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Basics                                                                    */
/* ------------------------------------------------------------------------ */

static void test_basics(void)
{
    gomap_snap_t *m = new_u64_map();
    gomap_snap_stats_t s = stats_of(m);
    CHECK(s.len == 0 && s.versions == 0 && s.views == 0 && s.bytes_current > 0);
    CHECK(s.retired_versions == 0 && s.retired_bytes == 0 && s.reclaimed_bytes == 0);
    CHECK_EQ(gomap_snap_len(m), 0);
    CHECK_EQ(get_u64(m, 5), UINT64_MAX);
    CHECK(!gomap_snap_get(m, &(uint64_t){5}, NULL));

    /* Empty map: clear and delete publish nothing. */
    CHECK_EQ(gomap_snap_clear(m), 0);
    CHECK_EQ(gomap_snap_delete(m, &(uint64_t){5}), 0);
    CHECK_EQ(stats_of(m).versions, 0);

    for (uint64_t k = 0; k < 100; k++) {
        set_u64(m, k, k * 3);
        CHECK_EQ(gomap_snap_len(m), k + 1);
        CHECK_EQ(get_u64(m, k), k * 3);
    }
    CHECK_EQ(stats_of(m).versions, 100);
    CHECK_SNAP_VALID(m);

    /* Same value: nothing published. A new value: one version. */
    set_u64(m, 7, 21);
    CHECK_EQ(stats_of(m).versions, 100);
    set_u64(m, 7, 22);
    CHECK_EQ(stats_of(m).versions, 101);
    CHECK_EQ(get_u64(m, 7), 22);
    CHECK(gomap_snap_get(m, &(uint64_t){7}, NULL));

    /* Delete: 1 and one version if present, 0 and nothing if absent. */
    CHECK_EQ(gomap_snap_delete(m, &(uint64_t){7}), 1);
    CHECK_EQ(stats_of(m).versions, 102);
    CHECK_EQ(gomap_snap_delete(m, &(uint64_t){7}), 0);
    CHECK_EQ(gomap_snap_delete(m, &(uint64_t){1000}), 0);
    CHECK_EQ(stats_of(m).versions, 102);
    CHECK_EQ(get_u64(m, 7), UINT64_MAX);
    CHECK_EQ(gomap_snap_len(m), 99);

    /* Clear: one empty version; the map is usable afterwards. */
    size_t bytes_full = stats_of(m).bytes_current;
    CHECK_EQ(gomap_snap_clear(m), 0);
    s = stats_of(m);
    CHECK(s.versions == 103 && s.len == 0 && s.bytes_current < bytes_full);
    CHECK_EQ(get_u64(m, 8), UINT64_MAX);
    set_u64(m, 8, 1);
    CHECK_EQ(get_u64(m, 8), 1);
    CHECK_EQ(gomap_snap_len(m), 1);
    CHECK_SNAP_VALID(m);
    CHECK_EQ(drain(m), 0);
    s = stats_of(m);
    CHECK(s.reclaimed_bytes > 0 && s.views == 0);
    gomap_snap_free(m);
}

/* A set: val_size 0. */
static void test_set_kind(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, hv_current);
    gomap_snap_t *m = new_map(o);
    for (uint64_t k = 0; k < 20; k++)
        CHECK_EQ(gomap_snap_set(m, &k, NULL), 0);
    CHECK_EQ(gomap_snap_set(m, &(uint64_t){3}, NULL), 0); /* present: no version */
    CHECK_EQ(stats_of(m).versions, 20);
    CHECK(gomap_snap_get(m, &(uint64_t){3}, NULL));
    CHECK(!gomap_snap_get(m, &(uint64_t){30}, NULL));
    CHECK_EQ(gomap_snap_delete(m, &(uint64_t){3}), 1);
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    size_t n = 0;
    gomap_snap_view_range(view, count_fn, &n);
    CHECK_EQ(n, 19);
    gomap_snap_release(view);
    CHECK_SNAP_VALID(m);
    gomap_snap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Update                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_snap_t *m;
    uint64_t first, count;   /* keys first .. first+count-1 set to key + add */
    uint64_t add;
    uint64_t del;            /* deleted first if not UINT64_MAX */
    int ret;                 /* fn's answer */
    size_t len_seen;         /* gomap_len(copy) on entry */
    uint64_t snap_sees;      /* gomap_snap_get(m, first) after the changes */
    int calls;
} batch_ctx;

static int batch_fn(gomap_t *copy, void *ctx)
{
    batch_ctx *b = ctx;
    b->calls++;
    b->len_seen = gomap_len(copy);
    if (b->del != UINT64_MAX)
        gomap_delete(copy, &b->del);
    for (uint64_t k = b->first; k < b->first + b->count; k++) {
        uint64_t v = k + b->add;
        CHECK_EQ(gomap_set(copy, &k, &v), 0);
    }
    /* Reading the map being updated is allowed, and shows the old version. */
    b->snap_sees = get_u64(b->m, b->first);
    const gomap_snap_view_t *view = gomap_snap_acquire(b->m);
    CHECK_EQ(gomap_len(gomap_snap_view_map(view)), b->len_seen);
    gomap_snap_release(view);
    CHECK_EQ(gomap_snap_len(b->m), b->len_seen);
    CHECK_EQ(stats_of(b->m).len, b->len_seen);
    CHECK_SNAP_VALID(b->m);
    return b->ret;
}

static void test_update(void)
{
    gomap_snap_t *m = new_u64_map();
    CHECK_EQ(gomap_snap_update(m, NULL, NULL), -EINVAL);

    /* Commit: 1000 keys in one version, grown from empty. */
    batch_ctx b = {m, 0, 1000, 5, UINT64_MAX, 0, 0, 0, 0};
    CHECK_EQ(gomap_snap_update(m, batch_fn, &b), 0);
    CHECK(b.calls == 1 && b.len_seen == 0 && b.snap_sees == UINT64_MAX);
    gomap_snap_stats_t s = stats_of(m);
    CHECK(s.versions == 1 && s.len == 1000);
    for (uint64_t k = 0; k < 1000; k++)
        CHECK_EQ(get_u64(m, k), k + 5);
    /* Published with its growth finished. */
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    gomap_stats_t ms;
    CHECK_EQ(gomap_stats(gomap_snap_view_map(view), &ms), 0);
    CHECK_MSG(!ms.growing, "a version was published in the middle of a growth");
    gomap_snap_release(view);

    /* Abandon: any nonzero value comes back and nothing is published. */
    static const int rets[] = {1, -1, 42, -ENOMEM, -EEXIST};
    for (size_t i = 0; i < sizeof rets / sizeof rets[0]; i++) {
        b = (batch_ctx){m, 500, 600, 1, 3, rets[i], 0, 0, 0};
        CHECK_EQ(gomap_snap_update(m, batch_fn, &b), rets[i]);
        CHECK(b.calls == 1 && b.len_seen == 1000 && b.snap_sees == 505);
        s = stats_of(m);
        CHECK(s.versions == 1 && s.len == 1000);
        CHECK_EQ(get_u64(m, 3), 8);
        CHECK_EQ(get_u64(m, 999), 1004);
        CHECK_EQ(get_u64(m, 1000), UINT64_MAX);
    }

    /* Commit of a mixed batch: a delete and overwrites and inserts. */
    b = (batch_ctx){m, 900, 200, 7, 3, 0, 0, 0, 0};
    CHECK_EQ(gomap_snap_update(m, batch_fn, &b), 0);
    CHECK_EQ(b.snap_sees, 905);
    s = stats_of(m);
    CHECK(s.versions == 2 && s.len == 1099);
    CHECK_EQ(get_u64(m, 3), UINT64_MAX);
    CHECK_EQ(get_u64(m, 899), 904);
    CHECK_EQ(get_u64(m, 900), 907);
    CHECK_EQ(get_u64(m, 1099), 1106);
    CHECK_SNAP_VALID(m);
    gomap_snap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Views                                                                     */
/* ------------------------------------------------------------------------ */

/* The view holds keys 0..n-1 with values k*10 + gen, exactly. */
static void check_view_exact(const gomap_snap_view_t *view, uint64_t n, uint64_t gen)
{
    const gomap_t *core = gomap_snap_view_map(view);
    CHECK(core != NULL);
    CHECK_EQ(gomap_len(core), n);
    CHECK_VALID(core);
    for (uint64_t k = 0; k < n + 10; k++) {
        uint64_t want = k < n ? k * 10 + gen : UINT64_MAX, got = 0xABCD;
        CHECK_EQ(view_u64(view, k), want);
        bool found = gomap_get_copy(core, &k, &got);
        CHECK(found == (k < n) && (!found || got == want));
    }
    seen_t *s = range_of(view, 0);
    CHECK_EQ(s->n, n);
    for (uint64_t k = 0; k < n; k++)
        CHECK(s->seen[k] && s->val[k] == k * 10 + gen);
    free(s);
}

static void fill_gen(gomap_snap_t *m, uint64_t n, uint64_t gen)
{
    for (uint64_t k = 0; k < n; k++)
        set_u64(m, k, k * 10 + gen);
}

typedef struct {
    gomap_snap_t *m;
    const gomap_snap_view_t *view;  /* released by the first call */
    size_t calls;
} writing_range;

/* A range callback that writes the map it ranges over and releases its own
 * view: the range goes on over the version it started with. */
static bool writing_fn(const void *key, const void *val, void *ctx)
{
    writing_range *w = ctx;
    uint64_t k = u64_at(key);
    CHECK_EQ(u64_at(val), k * 10 + 1);
    if (w->calls++ == 0) {
        gomap_snap_release(w->view);
        w->view = NULL;
    }
    set_u64(w->m, k, 7777);
    CHECK_EQ(gomap_snap_delete(w->m, &k), 1);
    set_u64(w->m, k + 1000, k);
    return true;
}

static void test_views(void)
{
    enum { N = 200 };
    gomap_snap_t *m = new_u64_map();
    fill_gen(m, N, 1);
    const gomap_snap_view_t *v1 = gomap_snap_acquire(m);
    const gomap_snap_view_t *v1b = gomap_snap_acquire(m);
    CHECK(v1 == v1b); /* no write between: the same version */
    CHECK_EQ(stats_of(m).views, 2);
    gomap_snap_release(v1b);
    CHECK_EQ(stats_of(m).views, 1);

    /* The map moves on: overwrites, deletes, a clear, an update. */
    fill_gen(m, N, 2);
    const gomap_snap_view_t *v2 = gomap_snap_acquire(m);
    for (uint64_t k = 0; k < N; k += 2)
        CHECK_EQ(gomap_snap_delete(m, &k), 1);
    CHECK_EQ(gomap_snap_clear(m), 0);
    batch_ctx b = {m, 0, 50, 9, UINT64_MAX, 0, 0, 0, 0};
    CHECK_EQ(gomap_snap_update(m, batch_fn, &b), 0);
    CHECK_EQ(gomap_snap_len(m), 50);

    gomap_snap_stats_t s = stats_of(m);
    CHECK_EQ(s.views, 2);
    CHECK(s.retired_versions >= 2 && s.retired_bytes > 0);
    check_view_exact(v1, N, 1);
    check_view_exact(v2, N, 2);
    CHECK_SNAP_VALID(m);

    /* Early stop. */
    seen_t *part = range_of(v1, 17);
    CHECK_EQ(part->n, 17);
    free(part);

    /* Released: every replaced version is freed. */
    gomap_snap_release(v1);
    gomap_snap_release(v2);
    CHECK_EQ(stats_of(m).views, 0);
    CHECK_EQ(drain(m), 0);
    s = stats_of(m);
    CHECK(s.retired_bytes == 0 && s.reclaimed_bytes > 0);

    /* A range that writes the map and releases its own view. */
    CHECK_EQ(gomap_snap_clear(m), 0);
    fill_gen(m, 20, 1);
    writing_range w = {m, gomap_snap_acquire(m), 0};
    gomap_snap_view_range(w.view, writing_fn, &w);
    CHECK(w.calls == 20 && w.view == NULL);
    CHECK_EQ(gomap_snap_len(m), 20);
    for (uint64_t k = 0; k < 20; k++)
        CHECK(get_u64(m, k) == UINT64_MAX && get_u64(m, k + 1000) == k);
    CHECK_EQ(stats_of(m).views, 0);
    CHECK_SNAP_VALID(m);
    CHECK_EQ(drain(m), 0);
    gomap_snap_free(m);
}

typedef struct {
    gomap_snap_t *m;
    const gomap_snap_view_t *view;
    bool release;    /* release `view`, else acquire into it */
} xthread;

static void *xthread_main(void *arg)
{
    xthread *x = arg;
    if (x->release)
        gomap_snap_release(x->view);
    else
        x->view = gomap_snap_acquire(x->m);
    return NULL;
}

static void run_thread(xthread *x)
{
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, xthread_main, x), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
}

static void test_views_across_threads(void)
{
    gomap_snap_t *m = new_u64_map();
    fill_gen(m, 30, 1);
    /* Taken here, released by another thread after the map moved on. */
    xthread x = {m, gomap_snap_acquire(m), true};
    fill_gen(m, 30, 2);
    check_view_exact(x.view, 30, 1);
    run_thread(&x);
    /* Taken by a thread that then exits, released here. */
    x.release = false;
    x.view = NULL;
    run_thread(&x);
    CHECK(x.view != NULL);
    fill_gen(m, 30, 3);
    check_view_exact(x.view, 30, 2);
    CHECK_EQ(stats_of(m).views, 1);
    gomap_snap_release(x.view);
    CHECK_EQ(stats_of(m).views, 0);
    CHECK_EQ(drain(m), 0);
    CHECK_SNAP_VALID(m);
    gomap_snap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Float keys                                                                */
/* ------------------------------------------------------------------------ */

static bool sign_fn(const void *key, const void *val, void *ctx)
{
    (void)val;
    double d;
    memcpy(&d, key, sizeof d);
    *(int *)ctx = signbit(d) ? -1 : 1;
    return true;
}

static void test_float_keys(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_F64;
    o.val_size = sizeof(uint64_t);
    gomap_snap_t *m = new_map(o);
    double pz = 0.0, nz = -0.0, nan = NAN;
    uint64_t v = 5, out = 0;
    CHECK_EQ(gomap_snap_set(m, &pz, &v), 0);
    CHECK_EQ(gomap_snap_set(m, &pz, &v), 0);
    CHECK_EQ(stats_of(m).versions, 1);
    /* -0 is the same key, but its bits replace +0's: a new version. */
    CHECK_EQ(gomap_snap_set(m, &nz, &v), 0);
    CHECK_EQ(stats_of(m).versions, 2);
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    int sign = 0;
    gomap_snap_view_range(view, sign_fn, &sign);
    CHECK_EQ(sign, -1);
    gomap_snap_release(view);
    CHECK(gomap_snap_get(m, &pz, &out) && out == v);
    CHECK_EQ(gomap_snap_len(m), 1);

    /* NaN: each set adds an entry nothing finds. */
    CHECK_EQ(gomap_snap_set(m, &nan, &v), 0);
    CHECK_EQ(gomap_snap_set(m, &nan, &v), 0);
    CHECK_EQ(gomap_snap_len(m), 3);
    CHECK_EQ(stats_of(m).versions, 4);
    CHECK(!gomap_snap_get(m, &nan, &out) && out == 0);
    CHECK_EQ(gomap_snap_delete(m, &nan), 0);
    CHECK_EQ(gomap_snap_delete(m, &pz), 1);
    CHECK_EQ(gomap_snap_len(m), 2);
    CHECK_EQ(gomap_snap_clear(m), 0);
    CHECK_EQ(gomap_snap_len(m), 0);
    CHECK_SNAP_VALID(m);
    gomap_snap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Frozen versions                                                           */
/* ------------------------------------------------------------------------ */

/* A published version is frozen; a clone of it is not. */
static void test_clone_of_version(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_STR;
    o.val_size = sizeof(uint64_t);
    gomap_snap_t *m = new_map(o);
    gomap_str k = {"a key that needs a blob", 23};
    uint64_t v = 1;
    CHECK_EQ(gomap_snap_set(m, &k, &v), 0);
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    gomap_t *copy = NULL;
    CHECK_EQ(gomap_clone(&copy, gomap_snap_view_map(view)), 0);
    gomap_str k2 = {"another key", 11};
    CHECK_EQ(gomap_set(copy, &k2, &v), 0);
    CHECK(gomap_delete(copy, &k));
    gomap_clear(copy);
    CHECK_EQ(gomap_shrink(copy), 0);
    gomap_free(copy);
    CHECK_EQ(gomap_len(gomap_snap_view_map(view)), 1);
    CHECK(gomap_snap_view_get(view, &k, NULL));
    CHECK_SNAP_VALID(m);
    gomap_snap_release(view);
    gomap_snap_free(m);
}

int main(void)
{
    test_seed();
    RUN(test_misuse_reported); /* forks: first, while no other thread runs */
    RUN(test_bad_input);
    RUN_VARIANTS(test_basics);
    RUN_VARIANTS(test_set_kind);
    RUN_VARIANTS(test_update);
    RUN_VARIANTS(test_views);
    RUN(test_views_across_threads);
    RUN(test_float_keys);
    RUN(test_clone_of_version);
    printf("ok\n");
    return 0;
}

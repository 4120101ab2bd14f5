/*
 * test_snapmap_misuse.c — misuse of the snapshot map's views and published
 * versions is reported, and correct use never is.
 *
 * Each misuse is made in a forked child; the parent checks that the child
 * was killed by SIGABRT, that its stderr starts with the exact line
 * "fatal error: <message>" and that no sanitizer reported anything on the
 * way. Every child arms alarm(CHILD_ALARM) as a hang guard. All children
 * run before the process starts any thread of its own (run_child's rule).
 *
 *   view_released_twice   release, release on a view of the current version;
 *                         the same on a retired version after its grace
 *                         period (the first release frees it), or with the
 *                         first release before the grace period ended and
 *                         the second after the version was reclaimed; two
 *                         views of one version released three times (the
 *                         documented limit: detected at the last release).
 *   view_used_after_release
 *                         view_get, view_map, view_range and validate-free
 *                         use of a view whose version was reclaimed, also
 *                         after its struct was recycled for a newer version;
 *                         view_range on a released view of the current
 *                         version (no view of it held).
 *   frozen_version_writes every core write entry point on the map of
 *                         gomap_snap_view_map() after a const cast: set,
 *                         assign, delete (present and absent key), clear
 *                         (full, and of the empty first version), shrink (also
 *                         during a view_range, when it would return -EBUSY),
 *                         set_budget_handler, the u64, u32 and string
 *                         shortcuts, gomap_free, a set with bad arguments, and
 *                         a set with the check mode off.
 *   (a write from inside the map's own update callback and gomap_snap_free
 *   with a view held are checked, with their exact messages, by
 *   tests/unit/test_snapmap.c's misuse_reported.)
 *
 *   no_false_positive     in-process: writer threads publish sets, deletes,
 *                         batches and clears while viewer threads acquire,
 *                         hold, use (get, map, range, a range that releases
 *                         its own view), hand over to other threads and
 *                         release many views, some of them twice acquired
 *                         (one token, two references). Nothing is reported;
 *                         stats.views returns to 0, the retired versions
 *                         drain, validate passes. Seeded (test_seed()).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "check.h"
#include "child.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CHILD_ALARM = 20, FILL = 40 };

/* The exact messages, spelled out in full on purpose. */
#define MSG_TWICE_GONE \
    "gomap snapshot view released twice (its version was already reclaimed)"
#define MSG_TWICE_HELD \
    "gomap snapshot view released twice (its version has no view left to release)"
#define MSG_USED_GONE "gomap snapshot view used after release (its version was reclaimed)"
#define MSG_USED_UNHELD "gomap snapshot view used after release (its version has no view held)"
#define MSG_FROZEN                                                                         \
    "write to a published gomap snapshot version (versions are frozen: change the map with " \
    "gomap_snap_set, _delete, _clear or _update, or write a gomap_clone of it)"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static gomap_snap_t *new_snap(gomap_key_kind kind, gomap_check_mode check)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = kind;
    o.val_size = sizeof(uint64_t);
    o.check = check;
    gomap_snap_t *m = NULL;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    return m;
}

static void set_u64(gomap_snap_t *m, uint64_t k, uint64_t v)
{
    CHECK_EQ(gomap_snap_set(m, &k, &v), 0);
}

/* A u64 map holding keys 0..FILL-1 (value = key). */
static gomap_snap_t *filled_u64(void)
{
    gomap_snap_t *m = new_snap(GOMAP_KEY_U64, GOMAP_CHECK_AUTO);
    for (uint64_t k = 0; k < FILL; k++)
        set_u64(m, k, k);
    return m;
}

static gomap_snap_stats_t stats_of(gomap_snap_t *m)
{
    gomap_snap_stats_t s;
    CHECK_EQ(gomap_snap_stats(m, &s), 0);
    return s;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (the child's alarm bounds it) until at most `left` replaced
 * versions wait for reclamation. */
static void wait_retired(gomap_snap_t *m, size_t left)
{
    while (stats_of(m).retired_versions > left)
        sleep_ms(1);
}

/* ------------------------------------------------------------------------ */
/* Children and how they must die                                            */
/* ------------------------------------------------------------------------ */

static bool first_line_is(const child_result *r, const char *msg)
{
    char want[320];
    snprintf(want, sizeof want, "fatal error: %s\n", msg);
    return strncmp(r->err, want, strlen(want)) == 0;
}

static void expect_death(void (*body)(void *), void *arg, const char *msg, const char *label)
{
    child_result r = run_child(body, arg, CHILD_ALARM);
    bool ok = WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT &&
              first_line_is(&r, msg) && !strstr(r.err, "Sanitizer");
    if (!ok) {
        fprintf(stderr, "---- child '%s' (status %#x) stderr:\n%s---- info:\n%s----\n", label,
                (unsigned)r.status, r.err, r.info);
        CHECK_MSG(ok, "child '%s': expected SIGABRT after \"fatal error: %s\"", label, msg);
    }
    printf("   %-58s reported\n", label);
    child_result_free(&r);
}

/* ------------------------------------------------------------------------ */
/* A view released twice                                                     */
/* ------------------------------------------------------------------------ */

static void twice_current_body(void *arg)
{
    (void)arg;
    gomap_snap_t *m = filled_u64();
    const gomap_snap_view_t *v = gomap_snap_acquire(m);
    gomap_snap_release(v);
    gomap_snap_release(v);
}

/* The view's version is replaced, its grace period ends (a version
 * replaced after it has been reclaimed: callbacks run in order), so the
 * first release is the last reference and frees it. */
static void twice_retired_last_body(void *arg)
{
    (void)arg;
    gomap_snap_t *m = filled_u64();
    const gomap_snap_view_t *v = gomap_snap_acquire(m);
    set_u64(m, 1000, 1);
    set_u64(m, 1001, 1);
    wait_retired(m, 1);        /* only the viewed version is left */
    gomap_snap_release(v);
    CHECK_EQ(stats_of(m).retired_versions, 0); /* freed by the release */
    gomap_snap_release(v);
}

/* The first release comes within the grace period (the base reference is
 * still held); the second after the version has been reclaimed. */
static void twice_retired_later_body(void *arg)
{
    (void)arg;
    gomap_snap_t *m = filled_u64();
    const gomap_snap_view_t *v = gomap_snap_acquire(m);
    set_u64(m, 1000, 1);
    gomap_snap_release(v);
    wait_retired(m, 0);
    gomap_snap_release(v);
}

/* Two views of one version are one token: the second release steals the
 * other view's reference, which is found missing at the last release. */
static void thrice_two_views_body(void *arg)
{
    (void)arg;
    gomap_snap_t *m = filled_u64();
    const gomap_snap_view_t *a = gomap_snap_acquire(m);
    const gomap_snap_view_t *b = gomap_snap_acquire(m);
    gomap_snap_release(a);
    gomap_snap_release(a); /* not detectable: b's reference */
    gomap_snap_release(b);
}

static void test_view_released_twice(void)
{
    expect_death(twice_current_body, NULL, MSG_TWICE_HELD, "release twice, current version");
    expect_death(twice_retired_last_body, NULL, MSG_TWICE_GONE,
                 "release twice, retired version after its grace period");
    expect_death(twice_retired_later_body, NULL, MSG_TWICE_GONE,
                 "release twice, retired version, second after reclamation");
    expect_death(thrice_two_views_body, NULL, MSG_TWICE_HELD,
                 "two views released three times (at the last)");
}

/* ------------------------------------------------------------------------ */
/* A view used after release                                                 */
/* ------------------------------------------------------------------------ */

enum use { USE_GET, USE_MAP, USE_RANGE, USE_VIEWS };

static const char *const use_names[USE_VIEWS] = {"view_get", "view_map", "view_range"};

static bool count_entry(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    ++*(size_t *)ctx;
    return true;
}

static void use_view(const gomap_snap_view_t *v, int use)
{
    uint64_t k = 1, val = 0;
    size_t n = 0;
    switch (use) {
    case USE_GET: (void)gomap_snap_view_get(v, &k, &val); break;
    case USE_MAP: (void)gomap_len(gomap_snap_view_map(v)); break;
    default: gomap_snap_view_range(v, count_entry, &n); break;
    }
}

typedef struct {
    int use;
    bool recycle;   /* publish more versions after the reclamation */
} stale_case;

static void used_after_reclaim_body(void *arg)
{
    const stale_case *c = arg;
    gomap_snap_t *m = filled_u64();
    const gomap_snap_view_t *v = gomap_snap_acquire(m);
    set_u64(m, 1000, 1);
    gomap_snap_release(v);
    wait_retired(m, 0);
    if (c->recycle) {
        /* The freed version's struct now holds one of these. */
        for (uint64_t k = 0; k < 4; k++)
            set_u64(m, 2000 + k, k);
    }
    use_view(v, c->use);
}

static void range_unheld_body(void *arg)
{
    (void)arg;
    gomap_snap_t *m = filled_u64();
    const gomap_snap_view_t *v = gomap_snap_acquire(m);
    gomap_snap_release(v);
    use_view(v, USE_RANGE);
}

static void test_view_used_after_release(void)
{
    for (int use = 0; use < USE_VIEWS; use++) {
        for (int recycle = 0; recycle < 2; recycle++) {
            stale_case c = {use, recycle != 0};
            char label[96];
            snprintf(label, sizeof label, "%s after reclamation%s", use_names[use],
                     recycle ? ", struct recycled" : "");
            expect_death(used_after_reclaim_body, &c, MSG_USED_GONE, label);
        }
    }
    expect_death(range_unheld_body, NULL, MSG_USED_UNHELD,
                 "view_range on a released view of the current version");
}

/* ------------------------------------------------------------------------ */
/* Writes to a published version                                             */
/* ------------------------------------------------------------------------ */

enum write {
    W_SET, W_SET_BAD_ARGS, W_ASSIGN, W_DELETE, W_DELETE_ABSENT, W_CLEAR, W_CLEAR_EMPTY,
    W_SHRINK, W_SHRINK_IN_RANGE, W_BUDGET, W_SET_U64, W_DELETE_U64, W_SET_U32, W_DELETE_U32,
    W_SET_STR, W_DELETE_STR, W_FREE, W_SET_CHECK_OFF, W_WRITES
};

static const char *const write_names[W_WRITES] = {
    "gomap_set", "gomap_set with a NULL key", "gomap_assign", "gomap_delete",
    "gomap_delete of an absent key", "gomap_clear", "gomap_clear of the empty first version",
    "gomap_shrink", "gomap_shrink during view_range", "gomap_set_budget_handler",
    "gomap_set_u64", "gomap_delete_u64", "gomap_set_u32", "gomap_delete_u32", "gomap_set_str",
    "gomap_delete_str", "gomap_free", "gomap_set, check mode off"};

static gomap_key_kind kind_for(int w)
{
    switch (w) {
    case W_SET_U32:
    case W_DELETE_U32: return GOMAP_KEY_U32;
    case W_SET_STR:
    case W_DELETE_STR: return GOMAP_KEY_STR;
    default: return GOMAP_KEY_U64;
    }
}

/* The key 1 of the map's kind. */
static const void *key_one(gomap_key_kind kind)
{
    static const uint32_t k32 = 1;
    static const uint64_t k64 = 1;
    static const gomap_str ks = {"1", 1};
    return kind == GOMAP_KEY_U32 ? (const void *)&k32
           : kind == GOMAP_KEY_STR ? (const void *)&ks : (const void *)&k64;
}

static bool shrink_in_range(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    (void)gomap_shrink(ctx);
    return false;
}

static void frozen_write_body(void *arg)
{
    int w = *(const int *)arg;
    gomap_key_kind kind = kind_for(w);
    gomap_snap_t *m = new_snap(kind, w == W_SET_CHECK_OFF ? GOMAP_CHECK_OFF : GOMAP_CHECK_AUTO);
    uint64_t val = 7;
    if (w != W_CLEAR_EMPTY)
        CHECK_EQ(gomap_snap_set(m, key_one(kind), &val), 0);
    const gomap_snap_view_t *v = gomap_snap_acquire(m);
    gomap_t *map = (gomap_t *)(uintptr_t)gomap_snap_view_map(v);
    uint64_t absent = 99;
    void *slot;
    double thresholds[1] = {0.5};
    switch (w) {
    case W_SET: (void)gomap_set(map, &absent, &val); break;
    case W_SET_BAD_ARGS: (void)gomap_set(map, NULL, &val); break;
    case W_ASSIGN: (void)gomap_assign(map, &absent, &slot); break;
    case W_DELETE: (void)gomap_delete(map, key_one(kind)); break;
    case W_DELETE_ABSENT: (void)gomap_delete(map, &absent); break;
    case W_CLEAR:
    case W_CLEAR_EMPTY: gomap_clear(map); break;
    case W_SHRINK: (void)gomap_shrink(map); break;
    case W_SHRINK_IN_RANGE: gomap_snap_view_range(v, shrink_in_range, map); break;
    case W_BUDGET: (void)gomap_set_budget_handler(map, thresholds, 0, NULL, NULL); break;
    case W_SET_U64: (void)gomap_set_u64(map, 5, &val); break;
    case W_DELETE_U64: (void)gomap_delete_u64(map, 1); break;
    case W_SET_U32: (void)gomap_set_u32(map, 5, &val); break;
    case W_DELETE_U32: (void)gomap_delete_u32(map, 1); break;
    case W_SET_STR: (void)gomap_set_str(map, "5", 1, &val); break;
    case W_DELETE_STR: (void)gomap_delete_str(map, "1", 1); break;
    case W_FREE: gomap_free(map); break;
    default: (void)gomap_set(map, &absent, &val); break;
    }
}

static void test_frozen_version_writes(void)
{
    for (int w = 0; w < W_WRITES; w++) {
        char label[96];
        snprintf(label, sizeof label, "%s on a view's map", write_names[w]);
        expect_death(frozen_write_body, &w, MSG_FROZEN, label);
    }
}

/* ------------------------------------------------------------------------ */
/* No false positive                                                         */
/* ------------------------------------------------------------------------ */

enum {
    KEYS = 64,
    WRITERS = 2,
    VIEWERS = 3,
    HELD = 8,          /* views a viewer holds at most */
    MAILBOX = 16,      /* views handed from one viewer to another */
};

#define WRITER_OPS (3000 / WORK_DIV)
#define VIEWER_OPS (30000 / WORK_DIV)

typedef struct {
    gomap_snap_t *m;
    uint64_t seed;
    pthread_mutex_t box_mu;
    const gomap_snap_view_t *box[MAILBOX];  /* under box_mu */
    size_t boxed;
    _Atomic int writers_left;
} shared;

typedef struct {
    shared *sh;
    int id;
    pthread_t thread;
} worker;

/* Values: the key in the high half, a counter in the low half. */
static uint64_t value_for(uint64_t key, uint64_t n)
{
    return key << 32 | (n & 0xffffffffu);
}

typedef struct {
    uint64_t *rng;
    int sets;
} batch;

static int batch_fn(gomap_t *copy, void *ctx)
{
    batch *b = ctx;
    for (int i = 0; i < b->sets; i++) {
        uint64_t k = test_rand_below(b->rng, KEYS);
        uint64_t v = value_for(k, test_rand(b->rng));
        CHECK_EQ(gomap_set(copy, &k, &v), 0);
    }
    return 0;
}

static void *writer_main(void *p)
{
    worker *w = p;
    gomap_snap_t *m = w->sh->m;
    uint64_t rng = w->sh->seed + (uint64_t)w->id;
    for (int op = 0; op < WRITER_OPS; op++) {
        uint64_t k = test_rand_below(&rng, KEYS);
        uint64_t r = test_rand_below(&rng, 100);
        if (r < 55) {
            uint64_t v = value_for(k, (uint64_t)op);
            CHECK_EQ(gomap_snap_set(m, &k, &v), 0);
        } else if (r < 85) {
            CHECK(gomap_snap_delete(m, &k) >= 0);
        } else if (r < 99) {
            batch b = {&rng, 1 + (int)test_rand_below(&rng, 8)};
            CHECK_EQ(gomap_snap_update(m, batch_fn, &b), 0);
        } else {
            CHECK_EQ(gomap_snap_clear(m), 0);
        }
    }
    atomic_fetch_sub(&w->sh->writers_left, 1);
    return NULL;
}

typedef struct {
    const gomap_snap_view_t *self;
    bool release_self;
    size_t n;
} range_ctx;

/* Checks an entry; may release the view being ranged (allowed: the range
 * holds a reference of its own). */
static bool check_entry(const void *key, const void *val, void *ctx)
{
    range_ctx *c = ctx;
    uint64_t k = *(const uint64_t *)key, v = *(const uint64_t *)val;
    CHECK_MSG(v >> 32 == k, "key %" PRIu64 " holds %#" PRIx64, k, v);
    if (c->release_self && c->n == 0)
        gomap_snap_release(c->self);
    c->n++;
    return true;
}

/* Uses a held view every way there is; checks what it shows. */
static void use_held(const gomap_snap_view_t *v, uint64_t *rng)
{
    uint64_t k = test_rand_below(rng, KEYS), val;
    if (gomap_snap_view_get(v, &k, &val))
        CHECK_MSG(val >> 32 == k, "key %" PRIu64 " holds %#" PRIx64, k, val);
    const gomap_t *map = gomap_snap_view_map(v);
    size_t len = gomap_len(map);
    if (test_rand_below(rng, 8) == 0) {
        range_ctx c = {v, false, 0};
        gomap_snap_view_range(v, check_entry, &c);
        CHECK_EQ(c.n, len);
    }
}

static bool mailbox_put(shared *sh, const gomap_snap_view_t *v)
{
    pthread_mutex_lock(&sh->box_mu);
    bool ok = sh->boxed < MAILBOX;
    if (ok)
        sh->box[sh->boxed++] = v;
    pthread_mutex_unlock(&sh->box_mu);
    return ok;
}

static const gomap_snap_view_t *mailbox_take(shared *sh)
{
    pthread_mutex_lock(&sh->box_mu);
    const gomap_snap_view_t *v = sh->boxed ? sh->box[--sh->boxed] : NULL;
    pthread_mutex_unlock(&sh->box_mu);
    return v;
}

static void *viewer_main(void *p)
{
    worker *w = p;
    shared *sh = w->sh;
    uint64_t rng = sh->seed * 31 + (uint64_t)w->id;
    const gomap_snap_view_t *held[HELD];
    size_t n = 0;
    for (int op = 0; op < VIEWER_OPS || atomic_load(&sh->writers_left) > 0; op++) {
        uint64_t r = test_rand_below(&rng, 100);
        if (r < 30 && n < HELD) {
            held[n++] = gomap_snap_acquire(sh->m);
        } else if (r < 35 && n + 1 < HELD) {
            /* Twice acquired: one token (most likely), two references. */
            held[n] = gomap_snap_acquire(sh->m);
            held[n + 1] = gomap_snap_acquire(sh->m);
            n += 2;
        } else if (r < 60 && n > 0) {
            size_t i = test_rand_below(&rng, n);
            gomap_snap_release(held[i]);
            held[i] = held[--n];
        } else if (r < 65 && n > 0) {
            size_t i = test_rand_below(&rng, n);
            if (mailbox_put(sh, held[i]))
                held[i] = held[--n];
        } else if (r < 70) {
            const gomap_snap_view_t *v = mailbox_take(sh);
            if (v) {
                use_held(v, &rng);
                gomap_snap_release(v);
            }
        } else if (r < 72 && n > 0) {
            /* A range that releases the view it was given. */
            size_t i = test_rand_below(&rng, n);
            range_ctx c = {held[i], true, 0};
            size_t len = gomap_len(gomap_snap_view_map(held[i]));
            gomap_snap_view_range(held[i], check_entry, &c);
            CHECK_EQ(c.n, len);
            if (c.n == 0)
                gomap_snap_release(held[i]); /* empty: fn never ran */
            held[i] = held[--n];
        } else if (n > 0) {
            use_held(held[test_rand_below(&rng, n)], &rng);
        }
    }
    while (n > 0)
        gomap_snap_release(held[--n]);
    return NULL;
}

static void test_no_false_positive(void)
{
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.seed = test_seed();
    sh.m = new_snap(GOMAP_KEY_U64, GOMAP_CHECK_STRICT);
    pthread_mutex_init(&sh.box_mu, NULL);
    atomic_init(&sh.writers_left, WRITERS);
    worker ws[WRITERS + VIEWERS];
    for (int i = 0; i < WRITERS + VIEWERS; i++) {
        ws[i].sh = &sh;
        ws[i].id = i;
        CHECK(pthread_create(&ws[i].thread, NULL, i < WRITERS ? writer_main : viewer_main,
                             &ws[i]) == 0);
    }
    for (int i = 0; i < WRITERS + VIEWERS; i++)
        CHECK(pthread_join(ws[i].thread, NULL) == 0);
    for (const gomap_snap_view_t *v; (v = mailbox_take(&sh)) != NULL;)
        gomap_snap_release(v);
    gomap_snap_stats_t s = stats_of(sh.m);
    CHECK_EQ(s.views, 0);
    printf("   %" PRIu64 " versions published\n", s.versions);
    CHECK(s.versions > 0);
    for (int i = 0; i < 20000 && stats_of(sh.m).retired_versions != 0; i++)
        sleep_ms(1);
    s = stats_of(sh.m);
    CHECK_EQ(s.retired_versions, 0);
    CHECK_EQ(s.retired_bytes, 0);
    char why[256] = "";
    CHECK_MSG(gomap_snap_validate(sh.m, why, sizeof why) == 0, "validate: %s", why);
    pthread_mutex_destroy(&sh.box_mu);
    gomap_snap_free(sh.m);
}

int main(void)
{
    /* Forks first, while no other thread runs (liburcu's worker included). */
    RUN(test_view_released_twice);
    RUN(test_view_used_after_release);
    RUN(test_frozen_version_writes);
    RUN(test_no_false_positive);
    printf("ok\n");
    return 0;
}

/*
 * test_snapmap_oom.c — allocation failure in the snapshot map
 * (gomap/snapmap.h): a write that runs out of memory returns -ENOMEM,
 * publishes nothing and leaks nothing; the reads never allocate.
 *
 *   new_fails       gomap_snap_new with its N-th allocation refused, for
 *                   every N until it needs no more: -ENOMEM, *out NULL,
 *                   nothing leaked.
 *   each_write      for every (map state, write) pair a fresh map is built
 *                   and the write's N-th allocation is refused, N = 1, 2, ...
 *                   until the write succeeds with no refusal. A -ENOMEM must
 *                   have refused a real allocation and leave the map exactly
 *                   as it was (contents against the reference map, the
 *                   published-version count, validate); the write retried
 *                   then gives the right answer. A success gives the right
 *                   answer and contents. Writes: set of a new key, of a new
 *                   value, of the same value (allocates nothing), delete of a
 *                   present and an absent key, clear, update committing a
 *                   batch (inserts that grow the copy, an overwrite, a
 *                   delete), update abandoning it. States: empty, a few
 *                   keys, 52 keys (one more makes the copy bigger) and 200.
 *   all_refused     every allocation refused: reads (get, len, views,
 *                   ranges, stats, validate) still work and the writes that
 *                   change nothing still succeed; the others fail cleanly.
 *   random          seeded random writes, each with an allocation refused
 *                   at a random point, against the reference map.
 *
 * After every map is freed the allocator must hold no block and no byte:
 * gomap_snap_free waits until the reclaimer has freed every replaced
 * version. That reclaimer is another thread, so the test allocator
 * (fail_alloc, not thread-safe) is used behind a mutex. u64 keys run under
 * the three hash variants; string keys (each one a separate allocation)
 * once. Seeds: test_seed().
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "locked_alloc.h"
#include "hashvariant.h"
#include "refmap.h"

#include <gomap.h>

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The test allocators                                                       */
/* ------------------------------------------------------------------------ */

/* One allocator per map (locked_alloc: the reclaimer thread frees versions
 * too). One per map so that finished maps can be freed in batches
 * (gomap_snap_free waits for the reclaimer: one wait per batch instead of
 * one per map) and each still be checked for leaks. */
typedef struct {
    locked_alloc la;
    char what[160];         /* the run, for messages */
} test_alloc;

static test_alloc *alloc_new(const char *what)
{
    test_alloc *t = calloc(1, sizeof *t);
    CHECK(t);
    locked_alloc_init(&t->la);
    snprintf(t->what, sizeof t->what, "%s", what);
    return t;
}

/* Refuses the n-th allocation from now (0: none), or all of them. */
static void arm(test_alloc *t, size_t n, bool all)
{
    locked_alloc_arm(&t->la, n, all);
}

static size_t refused(test_alloc *t)
{
    return locked_alloc_counts(&t->la).failures;
}

/* Checks that every block went back, then frees the allocator. */
static void alloc_done(test_alloc *t)
{
    fail_alloc c = locked_alloc_counts(&t->la);
    CHECK_MSG(c.live_blocks == 0 && c.live_bytes == 0, "%s: %zu blocks (%zu bytes) not freed",
              t->what, c.live_blocks, c.live_bytes);
    locked_alloc_destroy(&t->la);
    free(t);
}

/* ------------------------------------------------------------------------ */
/* Key kinds                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t u;
    gomap_str s;
    char buf[64];
} keybuf;

static bool string_keys; /* the case runs with GOMAP_KEY_STR, else u64 keys */

static const void *key_of(uint64_t i, keybuf *kb)
{
    if (!string_keys) {
        kb->u = i * 0x9E3779B97F4A7C15ull;
        return &kb->u;
    }
    int n = snprintf(kb->buf, sizeof kb->buf, i % 4 ? "k%" PRIu64 : "a longer key, number %" PRIu64,
                     i);
    kb->s = (gomap_str){kb->buf, (size_t)n};
    return &kb->s;
}

static const char *kind_name(void)
{
    return string_keys ? "string" : hash_variant_name(hv_current);
}

static gomap_options options(test_alloc *t)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    if (string_keys)
        o.key_kind = GOMAP_KEY_STR;
    else
        hash_variant_keys(&o, hv_current);
    o.val_size = sizeof(uint64_t);
    o.alloc = &t->la.iface;
    return o;
}

static refmap *new_ref(void)
{
    return string_keys ? refmap_new(GOMAP_KEY_STR, 0, 8) : refmap_new(GOMAP_KEY_BYTES, 8, 8);
}

/* ------------------------------------------------------------------------ */
/* A map and its reference                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_snap_t *m;
    refmap *ref;
    test_alloc *a;
} pair;

/* The map's current contents equal ref's, and it validates. */
static void check_same(gomap_snap_t *m, refmap *ref, const char *ctx)
{
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    char why[256] = "";
    bool same = refmap_compare(ref, (gomap_t *)(uintptr_t)gomap_snap_view_map(view), true, why,
                               sizeof why);
    gomap_snap_release(view);
    CHECK_MSG(same, "%s: %s", ctx, why);
    CHECK_MSG(gomap_snap_len(m) == refmap_len(ref), "%s: len %zu, reference %zu", ctx,
              gomap_snap_len(m), refmap_len(ref));
    CHECK_MSG(gomap_snap_validate(m, why, sizeof why) == 0, "%s: validate: %s", ctx, why);
}

static uint64_t versions_of(gomap_snap_t *m)
{
    gomap_snap_stats_t s;
    CHECK_EQ(gomap_snap_stats(m, &s), 0);
    return s.versions;
}

typedef struct {
    uint64_t n;
} fill_ctx;

static int fill_fn(gomap_t *copy, void *ctx)
{
    for (uint64_t i = 0; i < ((fill_ctx *)ctx)->n; i++) {
        keybuf kb;
        uint64_t v = i + 1;
        CHECK_EQ(gomap_set(copy, key_of(i, &kb), &v), 0);
    }
    return 0;
}

/* A fresh map with its own allocator, holding keys 0..n-1 (values i+1),
 * published in one version. */
static pair build(uint64_t n, const char *what)
{
    pair p = {NULL, new_ref(), alloc_new(what)};
    gomap_options o = options(p.a);
    CHECK_EQ(gomap_snap_new(&p.m, &o), 0);
    fill_ctx c = {n};
    if (n)
        CHECK_EQ(gomap_snap_update(p.m, fill_fn, &c), 0);
    for (uint64_t i = 0; i < n; i++) {
        keybuf kb;
        uint64_t v = i + 1;
        refmap_set(p.ref, key_of(i, &kb), &v);
    }
    return p;
}

/* Finished maps, freed together. */
enum { BATCH = 64 };
static pair finished[BATCH];
static size_t nfinished;

static void flush_finished(void)
{
    for (size_t i = 0; i < nfinished; i++)
        gomap_snap_free(finished[i].m);
    for (size_t i = 0; i < nfinished; i++) {
        refmap_free(finished[i].ref);
        alloc_done(finished[i].a);
    }
    nfinished = 0;
}

static void destroy(pair *p)
{
    if (nfinished == BATCH)
        flush_finished();
    finished[nfinished++] = *p;
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */
/* ------------------------------------------------------------------------ */

enum w_kind {
    W_SET_NEW, W_SET_OVER, W_SET_SAME, W_DELETE, W_DELETE_ABSENT, W_CLEAR, W_UPDATE,
    W_UPDATE_ABANDON, W_COUNT
};

static const char *const w_names[W_COUNT] = {
    "set (new key)", "set (new value)", "set (same value)", "delete", "delete (absent)",
    "clear", "update", "update (abandoned)",
};

enum { NEW_KEY = 5000, ABANDON = 5, UPDATE_NEW = 40 };

/* The batch: deletes key 0, overwrites key 1, inserts UPDATE_NEW new keys
 * (enough to grow the copy). Returns the first failure, else `ret`. */
static int batch_fn(gomap_t *copy, void *ctx)
{
    keybuf kb;
    uint64_t v = 777;
    gomap_delete(copy, key_of(0, &kb));
    int rc = gomap_set(copy, key_of(1, &kb), &v);
    for (uint64_t i = 0; i < UPDATE_NEW && rc == 0; i++)
        rc = gomap_set(copy, key_of(NEW_KEY + i, &kb), &v);
    return rc ? rc : *(int *)ctx;
}

/* Runs write w on m; *ref_after (a copy of the reference before it) gets
 * the write applied, and *changes says whether a version must appear. */
static int do_write(gomap_snap_t *m, enum w_kind w, refmap *ref_after, bool *changes)
{
    keybuf kb1, kb2;
    uint64_t v = 99;
    const void *present = key_of(1, &kb1), *absent = key_of(NEW_KEY, &kb2);
    *changes = true;
    switch (w) {
    case W_SET_SAME:
        v = 2; /* key 1's value */
        /* fall through */
    case W_SET_NEW:
    case W_SET_OVER: {
        const void *key = w == W_SET_NEW ? absent : present;
        const void *old = refmap_get(ref_after, key);
        *changes = !old || memcmp(old, &v, sizeof v) != 0;
        refmap_set(ref_after, key, &v);
        return gomap_snap_set(m, key, &v);
    }
    case W_DELETE:
    case W_DELETE_ABSENT: {
        const void *key = w == W_DELETE ? present : absent;
        *changes = refmap_delete(ref_after, key);
        int rc = gomap_snap_delete(m, key);
        CHECK(rc < 0 || rc == (*changes ? 1 : 0));
        return rc < 0 ? rc : 0;
    }
    case W_CLEAR:
        *changes = refmap_len(ref_after) != 0;
        refmap_clear(ref_after);
        return gomap_snap_clear(m);
    case W_UPDATE: {
        int ret = 0;
        v = 777;
        refmap_delete(ref_after, key_of(0, &kb2));
        refmap_set(ref_after, present, &v);
        for (uint64_t i = 0; i < UPDATE_NEW; i++)
            refmap_set(ref_after, key_of(NEW_KEY + i, &kb2), &v);
        return gomap_snap_update(m, batch_fn, &ret);
    }
    default: {
        int ret = ABANDON;
        *changes = false;
        int rc = gomap_snap_update(m, batch_fn, &ret);
        return rc == ABANDON ? 0 : rc;
    }
    }
}

/* One run: a fresh map of `n` keys, write w with its k-th allocation
 * refused. False once the write needed fewer than k allocations. */
static bool write_run(uint64_t n, enum w_kind w, size_t k, size_t *enomem)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "%s on %" PRIu64 " keys, allocation #%zu refused [%s keys]",
             w_names[w], n, k, kind_name());
    pair p = build(n, ctx);
    refmap *after = refmap_clone(p.ref);
    uint64_t v0 = versions_of(p.m);
    bool changes;
    size_t r0 = refused(p.a);
    arm(p.a, k, false);
    int rc = do_write(p.m, w, after, &changes);
    arm(p.a, 0, false);
    size_t nrefused = refused(p.a) - r0;
    if (rc == -ENOMEM) {
        ++*enomem;
        CHECK_MSG(nrefused == 1, "%s: -ENOMEM with %zu allocations refused", ctx, nrefused);
        CHECK_MSG(versions_of(p.m) == v0, "%s: -ENOMEM published a version", ctx);
        check_same(p.m, p.ref, ctx);
        refmap_free(after);
        after = refmap_clone(p.ref);
        rc = do_write(p.m, w, after, &changes);
        CHECK_MSG(rc == 0, "%s: retried without a refusal: %d", ctx, rc);
    }
    CHECK_MSG(rc == 0, "%s: %d", ctx, rc);
    CHECK_MSG(versions_of(p.m) == v0 + changes, "%s: %" PRIu64 " versions, expected %" PRIu64,
              ctx, versions_of(p.m), v0 + changes);
    check_same(p.m, after, ctx);
    refmap_free(after);
    destroy(&p);
    return nrefused > 0;
}

static void each_write(void)
{
    static const uint64_t sizes[] = {0, 3, 52, 200};
    /* String keys make one allocation each: under ThreadSanitizer the
     * 200-key state (hundreds of runs) is left out. */
    size_t nsizes = string_keys && WORK_DIV > 1 ? 3 : 4;
    size_t runs = 0, enomem = 0, most = 0;
    for (size_t s = 0; s < nsizes; s++) {
        for (int w = 0; w < W_COUNT; w++) {
            size_t k = 1;
            while (write_run(sizes[s], (enum w_kind)w, k, &enomem)) {
                CHECK_MSG(k < 2000, "%s never completes", w_names[w]);
                k++;
            }
            runs += k;
            most = k - 1 > most ? k - 1 : most;
        }
    }
    flush_finished();
    printf("   %zu runs, %zu -ENOMEM, at most %zu allocations in one write [%s keys]\n", runs,
           enomem, most, kind_name());
    CHECK(enomem > 0);
}

static void test_each_write(void)
{
    string_keys = false;
    each_write();
}

static void test_each_write_strings(void)
{
    string_keys = true;
    each_write();
    string_keys = false;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static void test_new_fails(void)
{
    for (size_t k = 1;; k++) {
        CHECK(k < 100);
        test_alloc *a = alloc_new("gomap_snap_new");
        gomap_options o = options(a);
        gomap_snap_t *m = (gomap_snap_t *)&o;
        arm(a, k, false);
        int rc = gomap_snap_new(&m, &o);
        arm(a, 0, false);
        size_t nrefused = refused(a);
        if (rc == -ENOMEM) {
            CHECK(m == NULL && nrefused == 1);
        } else {
            CHECK_EQ(rc, 0);
            keybuf kb;
            uint64_t v = 1;
            CHECK_EQ(gomap_snap_set(m, key_of(3, &kb), &v), 0);
            CHECK(gomap_snap_get(m, key_of(3, &kb), NULL));
            gomap_snap_free(m);
        }
        alloc_done(a);
        if (rc == 0 && nrefused == 0) {
            printf("   gomap_snap_new makes %zu allocations\n", k - 1);
            return;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Every allocation refused                                                  */
/* ------------------------------------------------------------------------ */

/* A range callback counting entries in *(size_t *)ctx. */
static bool tally(const void *key, const void *val, void *ctx)
{
    size_t *n = ctx;
    (void)key, (void)val;
    return ++*n != 0;
}

static void test_all_refused(void)
{
    pair p = build(30, "every allocation refused");
    arm(p.a, 0, true);
    keybuf kb;
    uint64_t v = 2, out = 0;
    CHECK(gomap_snap_get(p.m, key_of(1, &kb), &out) && out == 2);
    CHECK_EQ(gomap_snap_len(p.m), 30);
    const gomap_snap_view_t *view = gomap_snap_acquire(p.m);
    size_t n = 0;
    gomap_snap_view_range(view, tally, &n);
    CHECK_EQ(n, 30);
    CHECK(gomap_snap_view_get(view, key_of(29, &kb), &out) && out == 30);

    /* Writes that change nothing need no memory. */
    CHECK_EQ(gomap_snap_set(p.m, key_of(1, &kb), &v), 0);
    CHECK_EQ(gomap_snap_delete(p.m, key_of(NEW_KEY, &kb)), 0);
    /* The others fail and change nothing. */
    v = 3;
    CHECK_EQ(gomap_snap_set(p.m, key_of(1, &kb), &v), -ENOMEM);
    CHECK_EQ(gomap_snap_set(p.m, key_of(NEW_KEY, &kb), &v), -ENOMEM);
    CHECK_EQ(gomap_snap_delete(p.m, key_of(1, &kb)), -ENOMEM);
    CHECK_EQ(gomap_snap_clear(p.m), -ENOMEM);
    int ret = 0;
    CHECK_EQ(gomap_snap_update(p.m, batch_fn, &ret), -ENOMEM);
    CHECK_EQ(versions_of(p.m), 1);
    check_same(p.m, p.ref, "every allocation refused");
    gomap_snap_release(view);
    arm(p.a, 0, false);

    /* And the map works afterwards. */
    CHECK_EQ(gomap_snap_clear(p.m), 0);
    refmap_clear(p.ref);
    check_same(p.m, p.ref, "clear after the refusals");
    destroy(&p);
}

/* ------------------------------------------------------------------------ */
/* Random writes with random refusals                                        */
/* ------------------------------------------------------------------------ */

static void test_random(void)
{
    uint64_t rng = test_seed() ^ (uint64_t)hv_current * 0xD1B54A32D192ED03ull;
    pair p = build(0, "random");
    const size_t steps = 2000 / WORK_DIV;
    size_t failed = 0;
    for (size_t step = 0; step < steps; step++) {
        char ctx[96];
        snprintf(ctx, sizeof ctx, "random step %zu [%s keys]", step, kind_name());
        refmap *after = refmap_clone(p.ref);
        uint64_t v0 = versions_of(p.m);
        enum w_kind w = (enum w_kind)test_rand_below(&rng, W_COUNT);
        if (w == W_CLEAR && test_rand_below(&rng, 4) != 0)
            w = W_SET_NEW;
        arm(p.a, test_rand_below(&rng, 6) + 1, false);
        bool changes;
        int rc = do_write(p.m, w, after, &changes);
        arm(p.a, 0, false);
        if (rc == -ENOMEM) {
            failed++;
            refmap_free(after);
            after = refmap_clone(p.ref);
            changes = false;
        } else {
            CHECK_MSG(rc == 0, "%s: %s returned %d", ctx, w_names[w], rc);
        }
        CHECK_MSG(versions_of(p.m) == v0 + changes, "%s: %s: version count", ctx, w_names[w]);
        check_same(p.m, after, ctx);
        refmap_free(p.ref);
        p.ref = after;
        /* Move the keys around so the writes meet other states. */
        keybuf kb;
        uint64_t i = test_rand_below(&rng, 64), v = i + 1;
        if (test_rand_below(&rng, 2)) {
            CHECK_EQ(gomap_snap_set(p.m, key_of(i, &kb), &v), 0);
            refmap_set(p.ref, key_of(i, &kb), &v);
        }
    }
    printf("   %zu steps, %zu writes refused\n", steps, failed);
    destroy(&p);
}

int main(void)
{
    test_seed();
    RUN_VARIANTS(test_new_fails);
    RUN_VARIANTS(test_each_write);
    RUN(test_each_write_strings);
    RUN_VARIANTS(test_all_refused);
    RUN_VARIANTS(test_random);
    flush_finished();
    printf("ok\n");
    return 0;
}

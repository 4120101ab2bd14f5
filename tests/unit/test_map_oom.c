/*
 * test_map_oom.c — allocation failure in the core map.
 *
 * A fixed workload grows a map from empty through several doublings (sets,
 * assigns, overwrites, deletes, a shrink, clones, growth under a live
 * iterator, clear, refill) while fail_alloc refuses exactly one allocation:
 * the N-th, for N = 1, 2, 3, ... until a whole run completes without
 * reaching N. So every allocation the workload makes (the map header, bucket
 * arrays, overflow buckets, string-key copies, out-of-line keys and values,
 * clones) is refused once in some run.
 *
 * When a call returns -ENOMEM: an allocation really was refused; the map
 * validates and holds exactly the entries acknowledged so far (compared with
 * the reference, lookups included); a failed gomap_new or gomap_clone
 * produced no map and freed everything it had allocated; a failed assign
 * set *slot to NULL; a failed shrink left the shape unchanged. The workload
 * then goes on: the same call is retried and must succeed (only one
 * allocation fails per run). A call that succeeds although an allocation
 * failed inside it (a hint not honoured, a delete that could not evacuate)
 * must still have done the right thing (checked in full). Lookups must not
 * allocate at all. At the end gomap_free must give every block and byte
 * back, and every refusal must have shown up in one of the checked calls.
 *
 * A second test refuses every allocation for a while: each write either
 * succeeds or fails with -ENOMEM and no change, and the map stays usable.
 * A third holds gomap_delete to its header's "never allocates" where it is
 * most tempted to: a delete that evacuates a long chain during growth.
 */
#include "check.h"
#include "fail_alloc.h"
#include "refmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t key_size;
    size_t val_size;
    size_t nkeys;
    size_t hint;
} oom_cfg;

static const oom_cfg cfgs[] = {
    {"u64 keys, 8-byte values", GOMAP_KEY_U64, 0, 8, 2000 / WORK_DIV, 0},
    {"u64 keys, presized by hint", GOMAP_KEY_U64, 0, 8, 1000 / WORK_DIV, 700 / WORK_DIV},
    {"string keys (copied)", GOMAP_KEY_STR, 0, 8, 300 / (WORK_DIV / 2 + 1), 0},
    {"u64 keys, 200-byte values (out of line)", GOMAP_KEY_U64, 0, 200, 300 / (WORK_DIV / 2 + 1), 0},
    {"200-byte keys (out of line)", GOMAP_KEY_BYTES, 200, 8, 300 / (WORK_DIV / 2 + 1), 0},
};

/* One run of the workload with one allocation refused. */
typedef struct {
    const oom_cfg *c;
    fail_alloc fa;
    gomap_t *m;
    refmap *r;
    size_t fail_n;
    const char *op;
    uint64_t id;
    size_t enomem;      /* calls that returned -ENOMEM */
    size_t absorbed;    /* calls that succeeded although an allocation failed */
    unsigned char key[256];
    gomap_str s;
    unsigned char val[256];
} oom_run;

static void report(const oom_run *w)
{
    fprintf(stderr, "oom failure: %s, failing allocation #%zu, operation %s (key id %" PRIu64
            "), entries %zu, allocation attempts so far %zu, refused %zu\n",
            w->c->name, w->fail_n, w->op, w->id, refmap_len(w->r), w->fa.attempts,
            w->fa.failures);
    fflush(stderr);
}

#define WCHECK(w, cond) \
    do { if (!(cond)) { report(w); check_fail(__FILE__, __LINE__, #cond, NULL); } } while (0)
#define WCHECK_MSG(w, cond, ...) \
    do { if (!(cond)) { char d_[768]; snprintf(d_, sizeof d_, __VA_ARGS__); report(w); \
         check_fail(__FILE__, __LINE__, #cond, d_); } } while (0)
#define WCHECK_VALID(w, map) \
    do { char w_[256]; if (gomap_validate((map), w_, sizeof w_) != 0) { report(w); \
         check_fail(__FILE__, __LINE__, "gomap_validate(" #map ")", w_); } } while (0)

static void verify(oom_run *w, gomap_t *m)
{
    char why[256];
    WCHECK_VALID(w, m);
    bool ok = refmap_compare(w->r, m, true, why, sizeof why);
    WCHECK_MSG(w, ok, "map differs from the acknowledged entries: %s", why);
}

static gomap_stats_t stats_of(oom_run *w, const gomap_t *m)
{
    gomap_stats_t s;
    memset(&s, 0, sizeof s);
    WCHECK(w, gomap_stats(m, &s) == 0);
    return s;
}

/* The key for `id` in the caller-owned buffer (string keys: 5..44 bytes
 * starting with the id's bytes; the buffer is overwritten by the next key,
 * so the map must have copied it). */
static const void *key_of(oom_run *w, uint64_t id)
{
    w->id = id;
    switch (w->c->kind) {
    case GOMAP_KEY_U64: {
        uint64_t k = id * 0x9E3779B97F4A7C15ull;
        memcpy(w->key, &k, sizeof k);
        return w->key;
    }
    case GOMAP_KEY_STR:
        w->s.len = 5 + (size_t)(id % 40);
        for (size_t i = 0; i < w->s.len; i++)
            w->key[i] = i < 4 ? (unsigned char)(id >> (8 * i)) : (unsigned char)('A' + (id + i) % 50);
        w->s.ptr = (const char *)w->key;
        return &w->s;
    default:
        for (size_t i = 0; i < w->c->key_size; i++)
            w->key[i] = i < 8 ? (unsigned char)(id >> (8 * i)) : (unsigned char)(id * 13 + i);
        return w->key;
    }
}

static const void *val_of(oom_run *w, uint64_t id, uint64_t gen)
{
    for (size_t i = 0; i < w->c->val_size; i++)
        w->val[i] = (unsigned char)(id * 7 + gen * 131 + i);
    return w->val;
}

/* A write returned -ENOMEM: an allocation must really have been refused,
 * and the map must be exactly as before the call. */
static void after_enomem(oom_run *w, gomap_t *m)
{
    w->enomem++;
    WCHECK_MSG(w, w->fa.failures == 1, "-ENOMEM returned, but %zu allocations were refused",
               w->fa.failures);
    verify(w, m);
}

/* A write succeeded: if the refused allocation happened inside it, the
 * library absorbed the failure, and the result must still be right. */
static void after_success(oom_run *w, size_t failures_before)
{
    if (w->fa.failures != failures_before) {
        w->absorbed++;
        verify(w, w->m);
    }
}

static void do_set(oom_run *w, uint64_t id, uint64_t gen)
{
    w->op = "set";
    const void *key = key_of(w, id);
    const void *val = val_of(w, id, gen);
    size_t f = w->fa.failures;
    int rc;
    if (w->c->kind == GOMAP_KEY_U64 && id % 2) {
        uint64_t k;
        memcpy(&k, key, sizeof k);
        rc = gomap_set_u64(w->m, k, val);
    } else if (w->c->kind == GOMAP_KEY_STR && id % 2) {
        rc = gomap_set_str(w->m, w->s.ptr, w->s.len, val);
    } else {
        rc = gomap_set(w->m, key, val);
    }
    if (rc == -ENOMEM) {
        after_enomem(w, w->m);
        f = w->fa.failures;
        rc = gomap_set(w->m, key, val);
    }
    WCHECK_MSG(w, rc == 0, "set returned %d", rc);
    refmap_set(w->r, key, val);
    after_success(w, f);
}

static void do_assign(oom_run *w, uint64_t id, uint64_t gen)
{
    w->op = "assign";
    const void *key = key_of(w, id);
    bool had = refmap_get(w->r, key) != NULL;
    size_t f = w->fa.failures;
    void *slot = w->val; /* not NULL: a failure must set it to NULL */
    int rc = gomap_assign(w->m, key, &slot);
    if (rc == -ENOMEM) {
        WCHECK(w, slot == NULL);
        after_enomem(w, w->m);
        f = w->fa.failures;
        rc = gomap_assign(w->m, key, &slot);
    }
    WCHECK_MSG(w, rc == (had ? 0 : 1), "assign returned %d", rc);
    WCHECK(w, slot != NULL);
    const void *val = val_of(w, id, gen);
    memcpy(slot, val, w->c->val_size);
    refmap_set(w->r, key, val);
    after_success(w, f);
}

/* A lookup, then maybe a delete: neither can fail; lookups must not
 * allocate. */
static void do_get_delete(oom_run *w, uint64_t id, bool del)
{
    w->op = del ? "delete" : "get";
    const void *key = key_of(w, id);
    const void *want = refmap_get(w->r, key);
    size_t attempts = w->fa.attempts;
    const void *p = gomap_get(w->m, key);
    WCHECK(w, (p != NULL) == (want != NULL));
    if (p)
        WCHECK(w, memcmp(p, want, w->c->val_size) == 0);
    unsigned char buf[256];
    WCHECK(w, gomap_get_copy(w->m, key, buf) == (want != NULL));
    WCHECK_MSG(w, w->fa.attempts == attempts, "a lookup allocated memory");
    if (del) {
        /* Never fails. (A refused allocation inside it must leave a correct map;
         * test_delete_never_fails builds that case on purpose.) */
        size_t f = w->fa.failures;
        WCHECK(w, gomap_delete(w->m, key) == (want != NULL));
        refmap_delete(w->r, key);
        after_success(w, f);
    }
}

/* Clone: a failure produces no clone and frees all it allocated; a clone is
 * checked, then freed (giving back exactly its memory) or swapped in. */
static void do_clone(oom_run *w, bool swap)
{
    w->op = "clone";
    w->id = 0;
    size_t blocks = w->fa.live_blocks, bytes = w->fa.live_bytes;
    size_t f = w->fa.failures;
    gomap_t *c = (gomap_t *)(void *)w; /* not NULL: a failure must set it to NULL */
    int rc = gomap_clone(&c, w->m);
    if (rc == -ENOMEM) {
        WCHECK(w, c == NULL);
        WCHECK_MSG(w, w->fa.live_blocks == blocks && w->fa.live_bytes == bytes,
                   "failed clone leaked %zu blocks, %zu bytes", w->fa.live_blocks - blocks,
                   w->fa.live_bytes - bytes);
        after_enomem(w, w->m);
        f = w->fa.failures;
        rc = gomap_clone(&c, w->m);
    }
    WCHECK_MSG(w, rc == 0 && c != NULL, "clone returned %d", rc);
    verify(w, c);
    after_success(w, f);
    if (swap) {
        gomap_free(w->m);
        w->m = c;
        return;
    }
    gomap_free(c);
    WCHECK_MSG(w, w->fa.live_blocks == blocks && w->fa.live_bytes == bytes,
               "freeing a clone left %zu blocks, %zu bytes", w->fa.live_blocks - blocks,
               w->fa.live_bytes - bytes);
}

static bool same_shape(const gomap_stats_t *a, const gomap_stats_t *b)
{
    return a->entries == b->entries && a->b == b->b && a->buckets == b->buckets;
}

static void do_shrink(oom_run *w)
{
    w->op = "shrink";
    w->id = 0;
    gomap_stats_t before = stats_of(w, w->m);
    size_t f = w->fa.failures;
    int rc = gomap_shrink(w->m);
    if (rc == -ENOMEM) {
        gomap_stats_t after = stats_of(w, w->m);
        WCHECK_MSG(w, same_shape(&before, &after), "failed shrink changed the map's shape");
        after_enomem(w, w->m);
        f = w->fa.failures;
        rc = gomap_shrink(w->m);
    }
    WCHECK_MSG(w, rc == 0, "shrink returned %d", rc);
    gomap_stats_t s = stats_of(w, w->m);
    WCHECK(w, !s.growing && s.buckets == test_buckets_for(refmap_len(w->r)));
    after_success(w, f);
}

/* Growth while an iterator is live (old arrays must stay readable for it),
 * with the refused allocation possibly in the middle; the iteration must
 * still produce every entry present throughout. */
static void grow_under_iterator(oom_run *w, uint64_t first, uint64_t count)
{
    char why[256];
    int t = refmap_track_begin(w->r);
    gomap_iter it;
    gomap_iter_init(&it, w->m);
    const void *k;
    void *v;
    bool more = true;
    for (int i = 0; i < 5 && more; i++) {
        w->op = "iterate";
        more = gomap_iter_next(&it, &k, &v);
        if (more)
            WCHECK_MSG(w, refmap_track_produced(w->r, t, k, v, why, sizeof why), "%s", why);
    }
    for (uint64_t id = first; id < first + count; id++) {
        do_set(w, id, 3);
        if (more && id % 4 == 0) {
            w->op = "iterate";
            more = gomap_iter_next(&it, &k, &v);
            if (more)
                WCHECK_MSG(w, refmap_track_produced(w->r, t, k, v, why, sizeof why), "%s",
                           why);
        }
    }
    while (more) {
        w->op = "iterate";
        more = gomap_iter_next(&it, &k, &v);
        if (more)
            WCHECK_MSG(w, refmap_track_produced(w->r, t, k, v, why, sizeof why), "%s", why);
    }
    WCHECK_MSG(w, refmap_track_end(w->r, t, true, why, sizeof why), "%s", why);
}

/* The workload. Returns whether the refused allocation was reached. */
static bool run_workload(const oom_cfg *c, size_t fail_n, size_t *enomem, size_t *absorbed)
{
    static oom_run w;
    memset(&w, 0, sizeof w);
    w.c = c;
    w.fail_n = fail_n;
    fail_alloc_init(&w.fa);
    w.r = refmap_new(c->kind, c->key_size, c->val_size);
    if (fail_n)
        fail_alloc_fail_nth(&w.fa, fail_n);

    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = c->kind;
    o.key_size = c->key_size;
    o.val_size = c->val_size;
    o.hint = c->hint;
    o.alloc = &w.fa.iface;
    w.op = "new";
    w.m = (gomap_t *)(void *)&w;
    size_t f = 0;
    int rc = gomap_new(&w.m, &o);
    if (rc == -ENOMEM) {
        /* No map, nothing left allocated. */
        WCHECK(&w, w.m == NULL);
        WCHECK_MSG(&w, w.fa.live_blocks == 0 && w.fa.live_bytes == 0,
                   "failed gomap_new leaked %zu blocks", w.fa.live_blocks);
        w.enomem++;
        f = w.fa.failures;
        rc = gomap_new(&w.m, &o);
    }
    WCHECK_MSG(&w, rc == 0 && w.m != NULL, "gomap_new returned %d", rc);
    /* A hinted array that cannot be allocated may be ignored, like any hint
     * not honoured: the map must then still be empty and work. */
    after_success(&w, f);

    uint64_t n = c->nkeys;
    /* Grow from empty through several doublings. */
    for (uint64_t id = 0; id < n; id++) {
        if (id % 5 == 4)
            do_assign(&w, id, 0);
        else
            do_set(&w, id, 0);
        if (id % 16 == 0)
            do_get_delete(&w, id / 2, false);
        if (id == n / 3)
            do_clone(&w, false);
    }
    /* Overwrite some (growth may still be in progress: evacuation can
     * allocate overflow buckets even for an existing key). */
    for (uint64_t id = 0; id < n; id += 7)
        do_set(&w, id, 1);
    /* Delete three quarters, then shrink. */
    for (uint64_t id = 0; id < n; id++)
        if (id % 4)
            do_get_delete(&w, id, true);
    do_shrink(&w);
    /* Refill with new keys, then continue on a clone. */
    for (uint64_t id = n; id < n + n / 2; id++) {
        if (id % 3 == 0)
            do_assign(&w, id, 2);
        else
            do_set(&w, id, 2);
    }
    do_clone(&w, true);
    grow_under_iterator(&w, 2 * n, n / 2);
    /* Clear keeps the array; refill a little; then free everything. */
    w.op = "clear";
    f = w.fa.failures;
    gomap_clear(w.m);
    refmap_clear(w.r);
    after_success(&w, f);
    for (uint64_t id = 0; id < 100; id++)
        do_set(&w, 3 * n + id, 4);
    do_shrink(&w);
    w.op = "final check";
    verify(&w, w.m);
    gomap_free(w.m);
    WCHECK_MSG(&w, w.fa.live_blocks == 0 && w.fa.live_bytes == 0,
               "after gomap_free %zu blocks (%zu bytes) are still allocated", w.fa.live_blocks,
               w.fa.live_bytes);
    refmap_free(w.r);
    *enomem += w.enomem;
    *absorbed += w.absorbed;
    return w.fa.failures > 0;
}

/* Refuse the N-th allocation for N = 1, 2, ... until a run reaches no
 * refusal: every allocation of the workload has then been refused once. */
static void test_fail_nth_allocation(void)
{
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        size_t enomem = 0, absorbed = 0, n;
        /* A run with nothing refused first: the workload itself passes. */
        CHECK(!run_workload(&cfgs[i], 0, &enomem, &absorbed));
        CHECK_EQ(enomem, 0);
        for (n = 1; run_workload(&cfgs[i], n, &enomem, &absorbed); n++)
            CHECK_MSG(n < 1000000, "the workload never stops allocating");
        printf("   %s: %zu allocation points refused one by one, %zu calls failed with "
               "-ENOMEM, %zu absorbed\n",
               cfgs[i].name, n - 1, enomem, absorbed);
        /* Each refusal must show: as -ENOMEM from some call, or absorbed. */
        CHECK_EQ(enomem + absorbed, n - 1);
    }
}

/* ------------------------------------------------------------------------ */
/* Every allocation refused for a while                                     */
/* ------------------------------------------------------------------------ */

static void test_fail_all_allocations(void)
{
    uint64_t rng = test_seed() ^ 0x00f1;
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        static oom_run w;
        memset(&w, 0, sizeof w);
        w.c = &cfgs[i];
        fail_alloc_init(&w.fa);
        w.r = refmap_new(w.c->kind, w.c->key_size, w.c->val_size);
        gomap_options o;
        memset(&o, 0, sizeof o);
        o.key_kind = w.c->kind;
        o.key_size = w.c->key_size;
        o.val_size = w.c->val_size;
        o.alloc = &w.fa.iface;

        /* gomap_new itself fails cleanly. */
        w.fa.fail_all = 1;
        w.op = "new";
        w.m = (gomap_t *)(void *)&w;
        CHECK_EQ(gomap_new(&w.m, &o), -ENOMEM);
        CHECK(w.m == NULL);
        CHECK_EQ(w.fa.live_blocks, 0);
        w.fa.fail_all = 0;
        CHECK_EQ(gomap_new(&w.m, &o), 0);

        uint64_t keys = 400;
        for (int phase = 0; phase < 6; phase++) {
            /* Odd phases refuse every allocation. */
            w.fa.fail_all = phase % 2;
            for (int step = 0; step < 600; step++) {
                uint64_t id = test_rand_below(&rng, keys);
                const void *key = key_of(&w, id);
                const void *val = val_of(&w, id, (uint64_t)step);
                bool had = refmap_get(w.r, key) != NULL;
                int rc = 0;
                uint64_t pick = test_rand_below(&rng, 8);
                if (pick == 3 && step % 50 == 0) {
                    w.op = "shrink";
                    gomap_stats_t before = stats_of(&w, w.m);
                    rc = gomap_shrink(w.m);
                    gomap_stats_t after = stats_of(&w, w.m);
                    WCHECK(&w, rc == 0 || (rc == -ENOMEM && w.fa.fail_all));
                    if (rc)
                        WCHECK(&w, same_shape(&before, &after));
                } else if (pick == 3 && step % 50 == 1) {
                    w.op = "clone";
                    gomap_t *c = NULL;
                    rc = gomap_clone(&c, w.m);
                    WCHECK(&w, rc == 0 || (rc == -ENOMEM && w.fa.fail_all && !c));
                    if (c) {
                        verify(&w, c);
                        gomap_free(c);
                    }
                } else if (pick == 0) {
                    w.op = "assign";
                    void *slot = NULL;
                    rc = gomap_assign(w.m, key, &slot);
                    WCHECK(&w, rc == -ENOMEM || rc == (had ? 0 : 1));
                    if (rc >= 0) {
                        memcpy(slot, val, w.c->val_size);
                        refmap_set(w.r, key, val);
                    } else {
                        WCHECK(&w, slot == NULL && w.fa.fail_all);
                    }
                } else if (pick <= 2) {
                    w.op = "delete";
                    WCHECK(&w, gomap_delete(w.m, key) == had);
                    refmap_delete(w.r, key);
                } else {
                    w.op = "set";
                    rc = gomap_set(w.m, key, val);
                    WCHECK(&w, rc == 0 || (rc == -ENOMEM && w.fa.fail_all));
                    if (rc == 0)
                        refmap_set(w.r, key, val);
                }
                if (rc == -ENOMEM)
                    verify(&w, w.m); /* unchanged by the failed call */
                WCHECK_VALID(&w, w.m);
                WCHECK(&w, gomap_len(w.m) == refmap_len(w.r));
            }
            verify(&w, w.m);
            keys *= 2; /* reach new keys, so growth is needed */
        }
        gomap_free(w.m);
        CHECK_EQ(w.fa.live_blocks, 0);
        CHECK_EQ(w.fa.live_bytes, 0);
        refmap_free(w.r);
    }
}

/* ------------------------------------------------------------------------ */
/* Delete never allocates                                                    */
/* ------------------------------------------------------------------------ */

/* Two fixed hashes: keys below 1000 land in old bucket 2 (low bits 10),
 * the others in bucket 0, whatever the seed. */
static uint64_t two_chain_hash(const void *key, uint64_t seed)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    (void)seed;
    return k < 1000 ? 0xB200000000000002ull : 0xA100000000000000ull;
}

static bool u64_equal(const void *a, const void *b)
{
    return memcmp(a, b, 8) == 0;
}

/* gomap_delete never fails. A delete during growth evacuates old buckets,
 * and moving a chain of more than eight entries needs an overflow bucket in
 * the new array (Go's mapdelete allocates there too). Build exactly that: 13
 * keys in one chain (old bucket 2), then keys of another chain (old bucket 0)
 * until a doubling starts; the insert that starts it evacuates old buckets 0
 * and 1 only. Then delete keys of the first chain with every allocation
 * refused: each delete must still succeed, the key must be gone, the others
 * intact, the map valid; once memory is back, writes finish the growth. */
static void test_delete_never_fails(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_CUSTOM;
    o.key_size = 8;
    o.val_size = 8;
    o.hash = two_chain_hash;
    o.equal = u64_equal;
    o.alloc = &fa.iface;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    uint64_t v = 7;
    for (uint64_t k = 0; k < 13; k++)
        CHECK_EQ(gomap_set(m, &k, &v), 0);
    gomap_stats_t s;
    uint64_t k = 1000;
    do {
        CHECK_EQ(gomap_set(m, &k, &v), 0);
        k++;
        CHECK_EQ(gomap_stats(m, &s), 0);
        CHECK(k < 2000);
    } while (!s.growing);
    CHECK_VALID(m);

    /* Deletes with the allocator refusing everything. */
    fa.fail_all = 1;
    size_t refused_before = fa.failures;
    for (uint64_t d = 0; d < 6; d++) {
        CHECK(gomap_delete(m, &d));
        CHECK(gomap_get(m, &d) == NULL);
        CHECK_VALID(m);
    }
    CHECK_MSG(fa.failures > refused_before,
              "no delete tried to allocate: the setup no longer exercises a refused evacuation");
    fa.fail_all = 0;
    for (uint64_t d = 6; d < 13; d++)
        CHECK(gomap_get(m, &d) != NULL);
    for (uint64_t j = 1000; j < k; j++)
        CHECK(gomap_get(m, &j) != NULL);
    CHECK_EQ(gomap_len(m), 13 + (k - 1000) - 6);

    /* With memory back, further writes complete the growth. */
    for (uint64_t d = 6; d < 13; d++)
        CHECK(gomap_delete(m, &d));
    for (uint64_t j = 1000; j < k && (gomap_stats(m, &s), s.growing); j++)
        CHECK_EQ(gomap_set(m, &j, &v), 0);
    CHECK_EQ(gomap_stats(m, &s), 0);
    CHECK(!s.growing);
    CHECK_VALID(m);
    CHECK_EQ(gomap_len(m), k - 1000);
    gomap_free(m);
    CHECK_EQ(fa.live_blocks, 0);
}

int main(void)
{
    test_seed();
    RUN(test_fail_nth_allocation);
    RUN(test_fail_all_allocations);
    RUN(test_delete_never_fails);
    return 0;
}

/*
 * test_shardmap_oom.c — allocation failure in the sharded map
 * (gomap/shardmap.h: "-ENOMEM when memory runs out (the map unchanged,
 * nothing leaked)"), with the failing allocator of fail_alloc.h.
 *
 *   test_new_fails   gomap_shard_new (1 and 16 shards, with and without a
 *                    hint, u64 and string keys) with its N-th allocation
 *                    refused for N = 1, 2, ... until it needs fewer: each
 *                    -ENOMEM refused a real allocation, left *out NULL and
 *                    holds no block; a map that was created works.
 *   test_each_op     a workload that grows the map through several doublings
 *                    per shard: set (insert and overwrite), load_or_store of
 *                    new and present keys, compute inserting, modifying and
 *                    deleting, delete, and snapshot. Every call is made with
 *                    its N-th allocation refused, N = 1, 2, ... until it
 *                    succeeds without a refusal. Each -ENOMEM must have
 *                    refused exactly one allocation and leave the map exactly
 *                    as before (compared whole with the reference), valid,
 *                    with *loaded false / no snapshot; the call retried with
 *                    N + 1 sees the same map. A call that succeeds must give
 *                    the right answer. u64 keys, string keys (copied) and
 *                    200-byte values (out of line); 1 and 16 shards.
 *   test_never_fail  every allocation refused: get, delete, visit, range,
 *                    len, clear, load_or_store of a present key and compute
 *                    that modifies, deletes, keeps or abandons still work
 *                    (none of them needs memory); the map works afterwards.
 *   test_random      seeded random operations, each with one allocation
 *                    refused at a random point, against the reference.
 * After every gomap_shard_free (and gomap_free of each snapshot, which uses
 * the map's allocator) the allocator holds no block and no byte.
 * fail_alloc is not thread-safe: everything here is single-threaded.
 */
#include "check.h"
#include "fail_alloc.h"
#include "refmap.h"
#include "shardcheck.h"
#include "testkey.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

enum { BIG_VAL = 200, MAX_VAL = BIG_VAL };

typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t val_size;
    size_t nkeys;
} cfg;

static const cfg cfgs[] = {
    {"u64 keys, 8-byte values", GOMAP_KEY_U64, 8, 500 / WORK_DIV},
    {"string keys", GOMAP_KEY_STR, 8, 150 / WORK_DIV},
    {"u64 keys, 200-byte values", GOMAP_KEY_U64, BIG_VAL, 120 / WORK_DIV},
};

static const unsigned shard_counts[] = {1, 16};

/* ------------------------------------------------------------------------ */
/* Fixture                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    const cfg *c;
    fail_alloc fa;
    gomap_shard_t *m;
    refmap *r;
    testkey key;
    char label[160];
} fixture;

static const void *key_of(fixture *f, uint64_t i)
{
    return testkey_of(&f->key, f->c->kind, i);
}

static void make_val(const fixture *f, uint64_t i, uint64_t version, unsigned char *out)
{
    testkey_val(i, version, out, f->c->val_size);
}

static gomap_options fixture_opts(fixture *f, const cfg *c)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = c->kind;
    o.val_size = c->val_size;
    o.alloc = &f->fa.iface;
    return o;
}

static void fixture_init(fixture *f, const cfg *c, unsigned shards)
{
    memset(f, 0, sizeof *f);
    f->c = c;
    fail_alloc_init(&f->fa);
    gomap_options o = fixture_opts(f, c);
    f->m = shardcheck_new(&o, shards);
    f->r = refmap_new(c->kind, 0, c->val_size);
    snprintf(f->label, sizeof f->label, "%s, %u shards", c->name, shards);
}

static void expect_no_blocks(const fail_alloc *fa, const char *label)
{
    CHECK_MSG(fa->live_blocks == 0 && fa->live_bytes == 0, "%s: %zu blocks, %zu bytes leaked",
              label, fa->live_blocks, fa->live_bytes);
}

static void fixture_done(fixture *f)
{
    gomap_shard_free(f->m);
    expect_no_blocks(&f->fa, f->label);
    refmap_free(f->r);
}

static void check_same(fixture *f, const char *what)
{
    char why[300];
    CHECK_MSG(shardcheck_compare(f->m, f->r, why, sizeof why), "%s: %s: %s", f->label, what, why);
    int rc = gomap_shard_validate(f->m, why, sizeof why);
    CHECK_MSG(rc == 0, "%s: %s: validate: %s", f->label, what, why);
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static void new_until_done(const cfg *c, unsigned shards, size_t hint)
{
    size_t enomem = 0;
    for (size_t n = 1;; n++) {
        CHECK(n < 100000);
        fixture f;
        memset(&f, 0, sizeof f);
        f.c = c;
        fail_alloc_init(&f.fa);
        gomap_shard_options so;
        memset(&so, 0, sizeof so);
        so.map = fixture_opts(&f, c);
        so.map.hint = hint;
        so.shards = shards;
        gomap_shard_t *m = (gomap_shard_t *)&f; /* must become NULL on failure */
        fail_alloc_fail_nth(&f.fa, n);
        int rc = gomap_shard_new(&m, &so);
        fail_alloc_fail_nth(&f.fa, 0);
        snprintf(f.label, sizeof f.label, "gomap_shard_new(%s, %u shards, hint %zu), allocation "
                 "#%zu refused", c->name, shards, hint, n);
        if (rc == -ENOMEM) {
            enomem++;
            CHECK_MSG(m == NULL && f.fa.failures == 1, "%s: map %p, %zu refusals", f.label,
                      (void *)m, f.fa.failures);
            expect_no_blocks(&f.fa, f.label);
            continue;
        }
        CHECK_MSG(rc == 0 && m != NULL, "%s: rc %d", f.label, rc);
        CHECK_EQ(gomap_shard_count(m), shards);
        f.m = m;
        unsigned char v[MAX_VAL];
        for (uint64_t i = 0; i < 50; i++) {
            make_val(&f, i, 0, v);
            CHECK_EQ(gomap_shard_set(m, key_of(&f, i), v), 0);
        }
        CHECK_EQ(gomap_shard_len(m), 50);
        CHECK_SHARD_VALID(m);
        gomap_shard_free(m);
        expect_no_blocks(&f.fa, f.label);
        if (f.fa.failures == 0) {
            /* A refused allocation may also be survived: a hinted array
             * that cannot be allocated is a hint not honoured (map.h). */
            printf("   %s, %u shards, hint %zu: %zu allocations, each refused once: %zu "
                   "-ENOMEM\n", c->name, shards, hint, n - 1, enomem);
            CHECK(enomem >= 1 + (shards > 1));
            return;
        }
    }
}

static void test_new_fails(void)
{
    for (int s = 0; s < 2; s++) {
        new_until_done(&cfgs[0], shard_counts[s], 0);
        new_until_done(&cfgs[0], shard_counts[s], 1000);
        new_until_done(&cfgs[1], shard_counts[s], 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Each operation, each allocation                                           */
/* ------------------------------------------------------------------------ */

enum wop { W_SET, W_LOAD_OR_STORE, W_COMPUTE_PUT, W_COMPUTE_DELETE, W_DELETE, W_SNAPSHOT };

static const char *const wop_names[] = {"set", "load_or_store", "compute(put)",
                                        "compute(delete)", "delete", "snapshot"};

typedef struct {
    int rc;
    bool flag;                 /* loaded / found / was_present */
    unsigned char out[MAX_VAL];
    int calls;
} result;

static result do_op(fixture *f, enum wop op, uint64_t i, const unsigned char *v, gomap_t **snap)
{
    result res;
    memset(&res, 0x3C, sizeof res);
    res.rc = 0;
    const void *k = key_of(f, i);
    shard_cop c = {.val = v, .val_size = f->c->val_size};
    switch (op) {
    case W_SET: res.rc = gomap_shard_set(f->m, k, v); break;
    case W_LOAD_OR_STORE:
        res.flag = true;
        res.rc = gomap_shard_load_or_store(f->m, k, v, res.out, &res.flag);
        break;
    case W_COMPUTE_PUT:
    case W_COMPUTE_DELETE:
        c.mode = op == W_COMPUTE_PUT ? COP_PUT : COP_DELETE;
        res.rc = shardcheck_compute(f->m, k, &c);
        res.flag = c.was_present;
        res.calls = c.calls;
        break;
    case W_DELETE: res.flag = gomap_shard_delete(f->m, k); break;
    case W_SNAPSHOT:
        *snap = (gomap_t *)f; /* must become NULL on failure */
        res.rc = gomap_shard_snapshot(f->m, snap);
        break;
    }
    return res;
}

/* Checks a successful call's answer against the reference, and applies it. */
static void apply(fixture *f, enum wop op, uint64_t i, const unsigned char *v, const result *res,
                  gomap_t *snap, const char *ctx)
{
    const void *k = key_of(f, i);
    const void *cur = refmap_get(f->r, k);
    bool had = cur != NULL;
    size_t vs = f->c->val_size;
    CHECK_MSG(res->rc == 0, "%s: rc %d", ctx, res->rc);
    switch (op) {
    case W_SET:
        refmap_set(f->r, k, v);
        break;
    case W_LOAD_OR_STORE:
        CHECK_MSG(res->flag == had && memcmp(res->out, had ? cur : v, vs) == 0,
                  "%s: loaded %d, present %d (or wrong actual value)", ctx, res->flag, had);
        if (!had)
            refmap_set(f->r, k, v);
        break;
    case W_COMPUTE_PUT:
    case W_COMPUTE_DELETE:
        CHECK_MSG(res->calls == 1 && res->flag == had, "%s: fn ran %d times, shown present %d",
                  ctx, res->calls, res->flag);
        if (op == W_COMPUTE_PUT)
            refmap_set(f->r, k, v);
        else
            refmap_delete(f->r, k);
        break;
    case W_DELETE:
        CHECK_MSG(res->flag == had, "%s: delete returned %d", ctx, res->flag);
        refmap_delete(f->r, k);
        break;
    case W_SNAPSHOT: {
        char why[300];
        CHECK(snap != NULL);
        CHECK_MSG(refmap_compare(f->r, snap, true, why, sizeof why), "%s: snapshot: %s", ctx,
                  why);
        /* The copy came from the map's allocator, and goes back to it. */
        size_t blocks = f->fa.live_blocks;
        gomap_free(snap);
        CHECK_MSG(f->fa.live_blocks < blocks, "%s: freeing the snapshot gave no block back to "
                  "the map's allocator", ctx);
        break;
    }
    }
}

/* Runs op with its n-th allocation refused for n = 1, 2, ... until it
 * succeeds without a refusal. Returns the number of -ENOMEM answers. */
static size_t each_allocation(fixture *f, enum wop op, uint64_t i, uint64_t version)
{
    unsigned char v[MAX_VAL];
    make_val(f, i, version, v);
    size_t enomem = 0;
    for (size_t n = 1;; n++) {
        char ctx[300];
        snprintf(ctx, sizeof ctx, "%s: %s of key #%" PRIu64 " with allocation #%zu refused",
                 f->label, wop_names[op], i, n);
        CHECK_MSG(n < 1000, "%s: never completes", ctx);
        size_t refused0 = f->fa.failures, blocks0 = f->fa.live_blocks, bytes0 = f->fa.live_bytes;
        gomap_t *snap = NULL;
        fail_alloc_fail_nth(&f->fa, n);
        result res = do_op(f, op, i, v, &snap);
        fail_alloc_fail_nth(&f->fa, 0);
        size_t refused = f->fa.failures - refused0;
        if (res.rc == -ENOMEM) {
            enomem++;
            CHECK_MSG(refused == 1, "%s: -ENOMEM with %zu allocations refused", ctx, refused);
            CHECK_MSG(op != W_LOAD_OR_STORE || !res.flag, "%s: failed, but *loaded set", ctx);
            CHECK_MSG(op != W_SNAPSHOT || snap == NULL, "%s: failed, *out not NULL", ctx);
            if (op == W_SNAPSHOT)
                CHECK_MSG(f->fa.live_blocks == blocks0 && f->fa.live_bytes == bytes0,
                          "%s: failed snapshot kept %zd blocks, %zd bytes", ctx,
                          (ssize_t)(f->fa.live_blocks - blocks0),
                          (ssize_t)(f->fa.live_bytes - bytes0));
            check_same(f, ctx); /* exactly as before */
            continue;
        }
        apply(f, op, i, v, &res, snap, ctx);
        if (refused == 0)
            return enomem;
        /* Succeeded although an allocation was refused: right anyway
         * (checked by apply and the comparison the caller makes). */
        check_same(f, ctx);
        return enomem;
    }
}

static void run_workload(const cfg *c, unsigned shards)
{
    fixture f;
    fixture_init(&f, c, shards);
    size_t enomem[6] = {0}, calls = 0;
    uint64_t n = c->nkeys;
    for (uint64_t i = 0; i < n; i++) {
        /* A new key three ways, then changes to older ones. */
        enomem[W_SET] += each_allocation(&f, W_SET, 3 * i, 0);
        enomem[W_LOAD_OR_STORE] += each_allocation(&f, W_LOAD_OR_STORE, 3 * i + 1, 0);
        enomem[W_COMPUTE_PUT] += each_allocation(&f, W_COMPUTE_PUT, 3 * i + 2, 0);
        calls += 3;
        if (i % 4 == 1) {
            enomem[W_SET] += each_allocation(&f, W_SET, 3 * (i / 2), i);            /* overwrite */
            enomem[W_LOAD_OR_STORE] += each_allocation(&f, W_LOAD_OR_STORE, 3 * (i / 2), i);
            enomem[W_COMPUTE_PUT] += each_allocation(&f, W_COMPUTE_PUT, 3 * (i / 2) + 1, i);
            calls += 3;
        }
        if (i % 8 == 3) {
            enomem[W_COMPUTE_DELETE] += each_allocation(&f, W_COMPUTE_DELETE, 3 * (i / 3), 0);
            enomem[W_DELETE] += each_allocation(&f, W_DELETE, 3 * (i / 3) + 2, 0);
            calls += 2;
        }
        if (i % 50 == 7) {
            enomem[W_SNAPSHOT] += each_allocation(&f, W_SNAPSHOT, 0, 0);
            calls++;
        }
    }
    check_same(&f, "end of the workload");
    printf("   %s: %zu calls, %zu entries; -ENOMEM from set %zu, load_or_store %zu, "
           "compute %zu, snapshot %zu\n", f.label, calls, refmap_len(f.r), enomem[W_SET],
           enomem[W_LOAD_OR_STORE], enomem[W_COMPUTE_PUT], enomem[W_SNAPSHOT]);
    /* Growing maps and copying them allocate: every kind of write failed
     * somewhere. */
    CHECK(enomem[W_SET] > 0 && enomem[W_LOAD_OR_STORE] > 0 && enomem[W_COMPUTE_PUT] > 0);
    CHECK(enomem[W_SNAPSHOT] > 0);
    fixture_done(&f);
}

static void test_each_op(void)
{
    for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++)
        for (int s = 0; s < 2; s++)
            run_workload(&cfgs[c], shard_counts[s]);
}

/* ------------------------------------------------------------------------ */
/* Calls that need no memory                                                 */
/* ------------------------------------------------------------------------ */

static void bump_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    ((unsigned char *)val)[0] ^= 0xFF;
    ++*(int *)ctx;
}

static bool count_range(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    ++*(size_t *)ctx;
    return true;
}

static void test_never_fail(void)
{
    for (int s = 0; s < 2; s++) {
        fixture f;
        fixture_init(&f, &cfgs[0], shard_counts[s]);
        unsigned char v[MAX_VAL], out[MAX_VAL];
        /* Few keys per shard: no shard's map is growing. */
        uint64_t nk = shard_counts[s] == 1 ? 6 : 40;
        for (uint64_t i = 0; i < nk; i++) {
            make_val(&f, i, 0, v);
            CHECK_EQ(gomap_shard_set(f.m, key_of(&f, i), v), 0);
            refmap_set(f.r, key_of(&f, i), v);
        }
        f.fa.fail_all = 1;
        size_t refused0 = f.fa.failures;
        for (uint64_t i = 0; i < nk + 4; i++) {
            const void *k = key_of(&f, i);
            const unsigned char *cur = refmap_get(f.r, k);
            bool had = cur != NULL;
            CHECK(gomap_shard_get(f.m, k, out) == had);
            int calls = 0;
            CHECK(gomap_shard_visit(f.m, k, bump_visit, &calls) == had);
            if (had) {
                memcpy(v, cur, 8);
                v[0] ^= 0xFF;
                refmap_set_value(f.r, k, v);
                bool loaded = false;
                CHECK_EQ(gomap_shard_load_or_store(f.m, k, v, out, &loaded), 0);
                CHECK(loaded && memcmp(out, v, 8) == 0);
            }
            make_val(&f, i, 9, v);
            static const cop_mode modes[] = {COP_KEEP, COP_ABANDON, COP_PUT, COP_DELETE};
            for (int mi = 0; mi < 4; mi++) {
                shard_cop c = {.mode = modes[mi], .val = v, .val_size = 8, .abandon_rc = -42};
                if (!had && modes[mi] == COP_PUT)
                    continue; /* an insert may need memory */
                int rc = shardcheck_compute(f.m, k, &c);
                CHECK_MSG(rc == (modes[mi] == COP_ABANDON ? -42 : 0), "compute mode %d of a %s key "
                          "with every allocation refused: %d", modes[mi],
                          had ? "present" : "absent", rc);
                if (modes[mi] == COP_PUT)
                    refmap_set(f.r, k, v);
            }
            refmap_delete(f.r, k); /* the last mode deleted it */
            CHECK(!gomap_shard_get(f.m, k, NULL));
            if (i % 2 == 0)
                CHECK(!gomap_shard_delete(f.m, k));
            size_t n = 0;
            gomap_shard_range(f.m, count_range, &n);
            CHECK_EQ(n, refmap_len(f.r));
            CHECK_EQ(gomap_shard_len(f.m), refmap_len(f.r));
            CHECK_SHARD_VALID(f.m);
        }
        /* Refill a little, then clear with every allocation refused. */
        f.fa.fail_all = 0;
        for (uint64_t i = 0; i < 5; i++) {
            make_val(&f, i, 1, v);
            CHECK_EQ(gomap_shard_set(f.m, key_of(&f, i), v), 0);
        }
        f.fa.fail_all = 1;
        gomap_shard_clear(f.m);
        CHECK_EQ(gomap_shard_len(f.m), 0);
        CHECK_SHARD_VALID(f.m);
        CHECK_MSG(f.fa.failures == refused0, "calls that need no memory asked for it %zu times",
                  f.fa.failures - refused0);
        f.fa.fail_all = 0;
        refmap_clear(f.r);
        for (uint64_t i = 0; i < 100; i++) {
            make_val(&f, i, 2, v);
            CHECK_EQ(gomap_shard_set(f.m, key_of(&f, i), v), 0);
            refmap_set(f.r, key_of(&f, i), v);
        }
        check_same(&f, "after every allocation was refused");
        fixture_done(&f);
    }
}

/* ------------------------------------------------------------------------ */
/* Random                                                                    */
/* ------------------------------------------------------------------------ */

static void test_random(void)
{
    uint64_t rng = test_seed() ^ 0x00D1CEull;
    for (int s = 0; s < 2; s++) {
        for (size_t ci = 0; ci < 2; ci++) {
            fixture f;
            fixture_init(&f, &cfgs[ci], shard_counts[s]);
            size_t steps = 1500 / WORK_DIV, enomem = 0;
            for (size_t step = 0; step < steps; step++) {
                enum wop op = (enum wop)test_rand_below(&rng, 6);
                if (op == W_SNAPSHOT && test_rand_below(&rng, 10))
                    op = W_SET;
                uint64_t i = test_rand_below(&rng, 600);
                unsigned char v[MAX_VAL];
                make_val(&f, i, step, v);
                size_t refused0 = f.fa.failures;
                gomap_t *snap = NULL;
                fail_alloc_fail_nth(&f.fa, 1 + test_rand_below(&rng, 4));
                result res = do_op(&f, op, i, v, &snap);
                fail_alloc_fail_nth(&f.fa, 0);
                char ctx[200];
                snprintf(ctx, sizeof ctx, "%s: step %zu, %s of key #%" PRIu64, f.label, step,
                         wop_names[op], i);
                if (res.rc == -ENOMEM) {
                    CHECK_MSG(f.fa.failures - refused0 == 1, "%s: -ENOMEM without a refusal", ctx);
                    enomem++;
                } else {
                    apply(&f, op, i, v, &res, snap, ctx);
                }
                if (step % 16 == 0 || res.rc == -ENOMEM)
                    check_same(&f, ctx);
            }
            check_same(&f, "end");
            printf("   %s: %zu random steps, %zu -ENOMEM\n", f.label, steps, enomem);
            fixture_done(&f);
        }
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_new_fails);
    RUN(test_each_op);
    RUN(test_never_fail);
    RUN(test_random);
    printf("ok\n");
    return 0;
}

/*
 * test_delegmap_oom.c — allocation failure in the delegation map
 * (gomap/delegmap.h: "-ENOMEM leaves the map unchanged, nothing leaked"),
 * with the failing allocator of fail_alloc.h, in combining mode and with 1
 * and 3 workers.
 *
 *   test_new_fails     gomap_deleg_new (u64 and string keys, with and
 *                      without a hint) with its N-th allocation refused for
 *                      N = 1, 2, ... until it needs fewer: each -ENOMEM
 *                      refused one allocation, left *out NULL and holds no
 *                      block; a map that was created works.
 *   test_each_write    a workload that grows the map through several
 *                      doublings: set (insert, overwrite), compute
 *                      (insert, modify, delete) and a one-operation
 *                      asynchronous set, each with its N-th allocation
 *                      refused, N = 1, 2, ... until it succeeds without a
 *                      refusal. Every -ENOMEM refused exactly one
 *                      allocation and left the map exactly as before
 *                      (compared with the reference, validated). u64 keys,
 *                      string keys (copied) and 300-byte values (compute's
 *                      private copy comes from the heap: -ENOMEM before the
 *                      callback runs).
 *   test_registration  a thread whose client rings cannot be allocated
 *                      goes through the shared client and still gets its
 *                      answers; its next call registers.
 * After every gomap_deleg_free the allocator holds no block and no byte.
 * fail_alloc is not thread-safe: the test thread and a worker never
 * allocate at the same time (the worker allocates while the test thread
 * waits for its answer, and the ring's release/acquire orders the two).
 */
#include "check.h"
#include "delegcheck.h"
#include "fail_alloc.h"
#include "testkey.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { BIG_VAL = 300, MAX_VAL = BIG_VAL };

typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t val_size;
    size_t nkeys;
} cfg;

static const cfg cfgs[] = {
    {"u64 keys, 8-byte values", GOMAP_KEY_U64, 8, 300 / WORK_DIV},
    {"string keys", GOMAP_KEY_STR, 8, 120 / WORK_DIV},
    {"u64 keys, 300-byte values", GOMAP_KEY_U64, BIG_VAL, 80 / WORK_DIV},
};

typedef struct {
    const cfg *c;
    fail_alloc fa;
    gomap_deleg_t *m;
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

static gomap_deleg_options opts(fixture *f, unsigned workers, size_t hint)
{
    gomap_deleg_options o;
    memset(&o, 0, sizeof o);
    o.map.key_kind = f->c->kind;
    o.map.val_size = f->c->val_size;
    o.map.hint = hint;
    o.map.alloc = &f->fa.iface;
    o.workers = workers;
    o.queue_depth = 8;
    return o;
}

static void expect_no_blocks(const fail_alloc *fa, const char *label)
{
    CHECK_MSG(fa->live_blocks == 0 && fa->live_bytes == 0, "%s: %zu blocks, %zu bytes leaked",
              label, fa->live_blocks, fa->live_bytes);
}

/* ---- creation ------------------------------------------------------------------------- */

static void new_until_done(const cfg *c, unsigned workers, size_t hint)
{
    size_t enomem = 0;
    for (size_t n = 1;; n++) {
        CHECK(n < 10000);
        fixture f;
        memset(&f, 0, sizeof f);
        f.c = c;
        fail_alloc_init(&f.fa);
        gomap_deleg_options o = opts(&f, workers, hint);
        gomap_deleg_t *m = (gomap_deleg_t *)&f;
        fail_alloc_fail_nth(&f.fa, n);
        int rc = gomap_deleg_new(&m, &o);
        fail_alloc_fail_nth(&f.fa, 0);
        snprintf(f.label, sizeof f.label, "gomap_deleg_new(%s, %s, hint %zu), allocation #%zu "
                 "refused", c->name, delegcheck_mode_name(workers), hint, n);
        if (rc == -ENOMEM) {
            enomem++;
            CHECK_MSG(m == NULL && f.fa.failures == 1, "%s: map %p, %zu refusals", f.label,
                      (void *)m, f.fa.failures);
            expect_no_blocks(&f.fa, f.label);
            continue;
        }
        CHECK_MSG(rc == 0 && m != NULL, "%s: rc %d", f.label, rc);
        unsigned char v[MAX_VAL];
        for (uint64_t i = 0; i < 20; i++) {
            make_val(&f, i, 0, v);
            CHECK_EQ(gomap_deleg_set(m, key_of(&f, i), v), 0);
        }
        CHECK_EQ(gomap_deleg_len(m), 20);
        CHECK_DELEG_VALID(m);
        gomap_deleg_free(m);
        expect_no_blocks(&f.fa, f.label);
        if (f.fa.failures == 0) {
            printf("   %s, %s, hint %zu: %zu allocations, each refused once: %zu -ENOMEM\n",
                   c->name, delegcheck_mode_name(workers), hint, n - 1, enomem);
            CHECK(enomem >= 2);
            return;
        }
    }
}

static void test_new_fails(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++) {
        new_until_done(&cfgs[0], delegcheck_modes[i], 0);
        new_until_done(&cfgs[0], delegcheck_modes[i], 1000);
        new_until_done(&cfgs[1], delegcheck_modes[i], 0);
    }
}

/* ---- each write, each allocation ------------------------------------------------------ */

enum wop { W_SET, W_COMPUTE_PUT, W_COMPUTE_DELETE, W_ASYNC_SET, W_COUNT };
static const char *const wop_names[] = {"set", "compute(put)", "compute(delete)", "async set"};

static int do_op(fixture *f, enum wop op, uint64_t i, const unsigned char *v, shard_cop *c)
{
    const void *k = key_of(f, i);
    *c = (shard_cop){.val = v, .val_size = f->c->val_size};
    switch (op) {
    case W_SET: return gomap_deleg_set(f->m, k, v);
    case W_COMPUTE_PUT:
    case W_COMPUTE_DELETE:
        c->mode = op == W_COMPUTE_PUT ? COP_PUT : COP_DELETE;
        return delegcheck_compute(f->m, k, c);
    default: {
        gomap_deleg_op dop = {.kind = GOMAP_DELEG_SET, .key = k, .val = (void *)(uintptr_t)v};
        CHECK_EQ(gomap_deleg_submit(f->m, &dop, 1, 0), 1);
        CHECK_EQ(gomap_deleg_wait(f->m, &dop, 1), 0);
        CHECK_EQ(dop.status, 0);
        return dop.result;
    }
    }
}

static void apply(fixture *f, enum wop op, uint64_t i, const unsigned char *v)
{
    const void *k = key_of(f, i);
    if (op == W_COMPUTE_DELETE)
        refmap_delete(f->r, k);
    else
        refmap_set(f->r, k, v);
}

static void check_same(fixture *f, const char *what)
{
    char why[300];
    CHECK_MSG(delegcheck_compare(f->m, f->r, why, sizeof why), "%s: %s: %s", f->label, what, why);
    int rc = gomap_deleg_validate(f->m, why, sizeof why);
    CHECK_MSG(rc == 0, "%s: %s: validate: %s", f->label, what, why);
}

/* Makes op succeed, refusing its 1st, 2nd, ... allocation first. */
static size_t until_done(fixture *f, enum wop op, uint64_t i, uint64_t version)
{
    unsigned char v[MAX_VAL];
    make_val(f, i, version, v);
    size_t refused = 0;
    for (size_t n = 1;; n++) {
        CHECK(n < 1000);
        shard_cop c;
        size_t before = f->fa.failures;
        fail_alloc_fail_nth(&f->fa, n);
        int rc = do_op(f, op, i, v, &c);
        fail_alloc_fail_nth(&f->fa, 0);
        char ctx[200];
        snprintf(ctx, sizeof ctx, "%s of key %" PRIu64 ", allocation #%zu refused",
                 wop_names[op], i, n);
        if (rc == -ENOMEM) {
            CHECK_MSG(f->fa.failures == before + 1, "%s: %zu refusals", ctx,
                      f->fa.failures - before);
            check_same(f, ctx);
            refused++;
            continue;
        }
        CHECK_MSG(rc == 0, "%s: rc %d", ctx, rc);
        apply(f, op, i, v);
        if (f->fa.failures == before) /* nothing left to refuse */
            return refused;
        check_same(f, ctx); /* a refusal survived (a hint not honoured) */
    }
}

static void each_write(const cfg *c, unsigned workers)
{
    fixture f;
    memset(&f, 0, sizeof f);
    f.c = c;
    fail_alloc_init(&f.fa);
    gomap_deleg_options o = opts(&f, workers, 0);
    CHECK_EQ(gomap_deleg_new(&f.m, &o), 0);
    f.r = refmap_new(c->kind, 0, c->val_size);
    snprintf(f.label, sizeof f.label, "%s, %s", c->name, delegcheck_mode_name(workers));
    CHECK(!gomap_deleg_get(f.m, key_of(&f, 0), NULL)); /* registers this thread */
    size_t refused = 0;
    for (uint64_t i = 0; i < c->nkeys; i++) {
        enum wop op = (enum wop)(i % 3 == 1 ? W_COMPUTE_PUT : i % 3 == 2 ? W_ASYNC_SET : W_SET);
        refused += until_done(&f, op, i, 0);
        if (i % 7 == 3)
            refused += until_done(&f, W_SET, i / 2, 1); /* overwrite */
        if (i % 5 == 4)
            refused += until_done(&f, W_COMPUTE_DELETE, i / 3, 0);
    }
    check_same(&f, "at the end");
    printf("   %s: %zu keys, %zu -ENOMEM answers\n", f.label, c->nkeys, refused);
    CHECK(refused > 0);
    gomap_deleg_free(f.m);
    expect_no_blocks(&f.fa, f.label);
    refmap_free(f.r);
}

static void test_each_write(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++)
        for (size_t k = 0; k < sizeof cfgs / sizeof cfgs[0]; k++)
            each_write(&cfgs[k], delegcheck_modes[i]);
}

/* ---- registration --------------------------------------------------------------------- */

typedef struct {
    fixture *f;
} reg_arg;

static void *register_refused(void *arg)
{
    fixture *f = ((reg_arg *)arg)->f;
    unsigned char v[MAX_VAL];
    make_val(f, 1, 0, v);
    fail_alloc_fail_nth(&f->fa, 1); /* the rings of this thread's client */
    CHECK_EQ(gomap_deleg_set(f->m, key_of(f, 1), v), 0);
    fail_alloc_fail_nth(&f->fa, 0);
    CHECK_EQ(f->fa.failures, 1);
    gomap_deleg_stats_t st = delegcheck_stats(f->m);
    /* Through the shared client, unless it ran directly (combining). */
    uint64_t shared = st.workers ? 1 : 0;
    CHECK_EQ(st.shared_ops, shared);
    CHECK_EQ(st.direct_ops, 1 - shared);
    CHECK_EQ(st.clients, 0);
    CHECK(gomap_deleg_get(f->m, key_of(f, 1), NULL)); /* registers now */
    st = delegcheck_stats(f->m);
    CHECK_EQ(st.shared_ops, shared);
    CHECK_EQ(st.clients, 1);
    return NULL;
}

static void test_registration(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++) {
        fixture f;
        memset(&f, 0, sizeof f);
        f.c = &cfgs[0];
        fail_alloc_init(&f.fa);
        gomap_deleg_options o = opts(&f, delegcheck_modes[i], 0);
        CHECK_EQ(gomap_deleg_new(&f.m, &o), 0);
        reg_arg a = {&f};
        pthread_t t;
        CHECK_EQ(pthread_create(&t, NULL, register_refused, &a), 0);
        CHECK_EQ(pthread_join(t, NULL), 0);
        CHECK_EQ(delegcheck_stats(f.m).clients, 0); /* given back at exit */
        gomap_deleg_free(f.m);
        expect_no_blocks(&f.fa, "registration");
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_new_fails);
    RUN(test_each_write);
    RUN(test_registration);
    printf("ok\n");
    return 0;
}

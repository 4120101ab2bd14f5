/*
 * test_syncmap_oom.c — allocation failure in the sync map (gomap/syncmap.h).
 *
 * The header promises: a write that runs out of memory returns -ENOMEM and
 * leaves the map unchanged, nothing leaked; the calls that "never fail"
 * (load, load_and_delete, delete, compare_and_delete, range, clear, len)
 * still do their job when every allocation fails.
 *
 *   test_new_fails      gomap_sync_new with its N-th allocation refused, for
 *                       every N: -ENOMEM, *out NULL, nothing leaked.
 *   test_each_write     for every (map state, write) pair, a fresh map is
 *                       built and the write's N-th allocation is refused,
 *                       N = 1, 2, ... until the write succeeds without a
 *                       refusal. Each -ENOMEM must have refused a real
 *                       allocation, leave exactly the previous contents
 *                       (range and len), pass validate and leave *loaded
 *                       false / prev_out untouched; the write retried
 *                       without failure then gives the right answer. The
 *                       states put the key in the read-only part, only in
 *                       the dirty map, deleted, expunged, absent with no
 *                       dirty map (the write must rebuild it), and one miss
 *                       away from a promotion.
 *   test_never_fail     every allocation refused: the calls that cannot fail
 *                       still answer right (including loads and ranges that
 *                       promote), and the map works afterwards.
 *   test_random         seeded random operations, each with an allocation
 *                       refused at a random point, against a simple model.
 *
 * Every map is freed at the end of its run; gomap_sync_free waits for retired
 * memory, so the allocator must then hold no block and no byte. Retired
 * memory is freed by the library's reclaimer thread, so fail_alloc (not
 * thread-safe) is wrapped with a mutex here. Every case runs under the three
 * hash variants of hashvariant.h. Seeds: test_seed().
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "locked_alloc.h"
#include "hashvariant.h"

#include <gomap/syncmap.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CHECK_SYNC_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_sync_validate((m), why_, sizeof why_); \
         if (rc_ != 0) check_fail(__FILE__, __LINE__, "gomap_sync_validate(" #m ")", why_); } while (0)

typedef struct gomap_sync_stats sstats;


/* ------------------------------------------------------------------------ */
/* Leak checks                                                               */
/* ------------------------------------------------------------------------ */

static void la_check_empty(locked_alloc *la, const char *where)
{
    fail_alloc c = locked_alloc_counts(la);
    CHECK_MSG(c.live_blocks == 0 && c.live_bytes == 0,
              "%s [%s hash]: %zu blocks, %zu bytes leaked", where,
              hash_variant_name(hv_current), c.live_blocks, c.live_bytes);
}

static gomap_sync_t *sync_new_with(locked_alloc *la)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, hv_current);
    o.val_size = sizeof(uint64_t);
    o.alloc = &la->iface;
    gomap_sync_t *m = NULL;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    return m;
}

/* ------------------------------------------------------------------------ */
/* Contents: a table of keys 0 .. KMAX-1                                     */
/* ------------------------------------------------------------------------ */

enum { KMAX = 128 };

typedef struct {
    bool present[KMAX];
    uint64_t val[KMAX];
    size_t n;
} contents;

static bool snap_fn(const void *key, const void *val, void *ctx)
{
    contents *c = ctx;
    uint64_t k, v;
    memcpy(&k, key, sizeof k);
    memcpy(&v, val, sizeof v);
    CHECK_MSG(k < KMAX && !c->present[k], "range produced key %" PRIu64 " (unknown or twice)", k);
    c->present[k] = true;
    c->val[k] = v;
    c->n++;
    return true;
}

static contents snapshot(gomap_sync_t *m)
{
    contents c;
    memset(&c, 0, sizeof c);
    gomap_sync_range(m, snap_fn, &c);
    CHECK_EQ(gomap_sync_len(m), c.n);
    return c;
}

static bool same_contents(const contents *a, const contents *b)
{
    if (a->n != b->n)
        return false;
    for (int k = 0; k < KMAX; k++)
        if (a->present[k] != b->present[k] || (a->present[k] && a->val[k] != b->val[k]))
            return false;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Map states                                                                */
/* ------------------------------------------------------------------------ */

enum { NBASE = 40 };

static void store(gomap_sync_t *m, uint64_t k, uint64_t v)
{
    CHECK_EQ(gomap_sync_store(m, &k, &v), 0);
}

static size_t count_fn_calls;
static bool count_fn(const void *k, const void *v, void *ctx)
{
    (void)k;
    (void)v;
    (void)ctx;
    count_fn_calls++;
    return true;
}

static void promote(gomap_sync_t *m)
{
    gomap_sync_range(m, count_fn, NULL);
}

/* All keys 0..39 in the dirty map (nothing promoted). */
static void st_dirty(gomap_sync_t *m)
{
    for (uint64_t k = 0; k < NBASE; k++)
        store(m, k, k + 1);
}

/* All keys 0..39 in the read-only part; no dirty map. */
static void st_read(gomap_sync_t *m)
{
    st_dirty(m);
    promote(m);
}

/* 0..39 read-only, 40..59 dirty only, 5 deleted (its read entry emptied). */
static void st_mixed(gomap_sync_t *m)
{
    st_read(m);
    for (uint64_t k = NBASE; k < NBASE + 20; k++)
        store(m, k, k + 1);
    uint64_t k5 = 5;
    gomap_sync_delete(m, &k5);
}

/* 0..9 deleted before a dirty rebuild (expunged), 40 dirty only. */
static void st_expunged(gomap_sync_t *m)
{
    st_read(m);
    for (uint64_t k = 0; k < 10; k++)
        gomap_sync_delete(m, &k);
    store(m, NBASE, NBASE + 1);
}

/* 0..39 dirty, NBASE-1 misses recorded: the next miss promotes. */
static void st_near_promote(gomap_sync_t *m)
{
    st_dirty(m);
    uint64_t k0 = 0;
    for (int i = 0; i < NBASE - 1; i++)
        CHECK(gomap_sync_load(m, &k0, NULL));
    sstats s;
    CHECK_EQ(gomap_sync_stats(m, &s), 0);
    CHECK(s.amended && s.misses + 1 == s.dirty_entries);
}

typedef struct {
    const char *name;
    void (*build)(gomap_sync_t *m);
} state;

static const state states[] = {
    {"all dirty", st_dirty},
    {"all read-only, no dirty map", st_read},
    {"read-only + dirty + deleted", st_mixed},
    {"expunged keys", st_expunged},
    {"one miss from promotion", st_near_promote},
};
enum { NSTATES = sizeof states / sizeof states[0] };

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */
/* ------------------------------------------------------------------------ */

enum w_kind { W_STORE, W_SWAP, W_LOAD_OR_STORE, W_CAS };
static const char *const w_names[] = {"store", "swap", "load_or_store", "compare_and_swap"};

typedef struct {
    enum w_kind kind;
    uint64_t key;
    int old_mode; /* W_CAS: 0 the current value, 1 another value */
} write_op;

static const write_op writes[] = {
    {W_STORE, 100, 0}, {W_STORE, 3, 0}, {W_STORE, 45, 0}, {W_STORE, 5, 0},
    {W_SWAP, 100, 0}, {W_SWAP, 3, 0}, {W_SWAP, 45, 0}, {W_SWAP, 5, 0},
    {W_LOAD_OR_STORE, 100, 0}, {W_LOAD_OR_STORE, 3, 0}, {W_LOAD_OR_STORE, 45, 0},
    {W_LOAD_OR_STORE, 5, 0},
    {W_CAS, 3, 0}, {W_CAS, 45, 0}, {W_CAS, 3, 1}, {W_CAS, 100, 0}, {W_CAS, 5, 0},
};
enum { NWRITES = sizeof writes / sizeof writes[0] };

enum { NEW_VAL = 7777, WRONG_OLD = 12345, UNTOUCHED = 0x5A5A };

typedef struct {
    int rc;
    bool loaded;
    uint64_t out;
} write_result;

static write_result do_write(gomap_sync_t *m, const write_op *w, uint64_t old)
{
    write_result r = {0, true, UNTOUCHED};
    uint64_t k = w->key, v = NEW_VAL;
    switch (w->kind) {
    case W_STORE: r.rc = gomap_sync_store(m, &k, &v); break;
    case W_SWAP: r.rc = gomap_sync_swap(m, &k, &v, &r.out, &r.loaded); break;
    case W_LOAD_OR_STORE: r.rc = gomap_sync_load_or_store(m, &k, &v, &r.out, &r.loaded); break;
    case W_CAS: r.rc = gomap_sync_compare_and_swap(m, &k, &old, &v); break;
    }
    return r;
}

/* The contents after a successful write, and its expected result. */
static contents apply_write(const contents *before, const write_op *w, uint64_t old,
                            write_result *want)
{
    contents c = *before;
    uint64_t k = w->key;
    bool present = c.present[k];
    *want = (write_result){0, present, present ? c.val[k] : UNTOUCHED};
    bool set = true;
    switch (w->kind) {
    case W_STORE:
    case W_SWAP:
        break;
    case W_LOAD_OR_STORE:
        set = !present;
        want->out = present ? c.val[k] : NEW_VAL;
        break;
    case W_CAS:
        set = present && c.val[k] == old;
        want->rc = set;
        break;
    }
    if (set) {
        c.n += !present;
        c.present[k] = true;
        c.val[k] = NEW_VAL;
    }
    return c;
}

static void check_result(const write_op *w, const write_result *got, const write_result *want,
                         const char *ctx)
{
    CHECK_MSG(got->rc == want->rc, "%s: rc %d, want %d", ctx, got->rc, want->rc);
    if (w->kind == W_SWAP || w->kind == W_LOAD_OR_STORE)
        CHECK_MSG(got->loaded == want->loaded && got->out == want->out,
                  "%s: loaded %d out %" PRIu64 ", want %d %" PRIu64, ctx, got->loaded,
                  got->out, want->loaded, want->out);
}

/* One run: fresh map in state st, write w with its n-th allocation refused.
 * Returns false once the write needed fewer than n allocations. */
static bool write_run(const state *st, const write_op *w, size_t n, size_t *enomem)
{
    char ctx[200];
    snprintf(ctx, sizeof ctx, "%s on key %" PRIu64 "%s, state '%s', allocation #%zu refused [%s hash]",
             w_names[w->kind], w->key, w->kind == W_CAS && w->old_mode ? " (wrong old)" : "",
             st->name, n, hash_variant_name(hv_current));
    locked_alloc la;
    locked_alloc_init(&la);
    gomap_sync_t *m = sync_new_with(&la);
    st->build(m);
    contents before = snapshot(m);
    uint64_t old = w->old_mode ? WRONG_OLD : (before.present[w->key] ? before.val[w->key] : 0);
    write_result want;
    contents after = apply_write(&before, w, old, &want);

    size_t refused0 = locked_alloc_counts(&la).failures;
    locked_alloc_arm(&la, n, 0);
    write_result got = do_write(m, w, old);
    locked_alloc_arm(&la, 0, 0);
    size_t refused = locked_alloc_counts(&la).failures - refused0;

    if (got.rc == -ENOMEM) {
        ++*enomem;
        CHECK_MSG(refused == 1, "%s: -ENOMEM but %zu allocations refused", ctx, refused);
        contents now = snapshot(m);
        CHECK_MSG(same_contents(&now, &before), "%s: -ENOMEM changed the map", ctx);
        if (w->kind == W_SWAP)
            CHECK_MSG(!got.loaded && got.out == UNTOUCHED, "%s: failed swap set loaded %d, "
                      "prev %" PRIu64, ctx, got.loaded, got.out);
        if (w->kind == W_LOAD_OR_STORE)
            CHECK_MSG(!got.loaded, "%s: failed load_or_store set loaded", ctx);
        CHECK_SYNC_VALID(m);
        got = do_write(m, w, old); /* retried: must work now */
        snprintf(ctx + strlen(ctx), sizeof ctx - strlen(ctx), ", retried");
    }
    check_result(w, &got, &want, ctx);
    contents now = snapshot(m);
    CHECK_MSG(same_contents(&now, &after), "%s: wrong contents after the write", ctx);
    CHECK_SYNC_VALID(m);
    gomap_sync_free(m);
    la_check_empty(&la, ctx);
    locked_alloc_destroy(&la);
    return refused > 0;
}

static void test_each_write(void)
{
    size_t runs = 0, enomem = 0, most = 0;
    for (int s = 0; s < NSTATES; s++) {
        for (int w = 0; w < NWRITES; w++) {
            size_t n = 1;
            while (write_run(&states[s], &writes[w], n, &enomem)) {
                CHECK_MSG(n < 10000, "write never completes");
                n++;
            }
            runs += n;
            if (n - 1 > most)
                most = n - 1;
        }
    }
    printf("   %zu runs, %zu -ENOMEM, at most %zu allocations in one write\n", runs, enomem,
           most);
    /* A new key with no dirty map allocates (at least the dirty map). */
    CHECK(enomem > 0);
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

static void test_new_fails(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, hv_current);
    o.val_size = sizeof(uint64_t);
    static const size_t hints[] = {0, 100};
    for (int h = 0; h < 2; h++) {
        o.hint = hints[h];
        for (size_t n = 1;; n++) {
            CHECK(n < 1000);
            locked_alloc la;
            locked_alloc_init(&la);
            o.alloc = &la.iface;
            locked_alloc_arm(&la, n, 0);
            gomap_sync_t *m = (gomap_sync_t *)&o; /* must become NULL on failure */
            int rc = gomap_sync_new(&m, &o);
            locked_alloc_arm(&la, 0, 0);
            size_t refused = locked_alloc_counts(&la).failures;
            if (rc == -ENOMEM) {
                CHECK(m == NULL && refused == 1);
            } else {
                CHECK_EQ(rc, 0);
                CHECK(m != NULL);
                uint64_t k = 1;
                store(m, k, 2);
                CHECK(gomap_sync_load(m, &k, NULL));
                CHECK_SYNC_VALID(m);
                gomap_sync_free(m);
            }
            la_check_empty(&la, "gomap_sync_new");
            locked_alloc_destroy(&la);
            if (rc == 0 && refused == 0) {
                printf("   creation with hint %zu: %zu allocation points\n", hints[h], n - 1);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Calls that never fail, with every allocation refused                      */
/* ------------------------------------------------------------------------ */

static void never_fail_run(const state *st)
{
    char ctx[160];
    snprintf(ctx, sizeof ctx, "state '%s' [%s hash]", st->name, hash_variant_name(hv_current));
    locked_alloc la;
    locked_alloc_init(&la);
    gomap_sync_t *m = sync_new_with(&la);
    st->build(m);
    contents c = snapshot(m);
    locked_alloc_arm(&la, 0, 1);

    /* Loads of every key, several times over (misses promote). */
    for (int round = 0; round < 3; round++) {
        for (uint64_t k = 0; k < KMAX; k++) {
            uint64_t v = 1;
            bool ok = gomap_sync_load(m, &k, &v);
            CHECK_MSG(ok == c.present[k] && v == (ok ? c.val[k] : 0), "%s: load %" PRIu64, ctx, k);
        }
    }
    /* Range (which promotes first) sees everything. */
    contents now = snapshot(m);
    CHECK_MSG(same_contents(&now, &c), "%s: range under allocation failure", ctx);
    CHECK_SYNC_VALID(m);

    /* Deletes of every kind (keys in different parts in different states). */
    uint64_t k = 3, v = 0;
    bool was = c.present[k];
    CHECK(gomap_sync_load_and_delete(m, &k, &v) == was && v == (was ? c.val[k] : 0));
    c.n -= was, c.present[k] = false;
    k = 45;
    was = c.present[k];
    gomap_sync_delete(m, &k);
    c.n -= was, c.present[k] = false;
    k = 7;
    was = c.present[k];
    uint64_t wrong = WRONG_OLD, right = c.val[k];
    CHECK(!gomap_sync_compare_and_delete(m, &k, &wrong));
    CHECK(gomap_sync_compare_and_delete(m, &k, &right) == was);
    c.n -= was, c.present[k] = false;
    k = 20;
    CHECK(gomap_sync_compare_and_delete(m, &k, &c.val[k]));
    c.n--, c.present[k] = false;
    CHECK_EQ(gomap_sync_len(m), c.n);
    now = snapshot(m);
    CHECK_MSG(same_contents(&now, &c), "%s: deletes under allocation failure", ctx);
    CHECK_SYNC_VALID(m);

    /* A write fails cleanly, or succeeds without memory (an overwrite). */
    k = 100;
    v = NEW_VAL;
    CHECK_EQ(gomap_sync_store(m, &k, &v), -ENOMEM);
    CHECK(!gomap_sync_load(m, &k, NULL));

    gomap_sync_clear(m);
    CHECK_EQ(gomap_sync_len(m), 0);
    count_fn_calls = 0;
    gomap_sync_range(m, count_fn, NULL);
    CHECK_EQ(count_fn_calls, 0);
    CHECK_SYNC_VALID(m);

    /* Memory is back: the map works. */
    locked_alloc_arm(&la, 0, 0);
    for (uint64_t i = 0; i < 50; i++)
        store(m, i, i);
    CHECK_EQ(gomap_sync_len(m), 50);
    CHECK_SYNC_VALID(m);
    gomap_sync_free(m);
    la_check_empty(&la, ctx);
    locked_alloc_destroy(&la);
}

static void test_never_fail(void)
{
    for (int s = 0; s < NSTATES; s++)
        never_fail_run(&states[s]);
}

/* ------------------------------------------------------------------------ */
/* Random operations with random refusals                                    */
/* ------------------------------------------------------------------------ */

enum { RKEYS = 64 };

static void random_step(gomap_sync_t *m, locked_alloc *la, contents *c, uint64_t *rng,
                        size_t step)
{
    uint64_t k = test_rand_below(rng, RKEYS), v = test_rand_below(rng, 4) + 1;
    uint64_t old = test_rand_below(rng, 2) && c->present[k] ? c->val[k] : test_rand_below(rng, 5);
    int op = (int)test_rand_below(rng, 10);
    size_t refused0 = locked_alloc_counts(la).failures;
    locked_alloc_arm(la, test_rand_below(rng, 4) + 1, 0);
    write_result got = {0, false, 0};
    bool b = false;
    uint64_t out = 99;
    switch (op) {
    case 0: case 1: got.rc = gomap_sync_store(m, &k, &v); break;
    case 2: got.rc = gomap_sync_swap(m, &k, &v, &out, &got.loaded); break;
    case 3: got.rc = gomap_sync_load_or_store(m, &k, &v, &out, &got.loaded); break;
    case 4: got.rc = gomap_sync_compare_and_swap(m, &k, &old, &v); break;
    case 5: b = gomap_sync_load_and_delete(m, &k, &out);
        CHECK(b == c->present[k] && out == (b ? c->val[k] : 0));
        break;
    case 6: b = gomap_sync_compare_and_delete(m, &k, &old);
        CHECK(b == (c->present[k] && c->val[k] == old));
        break;
    case 7: b = gomap_sync_load(m, &k, &out);
        CHECK(b == c->present[k] && out == (b ? c->val[k] : 0));
        break;
    case 8: gomap_sync_delete(m, &k); break;
    default:
        b = test_rand_below(rng, 8) == 0;
        if (b)
            gomap_sync_clear(m);
        break;
    }
    locked_alloc_arm(la, 0, 0);
    size_t refused = locked_alloc_counts(la).failures - refused0;
    CHECK_MSG(got.rc == 0 || got.rc == 1 || (got.rc == -ENOMEM && refused == 1),
              "step %zu op %d: rc %d with %zu refusals", step, op, got.rc, refused);
    if (got.rc != -ENOMEM) {
        bool present = c->present[k];
        switch (op) {
        case 0: case 1: case 2:
            c->n += !present, c->present[k] = true, c->val[k] = v;
            break;
        case 3:
            if (!present)
                c->n++, c->present[k] = true, c->val[k] = v;
            break;
        case 4:
            CHECK_EQ(got.rc, present && c->val[k] == old);
            if (got.rc)
                c->val[k] = v;
            break;
        case 5: case 6: case 8:
            if (present && (op != 6 || b))
                c->n--, c->present[k] = false;
            break;
        case 9:
            if (b)
                memset(c, 0, sizeof *c);
            break;
        }
    }
    contents now = snapshot(m);
    CHECK_MSG(same_contents(&now, c), "step %zu op %d key %" PRIu64 " rc %d: contents differ "
              "from the model (%zu keys, model %zu)", step, op, k, got.rc, now.n, c->n);
    CHECK_SYNC_VALID(m);
}

static void test_random(void)
{
    uint64_t rng = test_seed() ^ (uint64_t)hv_current * 0x9E3779B97F4A7C15ull;
    locked_alloc la;
    locked_alloc_init(&la);
    gomap_sync_t *m = sync_new_with(&la);
    contents c;
    memset(&c, 0, sizeof c);
    const size_t steps = 8000 / WORK_DIV;
    for (size_t i = 0; i < steps; i++)
        random_step(m, &la, &c, &rng, i);
    gomap_sync_free(m);
    la_check_empty(&la, "random");
    printf("   %zu steps, %zu allocations refused\n", steps, locked_alloc_counts(&la).failures);
    locked_alloc_destroy(&la);
}

int main(void)
{
    test_seed();
    RUN_VARIANTS(test_new_fails);
    RUN_VARIANTS(test_each_write);
    RUN_VARIANTS(test_never_fail);
    RUN_VARIANTS(test_random);
    printf("ok\n");
    return 0;
}

/*
 * test_snapmap_model.c — the snapshot map (gomap/snapmap.h) against the
 * reference map: seeded random sequences of get, set, delete, clear, update
 * (commit and abandon) and held views, with gomap_snap_validate, len,
 * stats.len and the published-version count checked after every step, and
 * each held view compared with the reference as it was when the view was
 * taken. u64 keys under the three hash variants, string keys (some out of
 * line), float keys (+0/-0, NaN), and a set.
 *
 * Seeds: test_seed() (printed; GOMAP_TEST_SEED reproduces a run).
 */
#include "check.h"
#include "hashvariant.h"
#include "refmap.h"

#include <gomap.h>

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool count_fn(const void *key, const void *val, void *ctx)
{
    (void)key, (void)val;
    *(size_t *)ctx += 1;
    return true;
}

static uint64_t refmap_u64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Model: random sequences against the reference map                         */
/* ------------------------------------------------------------------------ */

enum { MAX_HELD = 4, MAX_BATCH = 8, KEYBUF = 300 };

/* A key of any kind, built from a number. */
typedef struct {
    uint64_t u;
    double d;
    gomap_str s;
    char buf[KEYBUF];
} keybuf;

typedef struct {
    const char *name;
    gomap_snap_t *m;
    refmap *ref;
    gomap_key_kind kind;       /* of the snapshot map */
    size_t val_size;           /* 0 or 8 */
    uint64_t rng, keys;
    size_t step;
    const char *op;
    uint64_t versions;         /* what stats.versions must say */
    size_t peak;               /* most entries at once */
    const gomap_snap_view_t *held[MAX_HELD];
    refmap *held_ref[MAX_HELD];
} model;

#define MCHECK(md, cond, ...) \
    do { if (!(cond)) { char d_[600], c_[400]; snprintf(c_, sizeof c_, __VA_ARGS__); \
         snprintf(d_, sizeof d_, "%s, step %zu, op %s: %s", (md)->name, (md)->step, (md)->op, c_); \
         check_fail(__FILE__, __LINE__, #cond, d_); } } while (0)

/* Key number i in the map's key form. Floats: 0 is +0, 1 is -0 (the same
 * key), 2 is a NaN. Strings: distinct per i, some over GOMAP_INLINE_MAX. */
static const void *key_of(const model *md, uint64_t i, keybuf *kb)
{
    switch (md->kind) {
    case GOMAP_KEY_F64:
        kb->d = i == 0 ? 0.0 : i == 1 ? -0.0 : i == 2 ? NAN : (double)i / 4;
        return &kb->d;
    case GOMAP_KEY_STR: {
        int n = snprintf(kb->buf, sizeof kb->buf, "key-%" PRIu64, i);
        size_t len = (size_t)n;
        if (i % 5 == 0) { /* a long one, padded with a byte pattern */
            len = 150 + i % 100;
            for (size_t j = (size_t)n; j < len; j++)
                kb->buf[j] = (char)('a' + j % 26);
        }
        kb->s = (gomap_str){kb->buf, len};
        return &kb->s;
    }
    default:
        kb->u = i * 0x9E3779B97F4A7C15ull >> (i % 3 == 0 ? 40 : 0);
        return &kb->u;
    }
}

static uint64_t model_val(model *md)
{
    return test_rand_below(&md->rng, 5) + 1;
}

/* Does setting key to v change the reference (a new key, another value, or
 * other stored key bits: -0 over +0)? */
static bool set_changes(const model *md, const void *key, uint64_t v)
{
    if (refmap_key_is_nan(md->ref, key))
        return true;
    const void *cur = refmap_get(md->ref, key);
    if (!cur)
        return true;
    if (md->val_size && memcmp(cur, &v, sizeof v) != 0)
        return true;
    return md->kind == GOMAP_KEY_F64 &&
           memcmp(refmap_stored_key(md->ref, key), key, sizeof(double)) != 0;
}

static void model_compare(model *md, refmap *ref, const gomap_snap_view_t *view)
{
    char why[256] = "";
    bool same = refmap_compare(ref, (gomap_t *)(uintptr_t)gomap_snap_view_map(view), true, why,
                               sizeof why);
    MCHECK(md, same, "view differs from the reference: %s", why);
    size_t n = 0;
    gomap_snap_view_range(view, count_fn, &n);
    MCHECK(md, n == refmap_len(ref), "view range gave %zu entries, reference %zu", n,
           refmap_len(ref));
}

static void model_get(model *md, uint64_t i)
{
    keybuf kb;
    const void *key = key_of(md, i, &kb);
    uint64_t out = 0xABCD;
    bool found = gomap_snap_get(md->m, key, md->val_size ? &out : NULL);
    const void *want = refmap_get(md->ref, key);
    MCHECK(md, found == (want != NULL), "key %" PRIu64 " found %d", i, found);
    if (md->val_size)
        MCHECK(md, out == (want ? refmap_u64(want) : 0), "key %" PRIu64 " value %" PRIu64, i, out);
}

static void model_set(model *md, uint64_t i)
{
    keybuf kb;
    const void *key = key_of(md, i, &kb);
    uint64_t v = model_val(md);
    bool changes = set_changes(md, key, v);
    MCHECK(md, gomap_snap_set(md->m, key, md->val_size ? &v : NULL) == 0, "set failed");
    refmap_set(md->ref, key, md->val_size ? &v : NULL);
    md->versions += changes;
}

static void model_delete(model *md, uint64_t i)
{
    keybuf kb;
    const void *key = key_of(md, i, &kb);
    int rc = gomap_snap_delete(md->m, key);
    bool was = refmap_delete(md->ref, key);
    MCHECK(md, rc == (was ? 1 : 0), "delete of key %" PRIu64 " returned %d", i, rc);
    md->versions += was;
}

static void model_clear(model *md)
{
    md->versions += refmap_len(md->ref) != 0;
    MCHECK(md, gomap_snap_clear(md->m) == 0, "clear failed");
    refmap_clear(md->ref);
}

typedef struct {
    model *md;
    refmap *next;            /* the reference with the batch applied */
    int n;
    uint64_t key[MAX_BATCH], val[MAX_BATCH];
    bool del[MAX_BATCH];
    int ret;
} model_batch;

static int model_batch_fn(gomap_t *copy, void *ctx)
{
    model_batch *b = ctx;
    model *md = b->md;
    char why[256] = "";
    bool same = refmap_compare(md->ref, copy, false, why, sizeof why);
    MCHECK(md, same, "update's copy differs from the current version: %s", why);
    for (int j = 0; j < b->n; j++) {
        keybuf kb;
        const void *key = key_of(md, b->key[j], &kb);
        if (b->del[j]) {
            gomap_delete(copy, key);
            refmap_delete(b->next, key);
        } else {
            MCHECK(md, gomap_set(copy, key, md->val_size ? &b->val[j] : NULL) == 0, "set");
            refmap_set(b->next, key, md->val_size ? &b->val[j] : NULL);
        }
    }
    return b->ret;
}

static void model_update(model *md)
{
    model_batch b;
    memset(&b, 0, sizeof b);
    b.md = md;
    b.next = refmap_clone(md->ref);
    b.n = 1 + (int)test_rand_below(&md->rng, MAX_BATCH);
    for (int j = 0; j < b.n; j++) {
        b.key[j] = test_rand_below(&md->rng, md->keys);
        b.val[j] = model_val(md);
        b.del[j] = test_rand_below(&md->rng, 3) == 0;
    }
    b.ret = test_rand_below(&md->rng, 4) == 0 ? (int)test_rand_below(&md->rng, 5) - 2 : 0;
    int rc = gomap_snap_update(md->m, model_batch_fn, &b);
    MCHECK(md, rc == b.ret, "update returned %d, fn %d", rc, b.ret);
    if (rc == 0) {
        refmap_free(md->ref);
        md->ref = b.next;
        md->versions++;
    } else {
        refmap_free(b.next);
    }
}

/* Takes a view into a free slot, or compares and releases a held one. */
static void model_view(model *md)
{
    int slot = (int)test_rand_below(&md->rng, MAX_HELD);
    if (md->held[slot]) {
        model_compare(md, md->held_ref[slot], md->held[slot]);
        gomap_snap_release(md->held[slot]);
        refmap_free(md->held_ref[slot]);
        md->held[slot] = NULL;
    } else {
        md->held[slot] = gomap_snap_acquire(md->m);
        md->held_ref[slot] = refmap_clone(md->ref);
    }
}

static void model_step(model *md)
{
    unsigned r = (unsigned)test_rand_below(&md->rng, 1000);
    uint64_t i = test_rand_below(&md->rng, md->keys);
    if (r < 300) {
        md->op = "get";
        model_get(md, i);
    } else if (r < 650) {
        md->op = "set";
        model_set(md, i);
    } else if (r < 780) {
        md->op = "delete";
        model_delete(md, i);
    } else if (r < 890) {
        md->op = "update";
        model_update(md);
    } else if (r < 999) {
        md->op = "view";
        model_view(md);
    } else {
        md->op = "clear";
        model_clear(md);
    }
    char why[256] = "";
    MCHECK(md, gomap_snap_validate(md->m, why, sizeof why) == 0, "validate: %s", why);
    gomap_snap_stats_t s;
    CHECK_EQ(gomap_snap_stats(md->m, &s), 0);
    MCHECK(md, gomap_snap_len(md->m) == refmap_len(md->ref) && s.len == refmap_len(md->ref),
           "len %zu, stats.len %zu, reference %zu", gomap_snap_len(md->m), s.len,
           refmap_len(md->ref));
    MCHECK(md, s.versions == md->versions, "%" PRIu64 " versions published, expected %" PRIu64,
           s.versions, md->versions);
    if (s.len > md->peak)
        md->peak = s.len;
}

static void model_run(const char *name, gomap_options o, uint64_t keys, size_t steps)
{
    model md;
    memset(&md, 0, sizeof md);
    md.name = name;
    md.kind = o.key_kind;
    md.val_size = o.val_size;
    md.keys = keys;
    md.rng = test_seed() ^ keys * 0x2545F4914F6CDD1Dull ^ (uint64_t)o.key_kind << 56 ^
             (uint64_t)hv_current << 48;
    CHECK_EQ(gomap_snap_new(&md.m, &o), 0);
    md.ref = o.key_kind == GOMAP_KEY_CUSTOM ? refmap_new(GOMAP_KEY_BYTES, 8, o.val_size)
                                            : refmap_new(o.key_kind, o.key_size, o.val_size);
    for (md.step = 0; md.step < steps; md.step++)
        model_step(&md);
    md.op = "final";
    for (int h = 0; h < MAX_HELD; h++) {
        if (md.held[h]) {
            model_compare(&md, md.held_ref[h], md.held[h]);
            gomap_snap_release(md.held[h]);
            refmap_free(md.held_ref[h]);
        }
    }
    const gomap_snap_view_t *view = gomap_snap_acquire(md.m);
    model_compare(&md, md.ref, view);
    gomap_snap_release(view);
    printf("   %s, %" PRIu64 " keys: %zu steps, %" PRIu64 " versions, up to %zu entries\n", name,
           keys, steps, md.versions, md.peak);
    refmap_free(md.ref);
    gomap_snap_free(md.m);
}

static void test_model_u64(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, hv_current);
    o.val_size = sizeof(uint64_t);
    model_run("u64 keys", o, 8, 3000 / WORK_DIV);
    model_run("u64 keys", o, 300, 3000 / WORK_DIV);
    o.val_size = 0;
    model_run("u64 set", o, 40, 1500 / WORK_DIV);
}

static void test_model_other_kinds(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.val_size = sizeof(uint64_t);
    o.key_kind = GOMAP_KEY_STR;
    model_run("string keys", o, 60, 3000 / WORK_DIV);
    o.key_kind = GOMAP_KEY_F64;
    model_run("float keys", o, 12, 3000 / WORK_DIV);
}

int main(void)
{
    test_seed();
    RUN_VARIANTS(test_model_u64);
    RUN(test_model_other_kinds);
    printf("ok\n");
    return 0;
}

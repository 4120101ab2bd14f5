/*
 * test_map_model.c — model-based randomized tests of the core map.
 *
 * Random operation sequences run on a gomap and on the reference map
 * (tests/support/refmap.h) side by side: set (generic and typed), assign
 * (Go's m[k] op= v), get (and writes through the returned slot), get_copy
 * (zero fill on a miss), delete, clear, full and partial iteration, iteration
 * with one to three iterators while setting, assigning, deleting, clearing,
 * shrinking (-EBUSY) and cloning, checked against Go's iteration contract;
 * shrink (minimal bucket array, -EBUSY with a live iterator, nothing
 * changed); clone (compared, presized, then changed independently of its
 * source or swapped in for it).
 *
 * Every operation's result is checked against the reference at once, and
 * after every step the map's length and stats are checked. gomap_validate
 * and a whole-map comparison (a full iteration plus a lookup of every key)
 * run after every step while the map is small (up to 256 and 32 entries);
 * both are linear in the map's size, so for larger maps they run on a
 * schedule that bounds their amortised cost per step. Shrink, clone and
 * clear validate and compare in full themselves, and changes made during an
 * iteration are validated while the map is small.
 *
 * The map's hash seed comes from the operating system, so iteration orders,
 * and with them the later steps of a sequence that iterates, can differ
 * between two runs of one seed; operation choices and keys do not.
 *
 * Float keys follow Go: -0 and +0 are one key, and set and assign both
 * store the key they were given (Go's mapassign rewrites float keys), so
 * the stored zero's sign is the last one written; NaN keys pile up.
 *
 * Behaviour checked beyond the reference: Go's doubling trigger (a new key
 * with count+1 > 8 and count+1 > 6.5 * 2^B makes B grow by one, any other
 * insert leaves B alone), clear keeps the bucket array, emptying or clearing
 * a map re-randomises its seed, stats stay self-consistent, and a
 * delete-heavy workload at a fixed size makes a same-size grow happen.
 *
 * Covered: every key kind (custom with a good and a degenerate hash; bytes
 * of 0, 3, 128 and 200 bytes; strings from empty to 48 bytes with NUL
 * bytes), values of 0, 3, 8, 128 and 200 bytes, tiny maps (1..16 keys),
 * medium maps and large maps (up to 50k keys).
 *
 * All randomness comes from test_seed(); a failure prints the scenario, the
 * key kind, the step number and the operation with its key.
 */
#include "check.h"
#include "ckey.h"
#include "fuzzkey.h"
#include "refmap.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Key kinds under test                                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t key_size;
    size_t val_size;
    int custom_hash;
    uint64_t medium_keys; /* key space of the medium scenario */
} kind_cfg;

static const kind_cfg kinds[] = {
    {"u32/v8", GOMAP_KEY_U32, 0, 8, HASH_NONE, 600},
    {"u32/v3", GOMAP_KEY_U32, 0, 3, HASH_NONE, 600},
    {"u64/set", GOMAP_KEY_U64, 0, 0, HASH_NONE, 600},
    {"u64/v8", GOMAP_KEY_U64, 0, 8, HASH_NONE, 600},
    {"u64/v200", GOMAP_KEY_U64, 0, 200, HASH_NONE, 400},
    {"f64/v8", GOMAP_KEY_F64, 0, 8, HASH_NONE, 600},
    {"f64/set", GOMAP_KEY_F64, 0, 0, HASH_NONE, 600},
    {"str/v8", GOMAP_KEY_STR, 0, 8, HASH_NONE, 600},
    {"str/v200", GOMAP_KEY_STR, 0, 200, HASH_NONE, 400},
    {"bytes0/v8", GOMAP_KEY_BYTES, 0, 8, HASH_NONE, 1},
    {"bytes0/set", GOMAP_KEY_BYTES, 0, 0, HASH_NONE, 1},
    {"bytes3/v200", GOMAP_KEY_BYTES, 3, 200, HASH_NONE, 400},
    {"bytes128/v128", GOMAP_KEY_BYTES, 128, 128, HASH_NONE, 400},
    {"bytes200/v8", GOMAP_KEY_BYTES, 200, 8, HASH_NONE, 400},
    {"bytes200/set", GOMAP_KEY_BYTES, 200, 0, HASH_NONE, 400},
    {"custom/v8", GOMAP_KEY_CUSTOM, sizeof(ckey), 8, HASH_GOOD, 600},
    {"custom-weak/v200", GOMAP_KEY_CUSTOM, sizeof(ckey), 200, HASH_WEAK, 120},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

static const kind_cfg *kind_named(const char *name)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    CHECK_MSG(0, "no kind %s", name);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The model: a map, its reference and the failure context                   */
/* ------------------------------------------------------------------------ */

/* A key in the form gomap takes, built in a buffer the test owns (the
 * fuzz targets' buffer; this model builds its own keys in it). */
typedef fuzzkey_buf keybuf;

typedef struct {
    const kind_cfg *cfg;
    const char *scenario;
    gomap_t *m;
    refmap *r;
    uint64_t rng;
    uint64_t keyspace;   /* random keys are ids in [0, keyspace) */
    uint64_t fresh;      /* next never-used id (>= keyspace) */
    size_t step;
    const char *op;
    uint64_t op_id;
    keybuf kb;           /* key of the current operation */
    keybuf kb2;          /* read-back copy of a key */
    keybuf kb_iter;      /* last key produced by an iteration */
    unsigned char *val, *val2;
    bool saw_same_size_grow;
    size_t validate_credit, compare_credit; /* see due() */
} model;

/* The gomap-form pointer of a key buffer. */
static const void *kb_key(const model *md, const keybuf *kb)
{
    return md->cfg->kind == GOMAP_KEY_STR ? (const void *)&kb->s : (const void *)kb->u.raw;
}

static void report(const model *md)
{
    char k[128];
    refmap_format_key(md->r, md->op_id == UINT64_MAX ? NULL : kb_key(md, &md->kb), k, sizeof k);
    fprintf(stderr,
            "model failure: scenario '%s', kind %s, step %zu, operation %s (key id %" PRIu64
            ", %s), entries %zu\n",
            md->scenario, md->cfg->name, md->step, md->op ? md->op : "-", md->op_id, k,
            refmap_len(md->r));
    fflush(stderr);
}

/* CHECK, CHECK_MSG and CHECK_VALID that first print the model's context. */
#define MCHECK(md, cond) \
    do { if (!(cond)) { report(md); check_fail(__FILE__, __LINE__, #cond, NULL); } } while (0)
#define MCHECK_MSG(md, cond, ...) \
    do { if (!(cond)) { char d_[768]; snprintf(d_, sizeof d_, __VA_ARGS__); report(md); \
         check_fail(__FILE__, __LINE__, #cond, d_); } } while (0)
#define MCHECK_VALID(md, map) \
    do { char w_[256]; if (gomap_validate((map), w_, sizeof w_) != 0) { report(md); \
         check_fail(__FILE__, __LINE__, "gomap_validate(" #map ")", w_); } } while (0)

static void mcompare(model *md, gomap_t *m, refmap *r, bool lookups)
{
    char why[256];
    bool ok = refmap_compare(r, m, lookups, why, sizeof why);
    MCHECK_MSG(md, ok, "map differs from the reference: %s", why);
}

static gomap_stats_t stats_of(model *md, const gomap_t *m)
{
    gomap_stats_t s;
    memset(&s, 0, sizeof s);
    MCHECK(md, gomap_stats(m, &s) == 0);
    return s;
}

/* gomap_stats counts evacuated buckets, so it is linear in the old array
 * while the map grows: per-operation stats checks run on every step for
 * maps up to this size, and on every 64th step above it. */
#define STATS_ALWAYS_UPTO 2048

static bool stats_due(const model *md)
{
    return refmap_len(md->r) <= STATS_ALWAYS_UPTO || md->step % 64 == 0;
}

static gomap_t *new_map(const kind_cfg *c, size_t hint)
{
    gomap_t *m = NULL;
    int rc = ckey_map_new(&m, c->kind, c->key_size, c->val_size, c->custom_hash, hint);
    CHECK_MSG(rc == 0, "gomap_new(%s, hint %zu) returned %d", c->name, hint, rc);
    CHECK(m != NULL);
    CHECK_EQ(gomap_len(m), 0);
    return m;
}

static refmap *new_ref(const kind_cfg *c)
{
    if (c->kind == GOMAP_KEY_CUSTOM)
        return refmap_new_custom(c->key_size, c->val_size,
                                 c->custom_hash == HASH_WEAK ? ckey_hash_weak : ckey_hash,
                                 ckey_equal);
    return refmap_new(c->kind, c->key_size, c->val_size);
}

static void model_init(model *md, const kind_cfg *c, const char *scenario, uint64_t keyspace,
                       size_t hint, uint64_t *rng)
{
    memset(md, 0, sizeof *md);
    md->cfg = c;
    md->scenario = scenario;
    md->rng = test_rand(rng);
    md->keyspace = keyspace ? keyspace : 1;
    md->fresh = md->keyspace;
    md->op_id = UINT64_MAX;
    md->m = new_map(c, hint);
    md->r = new_ref(c);
    md->val = malloc(c->val_size + 1);
    md->val2 = malloc(c->val_size + 1);
    CHECK(md->val && md->val2);
}

static void model_fini(model *md)
{
    gomap_free(md->m);
    refmap_free(md->r);
    free(md->val);
    free(md->val2);
}

/* ------------------------------------------------------------------------ */
/* Keys and values                                                           */
/* ------------------------------------------------------------------------ */

#define NAN_CAP 24 /* NaN keys pile up (each insert adds one): keep them few */

static double f64_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Float ids 0..7 are the interesting values: both zeros, two NaNs with
 * different payloads and signs, both infinities, a subnormal and the
 * largest double. Other ids are distinct ordinary values. */
static double f64_of_id(const model *md, uint64_t id)
{
    if ((id == 2 || id == 3) && refmap_nan_count(md->r) >= NAN_CAP)
        id = 4;
    switch (id) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return f64_bits(0x7FF8000000000001ull);
    case 3: return f64_bits(0xFFF8000000000002ull);
    case 4: return INFINITY;
    case 5: return -INFINITY;
    case 6: return DBL_MIN / 4;
    case 7: return DBL_MAX;
    default: return (double)id * 0.75 - 100.0;
    }
}

/* Builds the key for `id` in kb. Distinct ids give distinct keys, except
 * the float ids 0 and 1 (the two zeros, one key) and the NaN ids (never
 * equal to anything). String keys: id 0 is {NULL, 0}; others are 4..48
 * bytes long and start with the id's four bytes (NUL bytes for small ids),
 * or (a third of them) carry the id in bytes 4..7 between a common prefix
 * and suffix. */
static const void *make_key(model *md, keybuf *kb, uint64_t id)
{
    switch (md->cfg->kind) {
    case GOMAP_KEY_U32:
        kb->u.u32 = (uint32_t)id * 2654435761u;
        return &kb->u.u32;
    case GOMAP_KEY_U64:
        kb->u.u64 = id * 0x9E3779B97F4A7C15ull;
        return &kb->u.u64;
    case GOMAP_KEY_F64:
        kb->u.f64 = f64_of_id(md, id);
        return &kb->u.f64;
    case GOMAP_KEY_STR:
        if (id == 0) {
            kb->s.ptr = NULL;
            kb->s.len = 0;
            return &kb->s;
        }
        kb->s.len = 4 + (size_t)((id * 7) % 45);
        if (id % 3 == 0 && kb->s.len >= 12) {
            /* Equal first and last four bytes for many keys of one length:
             * what the one-bucket string fast path must not be fooled by. */
            memcpy(kb->u.raw, "KEY:", 4);
            for (size_t i = 4; i < kb->s.len - 4; i++)
                kb->u.raw[i] = i < 8 ? (unsigned char)(id >> (8 * (i - 4))) : (unsigned char)'.';
            memcpy(kb->u.raw + kb->s.len - 4, "/END", 4);
        } else {
            for (size_t i = 0; i < kb->s.len; i++)
                kb->u.raw[i] = i < 4 ? (unsigned char)(id >> (8 * i))
                                     : (unsigned char)('a' + (id + i) % 26);
        }
        kb->s.ptr = (const char *)kb->u.raw;
        return &kb->s;
    case GOMAP_KEY_BYTES:
        for (size_t i = 0; i < md->cfg->key_size; i++)
            kb->u.raw[i] = i < 8 ? (unsigned char)(id >> (8 * i))
                                 : (unsigned char)(id * 31 + i * 7);
        return kb->u.raw;
    case GOMAP_KEY_CUSTOM:
        kb->u.c.a = (uint32_t)id;
        kb->u.c.b = (uint32_t)(id * 3 + 1);
        kb->u.c.junk = test_rand(&md->rng);
        return &kb->u.c;
    }
    return NULL;
}

/* Copies a key (gomap form, e.g. one the map or the reference owns) into kb
 * and returns kb's gomap-form pointer. */
static const void *copy_key(model *md, keybuf *kb, const void *key)
{
    fuzzkey_space sp = {.kind = md->cfg->kind, .key_size = md->cfg->key_size};
    return fuzzkey_copy(&sp, kb, key);
}

/* Overwrites a key buffer after a write, so a map that kept a pointer to
 * the caller's key instead of copying it is caught later. */
static void clobber(keybuf *kb)
{
    memset(&kb->u, 0xEE, sizeof kb->u);
    kb->s.ptr = (const char *)kb->u.raw;
    kb->s.len = 0;
}

static void make_val(model *md, unsigned char *buf)
{
    for (size_t i = 0; i < md->cfg->val_size; i += 8) {
        uint64_t x = test_rand(&md->rng);
        size_t n = md->cfg->val_size - i < 8 ? md->cfg->val_size - i : 8;
        memcpy(buf + i, &x, n);
    }
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

static uint64_t random_id(model *md)
{
    return test_rand_below(&md->rng, md->keyspace);
}

/* ------------------------------------------------------------------------ */
/* Single operations, each checked against the reference at once            */
/* ------------------------------------------------------------------------ */

/* Go's growth trigger, checked around the insert of a new key: if the map
 * was not growing and count+1 > 8 && count+1 > 6.5 * 2^B, B must now be one
 * more; otherwise B must be unchanged. */
static void check_growth_trigger(model *md, const gomap_stats_t *before)
{
    if (before->growing || before->buckets == 0)
        return;
    size_t c1 = before->entries + 1;
    bool over = c1 > 8 && (double)c1 > 6.5 * (double)((size_t)1 << before->b);
    gomap_stats_t after = stats_of(md, md->m);
    if (over)
        MCHECK_MSG(md, after.b == before->b + 1,
                   "inserting entry %zu into B=%u should double the map; B is now %u", c1,
                   before->b, after.b);
    else
        MCHECK_MSG(md, after.b == before->b,
                   "inserting entry %zu into B=%u must not change B; B is now %u", c1,
                   before->b, after.b);
}

static void op_set(model *md, uint64_t id)
{
    md->op = "set";
    md->op_id = id;
    const void *key = make_key(md, &md->kb, id);
    const kind_cfg *c = md->cfg;
    make_val(md, md->val);
    const void *val = c->val_size || test_rand_below(&md->rng, 2) ? md->val : NULL;
    bool nan = refmap_key_is_nan(md->r, key);
    bool had = refmap_get(md->r, key) != NULL;
    bool check_stats = stats_due(md);
    gomap_stats_t before;
    memset(&before, 0, sizeof before);
    if (check_stats)
        before = stats_of(md, md->m);
    bool typed = test_rand_below(&md->rng, 2) == 0;
    int rc;
    if (typed && c->kind == GOMAP_KEY_U64)
        rc = gomap_set_u64(md->m, md->kb.u.u64, val);
    else if (typed && c->kind == GOMAP_KEY_U32)
        rc = gomap_set_u32(md->m, md->kb.u.u32, val);
    else if (typed && c->kind == GOMAP_KEY_STR)
        rc = gomap_set_str(md->m, md->kb.s.ptr, md->kb.s.len, val);
    else
        rc = gomap_set(md->m, key, val);
    MCHECK_MSG(md, rc == 0, "set returned %d (%s)", rc, gomap_strerror(rc));
    refmap_set(md->r, key, val);
    const void *again = copy_key(md, &md->kb2, key);
    clobber(&md->kb);
    if (!had && check_stats)
        check_growth_trigger(md, &before);
    /* Read back through a different buffer: the map must hold its own copy. */
    const void *p = gomap_get(md->m, again);
    if (nan) {
        MCHECK(md, p == NULL);
    } else {
        MCHECK(md, p != NULL);
        if (c->val_size)
            MCHECK(md, memcmp(p, md->val, c->val_size) == 0);
    }
    make_key(md, &md->kb, id); /* for the failure report */
}

static void op_assign(model *md, uint64_t id)
{
    md->op = "assign";
    md->op_id = id;
    const kind_cfg *c = md->cfg;
    const void *key = make_key(md, &md->kb, id);
    const void *old = refmap_get(md->r, key);
    bool had = old != NULL;
    if (had && c->val_size)
        memcpy(md->val2, old, c->val_size);
    bool check_stats = stats_due(md);
    gomap_stats_t before;
    memset(&before, 0, sizeof before);
    if (check_stats)
        before = stats_of(md, md->m);
    static int sentinel;
    void *slot = &sentinel;
    int rc = gomap_assign(md->m, key, &slot);
    MCHECK_MSG(md, rc == (had ? 0 : 1), "gomap_assign returned %d, key %s present before", rc,
               had ? "was" : "was not");
    MCHECK(md, slot != NULL && slot != (void *)&sentinel);
    if (c->val_size) {
        if (had)
            MCHECK_MSG(md, memcmp(slot, md->val2, c->val_size) == 0,
                       "gomap_assign's slot does not hold the present value");
        else
            MCHECK_MSG(md, all_zero(slot, c->val_size),
                       "gomap_assign inserted a value that is not all zero");
        /* m[k] op= v: update through the slot. */
        make_val(md, md->val);
        memcpy(slot, md->val, c->val_size);
    }
    /* Go's m[k] op= v goes through mapassign, which also rewrites a float
     * key: assigning with -0 to a stored +0 leaves -0 stored, as set does.
     * The reference's set does the same. */
    refmap_set(md->r, key, md->val);
    if (!had && check_stats)
        check_growth_trigger(md, &before);
    clobber(&md->kb);
    make_key(md, &md->kb, id);
}

static void op_get(model *md, uint64_t id)
{
    md->op = "get";
    md->op_id = id;
    const kind_cfg *c = md->cfg;
    const void *key = make_key(md, &md->kb, id);
    const void *want = refmap_get(md->r, key);
    bool typed = test_rand_below(&md->rng, 2) == 0;
    void *p;
    if (typed && c->kind == GOMAP_KEY_U64)
        p = gomap_get_u64(md->m, md->kb.u.u64);
    else if (typed && c->kind == GOMAP_KEY_U32)
        p = gomap_get_u32(md->m, md->kb.u.u32);
    else if (typed && c->kind == GOMAP_KEY_STR)
        p = gomap_get_str(md->m, md->kb.s.ptr, md->kb.s.len);
    else
        p = gomap_get(md->m, key);
    MCHECK_MSG(md, (p != NULL) == (want != NULL), "get %s, reference %s",
               p ? "found" : "missed", want ? "has it" : "does not");
    if (!p || !c->val_size)
        return;
    MCHECK_MSG(md, memcmp(p, want, c->val_size) == 0, "get returned a wrong value");
    if (test_rand_below(&md->rng, 4) == 0) {
        /* The slot is writable; the write is what a later read sees. */
        make_val(md, md->val);
        memcpy(p, md->val, c->val_size);
        MCHECK(md, refmap_set_value(md->r, key, md->val));
        const void *q = gomap_get(md->m, key);
        MCHECK(md, q != NULL && memcmp(q, md->val, c->val_size) == 0);
    }
}

static void op_get_copy(model *md, uint64_t id)
{
    md->op = "get_copy";
    md->op_id = id;
    size_t vs = md->cfg->val_size;
    const void *key = make_key(md, &md->kb, id);
    const void *want = refmap_get(md->r, key);
    bool to_null = test_rand_below(&md->rng, 8) == 0;
    memset(md->val, 0xCC, vs + 1);
    bool ok = gomap_get_copy(md->m, key, to_null ? NULL : md->val);
    MCHECK_MSG(md, ok == (want != NULL), "get_copy %s, reference %s", ok ? "found" : "missed",
               want ? "has it" : "does not");
    if (to_null || !vs)
        return;
    if (ok)
        MCHECK_MSG(md, memcmp(md->val, want, vs) == 0, "get_copy copied a wrong value");
    else
        MCHECK_MSG(md, all_zero(md->val, vs), "get_copy of a missing key did not zero-fill");
    MCHECK_MSG(md, md->val[vs] == 0xCC, "get_copy wrote past val_size");
}

/* Deletes `key` (in kb, kb2 or kb_iter) and checks the result. */
static void delete_key(model *md, const void *key)
{
    const kind_cfg *c = md->cfg;
    bool present = refmap_get(md->r, key) != NULL;
    bool check_stats = stats_due(md) || refmap_len(md->r) == 1;
    gomap_stats_t before;
    memset(&before, 0, sizeof before);
    if (check_stats)
        before = stats_of(md, md->m);
    bool typed = test_rand_below(&md->rng, 2) == 0;
    bool got;
    if (typed && c->kind == GOMAP_KEY_U64) {
        uint64_t k;
        memcpy(&k, key, sizeof k);
        got = gomap_delete_u64(md->m, k);
    } else if (typed && c->kind == GOMAP_KEY_U32) {
        uint32_t k;
        memcpy(&k, key, sizeof k);
        got = gomap_delete_u32(md->m, k);
    } else if (typed && c->kind == GOMAP_KEY_STR) {
        const gomap_str *s = key;
        got = gomap_delete_str(md->m, s->ptr, s->len);
    } else {
        got = gomap_delete(md->m, key);
    }
    MCHECK_MSG(md, got == present, "delete returned %d, reference %s the key", got,
               present ? "has" : "does not have");
    refmap_delete(md->r, key);
    MCHECK(md, gomap_get(md->m, key) == NULL);
    if (present && refmap_len(md->r) == 0 && check_stats) {
        gomap_stats_t after = stats_of(md, md->m);
        MCHECK_MSG(md, after.reseeds == before.reseeds + 1,
                   "emptying the map by delete must re-randomise the seed once "
                   "(reseeds %" PRIu64 " -> %" PRIu64 ")",
                   before.reseeds, after.reseeds);
    }
}

static void op_delete(model *md, uint64_t id)
{
    md->op = "delete";
    md->op_id = id;
    delete_key(md, make_key(md, &md->kb, id));
}

/* Deletes a key that is present (picked from the reference). */
static void op_delete_existing(model *md)
{
    size_t n = refmap_findable(md->r);
    if (n == 0) {
        op_delete(md, random_id(md));
        return;
    }
    md->op = "delete existing";
    md->op_id = UINT64_MAX - 1;
    const void *key = copy_key(md, &md->kb, refmap_key_at(md->r, test_rand_below(&md->rng, n)));
    delete_key(md, key);
}

static void op_clear(model *md)
{
    md->op = "clear";
    md->op_id = UINT64_MAX;
    gomap_stats_t before = stats_of(md, md->m);
    gomap_clear(md->m);
    refmap_clear(md->r);
    gomap_stats_t after = stats_of(md, md->m);
    MCHECK(md, gomap_len(md->m) == 0 && after.entries == 0);
    MCHECK_MSG(md, after.buckets == before.buckets, "clear must keep the bucket array (%zu -> %zu)",
               before.buckets, after.buckets);
    MCHECK(md, !after.growing);
    if (before.entries > 0)
        MCHECK_MSG(md, after.reseeds == before.reseeds + 1,
                   "clear must re-randomise the seed once (reseeds %" PRIu64 " -> %" PRIu64 ")",
                   before.reseeds, after.reseeds);
    MCHECK_VALID(md, md->m);
    mcompare(md, md->m, md->r, true);
}

static void op_iter_full(model *md)
{
    md->op = "iterate fully";
    md->op_id = UINT64_MAX;
    mcompare(md, md->m, md->r, true);
}

static void check_shrunk(model *md);

/* Iterates part of the map, then ends the iteration with gomap_iter_done
 * (sometimes twice, which must be harmless). */
static void op_iter_partial(model *md)
{
    md->op = "iterate partially";
    md->op_id = UINT64_MAX;
    char why[256];
    size_t stop = test_rand_below(&md->rng, refmap_len(md->r) + 1);
    int t = refmap_track_begin(md->r);
    gomap_iter it;
    gomap_iter_init(&it, md->m);
    size_t n = 0;
    bool exhausted = false;
    while (n < stop) {
        const void *k;
        void *v;
        if (!gomap_iter_next(&it, &k, &v)) {
            exhausted = true;
            break;
        }
        n++;
        MCHECK_MSG(md, refmap_track_produced(md->r, t, k, v, why, sizeof why), "%s", why);
    }
    MCHECK_MSG(md, !exhausted, "iteration ended after %zu of %zu entries", n, refmap_len(md->r));
    gomap_iter_done(&it);
    if (test_rand_below(&md->rng, 2))
        gomap_iter_done(&it);
    MCHECK_MSG(md, refmap_track_end(md->r, t, false, why, sizeof why), "%s", why);
    if (test_rand_below(&md->rng, 4) == 0) {
        /* An ended iteration is not live: shrink is allowed again. */
        MCHECK(md, gomap_shrink(md->m) == 0);
        check_shrunk(md);
    }
}

static bool same_shape(const gomap_stats_t *a, const gomap_stats_t *b)
{
    return a->entries == b->entries && a->b == b->b && a->buckets == b->buckets &&
           a->overflow_buckets == b->overflow_buckets && a->growing == b->growing &&
           a->same_size_grow == b->same_size_grow && a->old_buckets == b->old_buckets &&
           a->evacuated == b->evacuated;
}

/* Shrink with a live iterator must fail with -EBUSY and change nothing. */
static void shrink_busy(model *md)
{
    gomap_stats_t before = stats_of(md, md->m);
    int rc = gomap_shrink(md->m);
    MCHECK_MSG(md, rc == -EBUSY, "shrink with a live iterator returned %d", rc);
    gomap_stats_t after = stats_of(md, md->m);
    MCHECK_MSG(md, same_shape(&before, &after), "a refused shrink changed the map's shape");
    MCHECK_VALID(md, md->m);
}

static void check_shrunk(model *md)
{
    gomap_stats_t s = stats_of(md, md->m);
    size_t want = test_buckets_for(refmap_len(md->r));
    MCHECK_MSG(md, !s.growing, "map still growing after shrink");
    MCHECK_MSG(md, s.buckets == want, "shrink of %zu entries left %zu buckets, want %zu",
               refmap_len(md->r), s.buckets, want);
    MCHECK_VALID(md, md->m);
    mcompare(md, md->m, md->r, true);
}

static void op_shrink(model *md)
{
    md->op = "shrink";
    md->op_id = UINT64_MAX;
    char why[256];
    if (refmap_len(md->r) > 0 && test_rand_below(&md->rng, 2)) {
        int t = refmap_track_begin(md->r);
        gomap_iter it;
        gomap_iter_init(&it, md->m);
        size_t steps = test_rand_below(&md->rng, refmap_len(md->r));
        const void *k;
        void *v;
        for (size_t i = 0; i < steps; i++) {
            MCHECK(md, gomap_iter_next(&it, &k, &v));
            MCHECK_MSG(md, refmap_track_produced(md->r, t, k, v, why, sizeof why), "%s", why);
        }
        shrink_busy(md);
        bool exhausted = false;
        if (test_rand_below(&md->rng, 2)) {
            while (gomap_iter_next(&it, &k, &v))
                MCHECK_MSG(md, refmap_track_produced(md->r, t, k, v, why, sizeof why), "%s",
                           why);
            exhausted = true;
        } else {
            gomap_iter_done(&it);
        }
        MCHECK_MSG(md, refmap_track_end(md->r, t, exhausted, why, sizeof why), "%s", why);
    }
    int rc = gomap_shrink(md->m);
    MCHECK_MSG(md, rc == 0, "shrink returned %d", rc);
    check_shrunk(md);
}

static void random_cheap_op(model *md);

/* Clones the map, checks the clone, then either frees it, shows that clone
 * and source change independently, or continues with the clone. */
static void op_clone(model *md)
{
    md->op = "clone";
    md->op_id = UINT64_MAX;
    gomap_t *c = NULL;
    int rc = gomap_clone(&c, md->m);
    MCHECK_MSG(md, rc == 0 && c != NULL, "clone returned %d", rc);
    MCHECK_VALID(md, c);
    mcompare(md, c, md->r, true);
    gomap_stats_t s = stats_of(md, c);
    MCHECK(md, !s.growing);
    if (refmap_len(md->r) > 0)
        MCHECK_MSG(md, s.buckets == test_buckets_for(refmap_len(md->r)),
                   "clone of %zu entries has %zu buckets, want %zu (presized)",
                   refmap_len(md->r), s.buckets, test_buckets_for(refmap_len(md->r)));
    switch (test_rand_below(&md->rng, 3)) {
    case 0:
        gomap_free(c);
        break;
    case 1: {
        /* Change the clone; the source must not see it. */
        refmap *rc_ref = refmap_clone(md->r);
        gomap_t *src = md->m;
        refmap *src_ref = md->r;
        md->m = c;
        md->r = rc_ref;
        size_t n = 1 + test_rand_below(&md->rng, 20);
        for (size_t i = 0; i < n; i++)
            random_cheap_op(md);
        md->op = "clone (independence)";
        md->op_id = UINT64_MAX;
        MCHECK_VALID(md, c);
        mcompare(md, c, rc_ref, true);
        md->m = src;
        md->r = src_ref;
        MCHECK_VALID(md, src);
        mcompare(md, src, src_ref, true);
        gomap_free(c);
        refmap_free(rc_ref);
        break;
    }
    default:
        /* Go on with the clone; the source is freed. */
        gomap_free(md->m);
        md->m = c;
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Iteration while the map changes                                           */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_iter it;
    int t;
    bool live;
    size_t produced;
    size_t start_len;
    size_t inserted_at_start;
} tracked_iter;

enum { MUT_MIXED, MUT_INSERT_HEAVY };

typedef struct {
    tracked_iter its[3];
    int k;
    size_t inserted; /* entries added since the operation began */
} iter_state;

static size_t live_count(const iter_state *st)
{
    size_t n = 0;
    for (int i = 0; i < st->k; i++)
        n += st->its[i].live;
    return n;
}

/* Iterators that must count as live for gomap_shrink. One started on an
 * empty map is left out: it has nothing to produce, and the library (like
 * Go, whose mapiterinit returns at once for an empty map) treats it as
 * already exhausted. */
static size_t busy_count(const iter_state *st)
{
    size_t n = 0;
    for (int i = 0; i < st->k; i++)
        n += st->its[i].live && st->its[i].start_len > 0;
    return n;
}

static void start_iter(model *md, iter_state *st, int i)
{
    tracked_iter *ti = &st->its[i];
    ti->t = refmap_track_begin(md->r);
    gomap_iter_init(&ti->it, md->m);
    ti->live = true;
    ti->produced = 0;
    ti->start_len = refmap_len(md->r);
    ti->inserted_at_start = st->inserted;
}

/* A clear makes every iteration in flight stop: each must report the end. */
static void mutate_clear(model *md, iter_state *st)
{
    op_clear(md);
    md->op = "clear during iteration";
    char why[256];
    for (int i = 0; i < st->k; i++) {
        tracked_iter *ti = &st->its[i];
        if (!ti->live)
            continue;
        const void *k;
        void *v;
        MCHECK_MSG(md, !gomap_iter_next(&ti->it, &k, &v),
                   "iterator %d produced an entry after clear", i);
        MCHECK_MSG(md, refmap_track_end(md->r, ti->t, false, why, sizeof why), "%s", why);
        ti->live = false;
    }
}

/* One change made between iteration steps. */
static void mutate_once(model *md, iter_state *st, int profile, bool have_iter_key)
{
    size_t before = refmap_len(md->r);
    uint64_t pick = test_rand_below(&md->rng, 100);
    if (profile == MUT_INSERT_HEAVY) {
        if (pick < 70)
            op_set(md, md->fresh++);
        else if (pick < 80)
            op_assign(md, md->fresh++);
        else if (pick < 90)
            op_delete_existing(md);
        else
            op_set(md, random_id(md));
    } else if (pick < 25) {
        op_set(md, random_id(md));
    } else if (pick < 35) {
        op_assign(md, random_id(md));
    } else if (pick < 50) {
        op_delete(md, random_id(md));
    } else if (pick < 60) {
        op_delete_existing(md);
    } else if (pick < 70 && have_iter_key) {
        md->op = "delete produced key";
        md->op_id = UINT64_MAX - 2;
        delete_key(md, copy_key(md, &md->kb, kb_key(md, &md->kb_iter)));
    } else if (pick < 78) {
        op_get(md, random_id(md));
    } else if (pick < 84) {
        op_get_copy(md, random_id(md));
    } else if (pick < 90) {
        md->op = "shrink during iteration";
        if (busy_count(st) > 0)
            shrink_busy(md);
    } else if (pick < 93 && refmap_len(md->r) <= 256) {
        /* Clone is a read: allowed beside live iterators. */
        md->op = "clone during iteration";
        gomap_t *c = NULL;
        MCHECK(md, gomap_clone(&c, md->m) == 0 && c != NULL);
        MCHECK_VALID(md, c);
        mcompare(md, c, md->r, true);
        gomap_free(c);
    } else if (pick < 97 && refmap_len(md->r) <= 256) {
        md->op = "compare during iteration";
        MCHECK_VALID(md, md->m);
        mcompare(md, md->m, md->r, true);
    } else if (pick == 99 && test_rand_below(&md->rng, 3) == 0) {
        mutate_clear(md, st);
    }
    if (refmap_len(md->r) > before)
        st->inserted += refmap_len(md->r) - before;
}

/* Runs k iterators (1..3) over the map, interleaved with changes when
 * `mutate`; each may stop early. Every produced entry is checked against
 * the reference when it is produced (present, current value, not produced
 * before by that iterator); an iterator that runs to its end must have
 * produced every entry present since it started. */
static void op_iterate(model *md, int k, bool mutate, int profile)
{
    md->op = mutate ? "iterate while changing" : "iterate";
    md->op_id = UINT64_MAX;
    char why[256];
    iter_state st;
    memset(&st, 0, sizeof st);
    st.k = k;
    size_t len0 = refmap_len(md->r);
    /* Per-step probability of ending an iterator early: 0 or about 1/len. */
    uint64_t stop_div = test_rand_below(&md->rng, 3) == 0 ? 2 * len0 + 2 : 0;
    for (int i = 0; i < k; i++) {
        start_iter(md, &st, i);
        if (mutate && i + 1 < k) {
            size_t n = test_rand_below(&md->rng, 4);
            for (size_t j = 0; j < n && st.its[0].live; j++)
                mutate_once(md, &st, profile, false);
        }
    }
    /* Changes may keep adding entries that get produced; after a budget of
     * steps the changes stop, and the iterations must then end. */
    size_t budget = 8 * (len0 + 64) * (size_t)k, steps = 0;
    while (live_count(&st) > 0) {
        if (++steps == budget)
            mutate = false;
        MCHECK_MSG(md, steps < 2 * budget + 4 * refmap_len(md->r) * (size_t)k,
                   "iteration does not end");
        int i;
        do
            i = (int)test_rand_below(&md->rng, (uint64_t)k);
        while (!st.its[i].live);
        tracked_iter *ti = &st.its[i];
        md->op = mutate ? "iterate while changing" : "iterate";
        const void *kp;
        void *vp;
        if (!gomap_iter_next(&ti->it, &kp, &vp)) {
            ti->live = false;
            MCHECK_MSG(md, refmap_track_end(md->r, ti->t, true, why, sizeof why),
                       "iterator %d: %s", i, why);
            continue;
        }
        ti->produced++;
        MCHECK_MSG(md, ti->produced <= ti->start_len + (st.inserted - ti->inserted_at_start),
                   "iterator %d produced %zu entries; only %zu were ever present", i,
                   ti->produced, ti->start_len + (st.inserted - ti->inserted_at_start));
        MCHECK_MSG(md, refmap_track_produced(md->r, ti->t, kp, vp, why, sizeof why),
                   "iterator %d: %s", i, why);
        copy_key(md, &md->kb_iter, kp);
        size_t vs = md->cfg->val_size;
        if (vs && !refmap_key_is_nan(md->r, kp) && test_rand_below(&md->rng, 4) == 0) {
            /* The produced value slot is writable until the next write. */
            make_val(md, md->val);
            memcpy(vp, md->val, vs);
            MCHECK(md, refmap_set_value(md->r, kp, md->val));
        }
        if (mutate) {
            size_t n = test_rand_below(&md->rng, 3);
            for (size_t j = 0; j < n && ti->live; j++)
                mutate_once(md, &st, profile, j == 0);
            if (refmap_len(md->r) <= 256) {
                MCHECK_VALID(md, md->m);
            }
        }
        if (ti->live && stop_div && test_rand_below(&md->rng, stop_div) == 0) {
            gomap_iter_done(&ti->it);
            ti->live = false;
            MCHECK_MSG(md, refmap_track_end(md->r, ti->t, false, why, sizeof why), "%s", why);
        }
    }
    if (test_rand_below(&md->rng, 4) == 0) {
        /* Every iteration is over, none is live: shrink is allowed again. */
        MCHECK(md, gomap_shrink(md->m) == 0);
        check_shrunk(md);
    }
}

/* ------------------------------------------------------------------------ */
/* Steps and scenarios                                                       */
/* ------------------------------------------------------------------------ */

/* After every step: length and stats; the validator and a full comparison
 * every step while small, on a bounded-cost schedule when large. */
#define VALIDATE_ALWAYS_UPTO 256
#define COMPARE_ALWAYS_UPTO 32

static void check_stats(model *md);

/* True when a check linear in n is due: every call while n <= upto, else
 * often enough that its cost averages about `upto` entries per step. A
 * credit counter, not step % (n / upto), which resonates with phases that
 * insert one key per step and would then check at a fixed interval. */
static bool due(size_t *credit, size_t n, size_t upto)
{
    *credit += upto;
    if (*credit < n)
        return false;
    *credit = 0;
    return true;
}

static void after_step(model *md)
{
    size_t n = refmap_len(md->r);
    MCHECK_MSG(md, gomap_len(md->m) == n, "gomap_len %zu, reference %zu", gomap_len(md->m), n);
    if (stats_due(md))
        check_stats(md);
    if (due(&md->validate_credit, n, VALIDATE_ALWAYS_UPTO))
        MCHECK_VALID(md, md->m);
    if (due(&md->compare_credit, n, COMPARE_ALWAYS_UPTO))
        mcompare(md, md->m, md->r, true);
}

/* Relations between the stats fields, and same-size grow detection. */
static void check_stats(model *md)
{
    size_t n = refmap_len(md->r);
    gomap_stats_t s = stats_of(md, md->m);
    MCHECK(md, s.entries == n);
    MCHECK(md, s.buckets == 0 || s.buckets == (size_t)1 << s.b);
    if (s.growing) {
        MCHECK(md, s.old_buckets > 0 && s.evacuated <= s.old_buckets);
        if (s.same_size_grow)
            MCHECK(md, s.old_buckets == s.buckets);
        else
            MCHECK(md, s.old_buckets * 2 == s.buckets);
    } else {
        MCHECK(md, !s.same_size_grow && s.old_buckets == 0);
    }
    if (s.same_size_grow)
        md->saw_same_size_grow = true;
}

typedef struct {
    unsigned set, assign, get, get_copy, del, del_existing;
    /* Operations linear in the map's size; their weight is scaled down as
     * the map grows so a step stays cheap on average. */
    unsigned clear, iter_full, iter_partial, iter_mutate, iter_multi, shrink, clone;
} weights;

static const weights W_MIXED = {25, 10, 15, 8, 15, 8, 1, 2, 3, 4, 2, 2, 3};
static const weights W_GROW = {50, 20, 8, 4, 3, 2, 0, 1, 1, 2, 1, 1, 1};
static const weights W_SHRINK = {8, 4, 8, 4, 25, 35, 0, 1, 1, 2, 1, 3, 1};

static void random_cheap_op(model *md)
{
    switch (test_rand_below(&md->rng, 6)) {
    case 0: op_set(md, random_id(md)); break;
    case 1: op_assign(md, random_id(md)); break;
    case 2: op_get(md, random_id(md)); break;
    case 3: op_get_copy(md, random_id(md)); break;
    case 4: op_delete(md, random_id(md)); break;
    default: op_delete_existing(md); break;
    }
}

static void model_step(model *md, const weights *w)
{
    size_t n = refmap_len(md->r);
    uint64_t scale = n <= 64 ? 64 : n; /* linear ops: weight * 64 / n */
    uint64_t cheap[6] = {w->set, w->assign, w->get, w->get_copy, w->del, w->del_existing};
    uint64_t lin[7] = {w->clear, w->iter_full, w->iter_partial, w->iter_mutate,
                       w->iter_multi, w->shrink, w->clone};
    uint64_t total = 0;
    for (int i = 0; i < 6; i++)
        total += cheap[i] * 64 * 64;
    for (int i = 0; i < 7; i++)
        total += lin[i] * 64 * 64 * 64 / scale;
    uint64_t x = test_rand_below(&md->rng, total);
    md->step++;
    int op = -1;
    for (int i = 0; i < 6 && op < 0; i++) {
        if (x < cheap[i] * 64 * 64)
            op = i;
        else
            x -= cheap[i] * 64 * 64;
    }
    for (int i = 0; i < 7 && op < 0; i++) {
        if (x < lin[i] * 64 * 64 * 64 / scale)
            op = 6 + i;
        else
            x -= lin[i] * 64 * 64 * 64 / scale;
    }
    switch (op) {
    case 0: op_set(md, random_id(md)); break;
    case 1: op_assign(md, random_id(md)); break;
    case 2: op_get(md, random_id(md)); break;
    case 3: op_get_copy(md, random_id(md)); break;
    case 4: op_delete(md, random_id(md)); break;
    case 5: op_delete_existing(md); break;
    case 6: op_clear(md); break;
    case 7: op_iter_full(md); break;
    case 8: op_iter_partial(md); break;
    case 9: op_iterate(md, 1, true, MUT_MIXED); break;
    case 10: op_iterate(md, 2 + (int)test_rand_below(&md->rng, 2), true, MUT_MIXED); break;
    case 11: op_shrink(md); break;
    default: op_clone(md); break;
    }
    after_step(md);
}

static void run_steps(model *md, const weights *w, size_t steps)
{
    for (size_t i = 0; i < steps; i++)
        model_step(md, w);
}

/* A hint: mostly small, sometimes large, sometimes absurd (must be ignored,
 * not fail). */
static size_t random_hint(uint64_t *rng)
{
    switch (test_rand_below(rng, 10)) {
    case 0: return SIZE_MAX;
    case 1: return (size_t)1 << 40;
    case 2: return 1000;
    default: return (size_t)test_rand_below(rng, 30);
    }
}

/* Tiny maps: key space 1..16, every operation, full checks every step. */
static void test_tiny_maps(void)
{
    uint64_t rng = test_seed() ^ 0x7101;
    for (size_t ki = 0; ki < NKINDS; ki++) {
        for (int round = 0; round < 60 / WORK_DIV; round++) {
            model md;
            uint64_t ks = kinds[ki].medium_keys == 1 ? 1 : 1 + test_rand_below(&rng, 16);
            model_init(&md, &kinds[ki], "tiny", ks, random_hint(&rng), &rng);
            run_steps(&md, &W_MIXED, 150);
            op_iter_full(&md);
            model_fini(&md);
        }
    }
}

/* Medium maps: a grow phase, a mixed phase and a delete-heavy phase. */
static void test_medium_maps(void)
{
    uint64_t rng = test_seed() ^ 0x3ed1;
    for (size_t ki = 0; ki < NKINDS; ki++) {
        model md;
        uint64_t ks = kinds[ki].medium_keys;
        model_init(&md, &kinds[ki], "medium", ks, test_rand_below(&rng, 2) ? 0 : ks / 2, &rng);
        size_t steps = (ks < 64 ? 400 : (size_t)ks * 2) / WORK_DIV;
        md.scenario = "medium: grow";
        run_steps(&md, &W_GROW, steps);
        md.scenario = "medium: mixed";
        run_steps(&md, &W_MIXED, steps);
        md.scenario = "medium: delete-heavy";
        run_steps(&md, &W_SHRINK, steps);
        op_shrink(&md);
        md.scenario = "medium: regrow";
        run_steps(&md, &W_GROW, steps / 2);
        op_iterate(&md, 3, true, MUT_MIXED);
        op_clone(&md);
        op_iter_full(&md);
        model_fini(&md);
    }
}

/* Large maps: grow to n keys with fresh ids, a mixed phase, delete down to
 * a tenth, shrink, regrow, clear. The linear checks run on their schedule
 * during phases and in full between phases. */
static void checkpoint(model *md, const char *what)
{
    md->op = what;
    md->op_id = UINT64_MAX;
    MCHECK_VALID(md, md->m);
    mcompare(md, md->m, md->r, true);
}

static void run_large(const kind_cfg *c, uint64_t n, uint64_t *rng)
{
    model md;
    model_init(&md, c, "large: grow", n, 0, rng);
    printf("   large %s, %" PRIu64 " keys\n", c->name, n);
    fflush(stdout);
    uint64_t next_id = 0;
    while (refmap_len(md.r) < n) {
        md.step++;
        if (test_rand_below(&md.rng, 4))
            op_set(&md, next_id++);
        else
            op_assign(&md, next_id++);
        after_step(&md);
    }
    md.fresh = next_id > n ? next_id : n;
    checkpoint(&md, "after grow");
    op_clone(&md);
    md.scenario = "large: mixed";
    run_steps(&md, &W_MIXED, (size_t)n / 2);
    checkpoint(&md, "after mixed");
    md.scenario = "large: delete-heavy";
    while (refmap_len(md.r) > n / 10) {
        md.step++;
        if (test_rand_below(&md.rng, 5))
            op_delete_existing(&md);
        else
            op_set(&md, md.fresh++);
        after_step(&md);
    }
    checkpoint(&md, "after delete-heavy");
    op_shrink(&md);
    md.scenario = "large: regrow";
    run_steps(&md, &W_GROW, (size_t)n / 4);
    op_iterate(&md, 2, true, MUT_INSERT_HEAVY);
    op_clear(&md);
    md.scenario = "large: after clear";
    run_steps(&md, &W_GROW, 200);
    checkpoint(&md, "end");
    model_fini(&md);
}

static void test_large_maps(void)
{
    uint64_t rng = test_seed() ^ 0x1a9e;
    run_large(kind_named("u64/v8"), 50000 / WORK_DIV, &rng);
    run_large(kind_named("str/v8"), 20000 / WORK_DIV, &rng);
    run_large(kind_named("f64/set"), 20000 / WORK_DIV, &rng);
    run_large(kind_named("u32/v3"), 10000 / WORK_DIV, &rng);
    run_large(kind_named("custom/v8"), 10000 / WORK_DIV, &rng);
    run_large(kind_named("bytes200/v8"), 4000 / WORK_DIV, &rng);
    run_large(kind_named("u64/v200"), 4000 / WORK_DIV, &rng);
}

/* Iteration across growth (Go's IterGrowAndDelete and friends): maps just
 * below a doubling, iterated by one to three iterators while fresh keys are
 * inserted (causing one or more doublings) and present keys deleted. */
static void test_iterate_across_growth(void)
{
    uint64_t rng = test_seed() ^ 0x17e4;
    static const char *const names[] = {"u64/v8", "str/v8", "f64/v8", "bytes200/v8",
                                        "custom/v8", "u32/v3"};
    static const size_t sizes[] = {0, 5, 8, 13, 26, 52, 104, 416};
    for (size_t ni = 0; ni < sizeof names / sizeof names[0]; ni++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (int rep = 0; rep < 8 / WORK_DIV + 1; rep++) {
                model md;
                model_init(&md, kind_named(names[ni]), "iterate across growth",
                           sizes[si] + 1, 0, &rng);
                for (uint64_t id = 0; id < sizes[si]; id++)
                    op_set(&md, id);
                after_step(&md);
                md.step++;
                op_iterate(&md, 1 + rep % 3, true, MUT_INSERT_HEAVY);
                after_step(&md);
                model_fini(&md);
            }
        }
    }
}

/* Delete-heavy churn at a fixed size: fill to the load-factor limit of 2^B
 * buckets, delete most entries, refill with never-used keys, repeatedly.
 * New keys land in random buckets, full ones get overflow buckets, and
 * deletes never give them back, so the overflow count must eventually reach
 * 2^B and start a same-size grow. The count never passes the doubling limit,
 * so B must never change. */
static void same_size_churn(const kind_cfg *c, unsigned b, uint64_t *rng)
{
    model md;
    model_init(&md, c, "same-size grow churn", 1, 0, rng);
    size_t fill = (size_t)(6.5 * (double)((size_t)1 << b));
    while (refmap_len(md.r) < fill) {
        md.step++;
        op_set(&md, md.fresh++);
        after_step(&md);
    }
    gomap_stats_t s = stats_of(&md, md.m);
    MCHECK_MSG(&md, s.b == b, "filled to %zu entries, B is %u, want %u", fill, s.b, b);
    int rounds_after = 0, first = -1;
    for (int round = 0; round < 600 && rounds_after < 3; round++) {
        while (refmap_len(md.r) > fill / 8) {
            md.step++;
            op_delete_existing(&md);
            after_step(&md);
        }
        while (refmap_len(md.r) < fill) {
            md.step++;
            op_set(&md, md.fresh++);
            after_step(&md);
            s = stats_of(&md, md.m);
            MCHECK_MSG(&md, s.b == b, "B changed to %u at a fixed size", s.b);
        }
        if (md.saw_same_size_grow && rounds_after++ == 0)
            first = round;
    }
    printf("   %s B=%u: first same-size grow seen in round %d\n", c->name, b, first);
    MCHECK_MSG(&md, md.saw_same_size_grow,
               "no same-size grow after 600 delete/refill rounds at B=%u", b);
    checkpoint(&md, "after churn");
    op_shrink(&md);
    model_fini(&md);
}

static void test_same_size_grow(void)
{
    uint64_t rng = test_seed() ^ 0x55a3;
    static const unsigned bs[] = {3, 5, 7};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
        same_size_churn(kind_named("u64/v8"), bs[i], &rng);
        if (WORK_DIV == 1 || bs[i] < 7)
            same_size_churn(kind_named("str/v200"), bs[i], &rng);
    }
}

int main(void)
{
    test_seed();
    RUN(test_tiny_maps);
    RUN(test_medium_maps);
    RUN(test_iterate_across_growth);
    RUN(test_same_size_grow);
    RUN(test_large_maps);
    return 0;
}

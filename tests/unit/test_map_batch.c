/*
 * test_map_batch.c — batch lookups (gomap_get_many, gomap_get_many_u64,
 * gomap_get_many_str) against single lookups.
 *
 * The contract under test: for every key of the batch, the pointer written
 * to vals_out is exactly the pointer gomap_get returns for that key, and the
 * return value is the number of non-NULL pointers. A small model (which key
 * ids are present) checks gomap_get itself at the same time, so the two
 * cannot agree on a wrong answer.
 *
 * States covered, for every key kind (u32, u64 with values of 0, 8 and 200
 * bytes, f64 with both zeros and NaNs, strings from empty to 48 bytes, bytes
 * of 0, 3 and 200 bytes, custom keys with a good and a degenerate hash): an
 * empty map (no array, and an array emptied by deletes and by clear), one
 * bucket (B == 0), grown maps, maps in the middle of a grow (old buckets
 * not yet evacuated; checked after every insert while gomap_stats says the
 * map grows), maps after many deletes (emptyOne/emptyRest runs, overflow
 * chains) and during a same-size grow. Batches are of every length around
 * the internal window (0..40) and long ones, with duplicate keys, absent
 * keys and the special keys (NaN, -0 and +0, {NULL, 0}, {NULL, len > 0}).
 * Bad input: NULL map, keys or vals_out, typed calls on maps of other kinds.
 *
 * All randomness comes from test_seed(); GOMAP_TEST_SEED reproduces a run.
 */
#include "check.h"
#include "ckey.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t key_size;  /* BYTES / CUSTOM */
    size_t val_size;
    int custom_hash;
    size_t key_bytes; /* bytes of one key as callers pass it */
} kind_cfg;

static const kind_cfg kinds[] = {
    {"u32/v8", GOMAP_KEY_U32, 0, 8, HASH_NONE, 4},
    {"u64/v8", GOMAP_KEY_U64, 0, 8, HASH_NONE, 8},
    {"u64/set", GOMAP_KEY_U64, 0, 0, HASH_NONE, 8},
    {"u64/v200", GOMAP_KEY_U64, 0, 200, HASH_NONE, 8},
    {"f64/v8", GOMAP_KEY_F64, 0, 8, HASH_NONE, 8},
    {"str/v8", GOMAP_KEY_STR, 0, 8, HASH_NONE, sizeof(gomap_str)},
    {"str/v200", GOMAP_KEY_STR, 0, 200, HASH_NONE, sizeof(gomap_str)},
    {"bytes0/v8", GOMAP_KEY_BYTES, 0, 8, HASH_NONE, 0},
    {"bytes3/v8", GOMAP_KEY_BYTES, 3, 8, HASH_NONE, 3},
    {"bytes200/v8", GOMAP_KEY_BYTES, 200, 8, HASH_NONE, 200},
    {"custom/v8", GOMAP_KEY_CUSTOM, sizeof(ckey), 8, HASH_GOOD, sizeof(ckey)},
    {"custom-weak/v8", GOMAP_KEY_CUSTOM, sizeof(ckey), 8, HASH_WEAK, sizeof(ckey)},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */
/* ------------------------------------------------------------------------ */

/* Key ids map to keys; distinct ids give distinct keys, except for f64:
 * ids 0 and 1 are +0 and -0 (one key) and ids 2 and 3 are NaNs (never equal
 * to anything). For strings, id 0 is {NULL, 0}. */
#define MAX_KEY 256 /* bytes of the largest key (bytes200) plus slack */

typedef struct {
    const kind_cfg *cfg;
    gomap_t *m;
    uint64_t rng;
    uint64_t nids;        /* ids in use are below this */
    bool *present;        /* by id: inserted and not deleted (model) */
    char *strbuf;         /* string bytes, 48 per id */
    const char *scenario;
} fixture;

static uint64_t bad_ptr_seq; /* makes each garbage fill different */

static double f64_of_id(uint64_t id)
{
    switch (id) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: return NAN;
    case 3: return -NAN;
    case 4: return INFINITY;
    case 5: return -INFINITY;
    case 6: return DBL_MIN / 4;
    case 7: return DBL_MAX;
    default: return (double)id * 0.75 - 100.0;
    }
}

static bool id_is_nan(const fixture *f, uint64_t id)
{
    return f->cfg->kind == GOMAP_KEY_F64 && (id == 2 || id == 3);
}

/* The id a lookup of `id` finds (f64: -0 finds +0's entry), for the model. */
static uint64_t canonical_id(const fixture *f, uint64_t id)
{
    return f->cfg->kind == GOMAP_KEY_F64 && id == 1 ? 0 : id;
}

/* Writes the key of `id` at dst (f->cfg->key_bytes bytes). String bytes live
 * in f->strbuf, so the gomap_str stays valid. */
static void put_key(fixture *f, void *dst, uint64_t id)
{
    const kind_cfg *c = f->cfg;
    switch (c->kind) {
    case GOMAP_KEY_U32: {
        uint32_t k = (uint32_t)id * 2654435761u;
        memcpy(dst, &k, 4);
        break;
    }
    case GOMAP_KEY_U64: {
        uint64_t k = id * 0x9E3779B97F4A7C15ull;
        memcpy(dst, &k, 8);
        break;
    }
    case GOMAP_KEY_F64: {
        double d = f64_of_id(id);
        memcpy(dst, &d, 8);
        break;
    }
    case GOMAP_KEY_STR: {
        gomap_str s = {NULL, 0};
        if (id != 0) {
            /* 4..48 bytes, starting with the id's four bytes. */
            char *p = f->strbuf + id * 48;
            s.len = 4 + (size_t)(id * 7 % 45);
            for (size_t i = 0; i < s.len; i++)
                p[i] = i < 4 ? (char)(id >> (8 * i)) : (char)('a' + (id + i) % 26);
            s.ptr = p;
        }
        memcpy(dst, &s, sizeof s);
        break;
    }
    case GOMAP_KEY_BYTES: {
        unsigned char *b = dst;
        for (size_t i = 0; i < c->key_size; i++)
            b[i] = i < 8 ? (unsigned char)(id >> (8 * i)) : (unsigned char)(id * 31 + i * 7);
        break;
    }
    case GOMAP_KEY_CUSTOM: {
        ckey k = {(uint32_t)id, (uint32_t)(id * 3 + 1), test_rand(&f->rng)};
        memcpy(dst, &k, sizeof k);
        break;
    }
    }
}

/* ------------------------------------------------------------------------ */
/* Fixture                                                                   */
/* ------------------------------------------------------------------------ */

static gomap_t *new_map(const kind_cfg *c, size_t hint)
{
    gomap_t *m = NULL;
    CHECK_EQ(ckey_map_new(&m, c->kind, c->key_size, c->val_size, c->custom_hash, hint), 0);
    return m;
}

static void fixture_init(fixture *f, const kind_cfg *c, uint64_t nids, size_t hint, uint64_t *rng)
{
    memset(f, 0, sizeof *f);
    f->cfg = c;
    f->rng = test_rand(rng);
    /* A 0-byte key has one value: one id. */
    f->nids = c->kind == GOMAP_KEY_BYTES && c->key_size == 0 ? 1 : nids;
    f->present = calloc(f->nids, sizeof *f->present);
    f->strbuf = malloc(f->nids * 48);
    CHECK(f->present && f->strbuf);
    f->m = new_map(c, hint);
}

static void fixture_fini(fixture *f)
{
    gomap_free(f->m);
    free(f->present);
    free(f->strbuf);
}

static void insert_id(fixture *f, uint64_t id)
{
    unsigned char key[MAX_KEY], val[256];
    put_key(f, key, id);
    for (size_t i = 0; i < f->cfg->val_size; i++)
        val[i] = (unsigned char)(id + i);
    CHECK_EQ(gomap_set(f->m, key, val), 0);
    if (!id_is_nan(f, id))
        f->present[canonical_id(f, id)] = true;
}

static void delete_id(fixture *f, uint64_t id)
{
    unsigned char key[MAX_KEY];
    put_key(f, key, id);
    bool was = !id_is_nan(f, id) && f->present[canonical_id(f, id)];
    CHECK_EQ(gomap_delete(f->m, key), was);
    if (!id_is_nan(f, id))
        f->present[canonical_id(f, id)] = false;
}

/* ------------------------------------------------------------------------ */
/* The check                                                                 */
/* ------------------------------------------------------------------------ */

static void fail_context(const fixture *f, size_t n, size_t i, uint64_t id)
{
    gomap_stats_t s;
    memset(&s, 0, sizeof s);
    (void)gomap_stats(f->m, &s);
    fprintf(stderr,
            "batch failure: kind %s, scenario '%s', batch of %zu, key %zu (id %" PRIu64
            "), entries %zu, B %u, growing %d\n",
            f->cfg->name, f->scenario, n, i, id, gomap_len(f->m), s.b, (int)s.growing);
}

/* Looks up the keys of `ids` (n of them) with every batch entry point that
 * applies to the map's kind and compares each answer with gomap_get and with
 * the model. */
static void check_batch(fixture *f, const uint64_t *ids, size_t n)
{
    const size_t kb = f->cfg->key_bytes;
    unsigned char *keys = malloc(n * kb + 1);
    void **vals = malloc((n + 1) * sizeof *vals);
    void **want = malloc((n + 1) * sizeof *want);
    CHECK(keys && vals && want);
    size_t want_found = 0;
    for (size_t i = 0; i < n; i++) {
        put_key(f, keys + i * kb, ids[i]);
        want[i] = gomap_get(f->m, keys + i * kb);
        bool model = !id_is_nan(f, ids[i]) && f->present[canonical_id(f, ids[i])];
        if ((want[i] != NULL) != model) {
            fail_context(f, n, i, ids[i]);
            CHECK_MSG(0, "gomap_get says %s, the model says %s", want[i] ? "present" : "absent",
                      model ? "present" : "absent");
        }
        want_found += want[i] != NULL;
    }

    for (int api = 0; api < 3; api++) {
        if (api == 1 && f->cfg->kind != GOMAP_KEY_U64)
            continue;
        if (api == 2 && f->cfg->kind != GOMAP_KEY_STR)
            continue;
        /* Garbage in vals (and one past the end, which must stay). */
        bad_ptr_seq++;
        for (size_t i = 0; i <= n; i++)
            vals[i] = (void *)(uintptr_t)(0x1000 + 16 * (bad_ptr_seq + i));
        void *guard = vals[n];
        size_t found = api == 0   ? gomap_get_many(f->m, keys, n, vals)
                       : api == 1 ? gomap_get_many_u64(f->m, (const uint64_t *)(void *)keys, n, vals)
                                  : gomap_get_many_str(f->m, (const gomap_str *)(void *)keys, n, vals);
        for (size_t i = 0; i < n; i++) {
            if (vals[i] != want[i]) {
                fail_context(f, n, i, ids[i]);
                CHECK_MSG(0, "api %d: vals[%zu] = %p, gomap_get gives %p", api, i, vals[i], want[i]);
            }
        }
        CHECK_MSG(vals[n] == guard, "api %d wrote past vals_out[%zu]", api, n);
        if (found != want_found) {
            fail_context(f, n, 0, ids[0]);
            CHECK_MSG(0, "api %d returned %zu, want %zu", api, found, want_found);
        }
    }
    free(keys);
    free(vals);
    free(want);
}

/* Random ids: mostly in use (present or deleted), some never used, and for
 * floats and strings the special ids. */
static uint64_t random_id(fixture *f)
{
    return test_rand_below(&f->rng, f->nids);
}

/* Batches of every length around the pipeline's window, then a long one. */
static void check_all_lengths(fixture *f, size_t long_n)
{
    uint64_t ids[64] = {0};
    for (size_t n = 0; n <= 40; n += (n < 20 ? 1 : 3)) {
        for (size_t i = 0; i < n; i++)
            ids[i] = random_id(f);
        check_batch(f, ids, n);
    }
    uint64_t *big = malloc((long_n + 1) * sizeof *big);
    CHECK(big);
    for (size_t i = 0; i < long_n; i++)
        big[i] = (i % 5 == 4 && i) ? big[i - 1 - test_rand_below(&f->rng, i)] /* duplicates */
                                   : random_id(f);
    check_batch(f, big, long_n);
    free(big);
}

static bool growing(const gomap_t *m)
{
    gomap_stats_t s;
    CHECK_EQ(gomap_stats(m, &s), 0);
    return s.growing;
}

/* ------------------------------------------------------------------------ */
/* Scenarios                                                                 */
/* ------------------------------------------------------------------------ */

/* Grows a map from empty, checking batches at every size up to 16 (B == 0
 * and the first grow), then after every insert while a grow is in progress
 * (every other insert above 1000 entries), and at the sizes in between. */
static void scenario_grow(const kind_cfg *c, size_t nkeys, uint64_t *rng)
{
    fixture f;
    fixture_init(&f, c, nkeys * 2 + 8, 0, rng);
    f.scenario = "grow";
    check_all_lengths(&f, 64); /* empty, no array */
    size_t grow_checks = 0;
    for (uint64_t id = 0; id < f.nids && gomap_len(f.m) < nkeys; id++) {
        if (id % 2 == 1 && id > 8)
            continue; /* odd ids stay absent (except the special low ones) */
        insert_id(&f, id);
        size_t len = gomap_len(f.m);
        if (len <= 16) {
            check_all_lengths(&f, 40);
        } else if (growing(f.m)) {
            if (len < 1000 || len % 2 == 0) {
                f.scenario = "mid-grow";
                uint64_t ids[48] = {0};
                size_t n = 1 + test_rand_below(&f.rng, 48);
                for (size_t i = 0; i < n; i++)
                    ids[i] = random_id(&f);
                check_batch(&f, ids, n);
                grow_checks++;
                f.scenario = "grow";
            }
        } else if ((len & (len - 1)) == 0) {
            check_all_lengths(&f, 2 * len);
        }
    }
    if (f.nids > 1 && nkeys > 16)
        CHECK_MSG(grow_checks > 0, "%s: never saw the map growing", c->name);
    check_all_lengths(&f, 3 * gomap_len(f.m) + 10);
    fixture_fini(&f);
}

/* Deletes most keys (leaving emptyOne/emptyRest runs and overflow chains),
 * then every key (empty map with an array), then refills and clears. */
static void scenario_delete(const kind_cfg *c, size_t nkeys, uint64_t *rng)
{
    fixture f;
    fixture_init(&f, c, nkeys + 8, 0, rng);
    f.scenario = "delete";
    for (uint64_t id = 0; id < f.nids; id++)
        insert_id(&f, id);
    for (uint64_t id = 0; id < f.nids; id++)
        if (test_rand_below(&f.rng, 4) != 0)
            delete_id(&f, id);
    check_all_lengths(&f, 2 * nkeys);
    for (uint64_t id = 0; id < f.nids; id++)
        delete_id(&f, id);
    f.scenario = "emptied by deletes";
    check_all_lengths(&f, 100);
    for (uint64_t id = 0; id < f.nids; id += 2)
        insert_id(&f, id);
    f.scenario = "refilled";
    check_all_lengths(&f, nkeys);
    gomap_clear(f.m);
    memset(f.present, 0, f.nids * sizeof *f.present);
    f.scenario = "cleared";
    check_all_lengths(&f, 100);
    fixture_fini(&f);
}

/* Delete/refill churn at a fixed size until a same-size grow starts, then
 * batches while it is in progress. */
static void scenario_same_size_grow(const kind_cfg *c, uint64_t *rng)
{
    fixture f;
    const size_t fill = 52; /* 6.5 * 8 buckets: B stays 3 */
    fixture_init(&f, c, 1 << 16, 0, rng);
    f.scenario = "same-size grow";
    uint64_t next = 8, lo = 8;
    bool seen = false;
    for (int round = 0; round < 2000 && !seen; round++) {
        while (gomap_len(f.m) < fill && next < f.nids)
            insert_id(&f, next++);
        while (gomap_len(f.m) > fill / 8)
            delete_id(&f, lo++);
        while (gomap_len(f.m) < fill && next < f.nids) {
            insert_id(&f, next++);
            gomap_stats_t s;
            CHECK_EQ(gomap_stats(f.m, &s), 0);
            if (s.growing && s.same_size_grow) {
                seen = true;
                uint64_t ids[40];
                for (size_t i = 0; i < 40; i++)
                    ids[i] = lo + test_rand_below(&f.rng, next - lo + 8);
                check_batch(&f, ids, 40);
            }
        }
    }
    CHECK_MSG(seen, "%s: no same-size grow seen", c->name);
    fixture_fini(&f);
}

static void test_every_kind(void)
{
    uint64_t rng = test_seed() ^ 0xba7c;
    for (size_t k = 0; k < NKINDS; k++) {
        const kind_cfg *c = &kinds[k];
        size_t n = c->custom_hash == HASH_WEAK ? 300 : 3000 / WORK_DIV;
        printf("   %s\n", c->name);
        fflush(stdout);
        scenario_grow(c, n, &rng);
        scenario_delete(c, n / 3 + 5, &rng);
    }
    scenario_same_size_grow(&kinds[1], &rng);
    scenario_same_size_grow(&kinds[5], &rng);
}

/* A bigger map than the window can cover in one go, presized and not. */
static void test_large(void)
{
    uint64_t rng = test_seed() ^ 0x1a29e;
    for (int presize = 0; presize < 2; presize++) {
        fixture f;
        size_t n = 200000 / WORK_DIV;
        fixture_init(&f, &kinds[1], 2 * n, presize ? n : 0, &rng);
        f.scenario = presize ? "large presized" : "large";
        for (uint64_t id = 0; id < 2 * n; id += 2)
            insert_id(&f, id);
        check_all_lengths(&f, n);
        fixture_fini(&f);
    }
}

/* The special keys of each kind, alone and among others. */
static void test_special_keys(void)
{
    uint64_t rng = test_seed() ^ 0x5bec;
    fixture f;
    fixture_init(&f, &kinds[4], 64, 0, &rng); /* f64 */
    f.scenario = "f64 specials";
    for (uint64_t id = 0; id < 8; id++)
        insert_id(&f, id); /* +0, then -0 rewrites it; two NaN entries */
    CHECK_EQ(gomap_len(f.m), 7); /* one zero, two NaN entries, four others */
    uint64_t ids[] = {2, 3, 0, 1, 2, 4, 5, 6, 7, 8, 3, 1};
    check_batch(&f, ids, sizeof ids / sizeof ids[0]);
    for (uint64_t id = 8; id < 64; id++)
        insert_id(&f, id);
    check_all_lengths(&f, 200);
    fixture_fini(&f);

    /* Strings: {NULL, 0} is the empty string (a key like any other);
     * {NULL, len > 0} is answered NULL without touching the bytes. */
    fixture_init(&f, &kinds[5], 64, 0, &rng);
    f.scenario = "str specials";
    for (uint64_t id = 0; id < 64; id++)
        insert_id(&f, id);
    gomap_str keys[5];
    put_key(&f, &keys[0], 0);
    put_key(&f, &keys[1], 5);
    keys[2].ptr = NULL;
    keys[2].len = 3;
    put_key(&f, &keys[3], 7);
    keys[4].ptr = NULL;
    keys[4].len = SIZE_MAX;
    void *vals[5];
    CHECK_EQ(gomap_get_many_str(f.m, keys, 5, vals), 3);
    CHECK(vals[0] == gomap_get(f.m, &keys[0]) && vals[0] != NULL);
    CHECK(vals[1] == gomap_get_str(f.m, keys[1].ptr, keys[1].len) && vals[1] != NULL);
    CHECK(vals[2] == NULL && vals[4] == NULL);
    CHECK(vals[3] == gomap_get(f.m, &keys[3]) && vals[3] != NULL);
    memset(vals, 0x55, sizeof vals);
    CHECK_EQ(gomap_get_many(f.m, keys, 5, vals), 3);
    CHECK(vals[2] == NULL && vals[4] == NULL && vals[0] && vals[1] && vals[3]);
    fixture_fini(&f);
}

static bool all_null(void **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i])
            return false;
    return true;
}

static void test_bad_input(void)
{
    uint64_t rng = test_seed() ^ 0xbad;
    fixture f;
    fixture_init(&f, &kinds[1], 100, 0, &rng); /* u64 */
    for (uint64_t id = 0; id < 100; id++)
        insert_id(&f, id);
    uint64_t keys[8];
    for (int i = 0; i < 8; i++)
        put_key(&f, &keys[i], (uint64_t)i);
    void *vals[8];

    memset(vals, 0x55, sizeof vals);
    CHECK_EQ(gomap_get_many(NULL, keys, 8, vals), 0);
    CHECK(all_null(vals, 8));
    memset(vals, 0x55, sizeof vals);
    CHECK_EQ(gomap_get_many_u64(NULL, keys, 8, vals), 0);
    CHECK(all_null(vals, 8));
    memset(vals, 0x55, sizeof vals);
    CHECK_EQ(gomap_get_many_str(NULL, NULL, 8, vals), 0);
    CHECK(all_null(vals, 8));

    memset(vals, 0x55, sizeof vals);
    CHECK_EQ(gomap_get_many(f.m, NULL, 8, vals), 0);
    CHECK(all_null(vals, 8));
    memset(vals, 0x55, sizeof vals);
    CHECK_EQ(gomap_get_many_u64(f.m, NULL, 8, vals), 0);
    CHECK(all_null(vals, 8));

    CHECK_EQ(gomap_get_many(f.m, keys, 8, NULL), 0);
    CHECK_EQ(gomap_get_many_u64(f.m, keys, 8, NULL), 0);
    CHECK_EQ(gomap_get_many_str(f.m, NULL, 8, NULL), 0);

    /* n == 0: nothing to look up or fill; any pointers are fine. */
    memset(vals, 0x55, sizeof vals);
    void *untouched = vals[0];
    CHECK_EQ(gomap_get_many(f.m, NULL, 0, vals), 0);
    CHECK_EQ(gomap_get_many(NULL, NULL, 0, NULL), 0);
    CHECK_EQ(gomap_get_many_u64(f.m, keys, 0, vals), 0);
    CHECK(vals[0] == untouched);

    /* Typed calls on a map of another kind. */
    memset(vals, 0x55, sizeof vals);
    CHECK_EQ(gomap_get_many_str(f.m, (const gomap_str *)(void *)keys, 4, vals), 0);
    CHECK(all_null(vals, 4));
    CHECK_EQ(gomap_get_many_u64(f.m, keys, 8, vals), 8);
    CHECK(!all_null(vals, 8));
    fixture_fini(&f);

    static const size_t others[] = {0, 4, 5, 9};
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
        fixture_init(&f, &kinds[others[k]], 100, 0, &rng);
        for (uint64_t id = 0; id < f.nids; id++)
            insert_id(&f, id);
        memset(vals, 0x55, sizeof vals);
        CHECK_EQ(gomap_get_many_u64(f.m, keys, 8, vals), 0);
        CHECK(all_null(vals, 8));
        if (f.cfg->kind != GOMAP_KEY_STR) {
            gomap_str s[2] = {{"a", 1}, {"b", 1}};
            memset(vals, 0x55, sizeof vals);
            CHECK_EQ(gomap_get_many_str(f.m, s, 2, vals), 0);
            CHECK(all_null(vals, 2));
        }
        fixture_fini(&f);
    }
}

int main(void)
{
    test_seed();
    RUN(test_bad_input);
    RUN(test_special_keys);
    RUN(test_every_kind);
    RUN(test_large);
    return 0;
}

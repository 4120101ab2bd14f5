/*
 * test_batch_reads.c — gomap_shard_get_many and gomap_sync_load_many give
 * exactly the answers of single reads (gomap_shard_get, gomap_sync_load).
 *
 * Every case runs two maps of the same options through the same random
 * writes (set, delete, growth from empty): map A is read key by key, map B
 * in batches of the same keys, and for every key the found flag, the value
 * bytes (zeros where absent) and the count returned must agree. Reads
 * change a map's counters (the sharded map's hits and misses, the sync
 * map's misses and promotions), so the counters must agree afterwards too:
 * a batch counts and promotes exactly as the single reads it stands for.
 *
 *   test_model       u32, u64 (values of 0, 8 and 24 bytes), 8-byte bytes and
 *                    string keys; sharded maps with 1 and 4 shards (their
 *                    core maps grow while the batches read: checked after
 *                    every few writes), sync maps with keys only in the dirty
 *                    map, promoted and deleted (expunged); batches of every
 *                    length from 0 to past the pipeline's window (40) and past
 *                    a read-side chunk (255-257, 600), random ids present
 *                    and absent, with duplicates, and for strings the key no
 *                    map accepts ({NULL, len > 0}). vals_out and found_out
 *                    NULL in turn.
 *   test_args        n == 0, NULL map, NULL keys, NULL vals_out.
 *   test_in_range    a sync map's load_many from inside its own range
 *                    callback answers like loads.
 *
 * All randomness comes from test_seed(); GOMAP_TEST_SEED reproduces a run.
 */
#include "check.h"

#include <gomap/shardmap.h>
#include <gomap/syncmap.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t key_size;  /* BYTES */
    size_t val_size;
    size_t key_bytes; /* bytes of one key as callers pass it */
} kind_cfg;

static const kind_cfg kinds[] = {
    {"u32/v8", GOMAP_KEY_U32, 0, 8, 4},
    {"u64/v8", GOMAP_KEY_U64, 0, 8, 8},
    {"u64/set", GOMAP_KEY_U64, 0, 0, 8},
    {"u64/v24", GOMAP_KEY_U64, 0, 24, 8},
    {"bytes8/v8", GOMAP_KEY_BYTES, 8, 8, 8},
    {"str/v8", GOMAP_KEY_STR, 0, 8, sizeof(gomap_str)},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

enum { MAX_IDS = 2048, STR_BYTES = 40, MAX_BATCH = 600, MAX_VAL = 24 };

/* The map pair under test: A read singly, B in batches. */
typedef struct {
    const kind_cfg *cfg;
    bool sync;
    void *a, *b;
    uint64_t rng;
    char strbuf[MAX_IDS + 1][STR_BYTES]; /* string bytes by id */
} pair;

/* The key of `id` at dst (cfg->key_bytes bytes); MAX_IDS is the key no map
 * accepts for strings. */
static void put_key(pair *p, void *dst, uint64_t id)
{
    uint64_t k = id * 0x9E3779B97F4A7C15ull;
    switch (p->cfg->kind) {
    case GOMAP_KEY_U32: {
        uint32_t k32 = (uint32_t)id * 2654435761u;
        memcpy(dst, &k32, 4);
        break;
    }
    case GOMAP_KEY_STR: {
        gomap_str s = {p->strbuf[id], 0};
        if (id == MAX_IDS) {
            s = (gomap_str){NULL, 5};
        } else {
            int len = snprintf(p->strbuf[id], STR_BYTES, "key-%llu-%.*s", (unsigned long long)id,
                               (int)(id % 24), "abcdefghijklmnopqrstuvwxyz");
            s.len = (size_t)len;
        }
        memcpy(dst, &s, sizeof s);
        break;
    }
    default: memcpy(dst, &k, 8); break;
    }
}

static void put_val(const pair *p, void *dst, uint64_t id, uint64_t version)
{
    uint64_t st = id * 31 + version;
    for (size_t i = 0; i < p->cfg->val_size; i++)
        ((unsigned char *)dst)[i] = (unsigned char)test_rand(&st);
}

static gomap_options options(const kind_cfg *c)
{
    return (gomap_options){.key_kind = c->kind, .key_size = c->key_size, .val_size = c->val_size};
}

static void *map_new(const kind_cfg *c, bool sync, unsigned shards)
{
    gomap_options o = options(c);
    if (sync) {
        gomap_sync_t *m;
        CHECK_EQ(gomap_sync_new(&m, &o), 0);
        return m;
    }
    gomap_shard_options so = {.map = o, .shards = shards};
    gomap_shard_t *m;
    CHECK_EQ(gomap_shard_new(&m, &so), 0);
    return m;
}

static void map_free(pair *p, void *m)
{
    if (p->sync)
        gomap_sync_free(m);
    else
        gomap_shard_free(m);
}

static void set_both(pair *p, uint64_t id, uint64_t version)
{
    unsigned char key[sizeof(gomap_str) + 8], val[MAX_VAL];
    put_key(p, key, id);
    put_val(p, val, id, version);
    void *maps[2] = {p->a, p->b};
    for (int i = 0; i < 2; i++)
        CHECK_EQ(p->sync ? gomap_sync_store(maps[i], key, val) : gomap_shard_set(maps[i], key, val),
                 0);
}

static void delete_both(pair *p, uint64_t id)
{
    unsigned char key[sizeof(gomap_str) + 8];
    put_key(p, key, id);
    if (p->sync) {
        gomap_sync_delete(p->a, key);
        gomap_sync_delete(p->b, key);
    } else {
        (void)gomap_shard_delete(p->a, key);
        (void)gomap_shard_delete(p->b, key);
    }
}

static bool get_one(pair *p, const void *key, void *out)
{
    return p->sync ? gomap_sync_load(p->a, key, out) : gomap_shard_get(p->a, key, out);
}

static size_t get_many(pair *p, const void *keys, size_t n, void *vals, bool *found)
{
    return p->sync ? gomap_sync_load_many(p->b, keys, n, vals, found)
                   : gomap_shard_get_many(p->b, keys, n, vals, found);
}

/* The counters reads change must be equal in A and B. */
static void check_counters(pair *p)
{
    if (p->sync) {
        gomap_sync_stats_t sa, sb;
        CHECK_EQ(gomap_sync_stats(p->a, &sa), 0);
        CHECK_EQ(gomap_sync_stats(p->b, &sb), 0);
        CHECK_EQ(sa.misses, sb.misses);
        CHECK_EQ(sa.promotions, sb.promotions);
        CHECK_EQ(sa.amended, sb.amended);
        CHECK_EQ(sa.len, sb.len);
    } else {
        gomap_shard_stats_t sa, sb;
        CHECK_EQ(gomap_shard_stats(p->a, &sa, NULL, 0), 0);
        CHECK_EQ(gomap_shard_stats(p->b, &sb, NULL, 0), 0);
        CHECK_EQ(sa.total.hits, sb.total.hits);
        CHECK_EQ(sa.total.misses, sb.total.misses);
    }
}

static unsigned char keybuf[MAX_BATCH * sizeof(gomap_str)];
static unsigned char want_vals[MAX_BATCH * MAX_VAL], got_vals[MAX_BATCH * MAX_VAL + 1];
static bool got_found[MAX_BATCH];

/* One batch of n random ids below `ids` (some absent, some repeated) read
 * both ways; `mode` 0: all outputs, 1: no vals_out, 2: no found_out. */
static void check_batch(pair *p, size_t n, uint64_t ids, int mode)
{
    const size_t kb = p->cfg->key_bytes, vs = p->cfg->val_size;
    for (size_t i = 0; i < n; i++) {
        uint64_t id = test_rand_below(&p->rng, ids + 8); /* some never written */
        if (p->cfg->kind == GOMAP_KEY_STR && test_rand_below(&p->rng, 50) == 0)
            id = MAX_IDS;
        else if (id >= MAX_IDS)
            id %= MAX_IDS;
        put_key(p, keybuf + i * kb, id);
    }
    size_t want = 0;
    bool want_found[MAX_BATCH];
    for (size_t i = 0; i < n; i++) {
        want_found[i] = get_one(p, keybuf + i * kb, want_vals + i * vs);
        want += want_found[i];
    }
    memset(got_vals, 0xA5, sizeof got_vals);
    memset(got_found, 1, sizeof got_found);
    size_t got = get_many(p, keybuf, n, mode == 1 ? NULL : got_vals, mode == 2 ? NULL : got_found);
    CHECK_MSG(got == want, "%s %s n=%zu: %zu found in a batch, %zu singly", p->cfg->name,
              p->sync ? "sync" : "shard", n, got, want);
    for (size_t i = 0; i < n; i++) {
        if (mode != 2)
            CHECK_MSG(got_found[i] == want_found[i], "%s key %zu of %zu", p->cfg->name, i, n);
        if (mode != 1)
            CHECK_MSG(memcmp(got_vals + i * vs, want_vals + i * vs, vs) == 0,
                      "%s key %zu of %zu: value differs", p->cfg->name, i, n);
    }
    if (mode != 1)
        CHECK_MSG(got_vals[n * vs] == 0xA5, "%s %s n=%zu: written past the batch", p->cfg->name,
                  p->sync ? "sync" : "shard", n);
    check_counters(p);
}

static const size_t lengths[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 40, 255, 256, 257, 600};
#define NLENGTHS (sizeof lengths / sizeof lengths[0])

/* Writes (mostly inserts of new ids, so the maps grow from empty; some
 * overwrites and deletes), with a batch check after every few. */
static void run_pair(pair *p)
{
    uint64_t ids = 0, version = 0;
    for (unsigned step = 0; step < 400 / WORK_DIV; step++) {
        unsigned writes = 1 + (unsigned)test_rand_below(&p->rng, 12);
        for (unsigned w = 0; w < writes; w++) {
            uint64_t r = test_rand_below(&p->rng, 10);
            if (r < 6 && ids < MAX_IDS)
                set_both(p, ids++, version++);
            else if (r < 8 && ids)
                set_both(p, test_rand_below(&p->rng, ids), version++);
            else if (ids)
                delete_both(p, test_rand_below(&p->rng, ids));
        }
        size_t n = lengths[test_rand_below(&p->rng, NLENGTHS)];
        check_batch(p, n, ids ? ids : 1, (int)test_rand_below(&p->rng, 3));
    }
}

static void test_model(void)
{
    uint64_t seed = test_seed();
    static pair p;
    for (size_t k = 0; k < NKINDS; k++) {
        for (int variant = 0; variant < 3; variant++) {
            /* 0: sharded, 1 shard; 1: sharded, 4 shards; 2: sync */
            p.cfg = &kinds[k];
            p.sync = variant == 2;
            p.rng = seed ^ (k * 0x100 + (uint64_t)variant);
            unsigned shards = variant == 0 ? 1 : 4;
            p.a = map_new(p.cfg, p.sync, shards);
            p.b = map_new(p.cfg, p.sync, shards);
            printf("  %s %s\n", p.cfg->name, p.sync ? "sync" : shards == 1 ? "shard-1" : "shard-4");
            run_pair(&p);
            map_free(&p, p.a);
            map_free(&p, p.b);
        }
    }
}

static void test_args(void)
{
    gomap_options o = options(&kinds[1]);
    gomap_shard_options so = {.map = o, .shards = 2};
    gomap_shard_t *sm;
    gomap_sync_t *ym;
    CHECK_EQ(gomap_shard_new(&sm, &so), 0);
    CHECK_EQ(gomap_sync_new(&ym, &o), 0);
    uint64_t keys[3] = {1, 2, 3}, vals[3] = {9, 9, 9}, v = 7;
    bool found[3] = {true, true, true};
    CHECK_EQ(gomap_shard_set(sm, &keys[1], &v), 0);
    CHECK_EQ(gomap_sync_store(ym, &keys[1], &v), 0);

    /* n == 0: nothing touched. */
    CHECK_EQ(gomap_shard_get_many(sm, keys, 0, vals, found), 0);
    CHECK_EQ(gomap_sync_load_many(ym, keys, 0, vals, found), 0);
    CHECK(vals[0] == 9 && found[0]);
    /* NULL map: flags false, values untouched (their size is unknown). */
    CHECK_EQ(gomap_shard_get_many(NULL, keys, 3, vals, found), 0);
    CHECK(!found[0] && !found[1] && !found[2] && vals[0] == 9);
    found[0] = true;
    CHECK_EQ(gomap_sync_load_many(NULL, keys, 3, vals, found), 0);
    CHECK(!found[0] && vals[0] == 9);
    /* NULL keys: every key absent, values zero. */
    found[1] = true;
    CHECK_EQ(gomap_shard_get_many(sm, NULL, 3, vals, found), 0);
    CHECK(!found[1] && vals[0] == 0 && vals[2] == 0);
    vals[1] = 9;
    found[1] = true;
    CHECK_EQ(gomap_sync_load_many(ym, NULL, 3, vals, found), 0);
    CHECK(!found[1] && vals[1] == 0);
    /* NULL vals_out, NULL found_out: the count alone. */
    CHECK_EQ(gomap_shard_get_many(sm, keys, 3, NULL, NULL), 1);
    CHECK_EQ(gomap_sync_load_many(ym, keys, 3, NULL, NULL), 1);
    CHECK_EQ(gomap_shard_get_many(sm, keys, 3, vals, NULL), 1);
    CHECK(vals[0] == 0 && vals[1] == 7 && vals[2] == 0);
    gomap_shard_free(sm);
    gomap_sync_free(ym);
}

typedef struct {
    gomap_sync_t *m;
    int calls;
} range_ctx;

static bool load_many_inside(const void *key, const void *val, void *ctx)
{
    (void)val;
    range_ctx *c = ctx;
    uint64_t keys[3] = {*(const uint64_t *)key, 1000, *(const uint64_t *)key}, vals[3];
    bool found[3];
    CHECK_EQ(gomap_sync_load_many(c->m, keys, 3, vals, found), 2);
    CHECK(found[0] && !found[1] && found[2]);
    CHECK(vals[0] == keys[0] * 3 && vals[1] == 0 && vals[2] == keys[0] * 3);
    c->calls++;
    return true;
}

static void test_in_range(void)
{
    gomap_options o = options(&kinds[1]);
    gomap_sync_t *m;
    CHECK_EQ(gomap_sync_new(&m, &o), 0);
    for (uint64_t k = 0; k < 100; k++) {
        uint64_t v = k * 3;
        CHECK_EQ(gomap_sync_store(m, &k, &v), 0);
    }
    range_ctx c = {m, 0};
    gomap_sync_range(m, load_many_inside, &c);
    CHECK_EQ(c.calls, 100);
    gomap_sync_free(m);
}

int main(void)
{
    RUN(test_args);
    RUN(test_in_range);
    RUN(test_model);
    printf("ok\n");
    return 0;
}

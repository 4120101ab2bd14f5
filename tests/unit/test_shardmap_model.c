/*
 * test_shardmap_model.c — seeded random operation sequences on a sharded map
 * (gomap/shardmap.h), step by step against the reference map (refmap.h).
 *
 * Each step picks an operation — get, set, delete, load_or_store, compute
 * (insert or modify, delete, keep, compare-and-swap, compare-and-delete,
 * abandon with a random nonzero value, sometimes after changing *val and
 * *present), visit (adds to the value in place), range (whole, or stopped
 * early), len, snapshot, and now and then clear — on a key drawn from a key
 * space that changes size between phases (a few keys: constant overwrites
 * and deletes; hundreds: the shards' maps grow). Every answer is compared
 * with the reference's: found or not, the value (zero-filled misses), what
 * the compute callback was shown (present, the value or zeros), how often it
 * ran, what compute returned. After every step gomap_shard_validate must
 * pass; every SNAPSHOT step and every 32nd step compare the whole map (a
 * snapshot with lookups, and len).
 *
 * Runs: 1, 16 and 256 shards; uint64_t keys under the three hash variants of
 * hashvariant.h (builtin; degenerate and truncated hashes put every key in
 * one shard and, inside it, in one bucket chain or a few), and string keys.
 * Seed: test_seed() (GOMAP_TEST_SEED reproduces a run; a failure names the
 * run, step, operation and key).
 */
#include "check.h"
#include "hashvariant.h"
#include "refmap.h"
#include "shardcheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* 256 and more shards (see shardcheck.h). */
SHARDCHECK_MANY_SHARDS

enum { STEPS = 6000 / WORK_DIV, FULL_EVERY = 32 };

typedef struct {
    uint64_t id, stamp;
} val16;

enum op_kind {
    OP_GET, OP_SET, OP_DELETE, OP_LOAD_OR_STORE, OP_COMPUTE_PUT, OP_COMPUTE_DELETE,
    OP_COMPUTE_KEEP, OP_COMPUTE_CAS, OP_COMPUTE_CAD, OP_COMPUTE_ABANDON, OP_VISIT, OP_RANGE,
    OP_RANGE_STOP, OP_LEN, OP_SNAPSHOT, OP_CLEAR, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "get", "set", "delete", "load_or_store", "compute(put)", "compute(delete)",
    "compute(keep)", "compute(cas)", "compute(cad)", "compute(abandon)", "visit", "range",
    "range(stop early)", "len", "snapshot", "clear",
};

static const unsigned weights[OP_COUNT] = {
    160, 120, 70, 70, 70, 40, 20, 40, 30, 40, 50, 6, 6, 20, 10, 1,
};

typedef struct {
    gomap_shard_t *m;
    refmap *ref;
    bool strings;
    uint64_t rng;
    uint64_t keys;          /* key space of the current phase */
    size_t step;
    int op;
    uint64_t ki;
    char label[96];
    /* key buffers */
    uint64_t u;
    gomap_str s;
    char text[40];
} model;

#define MCHECK(md, cond, ...) \
    do { if (!(cond)) { char d_[600], c_[400], k_[64]; snprintf(c_, sizeof c_, __VA_ARGS__); \
         refmap_format_key((md)->ref, key_of(md, (md)->ki), k_, sizeof k_); \
         snprintf(d_, sizeof d_, "%s, step %zu, op %s, key %s: %s", (md)->label, (md)->step, \
                  op_names[(md)->op], k_, c_); \
         check_fail(__FILE__, __LINE__, #cond, d_); } } while (0)

/* Key number i, as the map takes it. */
static const void *key_of(model *md, uint64_t i)
{
    if (!md->strings) {
        md->u = i;
        return &md->u;
    }
    int n = snprintf(md->text, sizeof md->text, "key/%" PRIu64 "/%.*s", i, (int)(i % 17),
                     "abcdefghijklmnopq");
    md->s = (gomap_str){md->text, (size_t)n};
    return &md->s;
}

static bool equal_u64(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

static val16 random_val(model *md)
{
    return (val16){md->ki, test_rand_below(&md->rng, 4)}; /* few values: CAS often matches */
}

static int pick_op(model *md)
{
    unsigned total = 0;
    for (int i = 0; i < OP_COUNT; i++)
        total += weights[i];
    unsigned pick = (unsigned)test_rand_below(&md->rng, total);
    int op = 0;
    while (pick >= weights[op])
        pick -= weights[op++];
    return op;
}

/* A compute step: runs the callback described by c and checks what it was
 * shown and what compute returned; applies the expected effect to the
 * reference. */
static void compute_step(model *md, const void *k, const val16 *cur, shard_cop *c)
{
    val16 seen;
    memset(&seen, 0x6B, sizeof seen);
    c->val_size = sizeof(val16);
    c->seen = &seen;
    int rc = shardcheck_compute(md->m, k, c);
    bool present = cur != NULL;
    MCHECK(md, c->calls == 1, "fn called %d times", c->calls);
    MCHECK(md, c->was_present == present, "fn shown present %d, reference %d", c->was_present,
           present);
    MCHECK(md, present ? memcmp(&seen, cur, sizeof seen) == 0 : c->zeroed,
           "fn shown value {%" PRIu64 ", %" PRIu64 "}", seen.id, seen.stamp);
    cop_mode eff = c->mode;
    if (eff == COP_CAS || eff == COP_CAD) {
        bool match = present && memcmp(cur, c->expect, sizeof *cur) == 0;
        MCHECK(md, c->matched == match, "callback saw match %d, reference %d", c->matched, match);
        eff = match ? (eff == COP_CAS ? COP_PUT : COP_DELETE)
                    : (c->abandon_rc ? COP_ABANDON : COP_KEEP);
    }
    int want_rc = eff == COP_ABANDON ? c->abandon_rc : 0;
    MCHECK(md, rc == want_rc, "compute returned %d, expected %d", rc, want_rc);
    if (eff == COP_PUT)
        refmap_set(md->ref, k, c->val);
    else if (eff == COP_DELETE)
        refmap_delete(md->ref, k);
}

static void add_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    val16 v;
    memcpy(&v, val, sizeof v);
    ++*(int *)ctx;
    v.stamp += 1000;
    memcpy(val, &v, sizeof v);
}

static void check_whole(model *md)
{
    char why[300];
    MCHECK(md, shardcheck_compare(md->m, md->ref, why, sizeof why), "%s", why);
}

static void model_step(model *md)
{
    md->op = pick_op(md);
    md->ki = test_rand_below(&md->rng, md->keys);
    const void *k = key_of(md, md->ki);
    const val16 *curp = refmap_get(md->ref, k);
    val16 cur = curp ? *curp : (val16){0, 0};
    const val16 *had = curp ? &cur : NULL;
    val16 v = random_val(md), out, expect;
    memset(&out, 0x5A, sizeof out);
    bool loaded, found;
    char why[300];
    shard_cop c = {.val = &v};
    switch (md->op) {
    case OP_GET:
        found = gomap_shard_get(md->m, k, &out);
        MCHECK(md, found == (had != NULL), "found %d", found);
        MCHECK(md, memcmp(&out, &cur, sizeof out) == 0, "value {%" PRIu64 ", %" PRIu64 "}",
               out.id, out.stamp);
        break;
    case OP_SET:
        MCHECK(md, gomap_shard_set(md->m, k, &v) == 0, "set failed");
        refmap_set(md->ref, k, &v);
        break;
    case OP_DELETE:
        found = gomap_shard_delete(md->m, k);
        MCHECK(md, found == (had != NULL), "delete returned %d", found);
        refmap_delete(md->ref, k);
        break;
    case OP_LOAD_OR_STORE:
        loaded = !had;
        MCHECK(md, gomap_shard_load_or_store(md->m, k, &v, &out, &loaded) == 0, "failed");
        expect = had ? cur : v;
        MCHECK(md, loaded == (had != NULL) && memcmp(&out, &expect, sizeof out) == 0,
               "loaded %d, actual {%" PRIu64 ", %" PRIu64 "}", loaded, out.id, out.stamp);
        if (!had)
            refmap_set(md->ref, k, &v);
        break;
    case OP_COMPUTE_PUT:
    case OP_COMPUTE_DELETE:
    case OP_COMPUTE_KEEP:
        c.mode = md->op == OP_COMPUTE_PUT ? COP_PUT : md->op == OP_COMPUTE_DELETE ? COP_DELETE
                                                                                   : COP_KEEP;
        compute_step(md, k, had, &c);
        break;
    case OP_COMPUTE_CAS:
    case OP_COMPUTE_CAD:
        /* The current value half of the time (when present), else a random
         * one that may match anyway. */
        expect = had && test_rand_below(&md->rng, 2) ? cur : random_val(md);
        c.mode = md->op == OP_COMPUTE_CAS ? COP_CAS : COP_CAD;
        c.expect = &expect;
        c.abandon_rc = test_rand_below(&md->rng, 2) ? 0 : 1;
        compute_step(md, k, had, &c);
        break;
    case OP_COMPUTE_ABANDON: {
        static const int rcs[] = {-42, 7, 1, -1, -ENOMEM, 1 << 30};
        c.mode = COP_ABANDON;
        c.abandon_rc = rcs[test_rand_below(&md->rng, 6)];
        c.scribble = test_rand_below(&md->rng, 2);
        compute_step(md, k, had, &c);
        break;
    }
    case OP_VISIT: {
        int calls = 0;
        found = gomap_shard_visit(md->m, k, add_visit, &calls);
        MCHECK(md, found == (had != NULL) && calls == (int)found, "visit returned %d, fn ran %d "
               "times", found, calls);
        if (had) {
            cur.stamp += 1000;
            refmap_set_value(md->ref, k, &cur);
        }
        break;
    }
    case OP_RANGE:
    case OP_RANGE_STOP: {
        size_t stop = md->op == OP_RANGE
                          ? 0 : 1 + test_rand_below(&md->rng, refmap_len(md->ref) + 2);
        MCHECK(md, shardcheck_range(md->m, md->ref, stop, why, sizeof why), "%s", why);
        break;
    }
    case OP_LEN:
        MCHECK(md, gomap_shard_len(md->m) == refmap_len(md->ref), "len %zu, reference %zu",
               gomap_shard_len(md->m), refmap_len(md->ref));
        break;
    case OP_SNAPSHOT:
        check_whole(md);
        break;
    case OP_CLEAR:
        /* Rare: a clear on most steps would keep the maps tiny. */
        if (test_rand_below(&md->rng, 8) == 0) {
            gomap_shard_clear(md->m);
            refmap_clear(md->ref);
        }
        break;
    }
    int rc = gomap_shard_validate(md->m, why, sizeof why);
    MCHECK(md, rc == 0, "gomap_shard_validate: %d %s", rc, why);
    if (md->step % FULL_EVERY == 0)
        check_whole(md);
}

static void run(unsigned shards, bool strings, uint64_t seed)
{
    model md;
    memset(&md, 0, sizeof md);
    md.strings = strings;
    md.rng = seed;
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.val_size = sizeof(val16);
    if (strings) {
        o.key_kind = GOMAP_KEY_STR;
        md.ref = refmap_new(GOMAP_KEY_STR, 0, sizeof(val16));
        snprintf(md.label, sizeof md.label, "string keys, %u shards", shards);
    } else {
        hash_variant_keys(&o, hv_current);
        md.ref = o.key_kind == GOMAP_KEY_CUSTOM
                     ? refmap_new_custom(sizeof(uint64_t), sizeof(val16), o.hash, equal_u64)
                     : refmap_new(GOMAP_KEY_U64, 0, sizeof(val16));
        snprintf(md.label, sizeof md.label, "u64 keys, %s hash, %u shards",
                 hash_variant_name(hv_current), shards);
    }
    md.m = shardcheck_new(&o, shards);
    CHECK_EQ(gomap_shard_count(md.m), shards);
    /* Phases: a few keys, hundreds (growth), a few again, hundreds. The
     * degenerate hash makes every lookup walk one chain: fewer keys. */
    uint64_t big = hv_current == HV_DEGENERATE && !strings ? 120 : 700;
    const uint64_t phases[] = {12, big, 40, big};
    size_t most = 0;
    for (md.step = 1; md.step <= STEPS; md.step++) {
        md.keys = phases[(md.step - 1) * 4 / STEPS];
        model_step(&md);
        if (refmap_len(md.ref) > most)
            most = refmap_len(md.ref);
    }
    check_whole(&md);
    CHECK_SHARD_VALID(md.m);
    printf("   %s: %zu steps, at most %zu entries, %zu at the end\n", md.label, (size_t)STEPS,
           most, refmap_len(md.ref));
    gomap_shard_free(md.m);
    refmap_free(md.ref);
}

static const unsigned shard_counts[] = {1, 16, 256};

static void test_u64_keys(void)
{
    uint64_t seed = test_seed() ^ (uint64_t)(hv_current + 1) * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 3; i++)
        run(shard_counts[i], false, seed + (uint64_t)i);
}

static void test_string_keys(void)
{
    uint64_t seed = test_seed() ^ 0x5757575757ull;
    for (int i = 0; i < 3; i++)
        run(shard_counts[i], true, seed + (uint64_t)i);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN_VARIANTS(test_u64_keys);
    hv_current = HV_BUILTIN;
    RUN(test_string_keys);
    printf("ok\n");
    return 0;
}

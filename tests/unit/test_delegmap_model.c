/*
 * test_delegmap_model.c — seeded random operation sequences on a
 * delegation map (gomap/delegmap.h), step by step against the reference
 * map (refmap.h).
 *
 * Each step picks an operation — get, set, delete, compute (put, delete,
 * keep, compare-and-swap, compare-and-delete, abandon with a value of its
 * own), len, or an asynchronous batch of 1 to 40 gets, sets, deletes and
 * computes on random keys (repeated keys included) submitted at once and
 * waited for — on a key drawn from a key space that changes size between
 * phases. Every answer is compared with the reference's: found or not, the
 * value (zero-filled misses), what compute's callback was shown, what it
 * returned; a batch is applied to the reference in submission order (the
 * map keeps a client's order on each key, and one thread's batch on
 * different keys commutes). gomap_deleg_validate runs every VALID_EVERY
 * steps, and the whole map is compared every FULL_EVERY steps and at the
 * end.
 *
 * Runs: combining, 1 and 3 workers; uint64_t keys under the builtin and
 * degenerate hashes (every key in one partition and one bucket chain), and
 * string keys; queue depth 4 (batches longer than the queue wait for room)
 * and 64. Seed: test_seed().
 */
#include "check.h"
#include "delegcheck.h"
#include "hashvariant.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { STEPS = 4000 / WORK_DIV, VALID_EVERY = 64, FULL_EVERY = 256, BATCH_MAX = 40 };

typedef struct {
    uint64_t id, stamp;
} val16;

enum op_kind { OP_GET, OP_SET, OP_DELETE, OP_COMPUTE, OP_LEN, OP_BATCH, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"get", "set", "delete", "compute", "len",
                                               "batch"};
static const unsigned weights[OP_COUNT] = {30, 25, 12, 20, 3, 10};

/* Key number i, as the map takes it: a u64, or a string in one of the
 * caller's buffers (a batch needs many alive at once). */
typedef struct {
    uint64_t u;
    gomap_str s;
    char text[40];
} key_buf;

typedef struct {
    gomap_deleg_t *m;
    refmap *ref;
    bool strings;
    uint64_t rng;
    uint64_t keys;
    size_t step;
    int op;
    char label[96];
} model;

#define MCHECK(md, cond, ...) \
    do { if (!(cond)) { char d_[600], c_[400]; snprintf(c_, sizeof c_, __VA_ARGS__); \
         snprintf(d_, sizeof d_, "%s, step %zu, op %s: %s", (md)->label, (md)->step, \
                  op_names[(md)->op], c_); \
         check_fail(__FILE__, __LINE__, #cond, d_); } } while (0)

static const void *key_of(const model *md, key_buf *kb, uint64_t i)
{
    if (!md->strings) {
        kb->u = i;
        return &kb->u;
    }
    int n = snprintf(kb->text, sizeof kb->text, "key/%" PRIu64 "/%.*s", i, (int)(i % 17),
                     "abcdefghijklmnopq");
    kb->s = (gomap_str){kb->text, (size_t)n};
    return &kb->s;
}

static int pick(uint64_t *rng, const unsigned *w, int n)
{
    unsigned total = 0;
    for (int i = 0; i < n; i++)
        total += w[i];
    unsigned p = (unsigned)test_rand_below(rng, total);
    int k = 0;
    while (p >= w[k])
        p -= w[k++];
    return k;
}

static void check_get(model *md, const void *k, bool found, const val16 *got)
{
    const val16 *want = refmap_get(md->ref, k);
    MCHECK(md, found == (want != NULL), "found %d, reference %d", found, want != NULL);
    val16 zero = {0, 0};
    MCHECK(md, memcmp(got, want ? want : &zero, sizeof *got) == 0, "value differs");
}

/* A compute step with one of shardcheck.h's callback descriptions. */
static void compute_step(model *md, const void *k)
{
    static const cop_mode modes[] = {COP_PUT, COP_DELETE, COP_KEEP, COP_CAS, COP_CAD,
                                     COP_ABANDON};
    val16 put = {md->step, test_rand_below(&md->rng, 3)}, expect = {0, 0}, seen;
    const val16 *cur = refmap_get(md->ref, k);
    expect = cur && test_rand_below(&md->rng, 2) ? *cur : (val16){md->step, 1};
    shard_cop c = {.mode = modes[test_rand_below(&md->rng, 6)], .val_size = sizeof(val16),
                   .val = &put, .expect = &expect, .seen = &seen,
                   .abandon_rc = test_rand_below(&md->rng, 2) ? 7 : 0,
                   .scribble = test_rand_below(&md->rng, 2)};
    if (c.mode == COP_ABANDON && !c.abandon_rc)
        c.abandon_rc = 3;
    int rc = delegcheck_compute(md->m, k, &c);
    MCHECK(md, c.calls == 1, "callback ran %d times", c.calls);
    MCHECK(md, c.was_present == (cur != NULL), "callback shown present %d", c.was_present);
    MCHECK(md, cur ? memcmp(&seen, cur, sizeof seen) == 0 : c.zeroed, "callback shown a wrong value");
    bool matched = cur && memcmp(cur, &expect, sizeof expect) == 0;
    cop_mode eff = c.mode;
    if (eff == COP_CAS || eff == COP_CAD)
        eff = matched ? (eff == COP_CAS ? COP_PUT : COP_DELETE)
                      : (c.abandon_rc ? COP_ABANDON : COP_KEEP);
    MCHECK(md, rc == (eff == COP_ABANDON ? c.abandon_rc : 0), "compute returned %d", rc);
    if (eff == COP_PUT)
        refmap_set(md->ref, k, &put);
    else if (eff == COP_DELETE)
        refmap_delete(md->ref, k);
}

/* A batch of random operations, submitted at once, applied to the
 * reference in order. */
static void batch_step(model *md)
{
    static key_buf kbs[BATCH_MAX];
    static val16 vals[BATCH_MAX];
    static gomap_deleg_op ops[BATCH_MAX];
    static const unsigned bw[] = {40, 30, 15, 15};
    size_t n = 1 + test_rand_below(&md->rng, BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        int kind = pick(&md->rng, bw, 4);
        const void *k = key_of(md, &kbs[i], test_rand_below(&md->rng, md->keys));
        vals[i] = (val16){md->step * 100 + i, i};
        ops[i] = (gomap_deleg_op){.kind = kind, .key = k, .val = &vals[i]};
        if (kind == GOMAP_DELEG_COMPUTE) {
            ops[i].fn = shardcheck_cop_fn;
            ops[i].val = NULL;
        }
    }
    /* Computes put vals[i]: their descriptions live beside the values. */
    static shard_cop cops[BATCH_MAX];
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind != GOMAP_DELEG_COMPUTE)
            continue;
        cops[i] = (shard_cop){.mode = COP_PUT, .val_size = sizeof(val16), .val = &vals[i]};
        ops[i].ctx = &cops[i];
    }
    MCHECK(md, gomap_deleg_submit(md->m, ops, n, 0) == (int)n, "not every operation posted");
    MCHECK(md, gomap_deleg_wait(md->m, ops, n) == 0, "wait failed");
    MCHECK(md, gomap_deleg_poll(md->m, ops, n) == (long)n, "poll: not all complete");
    for (size_t i = 0; i < n; i++) {
        const gomap_deleg_op *op = &ops[i];
        MCHECK(md, op->status == 0, "op %zu: status %d", i, op->status);
        bool had = refmap_get(md->ref, op->key) != NULL;
        switch (op->kind) {
        case GOMAP_DELEG_GET: check_get(md, op->key, op->result == 1, &vals[i]); break;
        case GOMAP_DELEG_SET:
            MCHECK(md, op->result == 0, "set: %d", op->result);
            refmap_set(md->ref, op->key, &vals[i]);
            break;
        case GOMAP_DELEG_DELETE:
            MCHECK(md, op->result == had, "delete: %d, reference had it: %d", op->result, had);
            refmap_delete(md->ref, op->key);
            break;
        default:
            MCHECK(md, op->result == 0 && cops[i].calls == 1 && cops[i].was_present == had,
                   "compute: %d, %d calls", op->result, cops[i].calls);
            refmap_set(md->ref, op->key, &vals[i]);
            break;
        }
    }
}

static void one_step(model *md)
{
    key_buf kb;
    const void *k = key_of(md, &kb, test_rand_below(&md->rng, md->keys));
    val16 v = {md->step, test_rand_below(&md->rng, 3)}, got;
    md->op = pick(&md->rng, weights, OP_COUNT);
    switch (md->op) {
    case OP_GET: {
        memset(&got, 0x5A, sizeof got);
        bool found = gomap_deleg_get(md->m, k, &got);
        check_get(md, k, found, &got);
        break;
    }
    case OP_SET:
        MCHECK(md, gomap_deleg_set(md->m, k, &v) == 0, "set failed");
        refmap_set(md->ref, k, &v);
        break;
    case OP_DELETE: {
        bool had = refmap_delete(md->ref, k);
        MCHECK(md, gomap_deleg_delete(md->m, k) == had, "delete: reference had it: %d", had);
        break;
    }
    case OP_COMPUTE: compute_step(md, k); break;
    case OP_LEN:
        MCHECK(md, gomap_deleg_len(md->m) == refmap_len(md->ref), "len %zu, reference %zu",
               gomap_deleg_len(md->m), refmap_len(md->ref));
        break;
    default: batch_step(md); break;
    }
}

static void run(unsigned workers, int variant, bool strings, unsigned depth, uint64_t salt)
{
    model md;
    memset(&md, 0, sizeof md);
    md.strings = strings;
    md.rng = test_seed() ^ salt;
    gomap_options o = shardcheck_u64_options(sizeof(val16));
    if (strings)
        o.key_kind = GOMAP_KEY_STR;
    else
        hash_variant_keys(&o, variant);
    md.m = delegcheck_new(&o, workers, depth);
    md.ref = refmap_new(strings ? GOMAP_KEY_STR : GOMAP_KEY_U64, 0, sizeof(val16));
    snprintf(md.label, sizeof md.label, "%s, %s keys, depth %u", delegcheck_mode_name(workers),
             strings ? "string" : hash_variant_name(variant), depth);
    static const uint64_t spaces[] = {4, 300, 40, 1500};
    for (md.step = 0; md.step < STEPS; md.step++) {
        md.keys = spaces[(md.step * 4 / STEPS) % 4];
        one_step(&md);
        if (md.step % VALID_EVERY == 0)
            CHECK_DELEG_VALID(md.m);
        if (md.step % FULL_EVERY == FULL_EVERY - 1 || md.step == STEPS - 1) {
            char why[300];
            CHECK_MSG(delegcheck_compare(md.m, md.ref, why, sizeof why), "%s, step %zu: %s",
                      md.label, md.step, why);
        }
    }
    CHECK_DELEG_VALID(md.m);
    gomap_deleg_stats_t st = delegcheck_stats(md.m);
    CHECK(st.ops > STEPS / 2 && st.full_waiting == 0 && st.refused == 0);
    printf("   %s: %zu steps, %llu operations served in %llu batches\n", md.label, md.step,
           (unsigned long long)st.ops, (unsigned long long)st.batches);
    gomap_deleg_free(md.m);
    refmap_free(md.ref);
}

static void test_model(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++) {
        unsigned w = delegcheck_modes[i];
        run(w, HV_BUILTIN, false, 4, 0x100u + w);
        run(w, HV_DEGENERATE, false, 64, 0x200u + w);
        run(w, HV_BUILTIN, true, 4, 0x300u + w);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_model);
    printf("ok\n");
    return 0;
}

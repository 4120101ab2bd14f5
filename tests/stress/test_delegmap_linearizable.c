/*
 * test_delegmap_linearizable.c — every operation of the delegation map is
 * linearizable (gomap/delegmap.h, "Ordering"), synchronous or submitted.
 *
 * Short random histories on a fresh map each: 2, 3 or 4 threads released
 * together, each doing 10-30 operations on 2-6 keys with values 0-2. The
 * operations, as tests/support/lincheck sees them:
 *   load, store, delete   gomap_deleg_get, _set, _delete
 *   swap, load_and_delete, compare_and_swap, compare_and_delete
 *                         gomap_deleg_compute callbacks (shardcheck.h's)
 *   len                   gomap_deleg_len (one partition only: with
 *                         several it is exact only when quiet)
 * and, in the asynchronous runs, every operation is submitted with
 * gomap_deleg_submit in a batch with two unrecorded gets of other keys and
 * waited for with gomap_deleg_wait (or polled to completion): each
 * operation of a batch must be linearizable on its own. Histories start
 * from a few stores by the main thread; afterwards every key is loaded
 * and gomap_deleg_validate must pass.
 *
 * Runs: combining, 1 worker and 3 workers (keys spread over partitions),
 * synchronous and asynchronous. GOMAP_TEST_SEED reproduces the operations,
 * not the interleavings; a violation prints the minimal history.
 */
#include "check.h"
#include "delegcheck.h"
#include "hashvariant.h"
#include "lincheck.h"

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum { HISTORIES = 600 / WORK_DIV, MAX_SETUP = LC_MAX_KEYS };

static bool async_mode; /* set per run, before any thread starts */

/* Runs op through submit (with two unrecorded gets of neighbouring keys)
 * and wait or poll; returns its result. */
static int via_batch(gomap_deleg_t *m, gomap_deleg_op *op, uint64_t k)
{
    uint64_t k1 = (k + 1) % LC_MAX_KEYS, k2 = (k + 2) % LC_MAX_KEYS, v1, v2;
    gomap_deleg_op ops[3] = {
        {.kind = GOMAP_DELEG_GET, .key = lincheck_key(k1), .val = &v1},
        *op,
        {.kind = GOMAP_DELEG_GET, .key = lincheck_key(k2), .val = &v2},
    };
    CHECK_EQ(gomap_deleg_submit(m, ops, 3, 0), 3);
    if (k & 1) {
        CHECK_EQ(gomap_deleg_wait(m, ops, 3), 0);
    } else {
        while (gomap_deleg_poll(m, ops, 3) != 3)
            sched_yield();
    }
    CHECK_EQ(ops[1].status, 0);
    *op = ops[1];
    return op->result;
}

static bool dl_load(void *m, uint64_t k, uint64_t *val)
{
    bool found;
    *val = 77;
    if (async_mode) {
        gomap_deleg_op op = {.kind = GOMAP_DELEG_GET, .key = lincheck_key(k), .val = val};
        found = via_batch(m, &op, k) == 1;
    } else {
        found = gomap_deleg_get(m, lincheck_key(k), val);
    }
    CHECK_MSG(found || *val == 0, "get of an absent key gave %" PRIu64, *val);
    return found;
}

static void dl_store(void *m, uint64_t k, uint64_t val)
{
    if (async_mode) {
        gomap_deleg_op op = {.kind = GOMAP_DELEG_SET, .key = lincheck_key(k), .val = &val};
        CHECK_EQ(via_batch(m, &op, k), 0);
    } else {
        CHECK_EQ(gomap_deleg_set(m, lincheck_key(k), &val), 0);
    }
}

static void dl_delete(void *m, uint64_t k)
{
    if (async_mode) {
        gomap_deleg_op op = {.kind = GOMAP_DELEG_DELETE, .key = lincheck_key(k)};
        (void)via_batch(m, &op, k);
    } else {
        (void)gomap_deleg_delete(m, lincheck_key(k));
    }
}

static int dl_compute(void *m, uint64_t k, shard_cop *c)
{
    if (!async_mode)
        return delegcheck_compute(m, lincheck_key(k), c);
    c->calls = 0;
    gomap_deleg_op op = {.kind = GOMAP_DELEG_COMPUTE, .key = lincheck_key(k),
                         .fn = shardcheck_cop_fn, .ctx = c};
    return via_batch(m, &op, k);
}

static bool dl_replace(void *m, uint64_t k, cop_mode mode, uint64_t val, uint64_t *prev)
{
    shard_cop op = {.mode = mode, .val = &val, .val_size = 8, .seen = prev};
    CHECK_EQ(dl_compute(m, k, &op), 0);
    CHECK_EQ(op.calls, 1);
    CHECK_MSG(op.was_present || (op.zeroed && *prev == 0), "compute showed an absent key's "
              "value as %" PRIu64, *prev);
    return op.was_present;
}

static bool dl_swap(void *m, uint64_t k, uint64_t val, uint64_t *prev)
{
    return dl_replace(m, k, COP_PUT, val, prev);
}

static bool dl_load_and_delete(void *m, uint64_t k, uint64_t *val)
{
    return dl_replace(m, k, COP_DELETE, 0, val);
}

static bool dl_compare(void *m, uint64_t k, cop_mode mode, uint64_t old, uint64_t new_val)
{
    shard_cop op = {.mode = mode, .val = &new_val, .expect = &old, .val_size = 8,
                    .abandon_rc = (int)(old & 1)};
    int rc = dl_compute(m, k, &op);
    CHECK_MSG(rc == (op.matched ? 0 : op.abandon_rc), "compute returned %d (matched %d)", rc,
              op.matched);
    return op.matched;
}

static bool dl_compare_and_swap(void *m, uint64_t k, uint64_t old, uint64_t new_val)
{
    return dl_compare(m, k, COP_CAS, old, new_val);
}

static bool dl_compare_and_delete(void *m, uint64_t k, uint64_t old)
{
    return dl_compare(m, k, COP_CAD, old, 0);
}

static size_t dl_len(void *m) { return gomap_deleg_len(m); }

static const lc_adapter deleg_adapter = {
    .name = "gomap_deleg",
    .load = dl_load,
    .store = dl_store,
    .swap = dl_swap,
    .load_and_delete = dl_load_and_delete,
    .del = dl_delete,
    .compare_and_swap = dl_compare_and_swap,
    .compare_and_delete = dl_compare_and_delete,
    .len = dl_len,
};

/* load, store, swap, load_or_store, load_and_delete, delete, cas, cad,
 * clear, len, snapshot; len only where it is linearizable. */
static const unsigned weights_len[LC_KIND_COUNT] = {8, 6, 4, 0, 4, 4, 6, 4, 0, 4, 0};
static const unsigned weights_no_len[LC_KIND_COUNT] = {8, 6, 4, 0, 4, 4, 6, 4, 0, 0, 0};

static void run_config(unsigned workers, bool async, uint64_t salt)
{
    static const unsigned pauses[] = {0, 30, 100, 300};
    async_mode = async;
    uint64_t rng = test_seed() ^ salt;
    size_t ops = 0, overlapping = 0;
    for (int i = 0; i < HISTORIES; i++) {
        lc_op setup[MAX_SETUP];
        lc_config cfg = {
            .threads = 2 + (unsigned)(i % 3),
            .nkeys = 2 + (unsigned)test_rand_below(&rng, 5),
            .ops_per_thread = 10 + (unsigned)test_rand_below(&rng, 21),
            .nvalues = 3,
            .weights = workers > 1 ? weights_no_len : weights_len,
            .final_loads = true,
            .pause = pauses[test_rand_below(&rng, 4)],
            .seed = test_rand(&rng),
            .report = stderr,
        };
        size_t n = 0;
        for (unsigned k = 0; k < cfg.nkeys; k++)
            if (test_rand_below(&rng, 2))
                setup[n++] = (lc_op){.kind = LC_STORE, .key = k, .arg = test_rand_below(&rng, 3)};
        cfg.setup = setup;
        cfg.nsetup = n;
        gomap_deleg_t *m = delegcheck_new_u64(HV_BUILTIN, 8, workers, 4);
        lc_outcome out = lincheck_run(&deleg_adapter, m, &cfg);
        CHECK_MSG(out.verdict == LC_OK, "%s, %s, history %d, seed %" PRIu64 ": %s",
                  delegcheck_mode_name(workers), async ? "asynchronous" : "synchronous", i,
                  cfg.seed, out.verdict == LC_VIOLATION ? "not linearizable" : "invalid");
        CHECK_DELEG_VALID(m);
        gomap_deleg_free(m);
        ops += out.ops;
        overlapping += out.overlapping;
    }
    printf("   %s, %s: %d histories, %zu operations, %zu overlapping: all linearizable\n",
           delegcheck_mode_name(workers), async ? "asynchronous" : "synchronous", HISTORIES, ops,
           overlapping);
    CHECK(overlapping > 0);
}

static void test_sync(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++)
        run_config(delegcheck_modes[i], false, 0x51 + (uint64_t)i);
}

static void test_async(void)
{
    for (int i = 0; i < DELEGCHECK_NMODES; i++)
        run_config(delegcheck_modes[i], true, 0xA5 + (uint64_t)i);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_sync);
    RUN(test_async);
    printf("ok\n");
    return 0;
}

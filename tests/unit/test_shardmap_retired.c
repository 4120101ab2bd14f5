/*
 * test_shardmap_retired.c — the bucket arrays a sharded map's shards
 * outgrow, with lock-free gets (shardmap.c, "retired batches").
 *
 * A shard's writes never wait for a grace period: a write hands the arrays
 * its map outgrew to RCU as a batch, and a later write, once the batch's
 * grace period is over, gives them to the map to free. What is checked,
 * through a counting allocator (never a time):
 *
 * - later writes give the arrays back: after gomap_rcu_barrier (the
 *   batch's callback has run) a few overwrites, which allocate nothing,
 *   leave the shard holding about what a fresh copy of its entries holds
 *   (the arrays it outgrew add up to about as much as its live one);
 * - gomap_shard_free with a batch in flight gives every block back at once;
 * - gomap_shard_free from inside another map's callback, where it must not
 *   wait, leaves the batch and the map to the reclaimer: every block is
 *   back after gomap_rcu_barrier;
 * - a batch that cannot be allocated leaves the arrays with the map, every
 *   write still succeeds, and a later write hands them over.
 *
 * ThreadSanitizer builds have no lock-free gets (no batches; arrays are
 * freed when growth ends): the same checks hold there.
 */
#include "check.h"
#include "fail_alloc.h"
#include "hashvariant.h"
#include "shardcheck.h"

#include <gomap/diag.h>
#include <gomap/reclaim.h>

#include <errno.h>

#include <stdint.h>
#include <stdio.h>

enum { KEYS = 20000 };

static gomap_shard_t *new_one_shard(fail_alloc *fa)
{
    fail_alloc_init(fa);
    gomap_options o = shardcheck_u64_options(8);
    o.alloc = &fa->iface;
    return shardcheck_new(&o, 1);
}

static void set_key(gomap_shard_t *m, uint64_t k)
{
    uint64_t v = k * 3;
    CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
}

/* Grows the one shard through several doublings past 64 KiB arrays. */
static void fill(gomap_shard_t *m)
{
    for (uint64_t k = 0; k < KEYS; k++)
        set_key(m, k);
}

static void check_all(gomap_shard_t *m)
{
    for (uint64_t k = 0; k < KEYS; k++) {
        uint64_t v = 0;
        CHECK(gomap_shard_get(m, &k, &v));
        CHECK_EQ(v, k * 3);
    }
}

/* The shard holds no more than 1.25 x what a copy of its entries does:
 * what it outgrew has been given back. */
static void check_given_back(gomap_shard_t *m)
{
    gomap_t *copy = NULL;
    CHECK_EQ(gomap_shard_snapshot(m, &copy), 0);
    gomap_stats_t cs;
    CHECK_EQ(gomap_stats(copy, &cs), 0);
    gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0);
    CHECK_MSG(st.total.bytes_held * 4 <= cs.bytes_held * 5,
              "the shard holds %zu bytes, a copy of its entries %zu", st.total.bytes_held,
              cs.bytes_held);
    gomap_free(copy);
}

static void overwrite_some(gomap_shard_t *m, unsigned n)
{
    for (uint64_t k = 0; k < n; k++)
        set_key(m, k);
}

/* One batch is in flight at a time: the batch the last growths left may
 * still wait for its grace period while newer arrays wait on the map. Two
 * rounds of "a write (hands over what is ready, starts the next batch),
 * then every callback" leave everything with the map, and 64 writes give
 * it back. */
static void settle(gomap_shard_t *m)
{
    for (int round = 0; round < 2; round++) {
        overwrite_some(m, 1);
        gomap_rcu_barrier();
    }
    overwrite_some(m, 64);
}

/* Settles m, checks that it gave back what it outgrew and still holds
 * every key, frees it, and checks that every block came back. */
static void settle_check_free(gomap_shard_t *m, const fail_alloc *fa)
{
    settle(m);
    check_given_back(m);
    check_all(m);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
    CHECK_EQ(fa->live_blocks, 0);
    CHECK_EQ(fa->live_bytes, 0);
}

static void test_later_writes_give_back(void)
{
    fail_alloc fa;
    gomap_shard_t *m = new_one_shard(&fa);
    fill(m);
    settle_check_free(m, &fa);
}

static void test_free_with_batch_in_flight(void)
{
    fail_alloc fa;
    gomap_shard_t *m = new_one_shard(&fa);
    fill(m);
    gomap_shard_free(m); /* a batch may be waiting: freed at once anyway */
    CHECK_EQ(fa.live_blocks, 0);
    CHECK_EQ(fa.live_bytes, 0);
}

static int free_other(const void *key, void *val, bool *present, void *ctx)
{
    (void)key, (void)val;
    *present = true;
    gomap_shard_free(ctx);
    return 0;
}

static void test_free_inside_callback(void)
{
    fail_alloc fa;
    gomap_shard_t *m = new_one_shard(&fa);
    fill(m);
    gomap_shard_t *other = shardcheck_new_u64(HV_BUILTIN, 8, 1);
    uint64_t k = 1;
    CHECK_EQ(gomap_shard_compute(other, &k, free_other, m), 0);
    gomap_rcu_barrier(); /* the reclaimer's share, if it had one */
    CHECK_EQ(fa.live_blocks, 0);
    CHECK_EQ(fa.live_bytes, 0);
    gomap_shard_free(other);
}

static void test_batch_refused(void)
{
    fail_alloc fa;
    gomap_shard_t *m = new_one_shard(&fa);
    /* Refuse everything from the last inserts on: growth itself may be
     * refused (a set then reports -ENOMEM, the map unchanged), and so is
     * every batch. */
    for (uint64_t k = 0; k < KEYS; k++) {
        if (k == KEYS - KEYS / 8)
            fa.fail_all = 1;
        uint64_t v = k * 3;
        int rc = gomap_shard_set(m, &k, &v);
        CHECK(rc == 0 || rc == -ENOMEM);
        if (rc == -ENOMEM) {
            fa.fail_all = 0;
            CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
            fa.fail_all = 1;
        }
    }
    overwrite_some(m, 64); /* allocate nothing: succeed though refused */
    fa.fail_all = 0;
    settle_check_free(m, &fa);
}

int main(void)
{
    RUN(test_later_writes_give_back);
    RUN(test_free_with_batch_in_flight);
    RUN(test_free_inside_callback);
    RUN(test_batch_refused);
    printf("test_shardmap_retired: ok\n");
    return 0;
}

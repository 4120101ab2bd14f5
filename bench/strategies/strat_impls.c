/*
 * strat_impls.c — the in-process gomap contenders of the strategies matrix,
 * all on uint64 keys and 8-byte values, and the single-thread reference:
 *
 *   shard      gomap_shard_t, shards auto (4 x CPUs, at least 16);
 *              update = gomap_shard_compute (+1 under the shard's lock)
 *   shard-1    gomap_shard_t with one shard: one lock around one map
 *   shard-auto gomap_shard_t created with one shard and auto_resize: it
 *              doubles its shards while its locks are contended
 *   snap       gomap_snap_t; update = gomap_snap_update (read + 1 in the
 *              copy); every write copies the map, so it is capped
 *   sync       gomap_sync_t; update = load, then compare-and-swap until it
 *              lands (load-or-store of 1 for an absent key)
 *   shard-batch, sync-batch
 *              shard and sync with each run of up to 32 consecutive gets
 *              answered by one gomap_shard_get_many / gomap_sync_load_many
 *              (strat_batch.h)
 *   reference  a core gomap_t with no lock, run on one thread only
 *
 * The delegation map's four are in strat_deleg.c, tbb in peers/peer_tbb.cc,
 * cds_lfht in strat_lfht.c; go-sync, go-rwmutex and go-chanpool in the Go
 * peer. Every map takes the allocator create() is given (the matrix's
 * counting one, memcount.h), so its bytes are counted exactly.
 */
#include <errno.h>
#include <string.h>

#include <gomap.h>
#include <gomap/shardmap.h>
#include <gomap/snapmap.h>
#include <gomap/syncmap.h>

#include "common/compute_add_one.h"
#include "strategies/strat_batch.h"
#include "strategies/strat_workloads.h"

/* uint64 keys, 8-byte values, sized for hint keys, memory from alloc
 * (NULL: malloc/free). */
static gomap_options u64_options(size_t hint, const gomap_allocator *alloc)
{
    return (gomap_options){.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t), .hint = hint,
                           .alloc = alloc};
}

/* ---- shard, shard-1 ----------------------------------------------------------- */

static void *shard_create_n(unsigned shards, bool auto_resize, size_t hint,
                            const gomap_allocator *alloc)
{
    gomap_shard_options o = {.map = u64_options(hint, alloc), .shards = shards,
                             .auto_resize = auto_resize};
    gomap_shard_t *m;
    return gomap_shard_new(&m, &o) == 0 ? m : NULL;
}

static void *shard_create(size_t hint, const gomap_allocator *alloc)
{
    return shard_create_n(0, false, hint, alloc);
}

static void *shard1_create(size_t hint, const gomap_allocator *alloc)
{
    return shard_create_n(1, false, hint, alloc);
}

static void *shard_auto_create(size_t hint, const gomap_allocator *alloc)
{
    return shard_create_n(1, true, hint, alloc);
}
static void shard_destroy(void *m) { gomap_shard_free(m); }
static size_t shard_len(void *m) { return gomap_shard_len(m); }

static bool shard_get(void *m, uint64_t key, uint64_t *val)
{
    return gomap_shard_get(m, &key, val);
}

static int shard_set(void *m, uint64_t key, uint64_t val)
{
    return gomap_shard_set(m, &key, &val);
}

static void shard_del(void *m, uint64_t key) { gomap_shard_delete(m, &key); }

static int shard_update(void *m, uint64_t key)
{
    return gomap_shard_compute(m, &key, compute_add_one, NULL);
}

static const strat_ops shard_ops = {shard_get, shard_set, shard_del, shard_update};
STRAT_INSTANTIATE(shard, shard_ops)

const strat_impl strat_impl_shard = {
    .name = "shard",
    .what = "gomap_shard_t (gomap/shardmap.h), shards auto; update = gomap_shard_compute",
    .rcu = true,
    .create = shard_create,
    .destroy = shard_destroy,
    .prefill = shard_prefill,
    .body = shard_body,
    .len = shard_len,
};

static size_t shard_get_many(void *m, const uint64_t *keys, size_t n, uint64_t *vals,
                             bool *found)
{
    return gomap_shard_get_many(m, keys, n, vals, found);
}

STRAT_BATCH_INSTANTIATE(shard, shard_ops, shard_get_many)

static const strat_impl strat_impl_shard_batch = {
    .name = "shard-batch",
    .what = "gomap_shard_t, shards auto, runs of up to 32 gets by gomap_shard_get_many",
    .rcu = true,
    .create = shard_create,
    .destroy = shard_destroy,
    .prefill = shard_prefill,
    .body = shard_batch_body,
    .len = shard_len,
};

static const strat_impl strat_impl_shard1 = {
    .name = "shard-1",
    .what = "gomap_shard_t with 1 shard: one lock around one map",
    .rcu = true,
    .create = shard1_create,
    .destroy = shard_destroy,
    .prefill = shard_prefill,
    .body = shard_body,
    .len = shard_len,
};

static const strat_impl strat_impl_shard_auto = {
    .name = "shard-auto",
    .what = "gomap_shard_t created with 1 shard, auto_resize: doubles under contention",
    .rcu = true,
    .create = shard_auto_create,
    .destroy = shard_destroy,
    .prefill = shard_prefill,
    .body = shard_body,
    .len = shard_len,
};

/* ---- snap --------------------------------------------------------------------- */

static void *snap_create(size_t hint, const gomap_allocator *alloc)
{
    gomap_options o = u64_options(hint, alloc);
    gomap_snap_t *m;
    return gomap_snap_new(&m, &o) == 0 ? m : NULL;
}

static void snap_destroy(void *m) { gomap_snap_free(m); }
static size_t snap_len(void *m) { return gomap_snap_len(m); }

static int64_t snap_retired(void *m)
{
    gomap_snap_stats_t st;
    return gomap_snap_stats(m, &st) == 0 ? (int64_t)st.retired_bytes : -1;
}

static bool snap_get(void *m, uint64_t key, uint64_t *val) { return gomap_snap_get(m, &key, val); }

static int snap_set(void *m, uint64_t key, uint64_t val) { return gomap_snap_set(m, &key, &val); }

static void snap_del(void *m, uint64_t key) { gomap_snap_delete(m, &key); }

/* update's batch: value + 1 in the copy (0 + 1 when absent). */
static int snap_add_one(gomap_t *copy, void *ctx)
{
    uint64_t key = *(const uint64_t *)ctx, v = 0;
    const uint64_t *p = gomap_get_u64(copy, key);
    if (p)
        v = *p;
    v++;
    return gomap_set_u64(copy, key, &v);
}

static int snap_update(void *m, uint64_t key) { return gomap_snap_update(m, snap_add_one, &key); }

/* The prefill as one batch: one copy and one publish, not n of them. */
typedef struct {
    uint64_t seed, n;
} prefill_batch;

static int snap_fill_copy(gomap_t *copy, void *ctx)
{
    const prefill_batch *b = ctx;
    for (uint64_t i = 0; i < b->n; i++) {
        uint64_t v = i + 1;
        if (gomap_set_u64(copy, ks_key(b->seed, STREAM_SET, i), &v))
            return -ENOMEM;
    }
    return 0;
}

static int snap_prefill_batch(void *m, uint64_t seed, uint64_t n)
{
    prefill_batch b = {seed, n};
    return n ? gomap_snap_update(m, snap_fill_copy, &b) : 0;
}

static const strat_ops snap_ops = {snap_get, snap_set, snap_del, snap_update};
STRAT_INSTANTIATE(snap, snap_ops)

static const strat_impl strat_impl_snap = {
    .name = "snap",
    .what = "gomap_snap_t (gomap/snapmap.h), copy per write (capped); update = gomap_snap_update",
    .writes_copy = true,
    .rcu = true,
    .create = snap_create,
    .destroy = snap_destroy,
    .prefill = snap_prefill_batch,
    .body = snap_body,
    .len = snap_len,
    .retired = snap_retired,
};

/* ---- sync --------------------------------------------------------------------- */

static void *sync_create(size_t hint, const gomap_allocator *alloc)
{
    gomap_options o = u64_options(hint, alloc);
    gomap_sync_t *m;
    return gomap_sync_new(&m, &o) == 0 ? m : NULL;
}

static void sync_destroy(void *m) { gomap_sync_free(m); }
static size_t sync_len(void *m) { return gomap_sync_len(m); }

static int64_t sync_retired(void *m)
{
    gomap_sync_stats_t st;
    return gomap_sync_stats(m, &st) == 0 ? (int64_t)st.retired_bytes : -1;
}

static bool sync_get(void *m, uint64_t key, uint64_t *val)
{
    return gomap_sync_load(m, &key, val);
}

static int sync_set(void *m, uint64_t key, uint64_t val)
{
    return gomap_sync_store(m, &key, &val);
}

static void sync_del(void *m, uint64_t key) { gomap_sync_delete(m, &key); }

/* Go's idiom for a counter in a sync.Map: load, then compare-and-swap the
 * old value for old + 1 until no other write came in between; an absent
 * key is load-or-stored as 1 (and retried if another thread stored first). */
static int sync_update(void *m, uint64_t key)
{
    uint64_t old, new_val;
    for (;;) {
        if (!gomap_sync_load(m, &key, &old)) {
            bool loaded;
            new_val = 1;
            int rc = gomap_sync_load_or_store(m, &key, &new_val, &old, &loaded);
            if (rc < 0 || !loaded)
                return rc;
        }
        new_val = old + 1;
        int rc = gomap_sync_compare_and_swap(m, &key, &old, &new_val);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
}

static const strat_ops sync_ops = {sync_get, sync_set, sync_del, sync_update};
STRAT_INSTANTIATE(sync, sync_ops)

static bool stop_at_once(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    (void)ctx;
    return false;
}

/* The prefill, then one range: freshly stored keys live in the dirty map,
 * where every load takes the mutex until as many loads have missed the
 * read part as dirty holds (a million, at 1e6 keys: longer than the run).
 * A range promotes them at once, so the run measures the steady state of a
 * read-mostly map, as a long-lived one would be. go-sync settles the same
 * way (docs/bench.md). */
static int sync_prefill_settled(void *m, uint64_t seed, uint64_t n)
{
    int rc = sync_prefill(m, seed, n);
    if (rc == 0)
        gomap_sync_range(m, stop_at_once, NULL);
    return rc;
}

static const strat_impl strat_impl_sync = {
    .name = "sync",
    .what = "gomap_sync_t (gomap/syncmap.h); update = load + compare-and-swap loop",
    .rcu = true,
    .create = sync_create,
    .destroy = sync_destroy,
    .prefill = sync_prefill_settled,
    .body = sync_body,
    .len = sync_len,
    .retired = sync_retired,
};

static size_t sync_get_many(void *m, const uint64_t *keys, size_t n, uint64_t *vals,
                            bool *found)
{
    return gomap_sync_load_many(m, keys, n, vals, found);
}

STRAT_BATCH_INSTANTIATE(sync, sync_ops, sync_get_many)

static const strat_impl strat_impl_sync_batch = {
    .name = "sync-batch",
    .what = "gomap_sync_t, runs of up to 32 loads by gomap_sync_load_many",
    .rcu = true,
    .create = sync_create,
    .destroy = sync_destroy,
    .prefill = sync_prefill_settled,
    .body = sync_batch_body,
    .len = sync_len,
    .retired = sync_retired,
};

/* ---- reference ---------------------------------------------------------------- */

static void *ref_create(size_t hint, const gomap_allocator *alloc)
{
    gomap_options o = u64_options(hint, alloc);
    gomap_t *m;
    return gomap_new(&m, &o) == 0 ? m : NULL;
}

static void ref_destroy(void *m) { gomap_free(m); }
static size_t ref_len(void *m) { return gomap_len(m); }

static bool ref_get(void *m, uint64_t key, uint64_t *val)
{
    const uint64_t *p = gomap_get_u64(m, key);
    *val = p ? *p : 0;
    return p != NULL;
}

static int ref_set(void *m, uint64_t key, uint64_t val) { return gomap_set_u64(m, key, &val); }

static void ref_del(void *m, uint64_t key) { gomap_delete_u64(m, key); }

static int ref_update(void *m, uint64_t key)
{
    uint64_t v;
    ref_get(m, key, &v);
    return ref_set(m, key, v + 1);
}

static const strat_ops ref_ops = {ref_get, ref_set, ref_del, ref_update};
STRAT_INSTANTIATE(ref, ref_ops)

const strat_impl strat_reference = {
    .name = "reference",
    .what = "gomap_t, no lock, one thread",
    .create = ref_create,
    .destroy = ref_destroy,
    .prefill = ref_prefill,
    .body = ref_body,
    .len = ref_len,
};

#ifdef GOMAP_BENCH_HAVE_TBB
extern const strat_impl strat_impl_tbb;
#endif
#ifdef GOMAP_BENCH_HAVE_LFHT
extern const strat_impl strat_impl_lfht;
#endif

const strat_impl *const strat_impls[] = {&strat_impl_shard, &strat_impl_shard1,
                                         &strat_impl_shard_auto, &strat_impl_snap,
                                         &strat_impl_sync, &strat_impl_shard_batch,
                                         &strat_impl_sync_batch,
#ifdef GOMAP_BENCH_HAVE_TBB
                                         &strat_impl_tbb,
#endif
#ifdef GOMAP_BENCH_HAVE_LFHT
                                         &strat_impl_lfht,
#endif
                                         &strat_impl_deleg_comb, &strat_impl_deleg_1w,
                                         &strat_impl_deleg_comb_batch, &strat_impl_deleg_1w_batch,
                                         NULL};

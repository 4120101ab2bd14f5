/*
 * strat_lfht.c — liburcu's lock-free resizable hash table (cds_lfht,
 * urcu/rculfhash.h) as a contender of the strategies matrix ("cds_lfht"),
 * with the membarrier flavour gomap itself uses (src/base/rcu.c).
 *
 * One node per key: {cds_lfht_node, key, value, rcu_head, owner}. The
 * operations are the ones a liburcu user writes, each inside a read-side
 * section: get = cds_lfht_lookup and a load of the value; set = lookup and
 * an atomic store into the node found, else a new node added with
 * cds_lfht_add_unique (if another thread added the key first, the new node
 * is freed at once, never having been published, and the value stored into
 * theirs); delete = lookup and cds_lfht_del, the node freed by call_rcu
 * after a grace period; update = an atomic add on the node found, else an
 * insert of 1 as for set. Values are updated in place, as go-sync's are (an
 * add racing with a delete may land on the node being removed, as in Go).
 * The table is created with auto-resize and node accounting, presized to
 * the prefill (next power of two), at least 1024 buckets.
 *
 * Threads: liburcu requires every thread that reads to be registered, and
 * registering one twice aborts. The matrix's worker threads are new for
 * every run and run one contender, so the body registers and unregisters
 * around its share; everything else (prefill, length, destroy) runs on a
 * short-lived thread of its own (on_rcu_thread), because the main thread
 * and the reaper may already be registered by gomap's maps.
 *
 * Memory: nodes come from the map's allocator (the counting one, memcount.h);
 * the bucket table is allocated inside liburcu with calloc, so the matrix
 * measures this contender's bytes with mallinfo2 (strat_impl.mem_malloc).
 * Retired bytes: the nodes deleted and waiting for their grace period.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>

#include "strategies/strat_workloads.h"

typedef struct lfht_map lfht_map;

typedef struct {
    struct cds_lfht_node node;
    uint64_t key;
    uint64_t val;             /* atomic (relaxed): read by get, written in place */
    struct rcu_head rcu;
    lfht_map *owner;          /* for the deferred free's accounting */
} lfht_node;

struct lfht_map {
    struct cds_lfht *ht;
    const gomap_allocator *alloc; /* NULL: malloc/free */
    int64_t retired;          /* atomic: bytes of nodes waiting for call_rcu */
};

static uint64_t lfht_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return k;
}

static int lfht_match(struct cds_lfht_node *node, const void *key)
{
    return caa_container_of(node, lfht_node, node)->key == *(const uint64_t *)key;
}

static lfht_node *node_new(lfht_map *m, uint64_t key, uint64_t val)
{
    lfht_node *n = m->alloc ? m->alloc->alloc(sizeof *n, m->alloc->ctx) : malloc(sizeof *n);
    if (n) {
        cds_lfht_node_init(&n->node);
        n->key = key;
        n->val = val;
        n->owner = m;
    }
    return n;
}

static void node_free(lfht_map *m, lfht_node *n)
{
    if (m->alloc)
        m->alloc->free(n, sizeof *n, m->alloc->ctx);
    else
        free(n);
}

/* call_rcu's callback: the grace period after the node's removal is over. */
static void node_free_rcu(struct rcu_head *head)
{
    lfht_node *n = caa_container_of(head, lfht_node, rcu);
    lfht_map *m = n->owner;
    __atomic_fetch_sub(&m->retired, (int64_t)sizeof *n, __ATOMIC_RELAXED);
    node_free(m, n);
}

/* Read side held. The key's node, or NULL. */
static lfht_node *lookup(lfht_map *m, uint64_t key)
{
    struct cds_lfht_iter it;
    cds_lfht_lookup(m->ht, lfht_hash(key), lfht_match, &key, &it);
    struct cds_lfht_node *node = cds_lfht_iter_get_node(&it);
    return node ? caa_container_of(node, lfht_node, node) : NULL;
}

/* Read side held. Adds val to the key's value (add) or stores it. */
static int write_val(lfht_map *m, uint64_t key, uint64_t val, bool add)
{
    lfht_node *n = lookup(m, key), *fresh = NULL;
    if (!n) {
        fresh = node_new(m, key, val);
        if (!fresh)
            return -ENOMEM;
        struct cds_lfht_node *won =
            cds_lfht_add_unique(m->ht, lfht_hash(key), lfht_match, &key, &fresh->node);
        if (won == &fresh->node)
            return 0;
        node_free(m, fresh); /* never published */
        n = caa_container_of(won, lfht_node, node);
    }
    if (add)
        __atomic_fetch_add(&n->val, val, __ATOMIC_RELAXED);
    else
        __atomic_store_n(&n->val, val, __ATOMIC_RELAXED);
    return 0;
}

static bool lf_get(void *mp, uint64_t key, uint64_t *val)
{
    urcu_memb_read_lock();
    lfht_node *n = lookup(mp, key);
    *val = n ? __atomic_load_n(&n->val, __ATOMIC_RELAXED) : 0;
    urcu_memb_read_unlock();
    return n != NULL;
}

static int lf_set(void *mp, uint64_t key, uint64_t val)
{
    urcu_memb_read_lock();
    int rc = write_val(mp, key, val, false);
    urcu_memb_read_unlock();
    return rc;
}

static int lf_update(void *mp, uint64_t key)
{
    urcu_memb_read_lock();
    int rc = write_val(mp, key, 1, true);
    urcu_memb_read_unlock();
    return rc;
}

static void lf_del(void *mp, uint64_t key)
{
    lfht_map *m = mp;
    urcu_memb_read_lock();
    lfht_node *n = lookup(m, key);
    if (n && cds_lfht_del(m->ht, &n->node) == 0) {
        __atomic_fetch_add(&m->retired, (int64_t)sizeof *n, __ATOMIC_RELAXED);
        urcu_memb_call_rcu(&n->rcu, node_free_rcu);
    }
    urcu_memb_read_unlock();
}

static const strat_ops lf_ops = {lf_get, lf_set, lf_del, lf_update};
STRAT_INSTANTIATE(lf, lf_ops)

/* ---- work on a registered thread of its own ---------------------------------------- */

typedef struct {
    void (*fn)(void *arg);
    void *arg;
} rcu_job;

static void *rcu_thread_main(void *p)
{
    const rcu_job *job = p;
    urcu_memb_register_thread();
    job->fn(job->arg);
    urcu_memb_unregister_thread();
    return NULL;
}

/* Runs fn(arg) on a new thread registered with liburcu, and waits; runs
 * nothing (and returns -1) if the thread cannot start. */
static int on_rcu_thread(void (*fn)(void *), void *arg)
{
    rcu_job job = {fn, arg};
    pthread_t tid;
    if (pthread_create(&tid, NULL, rcu_thread_main, &job) != 0)
        return -1;
    pthread_join(tid, NULL);
    return 0;
}

/* ---- the contender ---------------------------------------------------------------- */

static void *lf_create(size_t hint, const gomap_allocator *alloc)
{
    unsigned long size = 1024;
    while (size < hint && size < (1ul << 30))
        size <<= 1;
    lfht_map *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->alloc = alloc;
    m->ht = cds_lfht_new_flavor(size, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
                                &urcu_memb_flavor, NULL);
    if (!m->ht) {
        free(m);
        return NULL;
    }
    return m;
}

/* Registered thread, no other thread using the map: every node removed
 * and chained through its value field (no reader is left to read it), one
 * grace period for the iteration's own reads, the chain freed, then the
 * empty table destroyed. Nodes deleted earlier and still waiting for
 * call_rcu (retired) are waited for with a barrier: their callbacks use
 * the map. */
static void empty_and_destroy(void *mp)
{
    lfht_map *m = mp;
    struct cds_lfht_iter it;
    lfht_node *n, *chain = NULL;
    urcu_memb_read_lock();
    cds_lfht_for_each_entry(m->ht, &it, n, node)
        if (cds_lfht_del(m->ht, &n->node) == 0) {
            n->val = (uint64_t)(uintptr_t)chain;
            chain = n;
        }
    urcu_memb_read_unlock();
    urcu_memb_synchronize_rcu();
    while (chain) {
        lfht_node *next = (lfht_node *)(uintptr_t)chain->val;
        node_free(m, chain);
        chain = next;
    }
    if (__atomic_load_n(&m->retired, __ATOMIC_RELAXED))
        urcu_memb_barrier();
    cds_lfht_destroy(m->ht, NULL);
}

static void lf_destroy(void *mp)
{
    if (on_rcu_thread(empty_and_destroy, mp) == 0)
        free(mp);
}

typedef struct {
    void *m;
    uint64_t seed, n;
    int rc;
    size_t len;
} lf_call;

static void prefill_main(void *p)
{
    lf_call *c = p;
    c->rc = lf_prefill(c->m, c->seed, c->n);
}

static int lf_prefill_registered(void *m, uint64_t seed, uint64_t n)
{
    lf_call c = {m, seed, n, -ENOMEM, 0};
    return on_rcu_thread(prefill_main, &c) ? -ENOMEM : c.rc;
}

static void len_main(void *p)
{
    lf_call *c = p;
    long before, after;
    unsigned long count;
    urcu_memb_read_lock();
    cds_lfht_count_nodes(((lfht_map *)c->m)->ht, &before, &count, &after);
    urcu_memb_read_unlock();
    c->len = count;
}

static size_t lf_len(void *m)
{
    lf_call c = {m, 0, 0, 0, 0};
    on_rcu_thread(len_main, &c);
    return c.len;
}

/* The worker's share, registered around it. */
static void lf_body_registered(void *m, const op_stream *s, uint64_t from, uint64_t count,
                               par_tally *t)
{
    urcu_memb_register_thread();
    lf_body(m, s, from, count, t);
    urcu_memb_unregister_thread();
}

static int64_t lf_retired(void *m) { return __atomic_load_n(&((lfht_map *)m)->retired, __ATOMIC_RELAXED); }

const strat_impl strat_impl_lfht = {
    .name = "cds_lfht",
    .what = "liburcu cds_lfht (urcu/rculfhash.h), urcu-memb flavour, auto-resize; values "
            "updated in place, deleted nodes freed by call_rcu",
    .create = lf_create,
    .destroy = lf_destroy,
    .prefill = lf_prefill_registered,
    .body = lf_body_registered,
    .len = lf_len,
    .retired = lf_retired,
    .rcu = true,
    .mem_malloc = true,
};

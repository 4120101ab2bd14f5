/*
 * delegmap.c — the delegation map's life cycle and public calls.
 *
 * A public call checks its arguments and re-entrancy, then hands its
 * operation to the client side (deleg_client.c): a synchronous call posts
 * one gomap_deleg_op that lives on its stack and waits for its answer (in
 * combining mode it executes it itself when nobody is combining); a
 * submit posts the caller's array. Servers (deleg_server.c) execute them.
 * The layout and the ordering rules are in deleg_internal.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/keys.h"
#include "base/misuse.h"
#include "base/rand.h"
#include "deleg/deleg_internal.h"

/* ---- re-entrancy ------------------------------------------------------------------ */

/* While a compute callback runs, the partition being served is the
 * thread's scope (scope.h): any call into the same map from it would wait
 * for the server the thread is. */
void gomap__deleg_reentry_slow(const gomap_deleg_t *m, const void *site)
{
    const struct gomap__scope *sc = gomap__scope_find(m);
    if (!sc)
        return;
    const struct deleg_part *part = sc->detail;
    char what[160];
    snprintf(what, sizeof what,
             "the server of partition %u of %u of delegation map %p, running a callback on "
             "this thread",
             (unsigned)(part - m->parts), m->nparts, (const void *)m);
    gomap__fault_held(part->map, MSG_DELEG_REENTRY, site, what, sc->site);
}

/* ---- life cycle ------------------------------------------------------------------- */

static unsigned round_up_pow2(unsigned n)
{
    unsigned c = 1;
    while (c < n)
        c *= 2;
    return c;
}

static int options_check(const gomap_deleg_options *opt)
{
    if (opt->map.mem_limit != 0 || opt->queue_depth == 0 ||
        opt->queue_depth > GOMAP_DELEG_QUEUE_MAX || opt->workers > GOMAP_DELEG_WORKERS_MAX)
        return -EINVAL;
    return gomap__options_check(&opt->map);
}

/* Frees what new() built: the first `built` partitions' maps, the rings
 * of every slot, the locks (when `locks`), the block. */
static void destroy(gomap_deleg_t *m, unsigned built, bool locks)
{
    for (unsigned p = 0; p < built; p++)
        gomap_free(m->parts[p].map);
    for (unsigned ci = 0; ci < NCLIENT_SLOTS; ci++)
        gomap__free(m->opt.alloc, m->clients[ci].rings_block, gomap__deleg_rings_bytes(m));
    if (locks) {
        pthread_mutex_destroy(&m->reg_lock);
        pthread_mutex_destroy(&m->shared_lock);
    }
    gomap__free(m->opt.alloc, m->block, m->block_size);
}

/* The header, the partitions and the client slots, in one block, each at
 * a DELEG_ALIGN boundary (allocators promise only malloc's alignment). */
static gomap_deleg_t *alloc_block(const gomap_deleg_options *opt, unsigned nparts)
{
    size_t head_bytes = (sizeof(gomap_deleg_t) + DELEG_ALIGN - 1) & ~(size_t)(DELEG_ALIGN - 1);
    size_t parts_bytes = (size_t)nparts * sizeof(struct deleg_part);
    size_t size = DELEG_ALIGN + head_bytes + parts_bytes +
                  (size_t)NCLIENT_SLOTS * sizeof(struct deleg_client);
    char *block = gomap__alloc(opt->map.alloc, size);
    if (!block)
        return NULL;
    memset(block, 0, size);
    uintptr_t first = ((uintptr_t)block + DELEG_ALIGN - 1) & ~(uintptr_t)(DELEG_ALIGN - 1);
    gomap_deleg_t *m = (gomap_deleg_t *)first;
    m->parts = (struct deleg_part *)(first + head_bytes);
    m->clients = (struct deleg_client *)(first + head_bytes + parts_bytes);
    m->block = block;
    m->block_size = size;
    return m;
}

static void init_fields(gomap_deleg_t *m, const gomap_deleg_options *opt, unsigned nparts)
{
    m->nparts = nparts;
    m->workers = opt->workers;
    m->depth = opt->queue_depth;
    m->capacity = round_up_pow2(opt->queue_depth);
    size_t stride = sizeof(struct deleg_ring) + (size_t)m->capacity * sizeof(struct deleg_entry);
    m->ring_stride = (stride + DELEG_ALIGN - 1) & ~(size_t)(DELEG_ALIGN - 1);
    m->key_kind = (int)opt->map.key_kind;
    m->val_size = opt->map.val_size;
    m->seed = gomap__rand64();
    m->opt = opt->map;
    atomic_init(&m->clients_hi, 0);
    atomic_init(&m->nregistered, 0);
    atomic_init(&m->sleepers, 0);
    atomic_init(&m->comb_lock, 0);
    atomic_init(&m->stop, 0);
    atomic_init(&m->shared_ops, 0);
    for (unsigned ci = 0; ci < NCLIENT_SLOTS; ci++) {
        struct deleg_client *c = &m->clients[ci];
        atomic_init(&c->state, CLIENT_FREE);
        atomic_init(&c->rings, NULL);
        atomic_init(&c->full_waits, 0);
        atomic_init(&c->full_wait_ns, 0);
        atomic_init(&c->refused, 0);
        atomic_init(&c->sleeps, 0);
        atomic_init(&c->full_waiting, 0);
        atomic_init(&c->sleeping, 0);
        atomic_init(&c->wake, 0);
    }
}

/* The partitions' core maps, all hashing with the map's seed. 0, or the
 * first failure with *built the maps made. */
static int make_parts(gomap_deleg_t *m, const gomap_deleg_options *opt, unsigned *built)
{
    gomap_options inner = opt->map;
    inner.hint = opt->map.hint / m->nparts + (opt->map.hint % m->nparts != 0);
    for (*built = 0; *built < m->nparts; (*built)++) {
        struct deleg_part *part = &m->parts[*built];
        int rc = gomap__new_seeded(&part->map, &inner, m->seed);
        if (rc != 0)
            return rc;
        part->owner = m;
        atomic_init(&part->len, 0);
        atomic_init(&part->ops, 0);
        atomic_init(&part->batches, 0);
        atomic_init(&part->passes, 0);
        atomic_init(&part->sleeps, 0);
        atomic_init(&part->idle, 0);
        atomic_init(&part->wake, 0);
    }
    m->hasher = gomap__hasher_of(m->parts[0].map);
    return 0;
}

int gomap_deleg_new(gomap_deleg_t **out, const gomap_deleg_options *opt)
{
    if (out)
        *out = NULL;
    if (!out || !opt)
        return -EINVAL;
    int rc = options_check(opt);
    if (rc)
        return rc;
    unsigned nparts = opt->workers ? opt->workers : 1;
    gomap_deleg_t *m = alloc_block(opt, nparts);
    if (!m)
        return -ENOMEM;
    init_fields(m, opt, nparts);
    unsigned built;
    rc = make_parts(m, opt, &built);
    if (rc == 0) /* the shared slot's rings, made now so that it always works */
        rc = gomap__deleg_rings_alloc(m, &m->clients[SHARED_CLIENT]);
    if (rc == 0)
        atomic_init(&m->clients[SHARED_CLIENT].state, CLIENT_TAKEN);
    if (rc == 0 && pthread_mutex_init(&m->reg_lock, NULL) != 0)
        rc = -ENOMEM;
    if (rc == 0 && pthread_mutex_init(&m->shared_lock, NULL) != 0) {
        pthread_mutex_destroy(&m->reg_lock);
        rc = -ENOMEM;
    }
    if (rc != 0) {
        destroy(m, built, false);
        return rc;
    }
    gomap__deleg_live_add(m);
    rc = gomap__deleg_workers_start(m);
    if (rc != 0) {
        gomap__deleg_live_remove(m);
        destroy(m, built, true);
        return rc;
    }
    *out = m;
    return 0;
}

void gomap_deleg_free(gomap_deleg_t *m)
{
    if (!m)
        return;
    const struct gomap__scope *sc = gomap__scope_find(m);
    if (__builtin_expect(sc != NULL, 0)) {
        const struct deleg_part *part = sc->detail;
        gomap__scope_fault(sc, part->map, MSG_DELEG_FREE_INSIDE, GOMAP_CALLER);
    }
    /* First out of the list: an exiting thread no longer gives a slot
     * back to this map (release_reg looks it up under the same mutex). */
    gomap__deleg_live_remove(m);
    gomap__deleg_workers_stop(m, m->workers);
    destroy(m, m->nparts, true);
}

/* ---- synchronous calls ------------------------------------------------------------ */

/* Runs one operation and returns its result: directly when the map
 * combines and nobody is combining, else through the caller's ring. */
static int run_one(gomap_deleg_t *m, gomap_deleg_op *op)
{
    if (!gomap__deleg_run_direct(m, op))
        gomap__deleg_run(m, op, 1, false);
    return op->result;
}

static gomap_deleg_op new_op(int kind, const void *key, void *val)
{
    gomap_deleg_op op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    op.key = key;
    op.val = val;
    return op;
}

bool gomap_deleg_get(gomap_deleg_t *m, const void *key, void *val_out)
{
    if (!m || !gomap__key_ok(m->key_kind, key)) {
        if (m && val_out && m->val_size)
            memset(val_out, 0, m->val_size);
        return false;
    }
    deleg_reentry_check(m, GOMAP_CALLER);
    gomap_deleg_op op = new_op(GOMAP_DELEG_GET, key, val_out);
    return run_one(m, &op) != 0;
}

int gomap_deleg_set(gomap_deleg_t *m, const void *key, const void *val)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || (!val && m->val_size))
        return -EINVAL;
    deleg_reentry_check(m, GOMAP_CALLER);
    /* The server only reads a set's value. */
    gomap_deleg_op op = new_op(GOMAP_DELEG_SET, key, (void *)(uintptr_t)val);
    return run_one(m, &op);
}

bool gomap_deleg_delete(gomap_deleg_t *m, const void *key)
{
    if (!m || !gomap__key_ok(m->key_kind, key))
        return false;
    deleg_reentry_check(m, GOMAP_CALLER);
    gomap_deleg_op op = new_op(GOMAP_DELEG_DELETE, key, NULL);
    return run_one(m, &op) != 0;
}

int gomap_deleg_compute(gomap_deleg_t *m, const void *key,
                        int (*fn)(const void *key, void *val, bool *present, void *ctx), void *ctx)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || !fn)
        return -EINVAL;
    deleg_reentry_check(m, GOMAP_CALLER);
    gomap_deleg_op op = new_op(GOMAP_DELEG_COMPUTE, key, NULL);
    op.fn = fn;
    op.ctx = ctx;
    return run_one(m, &op);
}

size_t gomap_deleg_len(gomap_deleg_t *m)
{
    if (!m)
        return 0;
    size_t n = 0;
    for (unsigned p = 0; p < m->nparts; p++)
        n += load_acquire(&m->parts[p].len); /* pairs with answer()'s release */
    return n;
}

/* ---- asynchronous calls ----------------------------------------------------------- */

int gomap_deleg_submit(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n, int flags)
{
    if (!m || (!ops && n) || (flags & ~GOMAP_DELEG_NOWAIT))
        return -EINVAL;
    deleg_reentry_check(m, GOMAP_CALLER);
    unsigned ci = gomap__deleg_client(m);
    size_t posted = 0;
    if (ci != SHARED_CLIENT) {
        posted = gomap__deleg_post(m, ci, ops, n, flags & GOMAP_DELEG_NOWAIT, false);
    } else {
        gomap__deleg_run(m, ops, n, false); /* to completion, as the header says */
        for (size_t i = 0; i < n; i++)
            posted += ops[i].part_ != NO_PART;
    }
    return posted > (size_t)INT32_MAX ? INT32_MAX : (int)posted;
}

int gomap_deleg_wait(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n)
{
    if (!m || (!ops && n))
        return -EINVAL;
    deleg_reentry_check(m, GOMAP_CALLER);
    for (size_t i = 0; i < n; i++)
        gomap__deleg_wait_op(m, &ops[i]);
    return 0;
}

long gomap_deleg_poll(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n)
{
    if (!m || (!ops && n))
        return -EINVAL;
    deleg_reentry_check(m, GOMAP_CALLER);
    if (m->workers == 0 && n && !gomap__deleg_op_done(m, &ops[0]))
        gomap__deleg_try_combine(m);
    size_t k = 0;
    while (k < n && gomap__deleg_op_done(m, &ops[k]))
        k++;
    return (long)k;
}

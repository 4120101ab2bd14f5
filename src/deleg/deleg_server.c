/*
 * deleg_server.c — the server side of the delegation map: a pass over
 * every client's ring of one partition, executing the requests as one
 * pipelined batch; the worker threads; the combiner.
 *
 * A pass (gomap__deleg_serve) gathers the pending requests of every client
 * (up to PASS_MAX), executes them in order, publishes the partition's
 * length, then releases each client's tail and wakes the clients that
 * sleep. Executing is software-pipelined as the core map's batch lookup
 * is: the bucket of the request PREFETCH_AHEAD places ahead is prefetched
 * (its hash came with the request: gomap__prefetch_hashed), and so are the
 * operation and its key half as far ahead, so that the cache misses of a
 * batch overlap, reads and writes alike. Requests keep their order, so a
 * client's operations on one key take effect as it posted them.
 *
 * Only a partition's server touches its core map: its worker thread, or in
 * combining mode the thread holding comb_lock (taken with an acquiring
 * exchange, released with a seq_cst store, so each combiner sees the
 * previous one's writes to the map, the tails and the counters).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "deleg/deleg_internal.h"

enum {
    PASS_MAX = 256,       /* requests one pass takes */
    PREFETCH_AHEAD = 8,   /* requests between a bucket's prefetch and its probe */
    COMBINE_PASSES = 4,   /* passes a combiner makes while there is work */
    IDLE_SPINS = 64,      /* a worker's empty passes before it yields */
    IDLE_YIELDS = 4       /* ... and yields before it sleeps (measured with
                             the clients' WAIT_SPINS: docs/delegmap.md) */
};

/* ---- futex ------------------------------------------------------------------------- */

void gomap__deleg_futex_wait(_Atomic unsigned *word, unsigned seen)
{
    /* Returns at once if *word != seen (a wake came first); spurious
     * returns are fine, every caller checks its condition again. */
    syscall(SYS_futex, (unsigned *)(void *)word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

void gomap__deleg_futex_wake(_Atomic unsigned *word)
{
    syscall(SYS_futex, (unsigned *)(void *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* ---- executing one request ---------------------------------------------------------- */

/* Values up to this size are copied for compute on the stack. */
enum { COMPUTE_STACK_BYTES = 256 };

static void copy_out(const gomap_deleg_t *m, void *out, const void *val)
{
    layer_copy_out(out, val, m->val_size);
}

static slot_ref find_any(const gomap_t *map, const void *key, uint64_t h)
{
    if (layer_len(map) == 0)
        return (slot_ref){NULL, 0};
    return gomap__find_hashed(map, key, h);
}

/* compute, as gomap_shard_compute does it: the callback works on a copy,
 * so that giving up leaves the stored value as it was. It runs inside a
 * scope naming the partition, so that a call into this map from it is
 * reported (gomap__deleg_reentry_slow). */
static int compute(gomap_deleg_t *m, struct deleg_part *part, gomap_deleg_op *op, uint64_t h)
{
    _Alignas(16) unsigned char small[COMPUTE_STACK_BYTES];
    void *copy = small;
    if (m->val_size > sizeof small && !(copy = gomap__alloc(m->opt.alloc, m->val_size)))
        return -ENOMEM;
    gomap_t *map = part->map;
    slot_ref r = find_any(map, op->key, h);
    bool was = r.b != NULL, present = was;
    void *stored = was ? layer_value(map, r) : NULL;
    copy_out(m, copy, stored);
    gomap__scope_enter(m, "the server of a partition", part, NULL);
    int rc = op->fn(op->key, copy, &present, op->ctx);
    gomap__scope_leave();
    if (rc == 0) {
        if (present && was)
            copy_out(m, stored, copy);
        else if (present)
            rc = gomap__upsert_hashed(map, op->key, h, copy, true, NULL) < 0 ? -ENOMEM : 0;
        else if (was)
            gomap__remove_hashed(map, op->key, h);
    }
    if (copy != small)
        gomap__free(m->opt.alloc, copy, m->val_size);
    return rc;
}

/* An internal request: ctx is a struct deleg_call. */
struct deleg_call {
    deleg_call_fn fn;
    void *arg;
};

static void execute(gomap_deleg_t *m, struct deleg_part *part, gomap_deleg_op *op, uint64_t h)
{
    gomap_t *map = part->map;
    switch (op->kind) {
    case GOMAP_DELEG_GET: {
        slot_ref r = find_any(map, op->key, h);
        copy_out(m, op->val, r.b ? layer_value(map, r) : NULL);
        op->result = r.b != NULL;
        break;
    }
    case GOMAP_DELEG_SET: {
        int rc = gomap__upsert_hashed(map, op->key, h, op->val, true, NULL);
        op->result = rc < 0 ? rc : 0;
        break;
    }
    case GOMAP_DELEG_DELETE: op->result = gomap__remove_hashed(map, op->key, h); break;
    case GOMAP_DELEG_COMPUTE: op->result = compute(m, part, op, h); break;
    default: {
        const struct deleg_call *call = op->ctx;
        call->fn(m, (unsigned)(part - m->parts), call->arg);
        op->result = 0;
        break;
    }
    }
    op->status = 0;
}

void gomap__deleg_call(gomap_deleg_t *m, unsigned part, deleg_call_fn fn, void *arg)
{
    struct deleg_call call = {fn, arg};
    gomap_deleg_op op;
    memset(&op, 0, sizeof op);
    op.kind = DELEG_CALL;
    op.ctx = &call;
    op.part_ = (unsigned short)part;
    gomap__deleg_run(m, &op, 1, true);
}

/* ---- a pass ----------------------------------------------------------------------- */

/* What a pass took from one client's ring. */
struct taken {
    struct deleg_client *c;
    struct deleg_ring *r;
    unsigned end; /* the ring's new tail */
};

typedef struct {
    struct deleg_entry ent[PASS_MAX];
    struct taken from[NCLIENT_SLOTS];
    unsigned n, nfrom;
} pass;

/* Copies client c's pending requests to the pass, as many as fit. */
static void gather(gomap_deleg_t *m, unsigned p, struct deleg_client *c, pass *ps)
{
    if (!load_acquire(&c->rings)) /* pairs with take_slot's release */
        return;
    struct deleg_ring *r = ring_of(m, c, p);
    /* Acquire: pairs with the client's release of head (post_publish): the
     * entries up to head, and the operations they point to, are written. */
    unsigned head = load_acquire(&r->head);
    unsigned tail = load_relaxed(&r->tail); /* ours */
    unsigned room = PASS_MAX - ps->n;
    if (head == tail || room == 0)
        return;
    if (head - tail > room)
        head = tail + room;
    for (unsigned pos = tail; pos != head; pos++)
        ps->ent[ps->n++] = r->ent[pos & (m->capacity - 1)];
    ps->from[ps->nfrom++] = (struct taken){c, r, head};
}

/* Executes the pass's requests in order, prefetching ahead. */
static void run_pass(gomap_deleg_t *m, struct deleg_part *part, const pass *ps)
{
    const unsigned n = ps->n;
    const unsigned half = PREFETCH_AHEAD / 2;
    for (unsigned i = 0; i < n && i < PREFETCH_AHEAD; i++) {
        gomap__prefetch_hashed(part->map, ps->ent[i].hash);
        __builtin_prefetch(ps->ent[i].op, 1, 3);
    }
    for (unsigned i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            gomap__prefetch_hashed(part->map, ps->ent[i + PREFETCH_AHEAD].hash);
            __builtin_prefetch(ps->ent[i + PREFETCH_AHEAD].op, 1, 3);
        }
        if (i + half < n) {
            const gomap_deleg_op *ahead = ps->ent[i + half].op;
            __builtin_prefetch(ahead->key, 0, 3);
            if (ahead->val && ahead->kind == GOMAP_DELEG_GET)
                __builtin_prefetch(ahead->val, 1, 3); /* the value goes there */
            else if (ahead->val)
                __builtin_prefetch(ahead->val, 0, 3);
        }
        execute(m, part, ps->ent[i].op, ps->ent[i].hash);
    }
}

/* Answers the pass: publishes the length, moves every tail, wakes. */
static void answer(gomap_deleg_t *m, struct deleg_part *part, const pass *ps)
{
    (void)m;
    /* Release: a client that acquires its tail below, then calls
     * gomap_deleg_len (acquire), sees a length that counts its writes. */
    store_release(&part->len, layer_len(part->map));
    for (unsigned i = 0; i < ps->nfrom; i++) {
        /* seq_cst (a release included): pairs with the client's acquire
         * of tail (the answers are written before it); and the store of
         * the Dekker pair whose load is in gomap__deleg_wake_client. */
        store_seq_cst(&ps->from[i].r->tail, ps->from[i].end);
        gomap__deleg_wake_client(ps->from[i].c);
    }
    /* Relaxed: statistics; one server writes them at a time. */
    store_relaxed(&part->ops, load_relaxed(&part->ops) + ps->n);
    store_relaxed(&part->batches, load_relaxed(&part->batches) + ps->nfrom);
    store_relaxed(&part->passes, load_relaxed(&part->passes) + 1);
}

size_t gomap__deleg_serve(gomap_deleg_t *m, unsigned p)
{
    pass ps;
    ps.n = ps.nfrom = 0;
    unsigned hi = load_acquire(&m->clients_hi); /* pairs with take_slot's store */
    for (unsigned ci = 0; ci < hi && ps.n < PASS_MAX; ci++)
        gather(m, p, &m->clients[ci], &ps);
    gather(m, p, &m->clients[SHARED_CLIENT], &ps);
    if (ps.n == 0)
        return 0;
    struct deleg_part *part = &m->parts[p];
    run_pass(m, part, &ps);
    answer(m, part, &ps);
    return ps.n;
}

/* ---- combining ---------------------------------------------------------------------- */

/* After the combiner lock is released: wakes every sleeping client, so
 * that one of them takes the lock if requests are pending. */
static void wake_sleepers(gomap_deleg_t *m)
{
    /* seq_cst: the load of the Dekker pair whose store is the release of
     * comb_lock; sleep_on stores `sleepers` and then loads comb_lock. */
    if (!load_seq_cst(&m->sleepers))
        return;
    unsigned hi = load_acquire(&m->clients_hi);
    for (unsigned ci = 0; ci < hi; ci++)
        gomap__deleg_wake_client(&m->clients[ci]);
    gomap__deleg_wake_client(&m->clients[SHARED_CLIENT]);
}

/* Takes the combiner lock if it is free. */
static bool comb_acquire(gomap_deleg_t *m)
{
    /* Acquire: pairs with the previous combiner's release in comb_release:
     * its writes to the map, the tails and the counters are seen. */
    return !load_relaxed(&m->comb_lock) && !exchange_acquire(&m->comb_lock, 1);
}

/* Serves what is pending (a few passes at most), then releases the
 * combiner lock and wakes the clients that sleep. */
static void comb_release(gomap_deleg_t *m)
{
    for (unsigned i = 0; i < COMBINE_PASSES && gomap__deleg_serve(m, 0); i++)
        ;
    /* seq_cst (a release included): see wake_sleepers. */
    store_seq_cst(&m->comb_lock, 0);
    wake_sleepers(m);
}

bool gomap__deleg_try_combine(gomap_deleg_t *m)
{
    if (!comb_acquire(m))
        return false;
    comb_release(m);
    return true;
}

bool gomap__deleg_try_direct(gomap_deleg_t *m, gomap_deleg_op *op)
{
    if (!comb_acquire(m))
        return false;
    struct deleg_part *part = &m->parts[0];
    execute(m, part, op, deleg_hash(m, op->key));
    /* Release: as answer() publishes the length after a pass. */
    store_release(&part->len, layer_len(part->map));
    /* Relaxed: statistics, written by the lock's holder. */
    store_relaxed(&part->ops, load_relaxed(&part->ops) + 1);
    store_relaxed(&part->direct, load_relaxed(&part->direct) + 1);
    comb_release(m);
    return true;
}

/* ---- workers ----------------------------------------------------------------------- */

/* Whether any client has a request pending for partition p. seq_cst
 * loads: the worker's side of the Dekker pair (see worker_sleep). */
static bool pending(gomap_deleg_t *m, unsigned p)
{
    unsigned hi = load_seq_cst(&m->clients_hi);
    for (unsigned ci = 0; ci <= hi; ci++) {
        struct deleg_client *c = &m->clients[ci < hi ? ci : SHARED_CLIENT];
        if (!load_acquire(&c->rings))
            continue;
        struct deleg_ring *r = ring_of(m, c, p);
        if (load_seq_cst(&r->head) != load_relaxed(&r->tail))
            return true;
    }
    return false;
}

void gomap__deleg_wake_worker(gomap_deleg_t *m, unsigned p)
{
    struct deleg_part *part = &m->parts[p];
    /* seq_cst: the load of the Dekker pair; the client stored its head
     * (seq_cst) just before. */
    if (load_seq_cst(&part->idle)) {
        fetch_add_release(&part->wake, 1);
        gomap__deleg_futex_wake(&part->wake);
    }
}

/* Sleeps until a client posts to p or the map stops. */
static void worker_sleep(gomap_deleg_t *m, unsigned p)
{
    struct deleg_part *part = &m->parts[p];
    unsigned seen = load_seq_cst(&part->wake);
    store_seq_cst(&part->idle, 1);
    /* seq_cst loads after the seq_cst store of idle: a client that
     * published its head before our flag was visible is seen by pending();
     * one that publishes after sees idle and bumps `wake`. */
    if (!pending(m, p) && !load_seq_cst(&m->stop)) {
        store_relaxed(&part->sleeps, load_relaxed(&part->sleeps) + 1);
        gomap__deleg_futex_wait(&part->wake, seen);
    }
    store_relaxed(&part->idle, 0);
}

static void *worker_main(void *arg)
{
    struct deleg_part *part = arg;
    gomap_deleg_t *m = part->owner;
    unsigned p = (unsigned)(part - m->parts);
    unsigned idle = 0;
    while (!load_acquire(&m->stop)) { /* pairs with the stop's seq_cst store */
        if (gomap__deleg_serve(m, p)) {
            idle = 0;
        } else if (++idle < IDLE_SPINS) {
            cpu_relax();
        } else if (idle < IDLE_SPINS + IDLE_YIELDS) {
            sched_yield();
        } else {
            worker_sleep(m, p);
            idle = 0;
        }
    }
    while (gomap__deleg_serve(m, p)) /* what was posted before the stop */
        ;
    return NULL;
}

int gomap__deleg_workers_start(gomap_deleg_t *m)
{
    for (unsigned p = 0; p < m->workers; p++) {
        int rc = pthread_create(&m->parts[p].thread, NULL, worker_main, &m->parts[p]);
        if (rc != 0) {
            gomap__deleg_workers_stop(m, p);
            return rc == EAGAIN ? -EAGAIN : -ENOMEM;
        }
    }
    return 0;
}

void gomap__deleg_workers_stop(gomap_deleg_t *m, unsigned started)
{
    /* seq_cst: a worker about to sleep loads stop after storing idle; we
     * bump its wake word after this store, so it either sees stop or is
     * woken. */
    store_seq_cst(&m->stop, 1);
    for (unsigned p = 0; p < started; p++) {
        fetch_add_release(&m->parts[p].wake, 1);
        gomap__deleg_futex_wake(&m->parts[p].wake);
    }
    for (unsigned p = 0; p < started; p++)
        pthread_join(m->parts[p].thread, NULL);
}

/*
 * deleg_client.c — the client side of the delegation map: which slot a
 * thread uses, posting requests into its rings, and waiting for answers or
 * for room (deleg_internal.h has the layout and the ordering rules).
 *
 * Registration. A thread's first call on a map takes a free client slot
 * under the map's reg_lock (allocating the slot's rings the first time the
 * slot is used) and remembers it in a small thread-local table, keyed by
 * the map's address and its never-reused id. A process-wide pthread key's
 * destructor gives the thread's slots back when it exits, for the maps
 * that are still alive (the process's list of live maps, under live_lock,
 * which gomap_deleg_free leaves before it frees anything). A slot whose
 * rings still hold requests (a thread that exited with operations in
 * flight) is ORPHANED: the server drains it, and it is taken again only
 * once it is empty. A thread that finds no slot, or whose rings cannot be
 * allocated, uses the shared slot under shared_lock.
 *
 * Direct calls. In combining mode a synchronous call whose thread has
 * nothing outstanding and finds the combiner lock free takes the lock and
 * executes its operation itself, with no ring and no wait; it then serves
 * what others posted, as any combiner does. Only a caller that finds the
 * lock taken posts and waits.
 *
 * Waiting. spin (cpu_relax) a bounded number of rounds, then yield, then
 * sleep on the client's futex word until a server bumps it. In combining
 * mode every round first tries to become the combiner: a waiting caller is
 * the server whenever nobody else is.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "base/keys.h"
#include "deleg/deleg_internal.h"

/* Spin rounds before yielding, and yields before sleeping. Kept short: on
 * a 2-core machine the thread a waiter waits for may need its core (with
 * 256 spins and 16 yields, 2 clients and 1 worker on 2 vCPUs ran 4x
 * slower: docs/delegmap.md). */
enum { WAIT_SPINS = 32, WAIT_YIELDS = 4 };

/* Thread-local registrations: at most TLS_REGS maps at once; the least
 * recently registered is given back when a thread uses more. */
enum { TLS_REGS = 8 };

struct tls_reg {
    gomap_deleg_t *m;
    uint64_t id;
    unsigned ci;
};

static _Thread_local struct tls_reg tls_regs[TLS_REGS];
static _Thread_local unsigned tls_nregs;

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static gomap_deleg_t *live_maps; /* under live_lock */
static uint64_t next_id = 1;     /* under live_lock */
static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;
static int exit_key_rc = -1;

/* ---- the list of live maps -------------------------------------------------------- */

int gomap__deleg_live_add(gomap_deleg_t *m)
{
    pthread_mutex_lock(&live_lock);
    m->id = next_id++;
    m->live_next = live_maps;
    live_maps = m;
    pthread_mutex_unlock(&live_lock);
    return 0;
}

void gomap__deleg_live_remove(gomap_deleg_t *m)
{
    pthread_mutex_lock(&live_lock);
    for (gomap_deleg_t **p = &live_maps; *p; p = &(*p)->live_next) {
        if (*p == m) {
            *p = m->live_next;
            break;
        }
    }
    pthread_mutex_unlock(&live_lock);
}

/* Whether every ring of client c is empty. */
static bool rings_empty(const gomap_deleg_t *m, struct deleg_client *c)
{
    if (!load_acquire(&c->rings)) /* pairs with take_slot's release */
        return true;
    for (unsigned p = 0; p < m->nparts; p++) {
        struct deleg_ring *r = ring_of(m, c, p);
        if (load_relaxed(&r->head) != load_acquire(&r->tail))
            return false;
    }
    return true;
}

/* Gives registration r back, if its map still lives. */
static void release_reg(const struct tls_reg *r)
{
    if (r->ci == SHARED_CLIENT)
        return;
    pthread_mutex_lock(&live_lock);
    for (gomap_deleg_t *m = live_maps; m; m = m->live_next) {
        if (m != r->m || m->id != r->id)
            continue;
        struct deleg_client *c = &m->clients[r->ci];
        /* Release: the next thread to take the slot (take_slot's acquire)
         * sees this thread's last writes to it (posted). */
        store_release(&c->state, rings_empty(m, c) ? CLIENT_FREE : CLIENT_ORPHANED);
        fetch_sub_relaxed(&m->nregistered, 1);
        break;
    }
    pthread_mutex_unlock(&live_lock);
}

static void on_thread_exit(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < tls_nregs; i++)
        release_reg(&tls_regs[i]);
    tls_nregs = 0;
}

static void make_exit_key(void)
{
    exit_key_rc = pthread_key_create(&exit_key, on_thread_exit);
}

/* ---- taking a slot ---------------------------------------------------------------- */

size_t gomap__deleg_rings_bytes(const gomap_deleg_t *m)
{
    return m->ring_stride * m->nparts + DELEG_ALIGN;
}

int gomap__deleg_rings_alloc(gomap_deleg_t *m, struct deleg_client *c)
{
    size_t bytes = gomap__deleg_rings_bytes(m);
    char *block = gomap__alloc(m->opt.alloc, bytes);
    if (!block)
        return -ENOMEM;
    memset(block, 0, bytes);
    c->rings_block = block;
    uintptr_t first = ((uintptr_t)block + DELEG_ALIGN - 1) & ~(uintptr_t)(DELEG_ALIGN - 1);
    /* Release: a server that loads the pointer (acquire) sees the zeroed
     * positions. */
    store_release(&c->rings, (char *)first);
    return 0;
}

/* Takes a free slot for the calling thread; SHARED_CLIENT if none is free
 * or its rings cannot be allocated. Called with reg_lock held. */
static unsigned take_slot(gomap_deleg_t *m)
{
    for (unsigned i = 0; i < GOMAP_DELEG_CLIENTS_MAX; i++) {
        struct deleg_client *c = &m->clients[i];
        /* Acquire: pairs with release_reg's release (the slot's last
         * thread is done with it). */
        unsigned st = load_acquire(&c->state);
        if (st == CLIENT_TAKEN || (st == CLIENT_ORPHANED && !rings_empty(m, c)))
            continue;
        if (!load_relaxed(&c->rings) && gomap__deleg_rings_alloc(m, c) != 0)
            return SHARED_CLIENT;
        store_relaxed(&c->state, CLIENT_TAKEN);
        fetch_add_relaxed(&m->nregistered, 1);
        if (i >= load_relaxed(&m->clients_hi))
            /* seq_cst: a worker going to sleep loads clients_hi after
             * storing idle; this thread stores its head after this and then
             * loads idle (post_publish): one of the two sees the other. */
            store_seq_cst(&m->clients_hi, i + 1);
        return i;
    }
    return SHARED_CLIENT;
}

static void remember(gomap_deleg_t *m, unsigned ci)
{
    if (tls_nregs == TLS_REGS) {
        release_reg(&tls_regs[TLS_REGS - 1]);
        tls_nregs--;
    }
    memmove(&tls_regs[1], &tls_regs[0], tls_nregs * sizeof tls_regs[0]);
    tls_regs[0] = (struct tls_reg){m, m->id, ci};
    tls_nregs++;
}

unsigned gomap__deleg_client(gomap_deleg_t *m)
{
    for (unsigned i = 0; i < tls_nregs; i++)
        if (tls_regs[i].m == m && tls_regs[i].id == m->id)
            return tls_regs[i].ci;
    pthread_once(&exit_once, make_exit_key);
    if (exit_key_rc != 0 || pthread_setspecific(exit_key, tls_regs) != 0)
        return SHARED_CLIENT; /* no way to give a slot back at exit */
    pthread_mutex_lock(&m->reg_lock);
    unsigned ci = take_slot(m);
    pthread_mutex_unlock(&m->reg_lock);
    /* A thread that found no slot is remembered too (it does not look for
     * one at every call), unless only memory was missing. */
    if (ci != SHARED_CLIENT || load_relaxed(&m->nregistered) >= GOMAP_DELEG_CLIENTS_MAX)
        remember(m, ci);
    return ci;
}

/* ---- waiting ---------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What a waiter waits for: op answered, or room in the client's queue. */
typedef struct {
    struct deleg_ring *ring; /* op answered: tail passed pos */
    unsigned pos;
    struct deleg_client *room; /* room: outstanding below depth */
} wait_cond;

/* Requests client c has outstanding over all its rings. Loads the tails
 * with seq_cst: the sleeping side of the protocol (deleg_internal.h). */
static unsigned outstanding(const gomap_deleg_t *m, struct deleg_client *c)
{
    unsigned answered = 0;
    for (unsigned p = 0; p < m->nparts; p++)
        answered += load_seq_cst(&ring_of(m, c, p)->tail);
    c->answered_seen = answered;
    return c->posted - answered;
}

static bool cond_met(const gomap_deleg_t *m, const wait_cond *w)
{
    if (w->room)
        return outstanding(m, w->room) < m->depth;
    /* seq_cst (an acquire included): pairs with the server's release of
     * tail, and is the sleeper's load of the Dekker pair. */
    return (int)(load_seq_cst(&w->ring->tail) - w->pos) >= 0;
}

/* Sleeps on c's futex word until a server bumps it, unless the condition
 * already holds or (combining) the combiner lock is free. */
static void sleep_on(gomap_deleg_t *m, struct deleg_client *c, const wait_cond *w)
{
    unsigned seen = load_seq_cst(&c->wake);
    fetch_add_seq_cst(&c->sleeping, 1);
    if (m->workers == 0)
        fetch_add_seq_cst(&m->sleepers, 1);
    /* seq_cst loads after the seq_cst stores above: a server that released
     * the tail (or the combiner lock) before our flag was visible is seen
     * here; one that releases after sees the flag and bumps `wake`. */
    bool go = !cond_met(m, w) && !(m->workers == 0 && load_seq_cst(&m->comb_lock) == 0);
    if (go) {
        fetch_add_relaxed(&c->sleeps, 1);
        gomap__deleg_futex_wait(&c->wake, seen);
    }
    if (m->workers == 0)
        fetch_sub_relaxed(&m->sleepers, 1);
    fetch_sub_relaxed(&c->sleeping, 1);
}

static void wait_for(gomap_deleg_t *m, struct deleg_client *c, const wait_cond *w)
{
    for (unsigned round = 0; !cond_met(m, w); round++) {
        if (m->workers == 0 && gomap__deleg_try_combine(m))
            continue;
        if (round < WAIT_SPINS)
            cpu_relax();
        else if (round < WAIT_SPINS + WAIT_YIELDS)
            sched_yield();
        else
            sleep_on(m, c, w);
    }
}

bool gomap__deleg_op_done(gomap_deleg_t *m, const gomap_deleg_op *op)
{
    if (op->part_ == NO_PART)
        return true;
    return ring_answered(ring_of(m, &m->clients[op->client_], op->part_), op->pos_);
}

void gomap__deleg_wait_op(gomap_deleg_t *m, const gomap_deleg_op *op)
{
    if (gomap__deleg_op_done(m, op))
        return;
    struct deleg_client *c = &m->clients[op->client_];
    wait_cond w = {ring_of(m, c, op->part_), op->pos_, NULL};
    wait_for(m, c, &w);
}

void gomap__deleg_wake_client(struct deleg_client *c)
{
    /* seq_cst: the waker's load of the Dekker pair, after its seq_cst
     * store of the tail (serve_pass). */
    if (load_seq_cst(&c->sleeping)) {
        fetch_add_release(&c->wake, 1);
        gomap__deleg_futex_wake(&c->wake);
    }
}

/* ---- posting ---------------------------------------------------------------------- */

/* Whether op may be posted: a known kind, a key the map accepts, the
 * arguments its kind needs. */
static bool op_ok(const gomap_deleg_t *m, const gomap_deleg_op *op, bool internal)
{
    if (op->kind == DELEG_CALL)
        return internal;
    if (op->kind < 0 || op->kind >= DELEG_KIND_PUBLIC_END || !gomap__key_ok(m->key_kind, op->key))
        return false;
    if (op->kind == GOMAP_DELEG_SET && !op->val && m->val_size)
        return false;
    return op->kind != GOMAP_DELEG_COMPUTE || op->fn != NULL;
}

/* The positions a post has written but not yet published, per partition. */
typedef struct {
    unsigned head[GOMAP_DELEG_WORKERS_MAX];
    uint64_t touched; /* bit per partition */
} post_state;

/* Publishes the heads written so far and wakes the workers concerned. */
static void post_publish(gomap_deleg_t *m, struct deleg_client *c, post_state *ps)
{
    for (uint64_t t = ps->touched; t; t &= t - 1) {
        unsigned p = (unsigned)__builtin_ctzll(t);
        /* seq_cst (a release included): the server's acquire of head sees
         * the entries and the operations they point to; and the store of
         * the Dekker pair whose load is gomap__deleg_wake_worker's. */
        store_seq_cst(&ring_of(m, c, p)->head, ps->head[p]);
        if (m->workers)
            gomap__deleg_wake_worker(m, p);
    }
    ps->touched = 0;
}

/* Waits until client c may post one more request. False (nothing waited)
 * with nowait when the queue is full. */
static bool make_room(gomap_deleg_t *m, struct deleg_client *c, post_state *ps, bool nowait)
{
    if (c->posted - c->answered_seen < m->depth || outstanding(m, c) < m->depth)
        return true;
    post_publish(m, c, ps);
    if (nowait)
        return false;
    uint64_t t0 = now_ns();
    wait_cond w = {NULL, 0, c};
    store_relaxed(&c->full_waiting, 1);
    wait_for(m, c, &w);
    store_relaxed(&c->full_waiting, 0);
    fetch_add_relaxed(&c->full_waits, 1);
    fetch_add_relaxed(&c->full_wait_ns, now_ns() - t0);
    return true;
}

size_t gomap__deleg_post(gomap_deleg_t *m, unsigned ci, gomap_deleg_op *ops, size_t n,
                         bool nowait, bool internal)
{
    struct deleg_client *c = &m->clients[ci];
    post_state ps;
    ps.touched = 0;
    size_t posted = 0;
    bool full = false;
    for (size_t i = 0; i < n; i++) {
        gomap_deleg_op *op = &ops[i];
        unsigned want = op->part_; /* DELEG_CALL: the partition to run on */
        op->part_ = NO_PART;
        if (!op_ok(m, op, internal)) {
            op->status = -EINVAL;
            continue;
        }
        if (full || !make_room(m, c, &ps, nowait)) {
            full = true; /* in order: nothing after a refusal is posted */
            op->status = -EAGAIN;
            fetch_add_relaxed(&c->refused, 1);
            continue;
        }
        uint64_t hash = op->kind == DELEG_CALL ? 0 : deleg_hash(m, op->key);
        unsigned p = op->kind == DELEG_CALL ? want : part_of(m, hash);
        struct deleg_ring *r = ring_of(m, c, p);
        if (!(ps.touched & ((uint64_t)1 << p))) {
            ps.head[p] = load_relaxed(&r->head); /* our own */
            ps.touched |= (uint64_t)1 << p;
        }
        r->ent[ps.head[p] & (m->capacity - 1)] = (struct deleg_entry){op, hash};
        op->status = -EINPROGRESS;
        op->pos_ = ++ps.head[p];
        op->part_ = (unsigned short)p;
        op->client_ = (unsigned short)ci;
        c->posted++;
        posted++;
    }
    post_publish(m, c, &ps);
    return posted;
}

bool gomap__deleg_run_direct(gomap_deleg_t *m, gomap_deleg_op *op)
{
    if (m->workers != 0)
        return false;
    unsigned ci = gomap__deleg_client(m);
    /* A thread on the shared slot has nothing outstanding: its calls run
     * to completion. A thread with a slot of its own may have submitted
     * operations that are not answered yet; this one must come after them. */
    if (ci != SHARED_CLIENT) {
        struct deleg_client *c = &m->clients[ci];
        if (c->posted != c->answered_seen && outstanding(m, c) != 0)
            return false;
    }
    return gomap__deleg_try_direct(m, op);
}

void gomap__deleg_run(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n, bool internal)
{
    unsigned ci = gomap__deleg_client(m);
    bool shared = ci == SHARED_CLIENT;
    if (shared) {
        pthread_mutex_lock(&m->shared_lock);
        fetch_add_relaxed(&m->shared_ops, n);
    }
    gomap__deleg_post(m, ci, ops, n, false, internal);
    for (size_t i = 0; i < n; i++)
        gomap__deleg_wait_op(m, &ops[i]);
    if (shared)
        pthread_mutex_unlock(&m->shared_lock);
}

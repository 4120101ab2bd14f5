/*
 * deleg_internal.h — the delegation map's layout, shared by delegmap.c
 * (life cycle and the public calls), deleg_client.c (clients: registration,
 * posting, waiting), deleg_server.c (serving: passes, workers, combining)
 * and deleg_diag.c (stats, validate). docs/delegmap.md has the design.
 *
 * Shape
 *   P = max(workers, 1) partitions, each a core map that only its server
 *   touches (a worker thread, or in combining mode the holder of the
 *   combiner lock), on lines of its own. GOMAP_DELEG_CLIENTS_MAX client
 *   slots plus one shared slot (SHARED_CLIENT, used under a mutex by the
 *   threads past the bound), each on lines of its own, each with P request
 *   rings (allocated when a thread first takes the slot, kept for the
 *   slot's next thread, freed with the map).
 *
 * Hashing. Every partition's core map hashes with the same fixed seed
 * (gomap__new_seeded), and the client hashes the key: the hash picks the
 * partition and then serves the server's probe. The core map uses the
 * hash's low B bits and its top byte; the partition comes from bits 40 to
 * 55 (PART_SHIFT), as the sharded map's shard does.
 *
 * A ring (struct deleg_ring) is single-producer single-consumer: the
 * client writes entries and `head`; the partition's server reads them and
 * writes `tail` once it has answered every request before it. Positions
 * are free-running 32-bit counters; capacity is queue_depth rounded up to a
 * power of two, and the client never has more than queue_depth requests
 * outstanding over all its rings (posted - answered, counted per client),
 * so no ring overflows. An entry is the operation's address and its hash;
 * the operation itself (gomap_deleg_op) is the caller's: a synchronous
 * call's lives on its stack.
 *
 * Ordering, as every acquire/release pair below says at its place:
 *   client -> server: the entries and the operation they point to are
 *     written before head is released; the server acquires head.
 *   server -> client: the answers (result, status, a get's value) and the
 *     partition's published length are written before tail is released;
 *     the client acquires tail before reading any of them.
 * Sleeping (futex) uses seq_cst pairs, as Dekker's protocol needs: the
 * sleeper stores its flag and then loads the condition, the waker stores
 * the condition and then loads the flag; one of them sees the other.
 */
#ifndef GOMAP_DELEG_INTERNAL_H
#define GOMAP_DELEG_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <gomap/delegmap.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/atomics.h"
#include "base/compiler.h"
#include "base/scope.h"
#include "core/layer.h"

#define PART_SHIFT 40
#define DELEG_ALIGN 128 /* two lines: the adjacent-line prefetcher pairs them */
#define SHARED_CLIENT GOMAP_DELEG_CLIENTS_MAX /* the slot past the bound */
#define NCLIENT_SLOTS (GOMAP_DELEG_CLIENTS_MAX + 1)
#define NO_PART 0xFFFFu /* an operation never posted */

/* Internal operation kinds, past the public ones: never accepted from a
 * caller. DELEG_CALL runs op->fn's internal twin on the server. */
enum { DELEG_KIND_PUBLIC_END = GOMAP_DELEG_COMPUTE + 1, DELEG_CALL = 64 };

/* A request: the operation and its key's hash. */
struct deleg_entry {
    gomap_deleg_op *op;
    uint64_t hash;
};

/* One client's ring to one partition. */
struct deleg_ring {
    _Atomic unsigned head __attribute__((aligned(64))); /* the client's */
    _Atomic unsigned tail __attribute__((aligned(64))); /* the server's */
    struct deleg_entry ent[] __attribute__((aligned(64))); /* capacity */
};

enum client_state { CLIENT_FREE, CLIENT_TAKEN, CLIENT_ORPHANED };

/* A client slot: two lines. The first is written by the client only (and
 * read by servers and stats); `sleeping` and `wake`, on the second, are
 * written by the client and by servers that wake it. The padding is the
 * point: clients never share a line. */
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): a line per writer, on purpose
struct deleg_client {
    _Atomic unsigned state;        /* enum client_state */
    unsigned posted;               /* requests posted, all rings (client's) */
    unsigned answered_seen;        /* answered, as last added up (client's) */
    _Atomic unsigned full_waiting; /* 1 while waiting for room */
    _Atomic uint64_t full_waits;   /* stats, the client's */
    _Atomic uint64_t full_wait_ns;
    _Atomic uint64_t refused;
    _Atomic uint64_t sleeps;
    _Atomic(char *) rings;         /* P rings, ring_stride apart; NULL until
                                      first taken (stored under reg_lock) */
    void *rings_block;             /* their allocation (rings is aligned in it) */
    _Atomic unsigned sleeping __attribute__((aligned(64))); /* waits on `wake` */
    _Atomic unsigned wake;         /* futex word: bumped by a waker */
} __attribute__((aligned(DELEG_ALIGN)));

/* A partition: its core map and its server's state. Written by its server
 * only, except `idle` and `wake` (clients that wake a sleeping worker),
 * which have a line of their own. */
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): a line per writer, on purpose
struct deleg_part {
    gomap_t *map;                  /* fixed for the map's life */
    gomap_deleg_t *owner;          /* the map (a worker's argument) */
    _Atomic size_t len;            /* layer_len(map) as last published */
    _Atomic uint64_t ops;          /* stats, the server's */
    _Atomic uint64_t batches;
    _Atomic uint64_t passes;
    _Atomic uint64_t direct;       /* combining: operations run directly */
    _Atomic uint64_t sleeps;
    pthread_t thread;              /* its worker (workers > 0) */
    _Atomic unsigned idle __attribute__((aligned(64))); /* worker sleeps on wake */
    _Atomic unsigned wake;         /* futex word */
} __attribute__((aligned(DELEG_ALIGN)));

// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): the combiner lock on a line of its own
struct gomap_deleg {
    struct deleg_part *parts;      /* nparts, aligned, inside `block` */
    struct deleg_client *clients;  /* NCLIENT_SLOTS, aligned, inside `block` */
    unsigned nparts;
    unsigned workers;
    unsigned depth;                /* queue_depth */
    unsigned capacity;             /* ring entries: depth rounded up to 2^k */
    size_t ring_stride;            /* bytes per ring */
    int key_kind;
    size_t val_size;
    uint64_t seed;                 /* every partition's core map hashes with it */
    gomap__hasher hasher;
    gomap_options opt;
    uint64_t id;                   /* never reused: tells a thread's stale
                                      registration from a new map at the
                                      same address */
    _Atomic unsigned clients_hi;   /* slots below it may be taken */
    _Atomic unsigned nregistered;  /* slots TAKEN */
    _Atomic unsigned sleepers;     /* combining: clients asleep */
    _Atomic unsigned comb_lock __attribute__((aligned(64))); /* combining */
    _Atomic unsigned stop;         /* workers: end */
    _Atomic uint64_t shared_ops;
    pthread_mutex_t reg_lock;      /* taking client slots */
    pthread_mutex_t shared_lock;   /* the shared client */
    struct gomap_deleg *live_next; /* the process's list of live maps */
    void *block;
    size_t block_size;
};

static inline unsigned part_of(const gomap_deleg_t *m, uint64_t hash)
{
    return (unsigned)((((hash >> PART_SHIFT) & 0xFFFF) * m->nparts) >> 16);
}

/* Client c's ring to partition `part`; c's rings exist (the client has
 * posted, or the caller saw the pointer). */
static inline struct deleg_ring *ring_of(const gomap_deleg_t *m, struct deleg_client *c,
                                         unsigned part)
{
    /* Acquire: pairs with take_slot's release (the rings zeroed). */
    char *rings = load_acquire(&c->rings);
    return (struct deleg_ring *)(void *)(rings + (size_t)part * m->ring_stride);
}

static inline uint64_t deleg_hash(const gomap_deleg_t *m, const void *key)
{
    return layer_hash(&m->hasher, m->key_kind, key);
}

/* Whether position `pos` (one past a request) has been answered. */
static inline bool ring_answered(struct deleg_ring *r, unsigned pos)
{
    /* Acquire: pairs with the server's release of tail (serve_ring in
     * deleg_server.c): every answer up to tail is visible. */
    return (int)(load_acquire(&r->tail) - pos) >= 0;
}

/* ---- clients (deleg_client.c) ------------------------------------------------- */

/* The calling thread's client of m, registering it on first use; the
 * shared slot (SHARED_CLIENT) when no slot of its own is available. */
unsigned gomap__deleg_client(gomap_deleg_t *m);

/* Posts ops[0..n) for client ci (the caller's own, or the shared slot held
 * under shared_lock). Waits for room unless nowait. DELEG_CALL operations
 * are accepted only when `internal`. Returns how many were posted. */
size_t gomap__deleg_post(gomap_deleg_t *m, unsigned ci, gomap_deleg_op *ops, size_t n,
                         bool nowait, bool internal);

/* Allocates client c's rings (zeroed, DELEG_ALIGN-aligned) and publishes
 * them: 0 or -ENOMEM. The allocation's size: gomap__deleg_rings_bytes. */
int gomap__deleg_rings_alloc(gomap_deleg_t *m, struct deleg_client *c);
size_t gomap__deleg_rings_bytes(const gomap_deleg_t *m);

/* Waits until op (posted) is answered. */
void gomap__deleg_wait_op(gomap_deleg_t *m, const gomap_deleg_op *op);

/* True once op is complete (answered, or never posted). */
bool gomap__deleg_op_done(gomap_deleg_t *m, const gomap_deleg_op *op);

/* Wakes client c if it sleeps (called after its tail moved). */
void gomap__deleg_wake_client(struct deleg_client *c);

/* Releases every registration of exiting threads: the list of live maps. */
int gomap__deleg_live_add(gomap_deleg_t *m);
void gomap__deleg_live_remove(gomap_deleg_t *m);

/* Combining mode: runs op (a synchronous call's, checked) directly if the
 * calling thread has nothing outstanding and the combiner lock is free
 * (gomap__deleg_try_direct). False, with nothing done, otherwise. */
bool gomap__deleg_run_direct(gomap_deleg_t *m, gomap_deleg_op *op);

/* Runs ops[0..n) synchronously: registers, posts, waits; through the
 * shared slot under its mutex when the thread has no slot. */
void gomap__deleg_run(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n, bool internal);

/* ---- servers (deleg_server.c) --------------------------------------------------- */

/* An internal operation run by a partition's server (validate). */
typedef void (*deleg_call_fn)(gomap_deleg_t *m, unsigned part, void *arg);

/* Runs fn(m, part, arg) on partition part's server and waits for it. */
void gomap__deleg_call(gomap_deleg_t *m, unsigned part, deleg_call_fn fn, void *arg);

/* Serves every pending request of partition p once; returns how many. The
 * caller is p's server (its worker, or the combiner lock's holder). */
size_t gomap__deleg_serve(gomap_deleg_t *m, unsigned p);

/* Combining mode: serves if the combiner lock is free. True if it served. */
bool gomap__deleg_try_combine(gomap_deleg_t *m);

/* Combining mode: if the combiner lock is free, takes it, executes op (a
 * checked public operation that was never posted) as its server would,
 * serves what others posted, and returns true; false, with nothing done,
 * if another thread holds the lock. The caller has no request of its own
 * outstanding, so its operations still take effect in program order. */
bool gomap__deleg_try_direct(gomap_deleg_t *m, gomap_deleg_op *op);

/* Starts / stops the worker threads. start: 0 or -EAGAIN (none left). */
int gomap__deleg_workers_start(gomap_deleg_t *m);
void gomap__deleg_workers_stop(gomap_deleg_t *m, unsigned started);

/* Wakes partition p's worker if it sleeps (called after a head moved). */
void gomap__deleg_wake_worker(gomap_deleg_t *m, unsigned p);

/* futex wait / wake on a word (deleg_server.c). */
void gomap__deleg_futex_wait(_Atomic unsigned *word, unsigned seen);
void gomap__deleg_futex_wake(_Atomic unsigned *word);

/* ---- re-entrancy (delegmap.c) --------------------------------------------------- */

/* Fails with the re-entrancy report if this thread is inside one of m's
 * callbacks. `site`: the public call's return address. */
void gomap__deleg_reentry_slow(const gomap_deleg_t *m, const void *site);

static inline void deleg_reentry_check(const gomap_deleg_t *m, const void *site)
{
    if (gomap__in_callback())
        gomap__deleg_reentry_slow(m, site);
}


#endif /* GOMAP_DELEG_INTERNAL_H */

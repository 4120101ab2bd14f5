/*
 * gomap/delegmap.h — the delegation map: threads do not touch the map, they
 * hand their operations to the thread that serves it.
 *
 * Purpose. Go's "channel + worker pool" way of sharing a map, done fast.
 * The entries live in core maps that only a server ever reads or writes;
 * a caller posts its operation into a request ring of its own and waits for
 * the answer. The server takes every pending request of every caller at
 * once and runs them as one batch, prefetching the buckets of the
 * operations ahead of the one it executes, so that the cache misses of a
 * batch overlap instead of following one another. Two ways to serve:
 *   - workers = 0, combining (flat combining): the callers take turns; the
 *     one that gets the combiner lock serves everybody's pending requests,
 *     the others wait for their answers. A synchronous call that finds
 *     nobody combining (and has no submitted operation of its own still
 *     unanswered) executes its operation itself, as directly as a call on
 *     a locked map. No thread of the map's own: for machines with few
 *     cores.
 *   - workers = n: n owner threads, each owning a partition of the keys
 *     (chosen from hash bits the core maps do not use) in a core map of its
 *     own, serving requests for its keys only.
 * The asynchronous interface (gomap_deleg_submit, _poll, _wait) lets one
 * caller keep many operations in flight; that is where the map is faster
 * than a map every thread locks. docs/delegmap.md has the design and the
 * measurements.
 *
 * Clients. A client is a thread: the first call a thread makes on a map
 * registers it, with a request ring (queue_depth entries) per partition;
 * the registration ends when the thread exits (or with gomap_deleg_free).
 * At most GOMAP_DELEG_CLIENTS_MAX threads hold a client of one map at once;
 * the threads past that share one more client, one call at a time under a
 * mutex (correct, slower; their submits complete before they return), and
 * so does a thread whose ring could not be allocated. Memory is bounded:
 * the rings of at most GOMAP_DELEG_CLIENTS_MAX + 1 clients.
 *
 * Thread-safety. Every function except gomap_deleg_new and gomap_deleg_free
 * may be called by any thread at any time. Callbacks (compute) run on the
 * server: a worker thread, or in combining mode whichever caller is
 * combining; they must not call into the same delegation map (they would
 * wait for themselves): the library detects that and ends the process with
 *   fatal error: re-entrant call into a gomap delegation map from its own callback (would deadlock)
 * through the same report and fault handler as the core map's misuse checks
 * (gomap/diag.h). A callback may use other maps. While a callback runs, the
 * server serves nothing else: keep callbacks short.
 *
 * Waiting. A call waits for its answer: it spins briefly, then yields,
 * then sleeps (futex) until the server wakes it; it never burns a core for
 * long. In combining mode a waiting caller serves the others whenever the
 * combiner lock is free, so no request waits for a thread that is not
 * running. Worker threads sleep when no request is pending. A caller whose
 * ring is full (queue_depth operations outstanding) waits for room the
 * same way, or with GOMAP_DELEG_NOWAIT is refused (-EAGAIN); such waits are
 * counted in the stats.
 *
 * Ordering. Each operation is linearizable: it takes effect at one instant
 * between the call (or its submission) and its answer. The operations one
 * client posts on one key take effect in the order posted; an asynchronous
 * batch's operations on different keys may take effect in any order (with
 * workers, each partition serves its part of the batch separately).
 * gomap_deleg_len is linearizable with one partition (workers 0 or 1); with
 * several it adds up the partitions' lengths, each at a different instant,
 * and is exact only while no write is in flight.
 *
 * Keys and values are given as for the core map (gomap/map.h) and values
 * are val_size bytes copied in and out; no pointer into the map ever
 * escapes except to a callback, for the duration of the call. Every
 * `*_out` pointer may be NULL. The allocator of the options is called by
 * the servers and by registering threads: with workers > 1, or with
 * several threads using the map, it must be thread-safe.
 *
 * Errors. Functions returning int return 0, -EINVAL for bad arguments
 * (nothing changed) or -ENOMEM when memory runs out (the map unchanged,
 * nothing leaked); each call lists the codes it can return. bool and void
 * functions treat a NULL map or key as absent / no-op.
 */
#ifndef GOMAP_DELEGMAP_H
#define GOMAP_DELEGMAP_H

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gomap_deleg gomap_deleg_t;

#define GOMAP_DELEG_WORKERS_MAX 64u
#define GOMAP_DELEG_QUEUE_MAX 65536u
#define GOMAP_DELEG_CLIENTS_MAX 64u

typedef struct gomap_deleg_options {
    gomap_options map;     /* key kind, value size, hint (for the whole map),
                              allocator, check mode; mem_limit must be 0 */
    unsigned workers;      /* 0: combining (callers take turns serving
                              everyone); n (up to GOMAP_DELEG_WORKERS_MAX):
                              n owner threads, each owning a partition of
                              the keys */
    unsigned queue_depth;  /* 1 .. GOMAP_DELEG_QUEUE_MAX: the most operations
                              one client may have outstanding (posted, not
                              yet answered) at once, over all partitions;
                              a synchronous call needs 1, a submit of n
                              operations keeps up to queue_depth of them in
                              flight */
} gomap_deleg_options;

/* Creates a delegation map and, with workers > 0, starts its worker
 * threads. 0, -EINVAL (NULL argument; queue_depth 0 or over
 * GOMAP_DELEG_QUEUE_MAX; workers over GOMAP_DELEG_WORKERS_MAX; a mem_limit;
 * options gomap_new rejects; *out NULL), -ENOMEM, or -EAGAIN (a worker
 * thread could not be started: pthread_create's EAGAIN; nothing left
 * behind).
 * Context: takes a process-wide mutex briefly (the list of live maps that
 * thread exit consults); never waits otherwise. Callable from callbacks. */
GOMAP_API int gomap_deleg_new(gomap_deleg_t **out, const gomap_deleg_options *opt);

/* Stops the worker threads (joins them), releases every client and frees
 * the map and everything it owns. Must not overlap any other call on the
 * map, and no operation may be in flight (submitted and not yet waited
 * for). Threads that used the map may still be running or may have exited.
 * NULL is a no-op.
 * Context: takes the process-wide mutex of gomap_deleg_new briefly; waits
 * for the worker threads to end (each finishes the callback it runs).
 * Freeing the map from inside one of its own callbacks is misuse, reported
 * as
 *   fatal error: gomap delegation map freed from inside its own callback */
GOMAP_API void gomap_deleg_free(gomap_deleg_t *m);

/* Copies the value of `key` to val_out and returns true; if absent, fills
 * val_out with zero bytes and returns false. The server writes the value
 * into val_out directly.
 * Context: posts one request and waits for its answer (see Waiting); may
 * serve other clients' requests (combining mode). From inside a callback
 * of this map: reported as a re-entrant call; from another map's
 * callback: allowed. */
GOMAP_API bool gomap_deleg_get(gomap_deleg_t *m, const void *key, void *val_out);

/* Sets the value of `key` (insert or overwrite); key and value are copied
 * into the map. 0, -EINVAL (NULL m or key, NULL val with val_size > 0, a
 * key no map accepts) or -ENOMEM (nothing changed).
 * Context: as gomap_deleg_get. */
GOMAP_API int gomap_deleg_set(gomap_deleg_t *m, const void *key, const void *val);

/* Deletes `key`; true if it was present. Never fails.
 * Context: as gomap_deleg_get. */
GOMAP_API bool gomap_deleg_delete(gomap_deleg_t *m, const void *key);

/* Atomic read-modify-write of one key, run by the server. fn(key, val,
 * present, ctx) is called once: *present says whether the key is in the
 * map and val points to a private copy of its value (val_size bytes;
 * zeroed when absent). fn may change *val, set *present to insert the key
 * with *val, or clear it to delete the key, and returns 0 to commit; any
 * other return abandons the call (the map unchanged).
 *
 * Returns 0 when fn returned 0 and its change was made; fn's nonzero value
 * unchanged when it gave up; -EINVAL for a NULL m, key or fn or a key no
 * map accepts (fn not called); -ENOMEM when the private copy of a value
 * over 256 bytes could not be allocated (fn not called) or when fn asked
 * to insert an absent key and the insert failed. fn should give up with
 * positive values to keep its reasons apart from gomap's.
 * Context: fn runs on the server thread, not on the caller's (a worker, or
 * whichever caller is combining), while the server serves nothing else;
 * the caller waits as in gomap_deleg_get. fn must not call into this map
 * (reported as a re-entrant call); it may use other maps. */
GOMAP_API int gomap_deleg_compute(gomap_deleg_t *m, const void *key,
                                  int (*fn)(const void *key, void *val, bool *present, void *ctx),
                                  void *ctx);

/* The number of entries: linearizable with one partition (workers 0 or
 * 1); with several, the sum of each partition's length as its server last
 * published it (exact when no write is in flight). 0 for NULL.
 * Context: reads counters the servers publish; takes no lock, posts
 * nothing and never waits. Callable from any callback, this map's
 * included. */
GOMAP_API size_t gomap_deleg_len(gomap_deleg_t *m);

/* ---- asynchronous operations ----------------------------------------------------- */

typedef enum gomap_deleg_kind {
    GOMAP_DELEG_GET,     /* val: out (val_size bytes, or NULL); result: 1
                            found, 0 absent (val zero-filled) */
    GOMAP_DELEG_SET,     /* val: in; result: 0 or -ENOMEM */
    GOMAP_DELEG_DELETE,  /* val unused; result: 1 deleted, 0 absent */
    GOMAP_DELEG_COMPUTE  /* fn, ctx as gomap_deleg_compute; val unused;
                            result: what gomap_deleg_compute returns */
} gomap_deleg_kind;

/* One operation of a submit. The caller owns the array and everything the
 * operations point to (key, val, the key's string bytes, ctx): all of it
 * must stay valid, and must not be read or written by the caller, from
 * gomap_deleg_submit until gomap_deleg_wait returns or gomap_deleg_poll
 * counts the operation as complete. The server reads key and val, writes
 * the value of a get into val and fills result and status. */
typedef struct gomap_deleg_op {
    /* in: set by the caller */
    int kind;                  /* gomap_deleg_kind */
    const void *key;
    void *val;
    int (*fn)(const void *key, void *val, bool *present, void *ctx);
    void *ctx;
    /* out: valid once the operation is complete */
    int result;                /* per kind, as gomap_deleg_kind says */
    int status;                /* 0: done (see result); -EINVAL: refused at
                                  submission (bad kind, NULL or unacceptable
                                  key, NULL val for a set with val_size > 0,
                                  NULL fn), never posted; -EAGAIN: not
                                  posted (GOMAP_DELEG_NOWAIT, queue full);
                                  -EINPROGRESS while in flight */
    /* private: the library's bookkeeping, do not touch */
    unsigned pos_;
    unsigned short part_;
    unsigned short client_;
} gomap_deleg_op;

/* gomap_deleg_submit's flags. */
#define GOMAP_DELEG_NOWAIT 1  /* never wait for room: operations that find
                                 the caller's queue full are not posted */

/* Posts ops[0..n) to their servers and returns without waiting for them:
 * the number of operations posted (status -EINPROGRESS), or -EINVAL (NULL
 * m, NULL ops with n > 0, unknown flags; nothing posted). Operations that
 * are themselves bad are not posted: status -EINVAL (complete at once).
 * Without GOMAP_DELEG_NOWAIT every good operation is posted: when the
 * caller already has queue_depth operations outstanding, submit waits for
 * room (counted in the stats as a wait on a full queue). With it, submit
 * posts in order until the queue is full and marks the rest -EAGAIN (also
 * counted). A caller past GOMAP_DELEG_CLIENTS_MAX (see Clients) runs its
 * operations to completion before submit returns.
 * Context: hashes the keys on the calling thread; may wait for room as
 * gomap_deleg_get waits for an answer, serving others meanwhile in
 * combining mode. From inside a callback of this map: reported as a
 * re-entrant call. */
GOMAP_API int gomap_deleg_submit(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n, int flags);

/* Waits until every operation of ops[0..n) (as submitted to m, by any
 * thread) is complete. 0 or -EINVAL (NULL m, NULL ops with n > 0).
 * Operations not posted (status -EINVAL or -EAGAIN) count as complete.
 * Context: waits as gomap_deleg_get (serving others in combining mode).
 * From inside a callback of this map: reported as a re-entrant call. */
GOMAP_API int gomap_deleg_wait(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n);

/* Returns how many operations at the start of ops[0..n) are complete (k:
 * ops[0..k) are, ops[k] is not; n when all are), or -EINVAL (NULL m, NULL
 * ops with n > 0). Never waits. In combining mode it first serves the
 * pending requests if the combiner lock is free (so polling alone makes
 * progress).
 * Context: may take the combiner lock with a try-lock (never waits for
 * it). From inside a callback of this map: reported as a re-entrant call. */
GOMAP_API long gomap_deleg_poll(gomap_deleg_t *m, gomap_deleg_op *ops, size_t n);

/* ---- diagnostics ------------------------------------------------------------------ */

/* Counters since creation. Server counters are written by each partition's
 * server and client counters by each client, with relaxed atomics: exact
 * once the map is quiet. */
typedef struct gomap_deleg_stats {
    unsigned workers;          /* as created (0: combining) */
    unsigned partitions;       /* core maps: max(workers, 1) */
    unsigned clients;          /* clients registered now (the shared one
                                  past the bound not counted) */
    unsigned queue_depth;
    size_t entries;            /* as gomap_deleg_len */
    uint64_t ops;              /* operations served */
    uint64_t batches;          /* runs of requests one server took from one
                                  client's ring in one pass */
    double mean_batch;         /* ops / batches (0 if none) */
    uint64_t passes;           /* server passes that served something
                                  (combining: combiner turns) */
    uint64_t full_waits;       /* times a client found its queue full and
                                  waited for room */
    uint64_t full_wait_ns;     /* total time those waits took (counted
                                  when each wait ends) */
    unsigned full_waiting;     /* clients waiting for room right now */
    uint64_t refused;          /* operations not posted: -EAGAIN */
    uint64_t sleeps;           /* waits that went to sleep (futex), clients'
                                  and workers' */
    uint64_t shared_ops;       /* operations through the shared client past
                                  GOMAP_DELEG_CLIENTS_MAX */
    uint64_t direct_ops;       /* combining: synchronous calls the caller
                                  executed itself, having found nobody
                                  combining (counted in ops too) */
} gomap_deleg_stats_t;

/* Fills *out. 0 or -EINVAL (NULL m or out).
 * Context: reads counters; takes no lock and never waits. Callable from
 * any callback, this map's included. */
GOMAP_API int gomap_deleg_stats(gomap_deleg_t *m, gomap_deleg_stats_t *out);

/* Checks every partition's core map (gomap_validate), its hash seed (the
 * map's), that every key lives in the partition its hash selects, that the
 * published lengths agree with the maps, and every client's queue (no more
 * outstanding than queue_depth, positions in order, clients within the
 * bound). Run by each partition's server as an operation of its own; call
 * while no other thread uses the map. 0, -EINVAL (NULL m) or -EFAULT with
 * a one-line reason in why (if why_len > 0).
 * Context: posts one request per partition and waits as gomap_deleg_get.
 * From inside a callback of this map: reported as a re-entrant call. */
GOMAP_API int gomap_deleg_validate(gomap_deleg_t *m, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_DELEGMAP_H */

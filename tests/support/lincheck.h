/*
 * lincheck.h — a linearizability checker for concurrent key-value maps.
 *
 * A history is the list of completed operations of a concurrent run: which
 * thread, what operation on which key with which arguments, what it returned,
 * and the two timestamps around the call (invocation before calling the map,
 * response after it returned). The history is linearizable when some order of
 * its operations (1) keeps every operation that returned before another one
 * was invoked ahead of it and (2) gives each operation exactly the result it
 * returned when applied, one at a time, to a plain sequential map. That is
 * the correctness condition of a concurrent map: every operation appears to
 * happen at one instant between its invocation and its response.
 *
 * The sequential model is a map over a small key space (LC_MAX_KEYS keys,
 * numbered 0..7) with small values (0..LC_MAX_VALUE); its whole state fits
 * one 64-bit word (lc_state: one byte per key, 0 = absent, v+1 = value v).
 * Operations are the union of those of Go's sync.Map and of the other
 * concurrent maps we test: load, store, swap, load_or_store, load_and_delete,
 * delete, compare_and_swap, compare_and_delete, clear, len and snapshot (an
 * atomic copy of the whole map). A map type uses the subset it has.
 *
 * The checker (lincheck.c) is Wing and Gong's search with Lowe's
 * memoisation; recording (lincheck_begin/lincheck_end) is two fetch_adds on
 * one shared counter per operation into per-thread buffers; lincheck_run
 * drives a whole random history through an adapter (a table of function
 * pointers on an opaque map object) and checks it.
 */
#ifndef GOMAP_TEST_LINCHECK_H
#define GOMAP_TEST_LINCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
    LC_MAX_KEYS = 8,       /* keys are 0 .. LC_MAX_KEYS-1 */
    LC_MAX_VALUE = 254,    /* values are 0 .. LC_MAX_VALUE */
    LC_MAX_THREADS = 8,    /* lincheck_run's worker threads */
    LC_THREAD_MAIN = 255   /* thread id of lincheck_run's sequential setup
                              and final operations */
};

typedef enum lc_kind {
    LC_LOAD,
    LC_STORE,
    LC_SWAP,
    LC_LOAD_OR_STORE,
    LC_LOAD_AND_DELETE,
    LC_DELETE,
    LC_COMPARE_AND_SWAP,
    LC_COMPARE_AND_DELETE,
    LC_CLEAR,              /* whole map; key ignored */
    LC_LEN,                /* whole map; key ignored */
    LC_SNAPSHOT,           /* whole map; key ignored */
    LC_KIND_COUNT
} lc_kind;

/* The u64 key an adapter passes to its map for key number k (0 ..
 * LC_MAX_KEYS-1): edge values (0, UINT64_MAX, the top bit, 2^32) and
 * ordinary ones, so the histories also cross the hash's edge cases. */
const void *lincheck_key(uint64_t k);

/* The model's state: byte k is 0 when key k is absent, else its value + 1. */
typedef uint64_t lc_state;

/* One completed operation. What each field means per kind:
 *
 *   kind                 arg         arg2   found           out
 *   load                 -           -      key present     value (if found)
 *   store                value       -      -               -
 *   swap                 value       -      key was present previous value (if found)
 *   load_or_store        value       -      loaded          value now there
 *   load_and_delete      -           -      key was present its value (if found)
 *   delete               -           -      -               -
 *   compare_and_swap     old         new    swapped         -
 *   compare_and_delete   old         -      deleted         -
 *   clear                -           -      -               -
 *   len                  -           -      -               number of keys
 *   snapshot             -           -      -               the map, as an lc_state
 *
 * Timestamps order events: op a precedes op b when a.ret < b.call; equal
 * stamps count as overlapping. An operation with ret == LC_PENDING was
 * called but had not returned (a prefix of a history cut while it ran): it
 * may take effect at any point after its call, or not at all, and its
 * results are ignored. */
#define LC_PENDING UINT64_MAX

typedef struct lc_op {
    uint64_t call, ret;
    uint64_t arg, arg2, out;
    lc_kind kind;
    unsigned key;
    unsigned thread;
    bool found;
} lc_op;

/* ---- the model ------------------------------------------------------------ */

static inline bool lc_state_get(lc_state s, unsigned key, uint64_t *val)
{
    unsigned b = (unsigned)(s >> (8 * key)) & 0xFF;
    if (val)
        *val = b ? b - 1 : 0;
    return b != 0;
}

static inline lc_state lc_state_put(lc_state s, unsigned key, uint64_t val)
{
    unsigned sh = 8 * key;
    return (s & ~((lc_state)0xFF << sh)) | ((val + 1) & 0xFF) << sh;
}

static inline lc_state lc_state_del(lc_state s, unsigned key)
{
    return s & ~((lc_state)0xFF << (8 * key));
}

/* Applies `op` to the sequential map `s`: returns whether op's recorded
 * results are what the map in state s gives (always true for a pending
 * op), and sets *next to the state after it. */
bool lincheck_apply(lc_state s, const lc_op *op, lc_state *next);

/* ---- checking --------------------------------------------------------------- */

typedef enum {
    LC_OK = 0,          /* linearizable */
    LC_VIOLATION = 1,   /* not linearizable */
    LC_INVALID = -1     /* malformed history (key, value or timestamps out of
                           range); the reason is printed to stderr */
} lc_verdict;

typedef struct lc_stats {
    size_t configs;     /* distinct (linearised set, state) pairs visited */
    size_t steps;       /* operations tried at some point of the search */
} lc_stats;

/* Decides whether ops[0..n) (any order) is linearizable for a map that
 * starts in state `initial`. st may be NULL. */
lc_verdict lincheck_check(const lc_op *ops, size_t n, lc_state initial, lc_stats *st);

/* Shrinks a violating history in place to a smaller one that is still
 * violating and whose violation implies the original's: the operations of
 * one key (when no whole-map operation is present: linearizability is
 * local); the shortest prefix in time that violates (operations running at
 * the cut become pending: every prefix of a linearizable history is
 * linearizable); without each operation that as recorded changed nothing
 * (loads, failed CAS...: any order stays legal without them); and a
 * sequential start (each op over before the next began) replaced by the
 * state it leaves, which becomes *initial. Returns the new length (n itself
 * if the history is linearizable). Sorts ops by call. */
size_t lincheck_minimize(lc_op *ops, size_t n, lc_state *initial);

/* Prints the history sorted by invocation, timestamps renumbered 0,1,2...,
 * with a timeline when it fits. */
void lincheck_print(FILE *f, const lc_op *ops, size_t n, lc_state initial);

/* ---- recording --------------------------------------------------------------- */

typedef struct lincheck_recorder lincheck_recorder;

/* Buffers for `threads` worker threads (ids 0..threads-1) and for
 * LC_THREAD_MAIN, each of `capacity` operations. */
lincheck_recorder *lincheck_recorder_new(unsigned threads, size_t capacity);
void lincheck_recorder_free(lincheck_recorder *r);

/* Forgets every recorded operation. Not concurrently with recording. */
void lincheck_recorder_reset(lincheck_recorder *r);

/* Starts an operation of `thread`: copies kind, key, arg and arg2 from
 * *plan and takes the invocation timestamp. Call it just before calling the
 * map, fill found/out from the map's answer, then call lincheck_end. Each
 * thread records only into its own buffer. */
lc_op *lincheck_begin(lincheck_recorder *r, unsigned thread, const lc_op *plan);

/* Takes the response timestamp of op. */
void lincheck_end(lincheck_recorder *r, lc_op *op);

/* Every operation recorded so far, merged and sorted by invocation; valid
 * until the next reset/free. Call after the recording threads are joined. */
const lc_op *lincheck_history(lincheck_recorder *r, size_t *n);

/* ---- random histories through an adapter ------------------------------------ */

/* A concurrent map as lincheck_run sees it: `key` is a key number
 * (0..nkeys-1) the adapter maps to a real key; values are small integers.
 * Functions the map does not have are NULL and never generated. */
typedef struct lc_adapter {
    const char *name;
    bool (*load)(void *obj, uint64_t key, uint64_t *val);
    void (*store)(void *obj, uint64_t key, uint64_t val);
    bool (*swap)(void *obj, uint64_t key, uint64_t val, uint64_t *prev);
    bool (*load_or_store)(void *obj, uint64_t key, uint64_t val, uint64_t *actual);
    bool (*load_and_delete)(void *obj, uint64_t key, uint64_t *val);
    void (*del)(void *obj, uint64_t key);
    bool (*compare_and_swap)(void *obj, uint64_t key, uint64_t old, uint64_t new_val);
    bool (*compare_and_delete)(void *obj, uint64_t key, uint64_t old);
    void (*clear)(void *obj);
    size_t (*len)(void *obj);
    lc_state (*snapshot)(void *obj, unsigned nkeys); /* keys 0..nkeys-1 (lincheck_exec
                                                        passes LC_MAX_KEYS), built
                                                        with lc_state_put */
} lc_adapter;

/* Calls the adapter function for op->kind and fills op->found / op->out. */
void lincheck_exec(const lc_adapter *a, void *obj, lc_op *op);

typedef struct lc_config {
    unsigned threads;          /* 1 .. LC_MAX_THREADS */
    unsigned ops_per_thread;
    unsigned nkeys;            /* 1 .. LC_MAX_KEYS */
    unsigned nvalues;          /* values (and CAS/CAD old values) drawn from
                                  0 .. nvalues-1; 1 .. LC_MAX_VALUE+1 */
    const unsigned *weights;   /* LC_KIND_COUNT relative frequencies, or NULL
                                  for lincheck_default_weights */
    const lc_op *setup;        /* run first by the calling thread, in order,
                                  recorded as LC_THREAD_MAIN (kind, key, arg,
                                  arg2 are used) */
    size_t nsetup;
    bool final_loads;          /* after the workers end, load every key */
    unsigned pause;            /* before each operation a worker spins a
                                  random 0 .. pause-1 iterations (0: none):
                                  spreads a history over more time, so that
                                  threads started a little apart still meet */
    uint64_t seed;             /* decides every operation's kind, key and
                                  arguments (not the interleaving) */
    FILE *report;              /* where a violation is printed (the minimal
                                  violating history, then the full one);
                                  NULL: nowhere */
} lc_config;

/* Load 8, store 6, swap 4, load_or_store 6, load_and_delete 4, delete 4,
 * compare_and_swap 6, compare_and_delete 4, clear 1, len 2, snapshot 2. */
extern const unsigned lincheck_default_weights[LC_KIND_COUNT];

typedef struct lc_outcome {
    lc_verdict verdict;
    size_t ops;              /* operations in the history */
    size_t concurrent;       /* worker operations */
    size_t overlapping;      /* worker operations that overlap one of
                                another worker thread */
    lc_stats stats;
} lc_outcome;

/* Runs one random history on obj, which must be empty: the setup
 * operations, then cfg->threads threads released together (spin barrier),
 * each doing ops_per_thread operations, then (if asked) a load of every
 * key; checks the recorded history from the empty map. */
lc_outcome lincheck_run(const lc_adapter *a, void *obj, const lc_config *cfg);

#endif /* GOMAP_TEST_LINCHECK_H */

/*
 * opstream.h — the operation streams of the strategies matrix (`--suite
 * strategies`): for each case, one sequence of (operation, key) pairs,
 * generated before anything is timed from a fixed seed, and run as it is by
 * every contender, the Go peer included (it reads the stream from a file in
 * the format below). docs/bench.md ("The strategies matrix") defines it.
 *
 * A stream of nops operations is split among T threads at run time: thread
 * t runs operations t*S .. t*S + per - 1, S = nops / T, per <= S. Operation
 * j that sets a key stores the value j. Before the timed phase the map holds
 * keys ks_key(seed, STREAM_SET, i) with values i + 1 for i < prefill.
 *
 * File format (little-endian), written by opstream_write:
 *   offset 0   8 bytes  magic "GOMAPOPS"
 *          8   u32      version (1)
 *         12   u32      header bytes (48)
 *         16   u64      nops
 *         24   u64      prefill
 *         32   u64      seed
 *         40   u64      zero
 *         48   nops bytes: operation codes (op_code)
 *              zero bytes up to a multiple of 8
 *              nops u64: keys
 */
#ifndef GOMAP_BENCH_OPSTREAM_H
#define GOMAP_BENCH_OPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Operation codes, as stored in the stream and its file. */
typedef enum {
    OP_GET = 0,    /* look up; a hit adds value + 1 to the thread's sum */
    OP_SET = 1,    /* insert or overwrite with the operation's index */
    OP_DELETE = 2, /* delete if present */
    OP_UPDATE = 3, /* read-modify-write: value + 1 (an absent key counts as 0) */
    OP_SET_GET = 4 /* the cache suite's dropped-writes pass: set the key to the
                      operation's index j, then get it at once in the same
                      thread; the sum gains OPS_READABLE if the get returned j
                      and OPS_REFUSED if the set itself reported failure */
} op_code;

/* What an OP_SET_GET adds to the sum. The checksum of a run also adds the
 * map's length at its end, below OPS_READABLE; a pass makes fewer than
 * OPS_SET_GET_MAX operations, so the two counts stay apart. */
#define OPS_READABLE (UINT64_C(1) << 24)
#define OPS_REFUSED (UINT64_C(1) << 44)
#define OPS_SET_GET_MAX (UINT64_C(1) << 20)

typedef enum { DIST_UNIFORM, DIST_ZIPF, DIST_COUNT } op_dist;

/* The Zipf exponent of DIST_ZIPF. */
#define OPS_ZIPF_THETA 0.99

/* A workload: its operations in percent (summing to 100), and whether it
 * grows: the map starts empty, every set inserts a fresh key, and the other
 * operations pick among the keys inserted so far (rank r: the (r mod m)-th
 * most recent of the m inserts before it). Otherwise the map starts with the
 * n keys of the universe (a cache: with the `capacity` most popular ones,
 * opstream_make's caller lowering prefill), and every operation picks a key
 * of it by rank, except that `fresh` percent of the sets write a key never
 * used before (ks_key(seed, STREAM_MISS, j) for operation j). */
typedef struct {
    const char *name;
    unsigned get, set, del, update;
    bool grow;
    unsigned fresh;
} op_mix;

typedef struct {
    uint64_t nops;
    uint64_t prefill;  /* keys in the map before the timed phase (for a
                          cache, its bound: it starts full) */
    uint64_t seed;
    uint8_t *op;       /* nops op_codes */
    uint64_t *key;     /* nops keys */
} op_stream;

/* Builds the stream of `nops` operations of `mix` over a universe of n keys
 * (n >= 1), ranks drawn from `dist`. Deterministic in (mix, dist, n, nops,
 * seed). Returns 0 or -ENOMEM (*s zeroed). */
int opstream_make(op_stream *s, const op_mix *mix, op_dist dist, uint64_t n, uint64_t nops,
                  uint64_t seed);

void opstream_free(op_stream *s);

/* Writes the stream to a new temporary file (in $TMPDIR or /tmp) whose
 * name is stored in path (room for $TMPDIR and 24 bytes). 0, and the caller
 * removes the file; or -errno, with no file and path "". */
int opstream_write_temp(const op_stream *s, char *path, size_t len);

/* The cache suite's dropped-writes pass on `threads` threads: a copy of s
 * whose every operation is an OP_SET_GET on the same key, except that the
 * keys of thread slices t >= 1 are remapped (ks_mix(key + t)) so that no
 * two threads ever write the same key and a get can only see its own
 * thread's write. 0 or -ENOMEM (*out zeroed). */
int opstream_set_get_copy(op_stream *out, const op_stream *s, unsigned threads);

/* For a map whose every write copies the whole map, run on `threads`
 * threads: the most operations `per` (at least 1, at most S = nops /
 * threads) such that the first `per` operations of every thread's slice
 * copy at most `budget` entries in all. A write counts as the map's size
 * at that point: the prefill, plus the inserts so far when the map grows,
 * taking the slices' operations in turn (operation i of each thread, then
 * i + 1). */
uint64_t opstream_copy_prefix(const op_stream *s, bool grow, unsigned threads, double budget);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_BENCH_OPSTREAM_H */

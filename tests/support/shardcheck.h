/*
 * shardcheck.h — helpers shared by the sharded map's tests
 * (tests/unit/test_shardmap*.c, tests/stress/test_shardmap*.c,
 * tests/misuse/test_shard_reentrancy.c).
 *
 *   CHECK_SHARD_VALID     gomap_shard_validate must pass (else the reason).
 *   shardcheck_new*       a sharded map that must be created.
 *   shardcheck_stats      gomap_shard_stats that must succeed.
 *   shardcheck_shard_of   which shard a key lives in, found from the
 *                         per-shard operation counters around one get.
 *   shardcheck_compute    gomap_shard_compute driven by a small description
 *                         of what the callback does (put, delete, keep,
 *                         abandon, compare-and-swap/delete), recording what
 *                         the callback was shown.
 *   shardcheck_compare    the whole map (a snapshot, lookups included, and
 *                         len) against a reference map.
 *   shardcheck_range      a range (whole or stopped early) against one.
 *   shardcheck_each       every entry of a fresh snapshot, then frees it.
 */
#ifndef GOMAP_TEST_SHARDCHECK_H
#define GOMAP_TEST_SHARDCHECK_H

#include "check.h"
#include "refmap.h"

#include <gomap/shardmap.h>

#include <stdbool.h>
#include <stddef.h>

/* ThreadSanitizer's deadlock detector follows at most 64 locks held by one
 * thread at once and stops the process (a CHECK inside TSan) past that;
 * gomap_shard_len, _snapshot and _clear hold every shard. A test program
 * that uses more than 64 shards under TSan states SHARDCHECK_MANY_SHARDS
 * once at file scope, which turns that detector off for the program
 * (single-threaded programs lose nothing: one thread taking shards in
 * index order inverts no lock order). Nothing outside TSan builds. */
#if defined(__SANITIZE_THREAD__)
#define SHARDCHECK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHARDCHECK_TSAN 1
#endif
#endif
#ifdef SHARDCHECK_TSAN
#define SHARDCHECK_MANY_SHARDS \
    const char *__tsan_default_options(void); \
    const char *__tsan_default_options(void) { return "detect_deadlocks=0"; }
#else
#define SHARDCHECK_MANY_SHARDS
#endif

#define CHECK_SHARD_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_shard_validate((m), why_, sizeof why_); \
         if (rc_ != 0) \
             check_fail(__FILE__, __LINE__, "gomap_shard_validate(" #m ")", why_); } while (0)

/* gomap_shard_new with these core-map options and shard count; fails the
 * test unless it returns 0 and a map. */
gomap_shard_t *shardcheck_new(const gomap_options *map_opt, unsigned shards);

/* Options for uint64_t keys and val_size-byte values, the rest zero. */
gomap_options shardcheck_u64_options(size_t val_size);

/* A map of uint64_t keys under a hash variant of hashvariant.h. */
gomap_shard_t *shardcheck_new_u64(int variant, size_t val_size, unsigned shards);

/* A map of uint64_t keys (builtin hash) and val_size-byte values with
 * `shards` shards and the auto mode on, bounded by max_shards. */
gomap_shard_t *shardcheck_new_auto(size_t val_size, unsigned shards, unsigned max_shards);

/* gomap_shard_stats, which must return 0. */
gomap_shard_stats_t shardcheck_stats(gomap_shard_t *m, gomap_shard_counters *per_shard, size_t n);

/* The index of the shard `key` lives in: the one shard whose operation
 * count a gomap_shard_get of the key raises (which it does by one). Not
 * while other threads use the map. */
unsigned shardcheck_shard_of(gomap_shard_t *m, const void *key);

/* What a compute callback does. */
typedef enum {
    COP_PUT,      /* *val = val, *present = true (insert or modify) */
    COP_DELETE,   /* *present = false */
    COP_KEEP,     /* change nothing, commit */
    COP_ABANDON,  /* return abandon_rc (nonzero); with scribble, first
                     overwrite *val and flip *present */
    COP_CAS,      /* present with value `expect`: put `val`; else as KEEP
                     (abandon_rc 0) or ABANDON */
    COP_CAD       /* present with value `expect`: delete; else as CAS */
} cop_mode;

typedef struct {
    cop_mode mode;
    size_t val_size;
    const void *val;
    const void *expect;
    int abandon_rc;
    bool scribble;
    /* Filled in by the callback: */
    int calls;
    bool was_present;    /* *present when called */
    bool zeroed;         /* *val was all zero bytes when called */
    bool matched;        /* CAS / CAD: the value matched */
    void *seen;          /* if not NULL: receives *val as called (val_size) */
} shard_cop;

/* The callback that does op->mode (ctx: a shard_cop whose calls the caller
 * zeroed), for any map's compute. */
int shardcheck_cop_fn(const void *key, void *val, bool *present, void *ctx);

/* gomap_shard_compute(m, key, <callback doing op->mode>, op). */
int shardcheck_compute(gomap_shard_t *m, const void *key, shard_cop *op);

/* Compares the whole map with the reference: a snapshot must hold exactly
 * the reference's entries (gomap lookups included), and gomap_shard_len must
 * agree. Returns false with a reason. */
bool shardcheck_compare(gomap_shard_t *m, refmap *r, char *why, size_t why_len);

/* gomap_shard_range with a callback that checks every entry against the
 * reference (present, its value, not produced twice) and returns false on
 * call number stop_after (0: never). The range must have called it
 * min(stop_after, len) times (len when stop_after is 0). Returns false with
 * a reason. */
bool shardcheck_range(gomap_shard_t *m, refmap *r, size_t stop_after, char *why, size_t why_len);

/* Takes a snapshot (which must succeed), calls fn on every entry of it
 * (key and value slot, as gomap_iter_next gives them), frees it and returns
 * the number of entries. */
size_t shardcheck_each(gomap_shard_t *m, void (*fn)(const void *key, const void *val, void *ctx),
                       void *ctx);

/* visit and range callbacks that count their calls in the int at ctx (range
 * never stops). */
void shardcheck_count_visit(const void *key, void *val, void *ctx);
bool shardcheck_count_range(const void *key, const void *val, void *ctx);

#endif /* GOMAP_TEST_SHARDCHECK_H */

/*
 * fuzz_concurrent_maps.c — libFuzzer target for the sync, sharded and
 * snapshot maps (gomap/syncmap.h, gomap/shardmap.h, gomap/snapmap.h): their
 * sequential semantics, on one thread, against the reference map
 * (tests/support/refmap.h).
 *
 * Input. Byte 0 picks the map (sync; sharded with 1, 4 or 64 shards;
 * snapshot) and a key kind and value size: u64, u32, f64, string, bytes
 * (0, 3, 16, 128 and 200 bytes) and custom keys (a weak and a good hash);
 * values of 0, 1, 8, 128, 129, 200 and 300 bytes (over GOMAP_INLINE_MAX they
 * are stored out of line; 300 is also over the sharded map's on-stack
 * compute copy). Byte 1 may refuse one allocation of the map's creation
 * (which must fail cleanly and is retried) and give a hint. Every later
 * operation is an opcode byte and argument bytes. Keys come from a one-byte
 * space, so overwrites, deletes of present keys and collisions are common;
 * bulk inserts of up to a few hundred keys (a two-byte space) grow the maps.
 * Float keys include NaNs (capped), infinities and both zeros, except that
 * the sync map never sees -0: like Go's sync.Map it keeps the key first
 * stored for an entry, even across a delete and a later store, where the
 * reference keeps the last key written.
 *
 * Every operation runs on the map and on the reference, and the answers
 * must agree exactly: return codes, found or not, values copied out
 * (zero-filled on a miss, nothing written past val_size, nothing at all
 * where the header says so), loaded flags, lengths, what callbacks see.
 *   sync   store, swap, load, load_or_store, load_and_delete, delete,
 *          compare_and_swap and compare_and_delete (with the current value
 *          and another one; CAS never creates a key), NULL out pointers,
 *          range (whole, stopped early, and with writes from inside the
 *          callback, checked against Go's iteration contract, the key and
 *          value pointers still readable after them), loads that miss
 *          until the dirty map is promoted, clear, len, stats (len exact;
 *          a range promotes; what clear leaves; counters never go back;
 *          the dirty map or the read part holds every live key; amended
 *          means misses below the dirty map's size), validate.
 *   shard  set, get, delete, load_or_store, compute (insert, modify,
 *          delete, keep, compare-and-swap/-delete, and abandon with a
 *          nonzero return after scribbling on the value and flipping
 *          *present: map unchanged, that value returned; fn is shown
 *          *present and the value or zeros), visit (in-place writes; fn is
 *          shown the stored key), range (whole and stopped early), len,
 *          snapshot (compared with the reference, then changed and shrunk
 *          to show it is a map of its own; freed, every block back), clear,
 *          stats (entries; one hit or miss per keyed call), heatmap,
 *          validate.
 *   snap   set (a new value, and the value already there: nothing
 *          published, cannot fail), get, delete (1 or 0), clear, update (a
 *          batch of sets, deletes, assigns, writes through slots and clears
 *          made on the copy with the core map's API while gets of the map
 *          still see the old version; or abandoned with a nonzero return
 *          after changing the copy: nothing published, that value
 *          returned; a published batch is not mid-growth), up to three views
 *          kept open across operations and checked against a copy of the
 *          reference taken with them (view_get, view_map, view_range whole,
 *          stopped early, writing the map or releasing its own view from
 *          inside), len, stats (versions published and views held, exactly),
 *          validate.
 * Allocation failures are injected through a thread-safe failing allocator
 * (locked_alloc.h: the sync and snapshot maps free on liburcu's thread):
 * the N-th allocation from now, or every allocation of the next operation.
 * A call that fails must have had an allocation refused, return -ENOMEM
 * (with *loaded false, prev_out untouched, no snapshot, as the headers say)
 * and leave the map exactly equal to the reference; a call that absorbed a
 * refusal must still be exactly right; calls documented never to fail must
 * succeed.
 *
 * After every operation len and stats must agree with the reference, and
 * the map validates (after every operation while it has stayed small, every
 * 16th after that). It is compared whole (range or iteration with Go's
 * contract, lookups of every key; for the sharded map a snapshot too, now
 * and then) every 16th operation (every 32nd for the sync map, whose range
 * promotes), after every call that met a refused allocation, and at the
 * end. Then every view is released and the map freed, and the allocator
 * must hold no block (gomap_sync_free and gomap_snap_free wait for the
 * grace periods that free retired memory). Any mismatch aborts.
 *
 * Accepted here although the headers do not say so, each marked
 * "Undocumented" below: gomap_shard_compute returns -ENOMEM without calling
 * fn when a value over 256 bytes cannot get its private copy (the header
 * names only a failed insert); gomap_shard_heatmap returns -ENOMEM; a
 * failed keyed call of the sharded map counts one miss (set, and compute's
 * insert) or nothing (load_or_store, compute's copy) in its stats.
 *
 * The file drives three maps' whole APIs, each in a section of its own,
 * hence its length.
 */
#include "check.h"
#include "ckey.h"
#include "fuzzkey.h"
#include "locked_alloc.h"
#include "refmap.h"
#include "shardcheck.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* gomap_shard_len, _snapshot and _clear hold every shard, and a snapshot
 * allocates (taking the allocator's mutex) while it does: more locks than
 * TSan's deadlock detector follows with 64 shards. */
SHARDCHECK_MANY_SHARDS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------------ */
/* Configurations                                                            */
/* ------------------------------------------------------------------------ */

typedef enum { MAP_SYNC, MAP_SHARD, MAP_SNAP } map_type;

typedef struct {
    map_type type;
    unsigned shards;
} map_cfg;

static const map_cfg map_cfgs[] = {
    {MAP_SYNC, 0}, {MAP_SHARD, 1}, {MAP_SHARD, 4}, {MAP_SHARD, 64}, {MAP_SNAP, 0},
};
#define NMAPS (sizeof map_cfgs / sizeof map_cfgs[0])

typedef struct {
    gomap_key_kind kind;
    size_t key_size;
    size_t val_size;
    refmap_hash_fn hash; /* custom kinds */
} key_cfg;

static const key_cfg key_cfgs[] = {
    {GOMAP_KEY_U64, 0, 8, NULL},
    {GOMAP_KEY_U64, 0, 0, NULL},
    {GOMAP_KEY_U64, 0, 300, NULL},
    {GOMAP_KEY_U32, 0, 8, NULL},
    {GOMAP_KEY_U32, 0, 200, NULL},
    {GOMAP_KEY_F64, 0, 8, NULL},
    {GOMAP_KEY_STR, 0, 8, NULL},
    {GOMAP_KEY_STR, 0, 129, NULL},
    {GOMAP_KEY_STR, 0, 0, NULL},
    {GOMAP_KEY_BYTES, 16, 8, NULL},
    {GOMAP_KEY_BYTES, 3, 1, NULL},
    {GOMAP_KEY_BYTES, 200, 0, NULL},
    {GOMAP_KEY_BYTES, 0, 8, NULL},
    {GOMAP_KEY_BYTES, 128, 128, NULL},
    {GOMAP_KEY_CUSTOM, sizeof(ckey), 8, ckey_hash_weak},
    {GOMAP_KEY_CUSTOM, sizeof(ckey), 300, ckey_hash},
};
#define NKEYS (sizeof key_cfgs / sizeof key_cfgs[0])

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

#define NAN_CAP 64
#define MAX_VAL 300
#define MAX_VIEWS 3
#define COMPUTE_STACK_BYTES 256 /* shardmap.c copies bigger values on the heap */

typedef fuzzkey_buf keybuf;

/* An open view of the snapshot map and the reference as it was taken. */
typedef struct {
    const gomap_snap_view_t *v;
    refmap *r;
} fz_view;

typedef struct {
    const map_cfg *mc;
    const key_cfg *kc;
    locked_alloc la;
    refmap *r;
    gomap_sync_t *sync;
    gomap_shard_t *shard;
    gomap_snap_t *snap;
    const uint8_t *data;
    size_t size, pos;
    uint32_t counter;
    size_t ops;
    bool fail_all_next; /* refuse every allocation during the next op */
    keybuf kb, kb2;
    unsigned char val[MAX_VAL], val2[MAX_VAL], val3[MAX_VAL];
    unsigned char out[MAX_VAL + 16];
    gomap_sync_stats_t sync_last; /* counters must never go back */
    uint64_t hits, misses;        /* the sharded map's expected counters */
    uint64_t versions;            /* the snapshot map's expected publications */
    fz_view views[MAX_VIEWS];
    unsigned nviews;
    unsigned extra_views;         /* held by a view_range or a check in progress */
    size_t peak;                  /* the most entries so far (bucket arrays
                                     do not shrink when entries go) */
} fz;

static uint8_t next_byte(fz *z)
{
    return z->pos < z->size ? z->data[z->pos++] : 0;
}

static bool more(const fz *z)
{
    return z->pos < z->size;
}

static size_t vsize(const fz *z)
{
    return z->kc->val_size;
}

/* ------------------------------------------------------------------------ */
/* The failing allocator                                                     */
/* ------------------------------------------------------------------------ */

static size_t refusals(fz *z)
{
    return locked_alloc_counts(&z->la).failures;
}

static void fail_nth(fz *z, size_t n)
{
    pthread_mutex_lock(&z->la.mu);
    fail_alloc_fail_nth(&z->la.fa, n);
    pthread_mutex_unlock(&z->la.mu);
}

static void fail_every(fz *z, bool on)
{
    pthread_mutex_lock(&z->la.mu);
    z->la.fa.fail_all = on;
    pthread_mutex_unlock(&z->la.mu);
}

/* Checks run without injected failures: a pending N-th refusal waits out
 * the allocations the check makes and is armed again after it. */
typedef struct {
    size_t left;
    int all;
} faults;

static faults faults_off(fz *z)
{
    pthread_mutex_lock(&z->la.mu);
    fail_alloc *fa = &z->la.fa;
    faults f = {fa->fail_at > fa->attempts ? fa->fail_at - fa->attempts : 0, fa->fail_all};
    fa->fail_at = 0;
    fa->fail_all = 0;
    pthread_mutex_unlock(&z->la.mu);
    return f;
}

static void faults_on(fz *z, faults f)
{
    pthread_mutex_lock(&z->la.mu);
    fail_alloc_fail_nth(&z->la.fa, f.left);
    z->la.fa.fail_all = f.all;
    pthread_mutex_unlock(&z->la.mu);
}

/* ------------------------------------------------------------------------ */
/* Keys and values                                                           */
/* ------------------------------------------------------------------------ */

/* The key for an id (fuzzkey.h says which ids give what); ids from 256
 * come from bulk inserts only. No -0 for the sync map (see the top). */
static fuzzkey_space key_space(fz *z)
{
    return (fuzzkey_space){z->kc->kind, z->kc->key_size, refmap_nan_count(z->r) < NAN_CAP,
                           z->mc->type == MAP_SYNC, &z->counter};
}

static const void *make_key(fz *z, keybuf *kb, unsigned id)
{
    fuzzkey_space sp = key_space(z);
    return fuzzkey_make(&sp, kb, id);
}

/* A copy of a key the map handed out (so it survives the next write). */
static const void *copy_key(fz *z, keybuf *kb, const void *key)
{
    fuzzkey_space sp = key_space(z);
    return fuzzkey_copy(&sp, kb, key);
}

static bool same_key_bytes(const fz *z, const void *a, const void *b)
{
    if (z->kc->kind == GOMAP_KEY_STR) {
        const gomap_str *x = a, *y = b;
        return x->len == y->len && (x->len == 0 || memcmp(x->ptr, y->ptr, x->len) == 0);
    }
    fuzzkey_space sp = {.kind = z->kc->kind, .key_size = z->kc->key_size};
    size_t n = fuzzkey_bytes(&sp);
    return n == 0 || memcmp(a, b, n) == 0;
}

static const void *make_val(fz *z, unsigned char *buf)
{
    uint64_t x = mix64(++z->counter);
    for (size_t i = 0; i < vsize(z); i++)
        buf[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
    return buf;
}

/* The value to write: the key's current one when `arg` asks for it and the
 * key is present (an overwrite with the same bytes), else a new one. */
static const void *pick_val(fz *z, const void *cur, uint8_t arg, unsigned char *buf)
{
    if (cur && (arg & 3) == 0) {
        if (vsize(z))
            memcpy(buf, cur, vsize(z));
        return buf;
    }
    return make_val(z, buf);
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static bool all_byte(const unsigned char *p, size_t n, unsigned char b)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != b)
            return false;
    return true;
}

#define OUT_FILL 0xCC

static void out_reset(fz *z)
{
    memset(z->out, OUT_FILL, sizeof z->out);
}

/* A value copied out: `want` (NULL: a miss, all zero bytes), and nothing
 * written past val_size. */
static void check_out(fz *z, const void *want, const char *what)
{
    size_t vs = vsize(z);
    if (vs)
        CHECK_MSG(want ? memcmp(z->out, want, vs) == 0 : all_zero(z->out, vs),
                  "%s copied out a wrong value (%s)", what, want ? "hit" : "miss: not zeroed");
    CHECK_MSG(z->out[vs] == OUT_FILL, "%s wrote past the value", what);
}

/* The output buffer was not written at all. */
static void check_out_untouched(fz *z, const char *what)
{
    CHECK_MSG(all_byte(z->out, vsize(z) + 1, OUT_FILL), "%s wrote its output", what);
}

/* The reference's value of a present key, copied (NULL if absent). */
static const void *ref_val(fz *z, const void *key, unsigned char *buf)
{
    const void *v = refmap_get(z->r, key);
    if (!v)
        return NULL;
    if (vsize(z))
        memcpy(buf, v, vsize(z));
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Whole-map checks (declared here, defined per map below)                   */
/* ------------------------------------------------------------------------ */

static void full_check(fz *z);

/* A call failed with -ENOMEM: an allocation must have been refused during
 * it, and the map must equal the reference (which was not changed). */
static void failed(fz *z, size_t refused_before, const char *what)
{
    CHECK_MSG(refusals(z) > refused_before, "%s: -ENOMEM without a refused allocation", what);
    full_check(z);
}

/* A call succeeded although an allocation was refused inside it (the
 * library absorbed the failure): the result must still be exactly right. */
static void absorbed(fz *z, size_t refused_before)
{
    if (refusals(z) != refused_before)
        full_check(z);
}

/* Range callbacks against a reference, with Go's iteration contract (every
 * entry produced is present now with its current value and not produced
 * before; an exhausted range produced everything present throughout). */
typedef struct range_ctx {
    fz *z;
    refmap *r;
    int t;
    size_t calls, stop;
    bool bad;
    char why[256];
    void (*during)(struct range_ctx *c, const void *key, const void *val);
    int mode;
    fz_view *view; /* view_range: the view ranged over */
} range_ctx;

static bool range_fn(const void *key, const void *val, void *arg)
{
    range_ctx *c = arg;
    c->calls++;
    if (!c->bad && !refmap_track_produced(c->r, c->t, key, val, c->why, sizeof c->why))
        c->bad = true;
    if (c->during)
        c->during(c, key, val);
    return c->stop == 0 || c->calls < c->stop;
}

static void range_begin(range_ctx *c, fz *z, refmap *r, size_t stop)
{
    memset(c, 0, sizeof *c);
    c->z = z;
    c->r = r;
    c->stop = stop;
    c->t = refmap_track_begin(r);
}

/* After the range: whole unless stopped by fn; `exact` when nothing
 * changed the map during it (then the number of calls is known). */
static void range_end(range_ctx *c, size_t len_before, bool exact, const char *what)
{
    CHECK_MSG(!c->bad, "%s: %s", what, c->why);
    bool stopped = c->stop && c->calls == c->stop;
    char why[256];
    CHECK_MSG(refmap_track_end(c->r, c->t, !stopped, why, sizeof why), "%s: %s", what, why);
    if (exact) {
        size_t want = c->stop && c->stop < len_before ? c->stop : len_before;
        CHECK_MSG(c->calls == want, "%s called fn %zu times, expected %zu", what, c->calls, want);
    }
}

/* ------------------------------------------------------------------------ */
/* The sync map                                                              */
/* ------------------------------------------------------------------------ */

#define CHECK_SYNC_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_sync_validate((m), why_, sizeof why_); \
         if (rc_ != 0) check_fail(__FILE__, __LINE__, "gomap_sync_validate(" #m ")", why_); } while (0)

static gomap_sync_stats_t sync_stats(fz *z)
{
    gomap_sync_stats_t s;
    CHECK(gomap_sync_stats(z->sync, &s) == 0);
    return s;
}

/* Stats after every operation: len is exact; the counters never go back;
 * the dirty map (when amended) or the read part (when not) holds every
 * live key; misses reach the dirty map's size only to promote it. */
static void sync_check_stats(fz *z)
{
    gomap_sync_stats_t s = sync_stats(z), *l = &z->sync_last;
    size_t n = refmap_len(z->r);
    CHECK_MSG(s.len == n && gomap_sync_len(z->sync) == n, "sync len %zu, reference %zu", s.len,
              n);
    CHECK(s.promotions >= l->promotions && s.dirty_copies >= l->dirty_copies &&
          s.reclaimed_bytes >= l->reclaimed_bytes);
    if (s.amended)
        CHECK_MSG(s.dirty_entries >= n && s.misses < s.dirty_entries,
                  "amended: dirty %zu, len %zu, misses %zu", s.dirty_entries, n, s.misses);
    else
        CHECK_MSG(s.read_entries >= n && s.misses == 0,
                  "not amended: read %zu, len %zu, misses %zu", s.read_entries, n, s.misses);
    *l = s;
}

static void sync_compare(fz *z)
{
    size_t n = refmap_len(z->r);
    range_ctx c;
    range_begin(&c, z, z->r, 0);
    gomap_sync_range(z->sync, range_fn, &c);
    range_end(&c, n, true, "sync compare: range");
    /* The range promoted: every load below finds the read part. */
    for (size_t i = 0; i < refmap_findable(z->r); i++) {
        out_reset(z);
        const void *key = refmap_key_at(z->r, i);
        CHECK(gomap_sync_load(z->sync, key, z->out));
        check_out(z, refmap_val_at(z->r, i), "sync compare: load");
    }
    CHECK_SYNC_VALID(z->sync);
    sync_check_stats(z);
}

static void sync_store(fz *z, unsigned id, int how, uint8_t arg)
{
    const void *key = make_key(z, &z->kb, id);
    const void *old = ref_val(z, key, z->val2);
    const void *val = pick_val(z, old, arg, z->val);
    size_t f = refusals(z);
    bool loaded = old == NULL;
    out_reset(z);
    int rc;
    if (how == 0)
        rc = gomap_sync_store(z->sync, key, val);
    else if (how == 1)
        rc = gomap_sync_swap(z->sync, key, val, z->out, &loaded);
    else
        rc = gomap_sync_swap(z->sync, key, val, NULL, NULL);
    if (rc == -ENOMEM) {
        if (how == 1) {
            CHECK_MSG(!loaded, "failed swap set *loaded");
            check_out_untouched(z, "failed swap");
        }
        failed(z, f, "sync store");
        return;
    }
    CHECK_MSG(rc == 0, "sync store/swap returned %d", rc);
    if (how == 1) {
        CHECK_MSG(loaded == (old != NULL), "swap: loaded %d, key was %spresent", loaded,
                  old ? "" : "not ");
        if (old)
            check_out(z, old, "swap");
        else
            check_out_untouched(z, "swap of an absent key");
    }
    refmap_set(z->r, key, val);
    absorbed(z, f);
}

static void sync_load(fz *z, unsigned id, bool null_out)
{
    const void *key = make_key(z, &z->kb, id);
    const void *want = refmap_get(z->r, key);
    out_reset(z);
    bool ok = gomap_sync_load(z->sync, key, null_out ? NULL : z->out);
    CHECK_MSG(ok == (want != NULL), "sync load %s, reference %s", ok ? "found" : "missed",
              want ? "has it" : "does not");
    if (null_out)
        check_out_untouched(z, "load with a NULL val_out");
    else
        check_out(z, want, "sync load");
}

/* load_or_store of the sync or the sharded map (below the sharded map's
 * counters). */
static void load_or_store(fz *z, unsigned id, bool null_out);

static void sync_delete(fz *z, unsigned id, int how)
{
    const void *key = make_key(z, &z->kb, id);
    const void *old = ref_val(z, key, z->val2);
    size_t f = refusals(z);
    out_reset(z);
    if (how == 0) {
        gomap_sync_delete(z->sync, key);
    } else {
        bool ok = gomap_sync_load_and_delete(z->sync, key, how == 1 ? z->out : NULL);
        CHECK_MSG(ok == (old != NULL), "load_and_delete %s", ok ? "found" : "missed");
        if (how == 1)
            check_out(z, old, "load_and_delete");
        else
            check_out_untouched(z, "load_and_delete with a NULL val_out");
    }
    refmap_delete(z->r, key);
    CHECK(!gomap_sync_load(z->sync, key, NULL));
    absorbed(z, f);
}

/* compare_and_swap (swap) or compare_and_delete, with the current value as
 * `old` or another one. */
static void sync_compare_and(fz *z, unsigned id, bool swap, uint8_t arg)
{
    const void *key = make_key(z, &z->kb, id);
    const void *cur = ref_val(z, key, z->val2);
    size_t vs = vsize(z);
    const void *old = cur && (arg & 1) ? cur : make_val(z, z->val3);
    if (vs == 0 && (arg & 2))
        old = NULL; /* allowed for sets */
    bool match = cur && (vs == 0 || memcmp(cur, old, vs) == 0);
    size_t f = refusals(z);
    if (swap) {
        const void *nv = make_val(z, z->val);
        int rc = gomap_sync_compare_and_swap(z->sync, key, old, vs == 0 && (arg & 4) ? NULL : nv);
        if (rc == -ENOMEM) {
            failed(z, f, "sync compare_and_swap");
            return;
        }
        CHECK_MSG(rc == match, "compare_and_swap returned %d, expected %d", rc, match);
        if (match)
            CHECK(refmap_set_value(z->r, key, nv));
        else if (!cur)
            CHECK_MSG(!gomap_sync_load(z->sync, key, NULL), "compare_and_swap created a key");
    } else {
        bool ok = gomap_sync_compare_and_delete(z->sync, key, old);
        CHECK_MSG(ok == match, "compare_and_delete returned %d, expected %d", ok, match);
        if (ok)
            refmap_delete(z->r, key);
    }
    absorbed(z, f);
}

static void sync_during_range(range_ctx *c, const void *key, const void *val)
{
    fz *z = c->z;
    size_t vs = vsize(z);
    unsigned char vcopy[MAX_VAL];
    if (vs)
        memcpy(vcopy, val, vs);
    keybuf kcopy;
    const void *saved = copy_key(z, &kcopy, key);
    uint8_t b = next_byte(z);
    switch (b % 8) {
    case 0:
    case 1:
        sync_store(z, next_byte(z), 0, next_byte(z));
        break;
    case 2:
        /* Delete the entry just produced, through a copy of its key. */
        gomap_sync_delete(z->sync, saved);
        refmap_delete(z->r, saved);
        break;
    case 3:
        sync_delete(z, next_byte(z), 1);
        break;
    case 4:
        sync_load(z, next_byte(z), false);
        break;
    case 5:
        load_or_store(z, next_byte(z), false);
        break;
    default:
        break;
    }
    /* The key and value pointers stay valid until fn returns. */
    CHECK_MSG(same_key_bytes(z, key, saved), "range's key changed under the callback");
    CHECK_MSG(vs == 0 || memcmp(val, vcopy, vs) == 0, "range's value changed under the callback");
}

static void sync_range(fz *z, uint8_t arg)
{
    size_t n = refmap_len(z->r);
    size_t stop = arg & 1 ? 1 + next_byte(z) % 16 : 0;
    bool writes = (arg & 6) == 6;
    gomap_sync_stats_t before = sync_stats(z);
    range_ctx c;
    range_begin(&c, z, z->r, stop);
    if (writes)
        c.during = sync_during_range;
    gomap_sync_range(z->sync, range_fn, &c);
    range_end(&c, n, !writes, "sync range");
    gomap_sync_stats_t s = sync_stats(z);
    if (!writes) {
        /* Range promotes new keys first (Go's Range). */
        CHECK(!s.amended);
        if (before.amended)
            CHECK(s.promotions == before.promotions + 1 && s.misses == 0 && s.dirty_entries == 0);
    }
}

/* Loads of one key until the dirty map may have been promoted by misses. */
static void sync_miss_loads(fz *z, unsigned id, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        sync_load(z, id, i & 1);
}

static void sync_clear(fz *z)
{
    gomap_sync_clear(z->sync);
    refmap_clear(z->r);
    gomap_sync_stats_t s = sync_stats(z);
    CHECK(s.len == 0 && s.read_entries == 0 && s.dirty_entries == 0 && !s.amended &&
          s.misses == 0);
}

static void sync_op(fz *z, unsigned op, uint8_t hi)
{
    switch (op) {
    case 0: case 1: case 2:
        sync_store(z, next_byte(z), 0, hi);
        break;
    case 3:
        sync_store(z, next_byte(z), 1, hi);
        break;
    case 4:
        sync_store(z, next_byte(z), 2, hi);
        break;
    case 5: case 6:
        sync_load(z, next_byte(z), hi & 1);
        break;
    case 7:
        load_or_store(z, next_byte(z), (hi & 3) == 3);
        break;
    case 8:
        sync_delete(z, next_byte(z), 0);
        break;
    case 9:
        sync_delete(z, next_byte(z), 1 + (hi & 1));
        break;
    case 10:
        sync_compare_and(z, next_byte(z), true, hi);
        break;
    case 11:
        sync_compare_and(z, next_byte(z), false, hi);
        break;
    case 12: case 13:
        sync_range(z, next_byte(z));
        break;
    case 14:
        if (hi < 2)
            sync_clear(z);
        break;
    case 15: {
        unsigned id = next_byte(z);
        sync_miss_loads(z, id, 1 + next_byte(z) % 64);
        break;
    }
    default:
        sync_load(z, next_byte(z), false);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* The sharded map                                                           */
/* ------------------------------------------------------------------------ */

static void shard_counted(fz *z, bool hit)
{
    if (hit)
        z->hits++;
    else
        z->misses++;
}

/* Undocumented: the counters after a failed keyed call. It may have
 * counted one miss or nothing (set and compute's insert count their miss
 * before they fail; load_or_store and a compute that could not copy its
 * value count nothing). */
static void shard_resync_counters(fz *z)
{
    gomap_shard_stats_t s = shardcheck_stats(z->shard, NULL, 0);
    CHECK_MSG(s.total.hits == z->hits && s.total.misses <= z->misses + 1 &&
                  s.total.misses >= z->misses,
              "failed call: hits %llu misses %llu, expected %llu and %llu (+1)",
              (unsigned long long)s.total.hits, (unsigned long long)s.total.misses,
              (unsigned long long)z->hits, (unsigned long long)z->misses);
    z->misses = s.total.misses;
}

static void shard_failed(fz *z, size_t f, const char *what)
{
    shard_resync_counters(z);
    failed(z, f, what);
}

/* Stats after every operation: entries and shards exact, every keyed
 * operation counted once (hit: it found its key). */
static void shard_check_stats(fz *z)
{
    gomap_shard_counters per[4];
    gomap_shard_stats_t s = shardcheck_stats(z->shard, per, 4);
    unsigned n = gomap_shard_count(z->shard);
    CHECK(s.shards == n && n == z->mc->shards);
    CHECK_MSG(s.total.entries == refmap_len(z->r), "stats: %zu entries, reference %zu",
              s.total.entries, refmap_len(z->r));
    CHECK_MSG(s.total.hits == z->hits && s.total.misses == z->misses &&
                  s.total.ops == s.total.hits + s.total.misses,
              "stats: hits %llu misses %llu, expected %llu and %llu",
              (unsigned long long)s.total.hits, (unsigned long long)s.total.misses,
              (unsigned long long)z->hits, (unsigned long long)z->misses);
    CHECK(s.max_entries <= s.total.entries && s.max_ops <= s.total.ops);
    size_t sum = 0;
    for (unsigned i = 0; i < 4; i++) {
        sum += per[i].entries;
        if (i >= n)
            CHECK(per[i].entries == 0 && per[i].ops == 0);
    }
    if (n <= 4)
        CHECK(sum == s.total.entries);
}

/* The whole map: a range (which allocates nothing), a get of every key,
 * len, validate, stats; with `snapshot` also a snapshot with lookups. Few
 * snapshots: merging several shards' entries is a gomap_set per entry,
 * which debug builds validate each time (quadratic). */
static void shard_compare(fz *z, bool snapshot)
{
    char why[256];
    size_t n = refmap_len(z->r);
    range_ctx c;
    range_begin(&c, z, z->r, 0);
    gomap_shard_range(z->shard, range_fn, &c);
    range_end(&c, n, true, "shard compare: range");
    CHECK_MSG(gomap_shard_len(z->shard) == n, "shard len %zu, reference %zu",
              gomap_shard_len(z->shard), n);
    if (snapshot)
        CHECK_MSG(shardcheck_compare(z->shard, z->r, why, sizeof why), "sharded map: %s", why);
    for (size_t i = 0; i < refmap_findable(z->r); i++) {
        out_reset(z);
        CHECK(gomap_shard_get(z->shard, refmap_key_at(z->r, i), z->out));
        check_out(z, refmap_val_at(z->r, i), "shard compare: get");
        shard_counted(z, true);
    }
    CHECK_SHARD_VALID(z->shard);
    shard_check_stats(z);
}

static void shard_set(fz *z, unsigned id, uint8_t arg)
{
    const void *key = make_key(z, &z->kb, id);
    const void *old = refmap_get(z->r, key);
    const void *val = pick_val(z, old, arg, z->val);
    size_t f = refusals(z);
    int rc = gomap_shard_set(z->shard, key, val);
    if (rc == -ENOMEM) {
        shard_failed(z, f, "shard set");
        return;
    }
    CHECK_MSG(rc == 0, "shard set returned %d", rc);
    shard_counted(z, old != NULL);
    refmap_set(z->r, key, val);
    absorbed(z, f);
}

static void shard_get(fz *z, unsigned id, bool null_out)
{
    const void *key = make_key(z, &z->kb, id);
    const void *want = refmap_get(z->r, key);
    out_reset(z);
    bool ok = gomap_shard_get(z->shard, key, null_out ? NULL : z->out);
    CHECK_MSG(ok == (want != NULL), "shard get %s, reference %s", ok ? "found" : "missed",
              want ? "has it" : "does not");
    if (null_out)
        check_out_untouched(z, "shard get with a NULL val_out");
    else
        check_out(z, want, "shard get");
    shard_counted(z, ok);
}

static void shard_delete(fz *z, unsigned id)
{
    const void *key = make_key(z, &z->kb, id);
    bool present = refmap_get(z->r, key) != NULL;
    size_t f = refusals(z);
    CHECK_MSG(gomap_shard_delete(z->shard, key) == present, "shard delete: wrong answer");
    shard_counted(z, present);
    refmap_delete(z->r, key);
    absorbed(z, f);
}

static void load_or_store(fz *z, unsigned id, bool null_out)
{
    bool sync = z->mc->type == MAP_SYNC;
    const char *what = sync ? "sync load_or_store" : "shard load_or_store";
    const void *key = make_key(z, &z->kb, id);
    const void *old = ref_val(z, key, z->val2);
    const void *val = make_val(z, z->val);
    size_t f = refusals(z);
    bool loaded = old == NULL;
    void *out = null_out ? NULL : z->out;
    bool *loaded_out = null_out ? NULL : &loaded;
    out_reset(z);
    int rc = sync ? gomap_sync_load_or_store(z->sync, key, val, out, loaded_out)
                  : gomap_shard_load_or_store(z->shard, key, val, out, loaded_out);
    if (rc == -ENOMEM) {
        CHECK_MSG(null_out || !loaded, "failed %s set *loaded", what);
        if (!sync)
            shard_resync_counters(z);
        failed(z, f, what);
        return;
    }
    CHECK_MSG(rc == 0, "%s returned %d", what, rc);
    if (null_out) {
        check_out_untouched(z, "load_or_store with NULL outputs");
    } else {
        CHECK_MSG(loaded == (old != NULL), "%s: loaded %d", what, loaded);
        check_out(z, old ? old : val, what);
    }
    if (!sync)
        shard_counted(z, old != NULL);
    if (!old)
        refmap_set(z->r, key, val);
    absorbed(z, f);
}

static const int abandon_values[] = {1, -1, 7, -EBUSY, 1000000, -2147483647};

/* A compute callback (shardcheck_compute) built from `arg`: put (a new
 * value or zeros), delete, keep, abandon, compare-and-swap/-delete with the
 * current value or another; abandoning returns one of abandon_values (picked
 * by the next input byte), sometimes after scribbling on the value and
 * flipping *present. */
static shard_cop compute_op(fz *z, const void *cur, uint8_t arg)
{
    static const unsigned char zeros[MAX_VAL];
    shard_cop op;
    memset(&op, 0, sizeof op);
    op.mode = (cop_mode)(arg % 6);
    op.val_size = vsize(z);
    op.val = (arg & 0x40) ? zeros : make_val(z, z->val);
    op.expect = cur && (arg & 8) ? cur : make_val(z, z->val3);
    if (op.mode == COP_ABANDON || (arg & 16))
        op.abandon_rc = abandon_values[next_byte(z) % (sizeof abandon_values / sizeof(int))];
    op.scribble = (arg & 0x80) != 0;
    memset(z->out, OUT_FILL, sizeof z->out);
    op.seen = z->out;
    return op;
}

/* What the callback does, given the key's current value (NULL: absent). */
static cop_mode compute_effect(const shard_cop *op, const void *cur)
{
    if (op->mode != COP_CAS && op->mode != COP_CAD)
        return op->mode;
    if (cur && (op->val_size == 0 || memcmp(cur, op->expect, op->val_size) == 0))
        return op->mode == COP_CAS ? COP_PUT : COP_DELETE;
    return op->abandon_rc ? COP_ABANDON : COP_KEEP;
}

static void shard_compute(fz *z, unsigned id, uint8_t arg)
{
    const void *key = make_key(z, &z->kb, id);
    const void *cur = ref_val(z, key, z->val2);
    size_t vs = vsize(z);
    shard_cop op = compute_op(z, cur, arg);
    cop_mode eff = compute_effect(&op, cur);
    size_t f = refusals(z);
    int rc = shardcheck_compute(z->shard, key, &op);
    if (rc == -ENOMEM) {
        /* Documented: an insert failed. Undocumented: a value over
         * COMPUTE_STACK_BYTES whose private copy could not be allocated
         * (before fn is called, whatever fn would do). */
        CHECK_MSG(op.calls == 1 ? eff == COP_PUT && !cur : vs > COMPUTE_STACK_BYTES,
                  "compute returned -ENOMEM (callback called %d times, mode %d, key %s)",
                  op.calls, (int)eff, cur ? "present" : "absent");
        shard_failed(z, f, "shard compute");
        return;
    }
    CHECK_MSG(op.calls == 1, "compute called fn %d times", op.calls);
    CHECK_MSG(op.was_present == (cur != NULL), "compute: *present was %d", op.was_present);
    if (vs)
        CHECK_MSG(cur ? memcmp(z->out, cur, vs) == 0 : op.zeroed,
                  "compute showed fn a wrong value (%s)", cur ? "present" : "absent: not zero");
    shard_counted(z, cur != NULL);
    CHECK_MSG(rc == (eff == COP_ABANDON ? op.abandon_rc : 0),
              "compute returned %d (callback's effect %d, its return %d)", rc, (int)eff,
              op.abandon_rc);
    if (eff == COP_PUT && cur)
        CHECK(refmap_set_value(z->r, key, op.val)); /* the stored key stays */
    else if (eff == COP_PUT)
        refmap_set(z->r, key, op.val);
    else if (eff == COP_DELETE)
        refmap_delete(z->r, key);
    if (eff == COP_ABANDON || eff == COP_KEEP) {
        /* The map must not have changed: this key at least. */
        out_reset(z);
        CHECK(gomap_shard_get(z->shard, key, z->out) == (cur != NULL));
        check_out(z, cur, "get after an abandoned or empty compute");
        shard_counted(z, cur != NULL);
    }
    absorbed(z, f);
}

typedef struct {
    fz *z;
    const void *want_val;
    int calls;
    bool ok_key;
    bool ok_val;
    const void *write; /* a value to store in place, or NULL */
} visit_ctx;

static void visit_fn(const void *key, void *val, void *arg)
{
    visit_ctx *c = arg;
    fz *z = c->z;
    c->calls++;
    const void *stored = refmap_stored_key(z->r, key);
    c->ok_key = stored && (z->kc->kind != GOMAP_KEY_F64 || memcmp(stored, key, 8) == 0);
    c->ok_val = vsize(z) == 0 || memcmp(val, c->want_val, vsize(z)) == 0;
    if (c->write && vsize(z))
        memcpy(val, c->write, vsize(z));
}

static void shard_visit(fz *z, unsigned id, bool write)
{
    const void *key = make_key(z, &z->kb, id);
    const void *cur = ref_val(z, key, z->val2);
    visit_ctx c = {z, cur, 0, false, false, write ? make_val(z, z->val) : NULL};
    bool ok = gomap_shard_visit(z->shard, key, visit_fn, &c);
    CHECK_MSG(ok == (cur != NULL) && c.calls == (cur != NULL),
              "visit returned %d and called fn %d times; key %s", ok, c.calls,
              cur ? "present" : "absent");
    shard_counted(z, ok);
    if (ok) {
        CHECK_MSG(c.ok_key && c.ok_val, "visit showed fn a wrong %s", c.ok_key ? "value" : "key");
        if (write)
            CHECK(refmap_set_value(z->r, key, c.write));
    }
}

static void shard_range(fz *z, uint8_t arg)
{
    size_t n = refmap_len(z->r);
    range_ctx c;
    range_begin(&c, z, z->r, arg & 1 ? 1 + (arg >> 1) % 16 : 0);
    gomap_shard_range(z->shard, range_fn, &c);
    range_end(&c, n, true, "shard range");
}

/* A snapshot: the reference's entries; a map of its own (changing or
 * shrinking it leaves the sharded map alone); freed through the map's
 * allocator. */
static void shard_snapshot(fz *z, uint8_t arg)
{
    fail_alloc before = locked_alloc_counts(&z->la);
    gomap_t *s = (gomap_t *)(void *)z;
    int rc = gomap_shard_snapshot(z->shard, &s);
    if (rc == -ENOMEM) {
        fail_alloc now = locked_alloc_counts(&z->la);
        CHECK_MSG(s == NULL, "failed snapshot left *out set");
        CHECK_MSG(now.live_blocks == before.live_blocks && now.live_bytes == before.live_bytes,
                  "failed snapshot leaked memory");
        failed(z, before.failures, "shard snapshot");
        return;
    }
    CHECK_MSG(rc == 0 && s != NULL, "snapshot returned %d", rc);
    faults f = faults_off(z);
    char why[256];
    CHECK_MSG(refmap_compare(z->r, s, true, why, sizeof why), "snapshot: %s", why);
    CHECK_VALID(s);
    if (arg & 1) {
        for (int i = 0; i < 4; i++) {
            uint8_t id = next_byte(z);
            const void *key = make_key(z, &z->kb, id);
            if (id & 1)
                CHECK(gomap_set(s, key, make_val(z, z->val)) == 0);
            else
                gomap_delete(s, key);
        }
        CHECK_MSG(gomap_shrink(s) == 0, "a snapshot could not be shrunk");
        CHECK_VALID(s);
        shard_compare(z, false);
    }
    gomap_free(s);
    faults_on(z, f);
    fail_alloc now = locked_alloc_counts(&z->la);
    CHECK_MSG(now.live_blocks == before.live_blocks && now.live_bytes == before.live_bytes,
              "a freed snapshot left %ld blocks",
              (long)now.live_blocks - (long)before.live_blocks);
}

static void shard_heatmap(fz *z, uint8_t arg)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    if (!sink)
        return;
    size_t f = refusals(z);
    int rc = gomap_shard_heatmap(z->shard, sink, arg & 1 ? GOMAP_HEATMAP_SVG : GOMAP_HEATMAP_TEXT);
    /* Undocumented: the header names 0, -EINVAL and -EIO; the per-shard
     * counters it draws come from the map's allocator. */
    if (rc == -ENOMEM) {
        CHECK(refusals(z) > f);
        return;
    }
    CHECK_MSG(rc == 0, "heatmap returned %d", rc);
}

static void shard_op(fz *z, unsigned op, uint8_t hi)
{
    switch (op) {
    case 0: case 1: case 2:
        shard_set(z, next_byte(z), hi);
        break;
    case 3: case 4:
        shard_get(z, next_byte(z), (hi & 7) == 7);
        break;
    case 5:
        shard_delete(z, next_byte(z));
        break;
    case 6:
        load_or_store(z, next_byte(z), (hi & 3) == 3);
        break;
    case 7: case 8: case 9: {
        unsigned id = next_byte(z);
        shard_compute(z, id, next_byte(z));
        break;
    }
    case 10:
        shard_visit(z, next_byte(z), hi & 1);
        break;
    case 11:
        shard_range(z, next_byte(z));
        break;
    case 12:
        /* Not too often: see shard_compare. */
        if (hi < 3)
            shard_snapshot(z, next_byte(z));
        break;
    case 13:
        CHECK_MSG(gomap_shard_len(z->shard) == refmap_len(z->r), "shard len %zu, reference %zu",
                  gomap_shard_len(z->shard), refmap_len(z->r));
        break;
    case 14:
        if (hi < 2) {
            gomap_shard_clear(z->shard);
            refmap_clear(z->r);
            CHECK(gomap_shard_len(z->shard) == 0);
        }
        break;
    case 15:
        if (hi == 0)
            shard_heatmap(z, next_byte(z));
        break;
    default:
        shard_get(z, next_byte(z), false);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* The snapshot map                                                          */
/* ------------------------------------------------------------------------ */

#define CHECK_SNAP_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_snap_validate((m), why_, sizeof why_); \
         if (rc_ != 0) check_fail(__FILE__, __LINE__, "gomap_snap_validate(" #m ")", why_); } while (0)

/* Exact after every operation: len, the versions published, the views held
 * (the open ones, plus one while a view_range or a check holds one). */
static void snap_check_stats(fz *z)
{
    unsigned in_range = z->extra_views;
    gomap_snap_stats_t s;
    CHECK(gomap_snap_stats(z->snap, &s) == 0);
    CHECK_MSG(s.len == refmap_len(z->r) && gomap_snap_len(z->snap) == s.len,
              "snap len %zu, reference %zu", s.len, refmap_len(z->r));
    CHECK_MSG(s.versions == z->versions, "%llu versions published, expected %llu",
              (unsigned long long)s.versions, (unsigned long long)z->versions);
    CHECK_MSG(s.views == z->nviews + in_range, "%zu views held, expected %u", s.views,
              z->nviews + in_range);
    CHECK(s.retired_versions <= s.versions && s.bytes_current > 0);
}

/* A view (or the current version) against a reference: the whole map, and
 * view_get of every key (NULL val_out too) and of a few ids from the input. */
static void view_compare(fz *z, const gomap_snap_view_t *v, refmap *r)
{
    char why[256];
    gomap_t *map = (gomap_t *)(uintptr_t)gomap_snap_view_map(v); /* iterated: a read */
    CHECK_MSG(refmap_compare(r, map, true, why, sizeof why), "view: %s", why);
    for (size_t i = 0; i < refmap_findable(r); i++) {
        out_reset(z);
        CHECK(gomap_snap_view_get(v, refmap_key_at(r, i), z->out));
        check_out(z, refmap_val_at(r, i), "view_get");
        CHECK(gomap_snap_view_get(v, refmap_key_at(r, i), NULL));
    }
}

static void view_probe(fz *z, fz_view *w, unsigned id)
{
    const void *key = make_key(z, &z->kb, id);
    const void *want = refmap_get(w->r, key);
    out_reset(z);
    CHECK_MSG(gomap_snap_view_get(w->v, key, z->out) == (want != NULL),
              "view_get disagrees with the view's version");
    check_out(z, want, "view_get");
}

static void snap_compare(fz *z)
{
    const gomap_snap_view_t *v = gomap_snap_acquire(z->snap);
    CHECK(v != NULL);
    z->extra_views++;
    snap_check_stats(z);
    view_compare(z, v, z->r);
    for (size_t i = 0; i < refmap_findable(z->r); i++) {
        out_reset(z);
        CHECK(gomap_snap_get(z->snap, refmap_key_at(z->r, i), z->out));
        check_out(z, refmap_val_at(z->r, i), "snap get");
    }
    gomap_snap_release(v);
    z->extra_views--;
    /* One open view each time, in turn (all of them at the end). */
    for (unsigned i = 0; i < z->nviews; i++)
        if (!more(z) || i == z->ops % z->nviews)
            view_compare(z, z->views[i].v, z->views[i].r);
    CHECK_SNAP_VALID(z->snap);
    snap_check_stats(z);
}

/* Whether setting key to val publishes: not when the key is present with
 * the same value and the same stored bytes (custom keys' junk differs on
 * every make_key; a float's sign counts). */
static bool snap_set_publishes(fz *z, const void *key, const void *val)
{
    const void *cur = refmap_get(z->r, key);
    if (!cur || z->kc->kind == GOMAP_KEY_CUSTOM)
        return true;
    if (z->kc->kind == GOMAP_KEY_F64 && memcmp(refmap_stored_key(z->r, key), key, 8) != 0)
        return true;
    return vsize(z) && memcmp(cur, val, vsize(z)) != 0;
}

static void snap_set(fz *z, unsigned id, uint8_t arg)
{
    const void *key = make_key(z, &z->kb, id);
    const void *val = pick_val(z, refmap_get(z->r, key), arg, z->val);
    bool publishes = snap_set_publishes(z, key, val);
    size_t f = refusals(z);
    int rc = gomap_snap_set(z->snap, key, val);
    if (rc == -ENOMEM) {
        CHECK_MSG(publishes, "a set that changes nothing ran out of memory");
        failed(z, f, "snap set");
        return;
    }
    CHECK_MSG(rc == 0, "snap set returned %d", rc);
    refmap_set(z->r, key, val);
    z->versions += publishes;
    absorbed(z, f);
}

static void snap_get(fz *z, unsigned id, bool null_out)
{
    const void *key = make_key(z, &z->kb, id);
    const void *want = refmap_get(z->r, key);
    out_reset(z);
    bool ok = gomap_snap_get(z->snap, key, null_out ? NULL : z->out);
    CHECK_MSG(ok == (want != NULL), "snap get %s, reference %s", ok ? "found" : "missed",
              want ? "has it" : "does not");
    if (null_out)
        check_out_untouched(z, "snap get with a NULL val_out");
    else
        check_out(z, want, "snap get");
}

static void snap_delete(fz *z, unsigned id)
{
    const void *key = make_key(z, &z->kb, id);
    bool present = refmap_get(z->r, key) != NULL;
    size_t f = refusals(z);
    int rc = gomap_snap_delete(z->snap, key);
    if (rc == -ENOMEM) {
        CHECK_MSG(present, "a delete of an absent key ran out of memory");
        failed(z, f, "snap delete");
        return;
    }
    CHECK_MSG(rc == present, "snap delete returned %d, key %spresent", rc, present ? "" : "not ");
    refmap_delete(z->r, key);
    z->versions += present;
    absorbed(z, f);
}

static void snap_clear(fz *z)
{
    bool publishes = refmap_len(z->r) != 0;
    size_t f = refusals(z);
    int rc = gomap_snap_clear(z->snap);
    if (rc == -ENOMEM) {
        CHECK_MSG(publishes, "a clear of an empty map ran out of memory");
        failed(z, f, "snap clear");
        return;
    }
    CHECK_MSG(rc == 0, "snap clear returned %d", rc);
    refmap_clear(z->r);
    z->versions += publishes;
    absorbed(z, f);
}

/* An update batch: changes read from the input (or a bulk insert or
 * delete), made to the copy with the core map's API and to `next`. */
typedef struct {
    fz *z;
    refmap *next;
    unsigned changes;
    int ret;          /* returned once the changes are made */
    int calls;
    bool enomem;      /* a change ran out of memory (returned) */
    unsigned bulk_base, bulk_count;
    bool bulk, bulk_insert;
} upd_ctx;

/* One change; -ENOMEM if it ran out of memory. */
static int upd_change(upd_ctx *c, gomap_t *copy, uint8_t how, unsigned id)
{
    fz *z = c->z;
    size_t vs = vsize(z);
    const void *key = make_key(z, &z->kb, id);
    bool present = refmap_get(c->next, key) != NULL;
    switch (how % 8) {
    case 0: case 1: case 2: {
        const void *val = make_val(z, z->val);
        int rc = gomap_set(copy, key, val);
        if (rc == -ENOMEM)
            return rc;
        CHECK_MSG(rc == 0, "gomap_set on the copy returned %d", rc);
        refmap_set(c->next, key, val);
        break;
    }
    case 3: case 4:
        CHECK_MSG(gomap_delete(copy, key) == present, "gomap_delete on the copy: wrong answer");
        refmap_delete(c->next, key);
        break;
    case 5: {
        void *slot = NULL;
        int rc = gomap_assign(copy, key, &slot);
        if (rc == -ENOMEM)
            return rc;
        CHECK_MSG(rc == !present, "gomap_assign on the copy returned %d", rc);
        const void *val = make_val(z, z->val);
        if (vs)
            memcpy(slot, val, vs);
        refmap_set(c->next, key, val);
        break;
    }
    case 6: {
        void *slot = gomap_get(copy, key);
        CHECK_MSG((slot != NULL) == present, "gomap_get on the copy: wrong answer");
        if (slot && vs && !refmap_key_is_nan(c->next, key)) {
            const void *val = make_val(z, z->val);
            memcpy(slot, val, vs);
            CHECK(refmap_set_value(c->next, key, val));
        }
        break;
    }
    default:
        if (id < 16) {
            gomap_clear(copy);
            refmap_clear(c->next);
        }
        break;
    }
    /* Reads of the map show the version before the batch. */
    const void *want = refmap_get(z->r, key);
    out_reset(z);
    CHECK_MSG(gomap_snap_get(z->snap, key, z->out) == (want != NULL),
              "a get inside update saw the batch");
    check_out(z, want, "snap get inside update");
    return 0;
}

static int upd_fn(gomap_t *copy, void *arg)
{
    upd_ctx *c = arg;
    fz *z = c->z;
    c->calls++;
    /* The copy starts as the current version. */
    CHECK_MSG(gomap_len(copy) == refmap_len(z->r), "update's copy has %zu entries, expected %zu",
              gomap_len(copy), refmap_len(z->r));
    if (refmap_len(z->r) <= 32) {
        char why[256];
        faults f = faults_off(z);
        CHECK_MSG(refmap_compare(z->r, copy, true, why, sizeof why), "update's copy: %s", why);
        faults_on(z, f);
    }
    snap_check_stats(z);
    size_t f = refusals(z);
    for (unsigned i = 0; i < c->changes; i++) {
        uint8_t how = next_byte(z);
        if (upd_change(c, copy, how, next_byte(z)) == -ENOMEM) {
            CHECK_MSG(refusals(z) > f, "-ENOMEM on the copy without a refused allocation");
            c->enomem = true;
            return -ENOMEM;
        }
    }
    for (unsigned i = 0; c->bulk && i < c->bulk_count; i++) {
        unsigned id = c->bulk_base + i;
        if (upd_change(c, copy, c->bulk_insert ? 0 : 3, id) == -ENOMEM) {
            CHECK_MSG(refusals(z) > f, "-ENOMEM on the copy without a refused allocation");
            c->enomem = true;
            return -ENOMEM;
        }
    }
    if (refusals(z) == f)
        CHECK_VALID(copy);
    return c->ret;
}

static void snap_update_run(fz *z, upd_ctx *c)
{
    c->z = z;
    c->next = refmap_clone(z->r);
    size_t f = refusals(z);
    int rc = gomap_snap_update(z->snap, upd_fn, c);
    if (rc == 0) {
        CHECK_MSG(c->calls == 1 && c->ret == 0, "update published (fn called %d times, "
                  "returned %d)", c->calls, c->ret);
        refmap_free(z->r);
        z->r = c->next;
        z->versions++;
        if (refusals(z) == f) {
            /* A growth the batch started is finished before publication. */
            const gomap_snap_view_t *v = gomap_snap_acquire(z->snap);
            gomap_stats_t st;
            CHECK(gomap_stats(gomap_snap_view_map(v), &st) == 0);
            CHECK_MSG(!st.growing, "update published a version in the middle of a growth");
            gomap_snap_release(v);
        }
        absorbed(z, f);
        return;
    }
    refmap_free(c->next);
    if (rc == -ENOMEM) {
        CHECK_MSG(c->calls == 0 || c->enomem, "update returned -ENOMEM after fn returned %d",
                  c->ret);
        failed(z, f, "snap update");
        return;
    }
    CHECK_MSG(c->calls == 1 && rc == c->ret, "update returned %d, fn returned %d", rc, c->ret);
    full_check(z);
}

static void snap_update(fz *z, uint8_t arg)
{
    upd_ctx c;
    memset(&c, 0, sizeof c);
    c.changes = 1 + arg % 8;
    c.ret = (arg & 0x80) ? abandon_values[(arg >> 3) % (sizeof abandon_values / sizeof(int))] : 0;
    snap_update_run(z, &c);
}

static void view_release(fz *z, unsigned i)
{
    gomap_snap_release(z->views[i].v);
    refmap_free(z->views[i].r);
    z->views[i] = z->views[--z->nviews];
}

static void snap_acquire(fz *z)
{
    if (z->nviews == MAX_VIEWS) {
        view_compare(z, z->views[0].v, z->views[0].r);
        view_release(z, 0);
    }
    const gomap_snap_view_t *v = gomap_snap_acquire(z->snap);
    CHECK(v != NULL);
    z->views[z->nviews++] = (fz_view){v, refmap_clone(z->r)};
    CHECK(gomap_len(gomap_snap_view_map(v)) == refmap_len(z->r));
}

static void view_during_range(range_ctx *c, const void *key, const void *val)
{
    fz *z = c->z;
    (void)key;
    (void)val;
    snap_check_stats(z);
    if (c->mode == 1 && c->calls == 1) {
        /* Release the view being ranged over: the range holds its own
         * reference. Its reference map is freed after the range. */
        fz_view *w = c->view;
        gomap_snap_release(w->v);
        *w = z->views[--z->nviews];
        snap_check_stats(z);
    } else if (c->mode == 2) {
        uint8_t b = next_byte(z);
        if (b & 1)
            snap_set(z, next_byte(z), next_byte(z));
        else
            snap_delete(z, next_byte(z));
    }
}

static void snap_view_range(fz *z, uint8_t arg)
{
    if (z->nviews == 0)
        return;
    fz_view *w = &z->views[arg % z->nviews];
    refmap *r = w->r;
    size_t n = refmap_len(r);
    range_ctx c;
    range_begin(&c, z, r, arg & 4 ? 1 + (arg >> 3) % 8 : 0);
    c.view = w;
    c.mode = (arg >> 6) % 3;
    c.during = view_during_range;
    z->extra_views++;
    gomap_snap_view_range(w->v, range_fn, &c);
    z->extra_views--;
    range_end(&c, n, true, "view_range");
    if (c.mode == 1 && c.calls > 0)
        refmap_free(r); /* released inside */
    snap_check_stats(z);
}

static void snap_view_check(fz *z, uint8_t arg)
{
    if (z->nviews == 0)
        return;
    fz_view *w = &z->views[arg % z->nviews];
    if (arg & 4)
        view_compare(z, w->v, w->r);
    for (int i = 0; i < 4; i++)
        view_probe(z, w, next_byte(z));
}

static void snap_op(fz *z, unsigned op, uint8_t hi)
{
    switch (op) {
    case 0: case 1: case 2:
        snap_set(z, next_byte(z), hi);
        break;
    case 3: case 4:
        snap_get(z, next_byte(z), (hi & 7) == 7);
        break;
    case 5:
        snap_delete(z, next_byte(z));
        break;
    case 6: case 7:
        snap_update(z, next_byte(z));
        break;
    case 8:
        if (hi < 2)
            snap_clear(z);
        break;
    case 9:
        snap_acquire(z);
        break;
    case 10:
        if (z->nviews) {
            unsigned i = next_byte(z) % z->nviews;
            view_compare(z, z->views[i].v, z->views[i].r);
            view_release(z, i);
        }
        break;
    case 11:
        snap_view_check(z, next_byte(z));
        break;
    case 12:
        snap_view_range(z, next_byte(z));
        break;
    case 13: {
        /* A set of the value already there publishes nothing and cannot
         * fail, even with every allocation refused. */
        unsigned id = next_byte(z);
        if (refmap_get(z->r, make_key(z, &z->kb, id)))
            snap_set(z, id, 0);
        break;
    }
    default:
        snap_get(z, next_byte(z), false);
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Operations on every map                                                   */
/* ------------------------------------------------------------------------ */

static void full_check(fz *z)
{
    faults f = faults_off(z);
    switch (z->mc->type) {
    case MAP_SYNC: sync_compare(z); break;
    case MAP_SHARD:
        shard_compare(z, (z->ops % 64 == 0 || !more(z)) && refmap_len(z->r) <= 64);
        break;
    case MAP_SNAP: snap_compare(z); break;
    }
    faults_on(z, f);
}

/* The check after every operation: len and stats; the validator (linear
 * in the buckets, more with long chains) while the map has always been
 * small, and every 16th operation otherwise. */
static void step_check(fz *z)
{
    faults f = faults_off(z);
    bool validate = z->peak <= 16 || z->ops % 16 == 0;
    switch (z->mc->type) {
    case MAP_SYNC:
        if (validate)
            CHECK_SYNC_VALID(z->sync);
        sync_check_stats(z);
        break;
    case MAP_SHARD:
        if (validate)
            CHECK_SHARD_VALID(z->shard);
        shard_check_stats(z);
        break;
    case MAP_SNAP:
        if (validate)
            CHECK_SNAP_VALID(z->snap);
        snap_check_stats(z);
        break;
    }
    faults_on(z, f);
}

/* Keys base, base + 1, ...: up to 23 of them, or now and then from 64 to a
 * few hundred (ids past 255 then: keys of their own). Stops at the first
 * -ENOMEM. */
static void op_bulk(fz *z, bool insert)
{
    uint8_t b = next_byte(z);
    unsigned count = b < 248 ? b % 24 : 64 + (b - 248) * 40u;
    unsigned base = next_byte(z);
    if (z->mc->type == MAP_SNAP && count > 8) {
        upd_ctx c;
        memset(&c, 0, sizeof c);
        c.bulk = true;
        c.bulk_insert = insert;
        c.bulk_base = base;
        c.bulk_count = count;
        snap_update_run(z, &c);
        return;
    }
    for (unsigned i = 0; i < count; i++) {
        unsigned id = base + i;
        size_t f = refusals(z);
        switch (z->mc->type) {
        case MAP_SYNC:
            if (insert)
                sync_store(z, id, i % 3 == 2 ? 1 : 0, 1);
            else
                sync_delete(z, id, i & 1);
            break;
        case MAP_SHARD:
            if (!insert)
                shard_delete(z, id);
            else if (i % 3 == 2)
                load_or_store(z, id, false);
            else
                shard_set(z, id, 1);
            break;
        case MAP_SNAP:
            if (insert)
                snap_set(z, id, 1);
            else
                snap_delete(z, id);
            break;
        }
        if (refusals(z) != f)
            break;
    }
}

static int new_map(fz *z, size_t hint)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = z->kc->kind;
    o.key_size = z->kc->key_size;
    o.val_size = z->kc->val_size;
    o.hint = hint;
    o.hash = z->kc->hash;
    o.equal = z->kc->hash ? ckey_equal : NULL;
    o.alloc = &z->la.iface;
    int rc = -EINVAL;
    switch (z->mc->type) {
    case MAP_SYNC:
        z->sync = (gomap_sync_t *)(void *)z;
        rc = gomap_sync_new(&z->sync, &o);
        CHECK(rc == 0 ? z->sync != NULL : z->sync == NULL);
        break;
    case MAP_SHARD: {
        gomap_shard_options so;
        memset(&so, 0, sizeof so);
        so.map = o;
        so.shards = z->mc->shards;
        z->shard = (gomap_shard_t *)(void *)z;
        rc = gomap_shard_new(&z->shard, &so);
        CHECK(rc == 0 ? z->shard != NULL : z->shard == NULL);
        break;
    }
    case MAP_SNAP:
        z->snap = (gomap_snap_t *)(void *)z;
        rc = gomap_snap_new(&z->snap, &o);
        CHECK(rc == 0 ? z->snap != NULL : z->snap == NULL);
        break;
    }
    return rc;
}

static void free_map(fz *z)
{
    while (z->nviews) {
        view_compare(z, z->views[z->nviews - 1].v, z->views[z->nviews - 1].r);
        view_release(z, z->nviews - 1);
    }
    gomap_sync_free(z->sync);
    gomap_shard_free(z->shard);
    gomap_snap_free(z->snap);
    z->sync = NULL;
    z->shard = NULL;
    z->snap = NULL;
}

/* Byte 1: bit 0 refuses allocation 1 + (bits 1-3) of the creation (which
 * must then fail cleanly, and is retried), bit 7 reads a hint byte. */
static void create(fz *z)
{
    uint8_t flags = next_byte(z);
    size_t hint = flags & 0x80 ? 2u * next_byte(z) : 0;
    if (flags & 1)
        fail_nth(z, 1 + (flags >> 1) % 8);
    int rc = new_map(z, hint);
    if (rc == -ENOMEM) {
        fail_alloc c = locked_alloc_counts(&z->la);
        CHECK_MSG(c.failures == 1 && c.live_blocks == 0 && c.live_bytes == 0,
                  "failed creation: %zu refusals, %zu blocks left", c.failures, c.live_blocks);
        rc = new_map(z, hint);
    }
    CHECK_MSG(rc == 0, "creating the map returned %d", rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static fz z;
    memset(&z, 0, sizeof z);
    z.data = data;
    z.size = size;
    uint8_t head = next_byte(&z);
    z.mc = &map_cfgs[head % NMAPS];
    z.kc = &key_cfgs[(head / NMAPS) % NKEYS];
    locked_alloc_init(&z.la);
    if (z.kc->kind == GOMAP_KEY_CUSTOM)
        z.r = refmap_new_custom(z.kc->key_size, z.kc->val_size, z.kc->hash, ckey_equal);
    else
        z.r = refmap_new(z.kc->kind, z.kc->key_size, z.kc->val_size);
    create(&z);

    while (more(&z)) {
        uint8_t op = next_byte(&z);
        if (z.fail_all_next)
            fail_every(&z, true);
        unsigned code = op % 24;
        uint8_t hi = op / 24; /* 0..10: a few bits for the op */
        switch (code) {
        case 20: {
            uint8_t b = next_byte(&z);
            if (b < 192)
                fail_nth(&z, 1 + b % 24);
            else
                z.fail_all_next = true;
            break;
        }
        case 21:
            op_bulk(&z, true);
            break;
        case 22:
            op_bulk(&z, false);
            break;
        case 23:
            full_check(&z);
            break;
        default:
            if (z.mc->type == MAP_SYNC)
                sync_op(&z, code, hi);
            else if (z.mc->type == MAP_SHARD)
                shard_op(&z, code, hi);
            else
                snap_op(&z, code, hi);
            break;
        }
        if (z.fail_all_next && code != 20) {
            fail_every(&z, false);
            z.fail_all_next = false;
        }
        z.ops++;
        if (refmap_len(z.r) > z.peak)
            z.peak = refmap_len(z.r);
        step_check(&z);
        /* The sync map's comparison ranges, which promotes its dirty map:
         * less often, so that misses and dirty copies get their turn. */
        if (z.mc->type == MAP_SYNC ? z.ops % 32 == 0 : z.peak <= 8 || z.ops % 16 == 0)
            full_check(&z);
    }
    faults_off(&z);
    full_check(&z);
    free_map(&z);
    fail_alloc c = locked_alloc_counts(&z.la);
    CHECK_MSG(c.live_blocks == 0 && c.live_bytes == 0,
              "%zu blocks (%zu bytes) still allocated after the map was freed", c.live_blocks,
              c.live_bytes);
    locked_alloc_destroy(&z.la);
    refmap_free(z.r);
    return 0;
}

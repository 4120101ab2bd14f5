/*
 * map_access.c — lookup, insert and delete.
 *
 * Every routine here is written once, as a static inline function taking the
 * key kind as a parameter. The public entry points call it with a constant
 * kind (directly for the typed shortcuts, through KIND_SWITCH for the generic
 * calls), so the compiler emits one specialised copy per kind: the integer
 * and string fast paths compare keys in place with no indirect call, and only
 * GOMAP_KEY_CUSTOM calls the user's functions. The per-kind key operations
 * and the chain search live in map_probe.h, shared with map_batch.c and
 * map_grow.c.
 *
 * Lookups never move anything. Inserts and deletes first do their share of
 * an incremental grow (gomap__grow_work), as Go does.
 */
#include <errno.h>

#include "core/map_probe.h"

/* The empty string's bytes: a stored "" needs no allocation. */
static const char empty_string[1] = "";

/* ---- insert ------------------------------------------------------------------ */

/* Stores a new entry in the empty slot (ins_b, ins_i), or in a new overflow
 * bucket chained after `last` when ins_b is NULL. Every allocation happens
 * before the map is touched, so -ENOMEM leaves it unchanged. Always inlined,
 * like upsert. */
ALWAYS_INLINE int insert_new(gomap_t *m, int kind, const void *key, uint8_t top,
                             const void *val, char *ins_b, unsigned ins_i, char *last,
                             void **vslot)
{
    char *kblob = NULL, *nb = NULL;
    void *vblob = NULL;

    if (kind == GOMAP_KEY_STR) {
        const gomap_str *s = key;
        if (s->len && !(kblob = gomap__key_blob_new(&m->mem, s->ptr, s->len)))
            goto nomem;
    } else if (kind_may_be_indirect(kind) && m->key_indirect) {
        if (!(kblob = gomap__key_blob_new(&m->mem, key, m->key_size)))
            goto nomem;
    }
    if (m->val_indirect) {
        vblob = val ? gomap__mem_alloc(&m->mem, m->val_size)
                    : gomap__mem_alloc_zeroed(&m->mem, m->val_size);
        if (!vblob)
            goto nomem;
        if (val)
            memcpy(vblob, val, m->val_size);
    }
    if (!ins_b && !(nb = gomap__overflow_new(m)))
        goto nomem;

    GOMAP_ASSERT(ins_b ? is_empty_top(tophash_of(ins_b)[ins_i]) : !*overflow_of(m, last));
    /* Commit: nothing below can fail. */
    if (nb) {
        gomap__overflow_attach(m->buckets, nb);
        *overflow_of(m, last) = nb;
        m->noverflow++;
        ins_b = nb;
        ins_i = 0;
    }
    char *ks = key_slot_at(m, ins_b, ins_i);
    char *vs = val_slot_at(m, ins_b, ins_i);
    if (kind == GOMAP_KEY_STR) {
        gomap_str st = {kblob ? kblob : empty_string, ((const gomap_str *)key)->len};
        memcpy(ks, &st, sizeof st);
    } else if (kblob) {
        memcpy(ks, &kblob, sizeof kblob);
    } else {
        copy_slot_bytes(ks, key, key_slot_bytes(m, kind));
    }
    if (vblob)
        memcpy(vs, &vblob, sizeof vblob);
    else if (val)
        copy_slot_bytes(vs, val, m->val_size);
    /* else: an empty slot is all zero bytes already (Go's zero value). */
    tophash_of(ins_b)[ins_i] = top;
    m->count++;
    if (vslot)
        *vslot = vblob ? vblob : (void *)vs;
    return 1;

nomem:
    if (kblob)
        gomap__key_blob_free(&m->mem, key_blob_of(kblob));
    gomap__mem_free(&m->mem, vblob, m->val_size);
    return -ENOMEM;
}

/* While the map grows, a write first evacuates the old bucket its key comes
 * from into two new buckets (X and Y), then reads its own new bucket (one of
 * the two). All three are independent cache misses on a large map: request
 * them together so their latencies overlap. */
ALWAYS_INLINE void prefetch_grow_targets(const gomap_t *m, uint64_t hash)
{
    size_t oldn = old_bucket_count(m), ob = hash & (oldn - 1);
    __builtin_prefetch(bucket_at(m, m->oldbuckets, ob), 1, 3);
    __builtin_prefetch(bucket_at(m, m->buckets, ob), 1, 3);
    if (!(m->flags & FLAG_SAME_SIZE_GROW))
        __builtin_prefetch(bucket_at(m, m->buckets, ob + oldn), 1, 3);
}

/* Go's mapassign: find the key in its (evacuated) bucket, or the first empty
 * slot of the chain for it; grow when a new key would overload the array.
 *
 * The chain is scanned a bucket at a time on the tophash word: candidates
 * are the bytes equal to the key's tophash, the first empty byte (EMPTY_ONE
 * or EMPTY_REST) of the chain is where a new key goes, and a bucket holding
 * an EMPTY_REST byte is the last one to look at (every later slot of the
 * chain is empty, so no candidate follows it). Always inlined: left to its
 * heuristics, GCC may call one copy taking the kind as a variable (key
 * compares and copies through switches) from some writers. */
ALWAYS_INLINE int upsert(gomap_t *m, int kind, const void *key, uint64_t hash,
                         const void *val, bool overwrite, void **vslot)
{
    gomap__release_some(m);
    if (!m->buckets) {
        if (!(m->buckets = gomap__array_alloc(m, m->B)))
            return -ENOMEM;
        lookup_refresh(m);
    }
again:;
    size_t bucket = hash & bucket_mask(m->B);
    if (is_growing(m)) {
        prefetch_grow_targets(m, hash);
        if (gomap__grow_work(m, bucket) != 0)
            return -ENOMEM;
    }
    const uint8_t top = (uint8_t)tophash_from(hash);
    const uint64_t want = 0x0101010101010101ull * top;
    char *b = bucket_at(m, m->buckets, bucket), *last = b;
    char *ins_b = NULL;
    unsigned ins_i = 0;
    for (; b; last = b, b = *overflow_of(m, b)) {
        const uint64_t w = tophash_word(b);
        for (uint64_t hits = zero_bytes(w ^ want); hits; hits &= hits - 1) {
            unsigned i = (unsigned)__builtin_ctzll(hits) >> 3;
            char *ks = key_slot_at(m, b, i);
            if (!key_eq(m, kind, slot_key(m, kind, ks), key))
                continue;
            void *v = val_of_slot(m, val_slot_at(m, b, i));
            if (kind == GOMAP_KEY_F64)
                memcpy(ks, key, sizeof(double)); /* -0 replaces +0, as in Go */
            if (overwrite)
                copy_slot_bytes(v, val, m->val_size);
            if (vslot)
                *vslot = v;
            return 0;
        }
        uint64_t empty = empty_bytes(w);
        if (empty && !ins_b) {
            ins_b = b;
            ins_i = (unsigned)__builtin_ctzll(empty) >> 3;
        }
        if (zero_bytes(w))
            break; /* an EMPTY_REST: the rest of the chain is empty */
    }
    if (!is_growing(m) && (over_load_factor(m->count + 1, m->B) ||
                           too_many_overflow(m->noverflow, m->B))) {
        int rc = gomap__hash_grow(m);
        if (rc == 0)
            goto again;
        /* A map with a memory limit whose growth does not fit (the old and
         * new arrays must coexist) keeps inserting above the load factor,
         * into overflow buckets, until the bytes themselves run out; a
         * later insert grows it once memory allows. Without a limit, out
         * of memory is out of memory. */
        if (!m->mem.limit)
            return rc;
    }
    return insert_new(m, kind, key, top, val, ins_b, ins_i, last, vslot);
}

/* ---- delete ------------------------------------------------------------------ */

/* Empties slot i of bucket b, whose chain starts at head, and keeps the
 * EMPTY_REST invariant: a run of empty slots reaching the end of the chain is
 * marked EMPTY_REST, so lookups stop early. */
static void delete_slot(gomap_t *m, char *head, char *b, unsigned i)
{
    GOMAP_ASSERT(tophash_of(b)[i] >= MIN_TOPHASH && m->count > 0);
    gomap__slot_clear(m, b, i);
    uint8_t *th = tophash_of(b);
    th[i] = EMPTY_ONE;
    bool tail_empty;
    if (i == BUCKET_SLOTS - 1) {
        char *next = *overflow_of(m, b);
        tail_empty = !next || tophash_of(next)[0] == EMPTY_REST;
    } else {
        tail_empty = th[i + 1] == EMPTY_REST;
    }
    while (tail_empty) {
        tophash_of(b)[i] = EMPTY_REST;
        if (i == 0) {
            if (b == head)
                break;
            char *prev = head;
            while (*overflow_of(m, prev) != b)
                prev = *overflow_of(m, prev);
            b = prev;
            i = BUCKET_SLOTS - 1;
        } else {
            i--;
        }
        tail_empty = tophash_of(b)[i] == EMPTY_ONE;
    }
    if (--m->count == 0)
        gomap__reseed(m); /* hash-flooding defence, golang/go#25237 */
}

static inline bool remove_key(gomap_t *m, int kind, const void *key, uint64_t hash)
{
    gomap__release_some(m);
    if (m->count == 0 || key_is_nan(kind, key))
        return false;
    /* Best effort: if evacuation runs out of memory the key is simply
     * deleted from its old bucket, which home_bucket() still finds. */
    if (is_growing(m))
        (void)gomap__grow_work(m, hash & bucket_mask(m->B));
    char *head = home_bucket(m, hash);
    slot_ref r = find_in_chain(m, kind, head, key, tophash_from(hash));
    if (!r.b)
        return false;
    delete_slot(m, head, r.b, r.i);
    return true;
}

/* ---- internal entry points (already hashed) ------------------------------------ */

uint64_t gomap__hash_key(const gomap_t *m, const void *key)
{
    uint64_t h;
#define HASH(K) hash_of(m, K, key)
    KIND_SWITCH(m->key_kind, h, HASH)
#undef HASH
    return h;
}

bool gomap__key_is_reflexive(const gomap_t *m, const void *key)
{
    return !key_is_nan(m->key_kind, key);
}

slot_ref gomap__find_hashed(const gomap_t *m, const void *key, uint64_t hash)
{
    slot_ref r;
#define FIND(K) find(m, K, key, hash)
    KIND_SWITCH(m->key_kind, r, FIND)
#undef FIND
    return r;
}

int gomap__upsert_hashed(gomap_t *m, const void *key, uint64_t hash,
                         const void *val, bool overwrite, void **vslot)
{
    int rc;
#define UPSERT(K) upsert(m, K, key, hash, val, overwrite, vslot)
    KIND_SWITCH(m->key_kind, rc, UPSERT)
#undef UPSERT
    return rc;
}

bool gomap__remove_hashed(gomap_t *m, const void *key, uint64_t hash)
{
    bool found;
#define REMOVE(K) remove_key(m, K, key, hash)
    KIND_SWITCH(m->key_kind, found, REMOVE)
#undef REMOVE
    return found;
}

/* ---- public API ---------------------------------------------------------------- */

/* One write bracket around an upsert of a given kind; `site` is the public
 * call's return address. */
static inline int write_upsert(gomap_t *m, int kind, const void *key, const void *val,
                               bool overwrite, void **vslot, const void *site)
{
    gomap__write_begin(m, site);
    int rc = upsert(m, kind, key, hash_of(m, kind, key), val, overwrite, vslot);
    gomap__write_end(m);
    return rc;
}

static inline bool write_remove(gomap_t *m, int kind, const void *key, const void *site)
{
    gomap__write_begin(m, site);
    bool found = remove_key(m, kind, key, hash_of(m, kind, key));
    gomap__write_end(m);
    return found;
}

/* A write call refused for its arguments (it returns -EINVAL or false):
 * still misuse on a frozen map, and reported as such, so that every write
 * call on a published snapshot version dies whatever its arguments. */
static __attribute__((noinline, cold)) void refused_write(const gomap_t *m, const void *site)
{
    if (m)
        gomap__frozen_check(m, site);
}

/* A lookup of any kind, after the misuse check. */
static void *get_checked(const gomap_t *m, const void *key, const void *site)
{
    if (!m || !gomap__key_ok(m->key_kind, key))
        return NULL;
    gomap__read_check(m, MSG_READ_WRITE, site);
    void *v;
#define GET(K) probe_lookup(m, K, key)
    KIND_SWITCH(m->key_kind, v, GET)
#undef GET
    return v;
}

void *gomap_get(const gomap_t *m, const void *key)
{
    return get_checked(m, key, GOMAP_CALLER);
}

bool gomap_get_copy(const gomap_t *m, const void *key, void *val_out)
{
    void *v = get_checked(m, key, GOMAP_CALLER);
    if (val_out && m && m->val_size) {
        if (v)
            memcpy(val_out, v, m->val_size);
        else
            memset(val_out, 0, m->val_size);
    }
    return v != NULL;
}

/* write_upsert for the map's kind, known only at run time: gomap_set and
 * gomap_assign, each with its own specialised copies. */
ALWAYS_INLINE int write_upsert_any(gomap_t *m, const void *key, const void *val, bool overwrite,
                                   void **vslot, const void *site)
{
    int rc;
#define UPSERT(K) write_upsert(m, K, key, val, overwrite, vslot, site)
    KIND_SWITCH(m->key_kind, rc, UPSERT)
#undef UPSERT
    return rc;
}

int gomap_set(gomap_t *m, const void *key, const void *val)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || (!val && m->val_size)) {
        refused_write(m, GOMAP_CALLER);
        return -EINVAL;
    }
    int rc = write_upsert_any(m, key, val, true, NULL, GOMAP_CALLER);
    return rc < 0 ? rc : 0;
}

int gomap_assign(gomap_t *m, const void *key, void **slot)
{
    if (slot)
        *slot = NULL;
    if (!m || !slot || !gomap__key_ok(m->key_kind, key)) {
        refused_write(m, GOMAP_CALLER);
        return -EINVAL;
    }
    return write_upsert_any(m, key, NULL, false, slot, GOMAP_CALLER);
}

bool gomap_delete(gomap_t *m, const void *key)
{
    if (!m || !gomap__key_ok(m->key_kind, key)) {
        refused_write(m, GOMAP_CALLER);
        return false;
    }
    bool found;
#define DELETE(K) write_remove(m, K, key, GOMAP_CALLER)
    KIND_SWITCH(m->key_kind, found, DELETE)
#undef DELETE
    return found;
}

/* ---- typed shortcuts ------------------------------------------------------------ */

/* A typed lookup's key, passed by value (in registers). */
typedef union {
    uint32_t u32;
    uint64_t u64;
    gomap_str str;
} typed_key;

/* The key as the generic calls take it. */
static inline const void *typed_key_ptr(const typed_key *key, int kind)
{
    return kind == GOMAP_KEY_U32   ? (const void *)&key->u32
           : kind == GOMAP_KEY_U64 ? (const void *)&key->u64
                                   : (const void *)&key->str;
}

/* A typed lookup on a map not in the fast shape: NULL for a map of another
 * kind, else the full lookup (one-bucket maps without hashing, growing
 * maps, the 16-byte shape...), specialised for the kind. */
ALWAYS_INLINE void *get_typed_other(const gomap_t *m, int kind, typed_key key, const void *site)
{
    if (m->key_kind != kind)
        return NULL;
    gomap__read_check(m, MSG_READ_WRITE, site);
    const void *k = typed_key_ptr(&key, kind);
    if (load_relaxed(&((gomap_t *)(uintptr_t)m)->lookup_shape) == shape_code(kind, 16))
        return lookup_shaped(m, kind, k, 16);
    return lookup_any(m, kind, k); /* the 8-byte shape was tested by get_typed */
}

/* get_typed_other, out of line, for each typed lookup (`suffix` names the
 * key's member of typed_key and the public call): reached by a jump, so
 * that the fast path sets up no stack frame. */
#define TYPED_OTHER(suffix, KIND)                                                      \
    static __attribute__((noinline)) void *get_other_##suffix(const gomap_t *m,        \
                                                              typed_key key,           \
                                                              const void *site)        \
    {                                                                                  \
        return get_typed_other(m, KIND, key, site);                                    \
    }
TYPED_OTHER(u64, GOMAP_KEY_U64)
TYPED_OTHER(u32, GOMAP_KEY_U32)
TYPED_OTHER(str, GOMAP_KEY_STR)
#undef TYPED_OTHER

/* A typed lookup: NULL for a map of another kind, else a read. The most
 * common shape is tested first: that one byte also says the map's kind,
 * that it has B > 0, is not growing and is not being written (the misuse
 * check is then done: see lookup_shape_now). Such a map is searched with
 * no call and no stack frame; every other map, and a write in progress,
 * is reached by a jump to `other` (get_other_<kind>). */
ALWAYS_INLINE void *get_typed(const gomap_t *m, int kind, typed_key key, const void *site,
                              void *(*other)(const gomap_t *, typed_key, const void *))
{
    if (!m)
        return NULL;
    if (load_relaxed(&((gomap_t *)(uintptr_t)m)->lookup_shape) != shape_code(kind, 8))
        return other(m, key, site);
    return lookup_shaped(m, kind, typed_key_ptr(&key, kind), 8);
}

/* u64 and u32 differ only in the key type and kind. */
#define TYPED_INT_API(suffix, type, KIND)                                      \
    int gomap_set_##suffix(gomap_t *m, type key, const void *val)             \
    {                                                                          \
        if (!m || m->key_kind != (KIND) || (!val && m->val_size)) {              \
            refused_write(m, GOMAP_CALLER);                                          \
            return -EINVAL;                                                    \
        }                                                                      \
        int rc = write_upsert(m, KIND, &key, val, true, NULL, GOMAP_CALLER);         \
        return rc < 0 ? rc : 0;                                                \
    }                                                                          \
    void *gomap_get_##suffix(const gomap_t *m, type key)                       \
    {                                                                          \
        return get_typed(m, KIND, (typed_key){.suffix = key}, GOMAP_CALLER,     \
                         get_other_##suffix);                                  \
    }                                                                          \
    bool gomap_delete_##suffix(gomap_t *m, type key)                           \
    {                                                                          \
        if (!m || m->key_kind != (KIND)) {                                       \
            refused_write(m, GOMAP_CALLER);                                          \
            return false;                                                      \
        }                                                                      \
        return write_remove(m, KIND, &key, GOMAP_CALLER);                            \
    }

TYPED_INT_API(u64, uint64_t, GOMAP_KEY_U64)
TYPED_INT_API(u32, uint32_t, GOMAP_KEY_U32)

int gomap_set_str(gomap_t *m, const char *ptr, size_t len, const void *val)
{
    gomap_str key = {ptr, len};
    if (!m || m->key_kind != GOMAP_KEY_STR || gomap__str_key_bad(&key) || (!val && m->val_size)) {
        refused_write(m, GOMAP_CALLER);
        return -EINVAL;
    }
    int rc = write_upsert(m, GOMAP_KEY_STR, &key, val, true, NULL, GOMAP_CALLER);
    return rc < 0 ? rc : 0;
}

void *gomap_get_str(const gomap_t *m, const char *ptr, size_t len)
{
    typed_key key = {.str = {ptr, len}};
    if (gomap__str_key_bad(&key.str))
        return NULL;
    return get_typed(m, GOMAP_KEY_STR, key, GOMAP_CALLER, get_other_str);
}

bool gomap_delete_str(gomap_t *m, const char *ptr, size_t len)
{
    gomap_str key = {ptr, len};
    if (!m || m->key_kind != GOMAP_KEY_STR || gomap__str_key_bad(&key)) {
        refused_write(m, GOMAP_CALLER);
        return false;
    }
    return write_remove(m, GOMAP_KEY_STR, &key, GOMAP_CALLER);
}

/*
 * map_clone.c — copies of a whole map for the layers above (layer.h): block
 * by block when the source is settled, entry by entry otherwise (the
 * snapshot map's copy-on-write). gomap_clone (map.c) stays entry by entry:
 * its copy has a seed of its own and is presized for its length.
 *
 * A map that is not growing is copied as its memory is laid out: the
 * bucket array in one memcpy, each overflow bucket as its chain is walked,
 * linked the same way. The copy hashes with the source's seed, so every
 * tophash and every bucket position stays right and nothing is rehashed.
 * Only what lives outside the buckets is fixed up, one live slot at a
 * time: the key blobs of string and out-of-line keys and the value blobs
 * of out-of-line values are duplicated and the slot pointed at the copy.
 * A map of inline keys and values (u64 -> u64, ...) is copied with no
 * per-entry work at all.
 *
 * Out of memory: the copy is freed and nothing of the source changes. So
 * that gomap_free frees exactly what the copy owns, a map whose slots own
 * memory is copied one bucket at a time, each fixed up before the next is
 * copied: when an allocation fails, the slots of the bucket not yet fixed
 * are emptied, its chain is cut there, and every later bucket is still
 * zero.
 */
#include <errno.h>
#include <string.h>

#include "core/layer.h"
#include "core/map_internal.h"

/* Duplicates what live slot i of b (a copy of a source bucket) owns outside
 * the bucket, and points the slot at the duplicates. 0 or -ENOMEM (the slot
 * unchanged: it still points at the source's memory). */
static int own_slot(gomap_t *c, char *b, unsigned i)
{
    char *ks = key_slot_at(c, b, i), *vs = val_slot_at(c, b, i);
    char *kblob = NULL;
    if (c->key_kind == GOMAP_KEY_STR) {
        gomap_str s;
        memcpy(&s, ks, sizeof s);
        if (s.len && !(kblob = gomap__key_blob_new(&c->mem, s.ptr, s.len)))
            return -ENOMEM;
    } else if (c->key_indirect) {
        const void *k = *(void **)(void *)ks;
        if (!(kblob = gomap__key_blob_new(&c->mem, k, c->key_size)))
            return -ENOMEM;
    }
    if (c->val_indirect) {
        void *v = gomap__mem_alloc(&c->mem, c->val_size);
        if (!v) {
            if (kblob)
                gomap__key_blob_free(&c->mem, key_blob_of(kblob));
            return -ENOMEM;
        }
        memcpy(v, *(void **)(void *)vs, c->val_size);
        memcpy(vs, &v, sizeof v);
    }
    if (c->key_kind == GOMAP_KEY_STR && kblob)
        memcpy(ks + offsetof(gomap_str, ptr), &kblob, sizeof kblob);
    else if (kblob)
        memcpy(ks, &kblob, sizeof kblob);
    return 0;
}

/* After a failure at slot `from` of b: empties the slots from there on
 * (they still point at the source's memory) and cuts b's chain. */
static void disown_rest(gomap_t *c, char *b, unsigned from)
{
    for (unsigned i = from; i < BUCKET_SLOTS; i++) {
        if (!is_empty_top(tophash_of(b)[i])) {
            tophash_of(b)[i] = EMPTY_ONE;
            memset(key_slot_at(c, b, i), 0, c->key_slot);
            memset(val_slot_at(c, b, i), 0, c->val_slot);
        }
    }
    *overflow_of(c, b) = NULL;
}

/* Fixes up the live slots of b (a copy); counts them in *live. 0 or -ENOMEM
 * (b disowned from the failing slot on). */
static int own_bucket(gomap_t *c, char *b, size_t *live)
{
    for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
        if (tophash_of(b)[i] < MIN_TOPHASH)
            continue;
        if (own_slot(c, b, i) != 0) {
            disown_rest(c, b, i);
            return -ENOMEM;
        }
        ++*live;
    }
    return 0;
}

/* Copies the chain of overflow buckets behind source bucket sb into the
 * copy's bucket cb (already a copy of sb, its overflow link still the
 * source's), fixing each up when `own`. 0 or -ENOMEM (the chain cut at the
 * failure). */
static int copy_chain(gomap_t *c, const gomap_t *src, char *cb, char *sb, bool own, size_t *live)
{
    char *prev = cb;
    for (char *so = *overflow_of(src, sb); so; so = *overflow_of(src, so)) {
        char *co = gomap__overflow_new(c);
        if (!co) {
            *overflow_of(c, prev) = NULL;
            return -ENOMEM;
        }
        memcpy(co, so, c->bucket_size);
        *overflow_of(c, co) = NULL;
        *overflow_of(c, prev) = co;
        gomap__overflow_attach(c->buckets, co);
        if (own && own_bucket(c, co, live) != 0)
            return -ENOMEM;
        prev = co;
    }
    return 0;
}

/* The block copy of a settled source into c, a new empty map of the same
 * layout: 0, or -ENOMEM with c holding a consistent part of it (free it). */
static int copy_blocks(gomap_t *c, const gomap_t *src)
{
    if (!src->buckets)
        return 0;
    if (!(c->buckets = gomap__array_alloc(c, src->B)))
        return -ENOMEM;
    c->B = src->B;
    lookup_refresh(c);
    size_t n = (size_t)1 << src->B;
    bool own = src->key_kind == GOMAP_KEY_STR || src->key_indirect || src->val_indirect;
    size_t live = 0;
    int rc = 0;
    if (!own)
        memcpy(c->buckets, src->buckets, n * c->bucket_size);
    for (size_t j = 0; j < n && rc == 0; j++) {
        char *sb = bucket_at(src, src->buckets, j), *cb = bucket_at(c, c->buckets, j);
        if (own) {
            memcpy(cb, sb, c->bucket_size);
            rc = own_bucket(c, cb, &live);
        }
        if (rc == 0 && *overflow_of(src, sb))
            rc = copy_chain(c, src, cb, sb, own, &live);
    }
    c->noverflow = gomap__overflow_listed(c->buckets);
    c->count = own ? live : src->count;
    if (rc != 0 && !own) {
        /* Nothing owned by slots: only the count must not claim entries of
         * chains that were cut. */
        c->count = 0;
    }
    return rc;
}

/* Whether c (new, empty) and src lay out buckets alike. */
static bool same_layout(const gomap_t *c, const gomap_t *src)
{
    return c->bucket_size == src->bucket_size && c->key_off == src->key_off &&
           c->val_off == src->val_off && c->ovf_off == src->ovf_off &&
           c->key_slot == src->key_slot && c->val_slot == src->val_slot &&
           c->key_indirect == src->key_indirect && c->val_indirect == src->val_indirect &&
           c->key_kind == src->key_kind;
}

static int copy_entry(const void *key, void *val, void *ctx)
{
    gomap_t *c = ctx;
    int rc = gomap__upsert_hashed(c, key, gomap__hash_key(c, key), val, false, NULL);
    return rc < 0 ? rc : 0;
}

int gomap__copy_map(gomap_t **out, const gomap_t *src, const gomap_options *opt, size_t hint)
{
    *out = NULL;
    bool blocks = src && !is_growing(src) && !(src->buckets && over_load_factor(hint, src->B));
    gomap_options o = *opt;
    o.hint = blocks ? 0 : hint;
    gomap_t *c;
    int rc = gomap_new(&c, &o);
    if (rc)
        return rc;
    if (blocks && same_layout(c, src)) {
        map_set_seed(c, src->seed);
        c->fixed_seed = src->fixed_seed;
        rc = copy_blocks(c, src);
    } else if (src) {
        rc = gomap__for_each_entry(src, copy_entry, c);
    }
    if (rc) {
        gomap_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/*
 * cache_entries.c — a shard's entry table and the intrusive lists over it
 * (the policy's queues, the wheel's buckets, the free list). Every call
 * here runs under the shard's lock.
 */
#include <errno.h>
#include <string.h>

#include "cache/cache_internal.h"

/* ---- lists ------------------------------------------------------------------------- */

static cache_link *links_of(const gomap_cache_t *c, const struct cache_shard *s, uint32_t i,
                            enum cache_links which)
{
    struct cache_entry *e = entry_at(c, s, i);
    return which == LINKS_POLICY ? &e->plink : &e->wlink;
}

void gomap__clist_push_newest(const gomap_cache_t *c, struct cache_shard *s, cache_list *l,
                              enum cache_links which, uint32_t i)
{
    cache_link *x = links_of(c, s, i, which);
    x->newer = CACHE_NONE;
    x->older = l->newest;
    if (l->newest != CACHE_NONE)
        links_of(c, s, l->newest, which)->newer = i;
    else
        l->oldest = i;
    l->newest = i;
}

void gomap__clist_remove(const gomap_cache_t *c, struct cache_shard *s, cache_list *l,
                         enum cache_links which, uint32_t i)
{
    cache_link *x = links_of(c, s, i, which);
    if (x->newer != CACHE_NONE)
        links_of(c, s, x->newer, which)->older = x->older;
    else
        l->newest = x->older;
    if (x->older != CACHE_NONE)
        links_of(c, s, x->older, which)->newer = x->newer;
    else
        l->oldest = x->newer;
    x->newer = x->older = CACHE_NONE;
}

/* ---- layout ------------------------------------------------------------------------ */

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Bytes of a key as the core map takes it. */
static size_t key_bytes(const gomap_options *opt)
{
    switch (opt->key_kind) {
    case GOMAP_KEY_U32: return sizeof(uint32_t);
    case GOMAP_KEY_U64: return sizeof(uint64_t);
    case GOMAP_KEY_F64: return sizeof(double);
    case GOMAP_KEY_STR: return sizeof(gomap_str);
    default: return opt->key_size;
    }
}

/* Chunks of about 64 KiB (at least one entry, at most 256), so that a
 * small cache does not hold a large chunk and a large one does not
 * double its table often. */
void gomap__cache_layout_init(struct cache_layout *lay, const gomap_options *opt)
{
    lay->key_kind = opt->key_kind;
    lay->key_bytes = key_bytes(opt);
    lay->key_off = sizeof(struct cache_entry);
    lay->val_off = lay->key_off + round8(lay->key_bytes);
    lay->val_size = opt->val_size;
    lay->size = lay->val_off + round8(opt->val_size);
    unsigned sh = 8;
    while (sh > 0 && ((size_t)1 << sh) * lay->size > ((size_t)64 << 10))
        sh--;
    lay->chunk_shift = sh;
}

/* ---- the table --------------------------------------------------------------------- */

struct cache_retired_table {
    struct cache_retired_table *next;
    char **chunks;
    size_t len;
};

static size_t chunk_bytes(const gomap_cache_t *c) { return c->lay.size << c->lay.chunk_shift; }

/* Makes room for one more chunk: 0 or -ENOMEM (nothing changed). */
static int table_grow(gomap_cache_t *c, struct cache_shard *s)
{
    struct cache_entries *t = &s->ents;
    if (t->nchunks < t->table_len)
        return 0;
    size_t len = t->table_len ? 2 * t->table_len : 4;
    if (len > ((size_t)UINT32_MAX >> c->lay.chunk_shift))
        return -ENOMEM; /* indices are 32-bit */
    char **chunks = gomap__alloc(c->alloc, len * sizeof *chunks);
    if (!chunks)
        return -ENOMEM;
    if (t->chunks) {
        struct cache_retired_table *r = gomap__alloc(c->alloc, sizeof *r);
        if (!r) {
            gomap__free(c->alloc, chunks, len * sizeof *chunks);
            return -ENOMEM;
        }
        memcpy(chunks, t->chunks, t->nchunks * sizeof *chunks);
        *r = (struct cache_retired_table){t->retired, t->chunks, t->table_len};
        t->retired = r;
        s->bytes += sizeof *r;
    }
    t->chunks = chunks;
    t->table_len = len;
    s->bytes += len * sizeof *chunks;
    return 0;
}

uint32_t gomap__cache_entry_new(gomap_cache_t *c, struct cache_shard *s)
{
    struct cache_entries *t = &s->ents;
    uint32_t i = t->free_head;
    if (i != CACHE_NONE) {
        t->free_head = entry_at(c, s, i)->plink.newer;
    } else {
        if ((t->used >> c->lay.chunk_shift) == t->nchunks) {
            if (t->used == CACHE_NONE || table_grow(c, s))
                return CACHE_NONE;
            char *chunk = gomap__alloc(c->alloc, chunk_bytes(c));
            if (!chunk)
                return CACHE_NONE;
            t->chunks[t->nchunks++] = chunk;
            s->bytes += chunk_bytes(c);
        }
        i = t->used++;
    }
    struct cache_entry *e = entry_at(c, s, i);
    memset(e, 0, c->lay.size);
    e->plink = e->wlink = (cache_link){CACHE_NONE, CACHE_NONE};
    e->wbucket = WHEEL_NO_BUCKET;
    e->queue = Q_FREE;
    return i;
}

int gomap__cache_entry_set_key(gomap_cache_t *c, struct cache_shard *s, struct cache_entry *e,
                         const void *key)
{
    if (c->lay.key_kind != GOMAP_KEY_STR) {
        memcpy(entry_key(c, e), key, c->lay.key_bytes);
        return 0;
    }
    const gomap_str *k = key;
    gomap_str copy = {NULL, k->len};
    if (k->len) {
        char *bytes = gomap__alloc(c->alloc, k->len);
        if (!bytes)
            return -ENOMEM;
        memcpy(bytes, k->ptr, k->len);
        copy.ptr = bytes;
        s->bytes += k->len;
    }
    memcpy(entry_key(c, e), &copy, sizeof copy);
    return 0;
}

static void release_key(gomap_cache_t *c, struct cache_shard *s, struct cache_entry *e)
{
    if (c->lay.key_kind != GOMAP_KEY_STR)
        return;
    gomap_str k;
    memcpy(&k, entry_key(c, e), sizeof k);
    if (k.len) {
        gomap__free(c->alloc, (void *)k.ptr, k.len);
        s->bytes -= k.len;
    }
    memset(entry_key(c, e), 0, sizeof k);
}

void gomap__cache_entry_free(gomap_cache_t *c, struct cache_shard *s, uint32_t i)
{
    struct cache_entry *e = entry_at(c, s, i);
    release_key(c, s, e);
    e->queue = Q_FREE;
    e->plink.newer = s->ents.free_head;
    s->ents.free_head = i;
}

void gomap__cache_entries_destroy(gomap_cache_t *c, struct cache_shard *s)
{
    struct cache_entries *t = &s->ents;
    for (size_t k = 0; k < t->nchunks; k++)
        gomap__free(c->alloc, t->chunks[k], chunk_bytes(c));
    gomap__free(c->alloc, t->chunks, t->table_len * sizeof *t->chunks);
    while (t->retired) {
        struct cache_retired_table *r = t->retired;
        t->retired = r->next;
        gomap__free(c->alloc, r->chunks, r->len * sizeof *r->chunks);
        gomap__free(c->alloc, r, sizeof *r);
    }
    memset(t, 0, sizeof *t);
}

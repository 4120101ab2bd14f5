/*
 * alloc.h — the map's allocator wrapper and byte accounting.
 *
 * Every allocation of a map goes through gomap__mem_alloc / gomap__mem_free so
 * a custom gomap_allocator sees it and bytes_held is exact. Not thread-safe:
 * only writers allocate or free, and writers are exclusive.
 */
#ifndef GOMAP_ALLOC_H
#define GOMAP_ALLOC_H

#include <gomap/map.h>

#include <stdlib.h>

/* A block from allocator a, or from malloc when a is NULL; NULL when out of
 * memory. No accounting and no limit: for the concurrent maps' own blocks
 * (the sync map's boxes, entries and tables, a sharded map's shard array
 * and scratch copies, a snapshot map's version structs), and under
 * gomap__mem_alloc. Thread-safe as the allocator is: the sync and snapshot
 * maps free from liburcu's thread. size 0 is allowed. */
static inline void *gomap__alloc(const gomap_allocator *a, size_t size)
{
    return a ? a->alloc(size, a->ctx) : malloc(size ? size : 1);
}

/* Frees a block from gomap__alloc with the same allocator; size must be
 * the size allocated. NULL is ignored. */
static inline void gomap__free(const gomap_allocator *a, void *p, size_t size)
{
    if (!p)
        return;
    if (a)
        a->free(p, size, a->ctx);
    else
        free(p);
}

typedef struct gomap_mem {
    const gomap_allocator *a;   /* NULL: malloc/free */
    size_t bytes_held;
    size_t limit;               /* bytes_held never exceeds this; 0 = none */
} gomap_mem;

/* size bytes, or NULL (out of memory, or the allocation would take
 * bytes_held over the limit). size 0 is allowed. */
void *gomap__mem_alloc(gomap_mem *mem, size_t size);

/* size zeroed bytes, or NULL (calloc for the default allocator). */
void *gomap__mem_alloc_zeroed(gomap_mem *mem, size_t size);

/* Frees a block from gomap__mem_alloc*; size must be the size allocated. */
void gomap__mem_free(gomap_mem *mem, void *ptr, size_t size);

/* size bytes of fresh zeroed pages mapped for this block alone (mmap), for
 * the default allocator's large arrays: their pages can be given back and
 * read as zeros again (gomap__mem_zero_mapped), and pages never written are
 * never faulted in. NULL as gomap__mem_alloc. Only when mem->a is NULL. */
void *gomap__mem_map(gomap_mem *mem, size_t size);

/* Unmaps a block from gomap__mem_map. */
void gomap__mem_unmap(gomap_mem *mem, void *ptr, size_t size);

/* Zeroes len bytes at p inside a block from gomap__mem_map: the whole pages
 * are given back to the system (they read as zeros and hold no memory until
 * written again), the partial pages at either end are cleared. */
void gomap__mem_zero_mapped(void *p, size_t len);

/* An out-of-line key (string bytes or a key over GOMAP_INLINE_MAX bytes).
 * The header lets a deleted key wait on the map's graveyard, while an
 * iterator may still read it through an old bucket array, without any
 * allocation on the delete path. Callers only see `data`. */
struct key_blob {
    struct key_blob *next;   /* graveyard link; NULL while live */
    size_t size;             /* bytes of data */
    /* data follows, aligned to 16 */
};

/* A key blob holding a copy of len bytes; returns the data pointer or NULL. */
char *gomap__key_blob_new(gomap_mem *mem, const void *data, size_t len);

static inline struct key_blob *key_blob_of(const void *data)
{
    return (struct key_blob *)(void *)((char *)(uintptr_t)data - sizeof(struct key_blob));
}

/* Frees a key blob now. */
void gomap__key_blob_free(gomap_mem *mem, struct key_blob *kb);

#endif /* GOMAP_ALLOC_H */

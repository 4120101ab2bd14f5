/*
 * alloc.c — allocation through the map's allocator, with byte accounting.
 */
#include "base/alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/assert.h"

_Static_assert(sizeof(struct key_blob) % 16 == 0, "key blob data must stay 16-aligned");

static bool within_limit(const gomap_mem *mem, size_t size)
{
    return !mem->limit || (size <= mem->limit && mem->bytes_held <= mem->limit - size);
}

void *gomap__mem_alloc(gomap_mem *mem, size_t size)
{
    if (!within_limit(mem, size))
        return NULL;
    void *p = gomap__alloc(mem->a, size);
    if (p)
        mem->bytes_held += size;
    return p;
}

void *gomap__mem_alloc_zeroed(gomap_mem *mem, size_t size)
{
    if (!within_limit(mem, size))
        return NULL;
    if (!mem->a) {
        /* calloc gets fresh pages already zeroed for large arrays. */
        void *p = calloc(1, size ? size : 1);
        if (p)
            mem->bytes_held += size;
        return p;
    }
    void *p = gomap__mem_alloc(mem, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void gomap__mem_free(gomap_mem *mem, void *ptr, size_t size)
{
    if (!ptr)
        return;
    GOMAP_ASSERT(size <= mem->bytes_held); /* the size allocated, by this map */
    mem->bytes_held -= size;
    gomap__free(mem->a, ptr, size);
}

/* Mappings of at least this size start on a 2 MiB boundary. */
#define HUGE_ALIGN ((size_t)2 << 20)

/* A fresh mapping of size bytes starting on a 2 MiB boundary, or
 * MAP_FAILED. mmap places a mapping on a page boundary only, and a huge page
 * (map.c advises them for large arrays) can back only the whole, aligned
 * 2 MiB pages inside it: an array of 2.3 MiB (a shard's bucket array at
 * 1e6 keys in 16 shards) mostly had none, and nearly every lookup in it
 * missed the TLB as well as the cache. Maps size + 2 MiB and gives back
 * the parts before the boundary and after the array. */
static void *map_huge_aligned(size_t size)
{
    size_t span = size + HUGE_ALIGN;
    char *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return MAP_FAILED;
    char *start = (char *)(((uintptr_t)p + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
    if (start > p)
        munmap(p, (size_t)(start - p));
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *end = start + ((size + page - 1) & ~(page - 1));
    if (end < p + span)
        munmap(end, (size_t)(p + span - end));
    return start;
}

void *gomap__mem_map(gomap_mem *mem, size_t size)
{
    if (!within_limit(mem, size) || size == 0 || size > SIZE_MAX - HUGE_ALIGN)
        return NULL;
    void *p = size >= HUGE_ALIGN
                  ? map_huge_aligned(size)
                  : mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    mem->bytes_held += size;
    return p;
}

void gomap__mem_unmap(gomap_mem *mem, void *ptr, size_t size)
{
    if (!ptr)
        return;
    GOMAP_ASSERT(size <= mem->bytes_held);
    mem->bytes_held -= size;
    munmap(ptr, size);
}

void gomap__mem_zero_mapped(void *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p, end = start + len;
    uintptr_t lo = (start + page - 1) & ~(page - 1), hi = end & ~(page - 1);
    if (hi <= lo || madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0) {
        memset(p, 0, len); /* no whole page inside, or the advice was refused */
        return;
    }
    memset(p, 0, lo - start);
    memset((void *)hi, 0, end - hi);
}

char *gomap__key_blob_new(gomap_mem *mem, const void *data, size_t len)
{
    if (len > SIZE_MAX - sizeof(struct key_blob))
        return NULL;
    struct key_blob *kb = gomap__mem_alloc(mem, sizeof *kb + len);
    if (!kb)
        return NULL;
    kb->next = NULL;
    kb->size = len;
    char *d = (char *)(kb + 1);
    if (len)
        memcpy(d, data, len);
    return d;
}

void gomap__key_blob_free(gomap_mem *mem, struct key_blob *kb)
{
    gomap__mem_free(mem, kb, sizeof *kb + kb->size);
}

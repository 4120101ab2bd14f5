/*
 * fail_alloc.h — a gomap_allocator for allocation-failure tests.
 *
 * It counts allocations and live bytes, and can be told to fail the N-th
 * allocation from now (1 = the next one), or every allocation. Freeing checks
 * that the size passed back matches the size allocated. Not thread-safe.
 */
#ifndef GOMAP_TEST_FAIL_ALLOC_H
#define GOMAP_TEST_FAIL_ALLOC_H

#include <gomap.h>

typedef struct fail_alloc {
    gomap_allocator iface;   /* pass &fa->iface as gomap_options.alloc */
    size_t allocs;           /* successful allocations so far */
    size_t frees;
    size_t live_blocks;
    size_t live_bytes;
    size_t fail_at;          /* fail when allocs_attempted reaches this; 0 = never */
    size_t attempts;         /* allocation calls so far, failed or not */
    size_t failures;         /* allocations refused so far */
    int fail_all;            /* refuse every allocation while set */
} fail_alloc;

void fail_alloc_init(fail_alloc *fa);
/* Fail the n-th allocation attempt from now (n >= 1); 0 disarms. */
void fail_alloc_fail_nth(fail_alloc *fa, size_t n);

#endif

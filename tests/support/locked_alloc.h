/*
 * locked_alloc.h — fail_alloc (fail_alloc.h) behind a mutex, for maps that
 * allocate or free from more than one thread: the sync and snapshot maps
 * free retired memory on liburcu's reclamation thread.
 */
#ifndef GOMAP_TEST_LOCKED_ALLOC_H
#define GOMAP_TEST_LOCKED_ALLOC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "fail_alloc.h"

typedef struct locked_alloc {
    gomap_allocator iface;   /* pass &la->iface as gomap_options.alloc */
    pthread_mutex_t mu;
    fail_alloc fa;           /* under mu */
} locked_alloc;

void locked_alloc_init(locked_alloc *la);
void locked_alloc_destroy(locked_alloc *la);

/* Refuses the n-th allocation from now (0: none), or every one while all. */
void locked_alloc_arm(locked_alloc *la, size_t n, bool all);

/* A copy of the counters, taken under the mutex. */
fail_alloc locked_alloc_counts(locked_alloc *la);

#endif

/*
 * strat_maps.c — filling the strategies matrix's maps, and freeing them in
 * the background (strat_maps.h).
 */
#include "strategies/strat_maps.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>

#include <gomap/reclaim.h>

int64_t maps_malloc_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) &&   \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
#else
    return -1;
#endif
}

strat_map *maps_prefilled(const strat_impl *impl, const op_stream *st, bool count)
{
    strat_map *sm = malloc(sizeof *sm);
    if (!sm)
        return NULL;
    sm->impl = impl;
    sm->counted = count;
    sm->malloc_fill = -1;
    memcount_init(&sm->mem);
    if (count && impl->mem_malloc) {
        maps_quiesce();
        sm->malloc_fill = maps_malloc_bytes();
    }
    sm->m = impl->create(st->prefill, count ? &sm->mem.alloc : NULL);
    if (sm->m && impl->prefill(sm->m, st->seed, st->prefill)) {
        impl->destroy(sm->m);
        sm->m = NULL;
    }
    if (!sm->m) {
        free(sm);
        return NULL;
    }
    if (sm->malloc_fill >= 0)
        sm->malloc_fill = maps_malloc_bytes() - sm->malloc_fill;
    return sm;
}

/* A run left retired memory to liburcu's reclaimer (main thread only). */
static bool frees_pending;

void maps_note_retired(int64_t retired) { frees_pending = frees_pending || retired > 0; }

void maps_quiesce(void)
{
    maps_free_wait();
    if (frees_pending)
        gomap_rcu_barrier();
    frees_pending = false;
}

typedef strat_map *queued_map;

/* Maps queued (the main thread's), and the batch being freed (the helper's
 * until maps_free_wait joins it). */
static struct {
    queued_map *queue, *batch;
    size_t n, cap, nbatch;
    pthread_t tid;
    bool busy;
} reaper;

/* Frees the map and its record (the record last: the map's allocator
 * lives in it). */
static void map_free(strat_map *sm)
{
    sm->impl->destroy(sm->m);
    free(sm);
}

void maps_release(strat_map *sm)
{
    if (reaper.n == reaper.cap) {
        size_t cap = reaper.cap ? 2 * reaper.cap : 64;
        queued_map *q = realloc(reaper.queue, cap * sizeof *q);
        if (!q) {
            map_free(sm);
            return;
        }
        reaper.queue = q;
        reaper.cap = cap;
    }
    reaper.queue[reaper.n++] = sm;
}

static void free_batch(void)
{
    for (size_t i = 0; i < reaper.nbatch; i++)
        map_free(reaper.batch[i]);
    free(reaper.batch);
    reaper.batch = NULL;
    reaper.nbatch = 0;
}

static void *reap_main(void *arg)
{
    (void)arg;
    free_batch();
    return NULL;
}

void maps_free_start(void)
{
    maps_free_wait();
    reaper.batch = reaper.queue;
    reaper.nbatch = reaper.n;
    reaper.queue = NULL;
    reaper.n = reaper.cap = 0;
    reaper.busy = reaper.nbatch && pthread_create(&reaper.tid, NULL, reap_main, NULL) == 0;
    if (!reaper.busy)
        free_batch();
}

void maps_free_wait(void)
{
    if (reaper.busy)
        pthread_join(reaper.tid, NULL);
    reaper.busy = false;
}

/*
 * strat_maps.c — filling the strategies matrix's maps, and freeing them in
 * the background (strat_maps.h).
 */
#include "strategies/strat_maps.h"

#include <pthread.h>
#include <stdlib.h>

void *maps_prefilled(const strat_impl *impl, const op_stream *st)
{
    void *m = impl->create(st->prefill);
    if (m && impl->prefill(m, st->seed, st->prefill)) {
        impl->destroy(m);
        m = NULL;
    }
    return m;
}

typedef struct {
    const strat_impl *impl;
    void *m;
} queued_map;

/* Maps queued (the main thread's), and the batch being freed (the helper's
 * until maps_free_wait joins it). */
static struct {
    queued_map *queue, *batch;
    size_t n, cap, nbatch;
    pthread_t tid;
    bool busy;
} reaper;

void maps_release(const strat_impl *impl, void *m)
{
    if (reaper.n == reaper.cap) {
        size_t cap = reaper.cap ? 2 * reaper.cap : 64;
        queued_map *q = realloc(reaper.queue, cap * sizeof *q);
        if (!q) {
            impl->destroy(m);
            return;
        }
        reaper.queue = q;
        reaper.cap = cap;
    }
    reaper.queue[reaper.n++] = (queued_map){impl, m};
}

static void free_batch(void)
{
    for (size_t i = 0; i < reaper.nbatch; i++)
        reaper.batch[i].impl->destroy(reaper.batch[i].m);
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

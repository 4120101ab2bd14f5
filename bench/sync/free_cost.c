/*
 * free_cost.c — gomap-sync-free-cost: how long gomap_sync_free takes on a
 * big map (docs/syncmap.md, "Freeing a map").
 *
 * usage: gomap-sync-free-cost [n] [reps]   (default 1e6 keys, 5 reps)
 *
 * Each repetition fills a sync map with n uint64 keys and 8-byte values,
 * promotes them with one range (the steady state of a long-lived map), lets
 * the reclaimer catch up (gomap_rcu_barrier) and times gomap_sync_free from
 * call to return, which includes waiting until everything the map retired
 * has been freed. Prints each time and the median, in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gomap/reclaim.h>
#include <gomap/syncmap.h>

#include "common/clock.h"
#include "common/median.h"

static bool stop_at_once(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    (void)ctx;
    return false;
}

static gomap_sync_t *filled(uint64_t n)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t), .hint = n};
    gomap_sync_t *m;
    if (gomap_sync_new(&m, &o) != 0)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t k = i * 0x9E3779B97F4A7C15ull;
        if (gomap_sync_store(m, &k, &i) != 0) {
            gomap_sync_free(m);
            return NULL;
        }
    }
    gomap_sync_range(m, stop_at_once, NULL);
    return m;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? (uint64_t)strtod(argv[1], NULL) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (n == 0 || reps < 1 || reps > 99) {
        fprintf(stderr, "usage: gomap-sync-free-cost [n] [reps 1-99]\n");
        return 2;
    }
    double ms[99];
    for (int r = 0; r < reps; r++) {
        gomap_sync_t *m = filled(n);
        if (!m) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        gomap_rcu_barrier();
        double t0 = clock_ns();
        gomap_sync_free(m);
        ms[r] = (clock_ns() - t0) / 1e6;
        printf("gomap_sync_free, %llu keys: %.1f ms\n", (unsigned long long)n, ms[r]);
    }
    printf("median of %d: %.1f ms\n", reps, bench_median(ms, (unsigned)reps));
    return 0;
}

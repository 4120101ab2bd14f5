/*
 * release_choice.c — what the pages of a large bucket array cost an insert
 * on this machine, for docs/map.md ("Growth without a slow insert"):
 * `gomap-release-choice`.
 *
 * A growing map allocates its new array as a mapping of its own and gives
 * the old one back when growth ends. Both ends have a price that lands on
 * some insert: the first write to each page of the new array faults it in
 * (zeroed by the kernel), and unmapping the old array frees every page it
 * holds. This program measures, on a fresh anonymous mapping of --mib MiB:
 *
 *   touch-4k      first write to each 4 KiB page (MADV_NOHUGEPAGE): per fault
 *   touch-2m      first write to each 2 MiB page (MADV_HUGEPAGE): per fault
 *   unmap-whole   munmap of the whole populated mapping, 4 KiB pages, one call
 *   unmap-whole-2m  the same with huge pages
 *   unmap-SLICE   munmap of the populated mapping SLICE bytes at a time, from
 *                 its end: the worst and the median call (4 KiB pages; and
 *                 256 KiB and 2 MiB slices of a mapping of huge pages)
 *   dontneed-SLICE  madvise(MADV_DONTNEED) in the same slices
 *   bg-unmap      a second thread unmaps a populated mapping in one call while
 *                 this one first-touches 4 KiB pages of another: the worst
 *                 touch (page faults wait on the address-space lock that
 *                 munmap takes), against the same touches alone
 *
 * Each figure is the median over --reps runs. Times are wall-clock
 * (CLOCK_MONOTONIC); the machine is shared, so read ratios and orders of
 * magnitude, not the last digit.
 *
 * Usage: gomap-release-choice [--mib N] [--reps N]
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/clock.h"
#include "common/median.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define HUGE ((size_t)2 << 20)
#define MAX_REPS 15

static size_t g_bytes = 256 * MIB;

/* A fresh mapping of g_bytes, aligned to 2 MiB, advised as asked. */
static char *map_fresh(int advice)
{
    size_t len = g_bytes + HUGE;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    char *a = (char *)(((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    munmap(a + g_bytes, (size_t)(p + len - (a + g_bytes)));
    (void)madvise(a, g_bytes, advice);
    return a;
}

/* First-touches every `step` bytes of p; the median and worst touch, ns. */
static void touch_all(char *p, size_t step, double *med, double *worst)
{
    size_t n = g_bytes / step;
    double *t = malloc(n * sizeof *t);
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double t0 = clock_ns();
        p[i * step] = 1;
        t[i] = clock_ns() - t0;
        if (t[i] > *worst)
            *worst = t[i];
    }
    *med = bench_median(t, n);
    free(t);
}

/* Releases the populated mapping p `slice` bytes at a time from its end,
 * by munmap or MADV_DONTNEED; the median and worst call, ns. */
static void release_sliced(char *p, size_t slice, bool unmap, double *med, double *worst)
{
    size_t n = g_bytes / slice;
    double *t = malloc(n * sizeof *t);
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        char *at = p + g_bytes - (i + 1) * slice;
        double t0 = clock_ns();
        if (unmap)
            munmap(at, slice);
        else
            (void)madvise(at, slice, MADV_DONTNEED);
        t[i] = clock_ns() - t0;
        if (t[i] > *worst)
            *worst = t[i];
    }
    *med = bench_median(t, n);
    free(t);
    if (!unmap)
        munmap(p, g_bytes);
}

static void *unmap_thread(void *arg)
{
    munmap(arg, g_bytes);
    return NULL;
}

typedef struct {
    const char *name;
    double med[MAX_REPS], worst[MAX_REPS];
} figure;

enum { F_T4K, F_T2M, F_UW, F_UW2M, F_BG_ALONE, F_BG, F_U2M_256K, F_U2M_2M, F_SLICED };
static const size_t slices[] = {64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB};
#define NSLICES (sizeof slices / sizeof slices[0])
static figure figs[F_SLICED + 2 * NSLICES];
static char names[2 * NSLICES][32];

static void run_once(unsigned r)
{
    double med, worst;
    char *p = map_fresh(MADV_NOHUGEPAGE);
    touch_all(p, 4 * KIB, &figs[F_T4K].med[r], &figs[F_T4K].worst[r]);
    double t0 = clock_ns();
    munmap(p, g_bytes);
    figs[F_UW].med[r] = figs[F_UW].worst[r] = clock_ns() - t0;

    p = map_fresh(MADV_HUGEPAGE);
    touch_all(p, HUGE, &figs[F_T2M].med[r], &figs[F_T2M].worst[r]);
    t0 = clock_ns();
    munmap(p, g_bytes);
    figs[F_UW2M].med[r] = figs[F_UW2M].worst[r] = clock_ns() - t0;

    p = map_fresh(MADV_HUGEPAGE);
    touch_all(p, HUGE, &med, &worst);
    release_sliced(p, 256 * KIB, true, &figs[F_U2M_256K].med[r], &figs[F_U2M_256K].worst[r]);
    p = map_fresh(MADV_HUGEPAGE);
    touch_all(p, HUGE, &med, &worst);
    release_sliced(p, HUGE, true, &figs[F_U2M_2M].med[r], &figs[F_U2M_2M].worst[r]);

    for (size_t s = 0; s < 2 * NSLICES; s++) {
        p = map_fresh(MADV_NOHUGEPAGE);
        touch_all(p, 4 * KIB, &med, &worst);
        release_sliced(p, slices[s % NSLICES], s < NSLICES, &figs[F_SLICED + s].med[r],
                       &figs[F_SLICED + s].worst[r]);
    }

    /* The same touches alone, then beside a background munmap. */
    p = map_fresh(MADV_NOHUGEPAGE);
    touch_all(p, 4 * KIB, &figs[F_BG_ALONE].med[r], &figs[F_BG_ALONE].worst[r]);
    munmap(p, g_bytes);
    char *old = map_fresh(MADV_NOHUGEPAGE);
    touch_all(old, 4 * KIB, &med, &worst);
    p = map_fresh(MADV_NOHUGEPAGE);
    pthread_t th;
    pthread_create(&th, NULL, unmap_thread, old);
    touch_all(p, 4 * KIB, &figs[F_BG].med[r], &figs[F_BG].worst[r]);
    pthread_join(th, NULL);
    munmap(p, g_bytes);
}

int main(int argc, char **argv)
{
    unsigned reps = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc)
            g_bytes = (size_t)strtoull(argv[++i], NULL, 10) * MIB;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = (unsigned)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: gomap-release-choice [--mib N] [--reps N]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || g_bytes < 4 * MIB) {
        fprintf(stderr, "gomap-release-choice: --reps 1..%d, --mib 4 or more\n", MAX_REPS);
        return 2;
    }
    figs[F_T4K].name = "touch-4k (per page)";
    figs[F_T2M].name = "touch-2m (per page)";
    figs[F_UW].name = "unmap-whole 4k";
    figs[F_UW2M].name = "unmap-whole 2m";
    figs[F_BG_ALONE].name = "touch-4k alone";
    figs[F_BG].name = "touch-4k, bg-unmap";
    figs[F_U2M_256K].name = "unmap-256k, 2m pages";
    figs[F_U2M_2M].name = "unmap-2048k, 2m pages";
    for (size_t s = 0; s < 2 * NSLICES; s++) {
        snprintf(names[s], sizeof names[s], "%s-%zuk", s < NSLICES ? "unmap" : "dontneed",
                 slices[s % NSLICES] / KIB);
        figs[F_SLICED + s].name = names[s];
    }
    for (unsigned r = 0; r < reps; r++)
        run_once(r);
    printf("# gomap-release-choice: %zu MiB mapping, median of %u runs\n", g_bytes / MIB, reps);
    printf("%-22s %12s %12s\n", "what", "median us", "worst us");
    for (size_t f = 0; f < sizeof figs / sizeof figs[0]; f++)
        printf("%-22s %12.2f %12.2f\n", figs[f].name, bench_median(figs[f].med, reps) / 1e3,
               bench_median(figs[f].worst, reps) / 1e3);
    return 0;
}

/*
 * snap_copy.c — what a snapshot map write costs against copying its memory,
 * for docs/snapmap.md: `gomap-snap-copy`.
 *
 * For each layout (u64 -> u64, and 16-byte string keys -> u64), a snapshot
 * map is filled with N entries (in one update), then REPS times,
 * interleaved:
 *   write   gomap_snap_set overwriting a present key: one copy of the
 *           current version (a block copy: arrays and overflow chains as
 *           memory, key blobs duplicated) and the publication of the new
 *           version; the old one is reclaimed in the background;
 *   memcpy  a fresh malloc of the version's bytes (stats bytes_current), a
 *           memcpy of a buffer of that size into it, and its free: the
 *           floor the copy is measured against.
 * Prints medians (and min-max) and the ratio of the medians. Memory: about
 * three versions at once (the current one, the copy, one being reclaimed).
 *
 * Usage: gomap-snap-copy [--n N] [--reps R]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gomap/reclaim.h>
#include <gomap/snapmap.h>

#include "common/clock.h"
#include "common/median.h"

enum { MAX_REPS = 101 };

struct keys {
    int strings;
    size_t n;
    char (*text)[16]; /* n string keys' bytes (strings only) */
};

/* Key i as callers pass it: a uint64_t, or a gomap_str over text[i]. */
static const void *key_at(const struct keys *k, size_t i, gomap_str *s, uint64_t *u)
{
    if (!k->strings) {
        *u = i;
        return u;
    }
    *s = (gomap_str){k->text[i], 16};
    return s;
}

static int fill(gomap_t *copy, void *ctx)
{
    const struct keys *k = ctx;
    for (size_t i = 0; i < k->n; i++) {
        gomap_str s;
        uint64_t u, v = i;
        int rc = gomap_set(copy, key_at(k, i, &s, &u), &v);
        if (rc)
            return rc;
    }
    return 0;
}

static int run(int strings, size_t n, unsigned reps)
{
    struct keys k = {strings, n, NULL};
    if (strings) {
        if (!(k.text = malloc(n * sizeof *k.text)))
            return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
            char tmp[32];
            snprintf(tmp, sizeof tmp, "key-%012zu", i);
            memcpy(k.text[i], tmp, 16);
        }
    }
    gomap_options o = {.key_kind = strings ? GOMAP_KEY_STR : GOMAP_KEY_U64, .val_size = 8};
    gomap_snap_t *m;
    int rc = gomap_snap_new(&m, &o);
    if (rc == 0)
        rc = gomap_snap_update(m, fill, &k);
    gomap_snap_stats_t st = {0};
    if (rc == 0)
        rc = gomap_snap_stats(m, &st);
    char *src = rc == 0 ? malloc(st.bytes_current) : NULL;
    if (rc == 0 && !src)
        rc = -ENOMEM;
    if (rc) {
        fprintf(stderr, "gomap-snap-copy: setup failed (%d)\n", rc);
        free(k.text);
        gomap_snap_free(m);
        return rc;
    }
    memset(src, 1, st.bytes_current);
    double w[MAX_REPS], c[MAX_REPS];
    for (unsigned r = 0; r < reps; r++) {
        gomap_str s;
        uint64_t u, v = n + r; /* never the stored value: every write copies */
        const void *key = key_at(&k, (r * 7919u) % n, &s, &u);
        double t0 = clock_ns();
        rc = gomap_snap_set(m, key, &v);
        double t1 = clock_ns();
        char *dst = malloc(st.bytes_current);
        if (rc || !dst) {
            fprintf(stderr, "gomap-snap-copy: write failed (%d)\n", rc ? rc : -ENOMEM);
            free(dst);
            break;
        }
        memcpy(dst, src, st.bytes_current);
        __asm__ volatile("" : : "r"(dst) : "memory"); /* the copy is used */
        free(dst);
        double t2 = clock_ns();
        w[r] = (t1 - t0) / 1e6;
        c[r] = (t2 - t1) / 1e6;
        gomap_rcu_barrier(); /* the old version reclaimed before the next round */
    }
    if (rc == 0) {
        double wm = bench_median(w, reps), cm = bench_median(c, reps);
        printf("%-7s %9zu %10.1f %7.2f ms (%.2f-%.2f) %7.2f ms (%.2f-%.2f) %6.2f\n",
               strings ? "str" : "u64", n, (double)st.bytes_current / 1048576.0, wm, w[0],
               w[reps - 1], cm, c[0], c[reps - 1], wm / cm);
    }
    free(src);
    free(k.text);
    gomap_snap_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    unsigned reps = 9;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = (unsigned)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: gomap-snap-copy [--n N] [--reps R (1-%d)]\n", MAX_REPS);
            return 2;
        }
    }
    if (n == 0 || reps == 0 || reps > MAX_REPS) {
        fprintf(stderr, "gomap-snap-copy: --n must be positive, --reps 1-%d\n", MAX_REPS);
        return 2;
    }
    printf("layout  entries  MiB/version  write (median, min-max)  memcpy (median, min-max)  ratio\n");
    int rc = run(0, n, reps);
    if (rc == 0)
        rc = run(1, n, reps);
    return rc ? 1 : 0;
}

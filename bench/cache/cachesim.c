/*
 * cachesim.c — gomap-cachesim: the trace simulator behind the cache's
 * eviction policy (issue 15, docs/cache-policy.md). It replays the LIRS and
 * cache2k traces of bench/cache/traces/ through each policy at the sizes
 * worth measuring and prints hit ratios (percent of accesses that hit) as a
 * table: traces x sizes down, policies across, and the gap between ours and
 * the best of the published policies (Bélády excluded).
 *
 * Usage: gomap-cachesim [--traces DIR] [--trace NAME[,NAME..]] [--sizes LIST]
 *                       [--policies LIST] [--seed N] [--csv | --markdown]
 *                       [--self-test]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cache/policy.h"
#include "cache/sim.h"
#include "cache/trace.h"

#ifndef GOMAP_CACHESIM_TRACES
#define GOMAP_CACHESIM_TRACES "bench/cache/traces"
#endif

const policy_kind *const policy_all[] = {&policy_lru,      &policy_sieve,         &policy_s3fifo,
                                         &policy_wtinylfu, &policy_wtinylfu_adapt, &policy_ours,
                                         &policy_gomap,    &policy_belady,         NULL};

enum { MAX_POLICIES = 16, MAX_SIZES = 16 };
typedef enum { OUT_TEXT, OUT_CSV, OUT_MARKDOWN } out_format;

static void usage(FILE *f)
{
    fprintf(f, "usage: gomap-cachesim [--traces DIR] [--trace NAME[,NAME..]] [--sizes LIST]\n"
               "                      [--policies LIST] [--seed N] [--csv | --markdown]\n"
               "                      [--self-test]\n"
               "policies:");
    for (size_t i = 0; policy_all[i]; i++)
        fprintf(f, " %s", policy_all[i]->name);
    fprintf(f, "\ntraces:");
    for (size_t i = 0; i < trace_catalog_len; i++)
        fprintf(f, " %s", trace_catalog[i].name);
    fprintf(f, "\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || *end || errno || *s == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_sizes(char *list, size_t *sizes, size_t *n)
{
    *n = 0;
    for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint64_t v;
        if (*n == MAX_SIZES || parse_u64(t, &v) || v == 0)
            return -1;
        sizes[(*n)++] = (size_t)v;
    }
    return *n ? 0 : -1;
}

static int parse_policies(char *list, const policy_kind **out, size_t *n)
{
    *n = 0;
    for (char *save, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (policy_all[i] && strcasecmp(policy_all[i]->name, t))
            i++;
        if (!policy_all[i] || *n == MAX_POLICIES) {
            fprintf(stderr, "gomap-cachesim: unknown policy %s\n", t);
            return -1;
        }
        out[(*n)++] = policy_all[i];
    }
    return *n ? 0 : -1;
}

static bool name_listed(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == len && !strncmp(p, name, n))
            return true;
        p += n + (comma != NULL);
    }
    return false;
}

/* The column "ours - best" needs ours and a published policy in the run. */
static int gap_columns(const policy_kind **pol, size_t np, size_t *ours)
{
    bool other = false;
    *ours = np;
    for (size_t i = 0; i < np; i++) {
        if (pol[i] == &policy_ours)
            *ours = i;
        else if (pol[i] != &policy_belady && pol[i] != &policy_gomap)
            other = true;
    }
    return *ours < np && other;
}

static void print_header(out_format fmt, const policy_kind **pol, size_t np, bool gap)
{
    if (fmt == OUT_CSV) {
        printf("trace,size,accesses,keys");
        for (size_t i = 0; i < np; i++)
            printf(",%s", pol[i]->name);
        printf(gap ? ",ours-best\n" : "\n");
    } else if (fmt == OUT_MARKDOWN) {
        printf("| trace | size |");
        for (size_t i = 0; i < np; i++)
            printf(" %s |", pol[i]->name);
        printf(gap ? " ours − best |\n|---|---:|" : "\n|---|---:|");
        for (size_t i = 0; i < np + gap; i++)
            printf("---:|");
        printf("\n");
    } else {
        printf("%-8s %6s", "trace", "size");
        for (size_t i = 0; i < np; i++)
            printf(" %*s", (int)(strlen(pol[i]->name) > 7 ? strlen(pol[i]->name) : 7),
                   pol[i]->name);
        printf(gap ? " %11s\n" : "\n", "ours-best");
    }
}

static void print_row(out_format fmt, const char *name, size_t size, const trace *t,
                      const policy_kind **pol, size_t np, const double *ratio, bool gap,
                      size_t ours)
{
    double best = -1;
    for (size_t i = 0; i < np; i++)
        if (i != ours && pol[i] != &policy_belady && pol[i] != &policy_gomap && ratio[i] > best)
            best = ratio[i];
    if (fmt == OUT_CSV)
        printf("%s,%zu,%zu,%u", name, size, t->len, t->n_keys);
    else if (fmt == OUT_MARKDOWN)
        printf("| %s | %zu |", name, size);
    else
        printf("%-8s %6zu", name, size);
    for (size_t i = 0; i < np; i++) {
        int w = (int)(strlen(pol[i]->name) > 7 ? strlen(pol[i]->name) : 7);
        if (fmt == OUT_CSV)
            printf(",%.2f", ratio[i]);
        else if (fmt == OUT_MARKDOWN)
            printf(" %.1f |", ratio[i]);
        else
            printf(" %*.1f", w, ratio[i]);
    }
    if (gap) {
        double g = ratio[ours] - best;
        if (fmt == OUT_CSV)
            printf(",%.2f", g);
        else if (fmt == OUT_MARKDOWN)
            printf(" %+.1f%s |", g, g < -0.5 ? " ✗" : "");
        else
            printf(" %+11.1f%s", g, g < -0.5 ? " <" : "");
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    const char *dir = GOMAP_CACHESIM_TRACES, *trace_list = NULL;
    const policy_kind *pol[MAX_POLICIES];
    size_t np = 0, sizes[MAX_SIZES], ns = 0;
    uint64_t seed = 1;
    out_format fmt = OUT_TEXT;
    bool self_test = false;
    for (size_t i = 0; policy_all[i]; i++)
        pol[np++] = policy_all[i];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = !strcmp(a, "--traces") || !strcmp(a, "--trace") || !strcmp(a, "--sizes") ||
                     !strcmp(a, "--policies") || !strcmp(a, "--seed");
        if (takes && !v) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--traces"))
            dir = v;
        else if (!strcmp(a, "--trace"))
            trace_list = v;
        else if (!strcmp(a, "--sizes") && parse_sizes(v, sizes, &ns))
            return usage(stderr), 2;
        else if (!strcmp(a, "--policies") && parse_policies(v, pol, &np))
            return usage(stderr), 2;
        else if (!strcmp(a, "--seed") && parse_u64(v, &seed))
            return usage(stderr), 2;
        else if (!strcmp(a, "--csv"))
            fmt = OUT_CSV;
        else if (!strcmp(a, "--markdown"))
            fmt = OUT_MARKDOWN;
        else if (!strcmp(a, "--self-test"))
            self_test = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout), 0;
        else if (!takes)
            return usage(stderr), 2;
        i += takes;
    }
    if (self_test)
        return sim_self_test(seed, dir) ? 1 : 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t ours;
    bool gap = gap_columns(pol, np, &ours);
    if (fmt != OUT_CSV)
        printf("hit ratio %% (seed %llu; ours-best: ours minus the best published policy, "
               "Belady excluded)\n\n",
               (unsigned long long)seed);
    else
        fprintf(stderr, "gomap-cachesim: seed %llu\n", (unsigned long long)seed);
    print_header(fmt, pol, np, gap);
    int status = 0, matched = 0;
    for (size_t ti = 0; ti < trace_catalog_len; ti++) {
        const trace_info *info = &trace_catalog[ti];
        if (!name_listed(trace_list, info->name))
            continue;
        matched++;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, info->file);
        trace t;
        if (trace_load(&t, path, info->format)) {
            status = 1;
            continue;
        }
        const size_t *sz = ns ? sizes : info->sizes;
        for (size_t si = 0; ns ? si < ns : sz[si] != 0; si++) {
            double ratio[MAX_POLICIES];
            for (size_t pi = 0; pi < np; pi++) {
                int64_t hits = sim_run(pol[pi], t.keys, t.len, t.n_keys, sz[si], seed);
                if (hits < 0)
                    status = 1;
                ratio[pi] = 100.0 * (double)hits / (double)t.len;
            }
            print_row(fmt, info->name, sz[si], &t, pol, np, ratio, gap, ours);
            fflush(stdout);
        }
        trace_free(&t);
    }
    if (!matched) {
        fprintf(stderr, "gomap-cachesim: no trace named %s\n", trace_list);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "gomap-cachesim: %.1f s\n",
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return status;
}

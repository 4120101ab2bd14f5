/*
 * mem_probe.c — gomap-mem-probe: the memory cliffs a careful user would try,
 * measured (time, resident memory, bytes held, share of a limit reached).
 *
 *   gomap-mem-probe hint [--log2 N] [--kind u64|str] [--op clear|free|both]
 *       A map made with hint = 2^N (default 28) holding one entry: the time
 *       and the resident memory of gomap_clear then gomap_free (both), or
 *       of gomap_free alone. Pages of the hinted array that no entry touched
 *       should never be faulted in. Run one --op per process and read the
 *       peak from /usr/bin/time -f %M where VmHWM cannot be reset.
 *   gomap-mem-probe budget [--limit-mib L] [--kind u64|str]
 *       Inserts distinct keys into a map with mem_limit = L MiB (default
 *       100) until an insert fails with -ENOMEM: the share of the limit
 *       held then, and which of the README's budget thresholds (80/92/97 %)
 *       fired before it.
 *   gomap-mem-probe iter [--rounds R] [--n N]
 *       Starts an iterator and abandons it (no gomap_iter_done), then runs R
 *       rounds (default 200) of N inserts and N deletes (default 100000):
 *       bytes held before and after, what gomap_shrink answers.
 *
 * Resident memory comes from /proc/self/status (VmRSS, and VmHWM after
 * resetting it through /proc/self/clear_refs). Times are wall-clock; quote
 * them with the machine (lscpu).
 */
#include <gomap.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Resets the peak resident size (VmHWM) to the current one. */
static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static const char *arg_value(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 2; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return argv[i + 1];
    return def;
}

static gomap_options options_for(const char *kind)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8};
    if (!strcmp(kind, "str"))
        o.key_kind = GOMAP_KEY_STR;
    return o;
}

static int insert_key(gomap_t *m, int kind, uint64_t k)
{
    uint64_t v = k;
    if (kind == GOMAP_KEY_U64)
        return gomap_set(m, &k, &v);
    char buf[32];
    int len = snprintf(buf, sizeof buf, "key-%016llx", (unsigned long long)k);
    gomap_str s = {buf, (size_t)len};
    return gomap_set(m, &s, &v);
}

/* ---- hint ------------------------------------------------------------------------ */

static int probe_hint(int argc, char **argv)
{
    unsigned log2 = (unsigned)atoi(arg_value(argc, argv, "--log2", "28"));
    const char *kind = arg_value(argc, argv, "--kind", "u64");
    const char *which = arg_value(argc, argv, "--op", "both");
    gomap_options o = options_for(kind);
    o.hint = (size_t)1 << log2;
    for (int op = 0; op < 2; op++) {
        if ((op == 0 && !strcmp(which, "free")) || (op == 1 && strcmp(which, "free")))
            continue;
        gomap_t *m;
        if (gomap_new(&m, &o) != 0) {
            fprintf(stderr, "gomap_new failed\n");
            return 1;
        }
        insert_key(m, o.key_kind, 42);
        gomap_stats_t st;
        gomap_stats(m, &st);
        long rss0 = status_kib("VmRSS");
        reset_peak();
        double t0 = now_s();
        if (op == 0)
            gomap_clear(m);
        long rss1 = status_kib("VmRSS"), peak = status_kib("VmHWM");
        double t1 = now_s();
        if (op == 0) {
            printf("hint 2^%u %s: clear  %8.3f s  RSS %ld -> %ld KiB, peak %ld KiB "
                   "(array %zu buckets, %.2f GB held)\n",
                   log2, kind, t1 - t0, rss0, rss1, peak, st.buckets,
                   (double)st.bytes_held / 1e9);
            reset_peak();
            rss0 = status_kib("VmRSS");
            t0 = now_s();
        }
        gomap_free(m);
        t1 = now_s();
        rss1 = status_kib("VmRSS");
        peak = status_kib("VmHWM");
        printf("hint 2^%u %s: free   %8.3f s  RSS %ld -> %ld KiB, peak %ld KiB%s\n", log2,
               kind, t1 - t0, rss0, rss1, peak, op == 0 ? " (after the clear)" : "");
    }
    return 0;
}

/* ---- budget ---------------------------------------------------------------------- */

static size_t fired;
static double fired_at[8];

static void on_budget(const gomap_t *m, double t, size_t held, size_t limit, void *ctx)
{
    (void)m, (void)ctx, (void)t;
    if (fired < 8)
        fired_at[fired++] = (double)held / (double)limit;
}

static int probe_budget(int argc, char **argv)
{
    size_t mib = (size_t)atol(arg_value(argc, argv, "--limit-mib", "100"));
    const char *kind = arg_value(argc, argv, "--kind", "u64");
    gomap_options o = options_for(kind);
    o.mem_limit = mib << 20;
    gomap_t *m;
    if (gomap_new(&m, &o) != 0)
        return 1;
    static const double thresholds[] = {0.80, 0.92, 0.97};
    gomap_set_budget_handler(m, thresholds, 3, on_budget, NULL);
    uint64_t k = 0;
    int rc;
    double t0 = now_s();
    while ((rc = insert_key(m, o.key_kind, k)) == 0)
        k++;
    double t1 = now_s();
    gomap_stats_t st;
    gomap_stats(m, &st);
    printf("budget %zu MiB %s: first failure (%s) after %llu entries at %.1f %% of the limit "
           "(%.2f s)\n",
           mib, kind, gomap_strerror(rc), (unsigned long long)k,
           100.0 * (double)st.bytes_held / (double)o.mem_limit, t1 - t0);
    for (size_t i = 0; i < 3; i++) {
        if (i < fired)
            printf("  threshold %.0f %% fired at %.1f %%\n", thresholds[i] * 100, fired_at[i] * 100);
        else
            printf("  threshold %.0f %% never fired\n", thresholds[i] * 100);
    }
    printf("  load factor %.2f, %zu buckets, %zu overflow buckets\n", st.load_factor, st.buckets,
           st.overflow_buckets);
    gomap_free(m);
    return 0;
}

/* ---- iter ------------------------------------------------------------------------ */

static int probe_iter(int argc, char **argv)
{
    unsigned rounds = (unsigned)atoi(arg_value(argc, argv, "--rounds", "200"));
    uint64_t n = (uint64_t)atoll(arg_value(argc, argv, "--n", "100000"));
    gomap_options o = options_for("u64");
    gomap_t *m;
    if (gomap_new(&m, &o) != 0)
        return 1;
    for (uint64_t k = 0; k < n; k++)
        insert_key(m, GOMAP_KEY_U64, k);
    gomap_stats_t st;
    gomap_stats(m, &st);
    printf("iter: %llu entries, %zu bytes held before\n", (unsigned long long)n, st.bytes_held);
    gomap_iter it;
    const void *key;
    void *val;
    gomap_iter_init(&it, m);
    gomap_iter_next(&it, &key, &val); /* ... and abandoned */
    uint64_t next = n;
    size_t max_held = 0;
    for (unsigned r = 0; r < rounds; r++) {
        for (uint64_t i = 0; i < n; i++)
            insert_key(m, GOMAP_KEY_U64, next + i);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t k = next - n + i;
            gomap_delete(m, &k);
        }
        next += n;
        gomap_stats(m, &st);
        if (st.bytes_held > max_held)
            max_held = st.bytes_held;
    }
    gomap_stats(m, &st);
    printf("iter: after %u rounds of %llu inserts and deletes: %zu entries, %zu bytes held "
           "(at most %zu after a round)\n",
           rounds, (unsigned long long)n, st.entries, st.bytes_held, max_held);
#ifndef PROBE_BEFORE_ITER_STATS
    printf("iter: live iterators %zu, retained %zu bytes, reclaims %llu\n", st.live_iterators,
           st.retained_bytes, (unsigned long long)st.iterator_reclaims);
#endif
    int rc = gomap_shrink(m);
    gomap_stats(m, &st);
    printf("iter: gomap_shrink -> %d (%s), %zu bytes held after\n", rc, gomap_strerror(rc),
           st.bytes_held);
    gomap_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "hint"))
        return probe_hint(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "budget"))
        return probe_budget(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "iter"))
        return probe_iter(argc, argv);
    fprintf(stderr, "usage: gomap-mem-probe hint|budget|iter [options] (see bench/core/mem_probe.c)\n");
    return 2;
}

/*
 * test_shardmap_diag.c — the sharded map's diagnostics (gomap/shardmap.h):
 * stats, the shard a key lives in, and the heatmap. Single-threaded but for
 * lane_counts.
 *
 *   stats         for a known sequence of operations, every per-shard
 *                 counter exactly (each keyed op one hit or one miss in the
 *                 key's shard; whole-map calls count nothing); totals, the
 *                 busiest shard, imbalance; per_shard shorter and longer
 *                 than the shard count (zeroed tail); no waits alone.
 *   heatmap       text and SVG (checked with xmllint when installed) of an
 *                 empty and a loaded map; bad format, NULL, a read-only
 *                 stream.
 *   shard_choice  a key's shard never changes and is where stats count it;
 *                 the builtin hash spreads keys, a constant hash does not
 *                 (every hash variant).
 *   stats_lock_free  stats take no lock: called from inside the map's own
 *                 compute callback, and from another thread while a
 *                 callback holds the shard (the callback waits for the
 *                 stats to return, so a stats that took the lock would
 *                 hang: an alarm ends the test); the published entries
 *                 and bytes_held equal the shard's gomap_stats (after a
 *                 snapshot of one shard's map) after writes, deletes,
 *                 clear and growth.
 *   lane_counts   hits and misses stay exact with more threads than
 *                 counting lanes and threads coming and going: each wave
 *                 of threads (1, then 12, then 70 at once: more than the
 *                 owned lanes of a table and of the process) makes a known
 *                 number of gets, and every total and per-shard counter is
 *                 exact after each wave; a thread that takes a lane a
 *                 finished thread gave back keeps counting from its counts.
 * gomap_shard_validate passes on every map used.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"
#include "shardcheck.h"

#include <gomap/diag.h>
#include <gomap/reclaim.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static void set_u64(gomap_shard_t *m, uint64_t k, uint64_t v)
{
    CHECK_EQ(gomap_shard_set(m, &k, &v), 0);
}

/* ------------------------------------------------------------------------ */
/* Stats                                                                     */
/* ------------------------------------------------------------------------ */

enum { STAT_SHARDS = 16 };

typedef struct {
    gomap_shard_t *m;
    gomap_shard_counters per[STAT_SHARDS];
    uint64_t ops, hits, misses;    /* what the sequence did */
} stat_run;

static void check_totals(stat_run *s)
{
    gomap_shard_counters per[STAT_SHARDS + 4];
    memset(per, 0xEE, sizeof per);
    gomap_shard_stats_t st = shardcheck_stats(s->m, per, STAT_SHARDS + 4);
    CHECK_EQ(st.shards, STAT_SHARDS);
    gomap_shard_counters sum;
    memset(&sum, 0, sizeof sum);
    size_t max_entries = 0;
    uint64_t max_ops = 0;
    for (int i = 0; i < STAT_SHARDS; i++) {
        CHECK_MSG(per[i].ops == per[i].hits + per[i].misses, "shard %d: ops %" PRIu64
                  " != hits %" PRIu64 " + misses %" PRIu64, i, per[i].ops, per[i].hits,
                  per[i].misses);
        sum.entries += per[i].entries;
        sum.ops += per[i].ops;
        sum.hits += per[i].hits;
        sum.misses += per[i].misses;
        sum.waits += per[i].waits;
        sum.wait_ns += per[i].wait_ns;
        sum.lock_acquisitions += per[i].lock_acquisitions;
        sum.bytes_held += per[i].bytes_held;
        if (per[i].entries > max_entries)
            max_entries = per[i].entries;
        if (per[i].ops > max_ops)
            max_ops = per[i].ops;
    }
    for (int i = STAT_SHARDS; i < STAT_SHARDS + 4; i++) {
        gomap_shard_counters zero;
        memset(&zero, 0, sizeof zero);
        CHECK_MSG(memcmp(&per[i], &zero, sizeof zero) == 0, "per_shard[%d] past the %d shards "
                  "not zeroed", i, STAT_SHARDS);
    }
    CHECK(memcmp(&st.total, &sum, sizeof sum) == 0);
    CHECK_EQ(st.total.entries, gomap_shard_len(s->m));
    CHECK_EQ(st.total.ops, s->ops);
    CHECK_EQ(st.total.hits, s->hits);
    CHECK_EQ(st.total.misses, s->misses);
    /* Alone on the map, no acquisition ever waits. */
    CHECK_EQ(st.total.waits, 0);
    CHECK_EQ(st.total.wait_ns, 0);
    CHECK_EQ(st.max_entries, max_entries);
    CHECK_EQ(st.max_ops, max_ops);
    double want = sum.ops ? (double)max_ops / ((double)sum.ops / STAT_SHARDS) : 0.0;
    CHECK_MSG(fabs(st.imbalance - want) <= 1e-9 * (want > 1 ? want : 1),
              "imbalance %g, expected %g (max %" PRIu64 ", total %" PRIu64 ")", st.imbalance,
              want, max_ops, sum.ops);
    memcpy(s->per, per, sizeof s->per);
}

enum sop { S_GET, S_SET, S_DELETE, S_LOAD_OR_STORE, S_VISIT, S_COMPUTE_PUT, S_COMPUTE_DELETE,
           S_COMPUTE_KEEP, S_COMPUTE_ABANDON };

static const char *const sop_names[] = {"get", "set", "delete", "load_or_store", "visit",
                                        "compute(put)", "compute(delete)", "compute(keep)",
                                        "compute(abandon)"};

/* Runs one keyed operation and checks that it counted once, in the key's
 * shard, as a hit exactly when the key was present; entries move by the
 * change it made. */
static void counted(stat_run *s, enum sop op, uint64_t k)
{
    bool present = gomap_shard_get(s->m, &k, NULL);
    s->ops++;
    s->hits += present;
    s->misses += !present;
    check_totals(s);
    gomap_shard_counters before[STAT_SHARDS];
    memcpy(before, s->per, sizeof before);
    uint64_t v = k * 3;
    int visits = 0;
    shard_cop cop = {.val = &v, .val_size = 8, .abandon_rc = -42};
    long delta = 0;
    switch (op) {
    case S_GET: CHECK(gomap_shard_get(s->m, &k, NULL) == present); break;
    case S_SET: CHECK_EQ(gomap_shard_set(s->m, &k, &v), 0); delta = !present; break;
    case S_DELETE: CHECK(gomap_shard_delete(s->m, &k) == present); delta = -present; break;
    case S_LOAD_OR_STORE: {
        bool loaded;
        CHECK_EQ(gomap_shard_load_or_store(s->m, &k, &v, NULL, &loaded), 0);
        CHECK(loaded == present);
        delta = !present;
        break;
    }
    case S_VISIT:
        CHECK(gomap_shard_visit(s->m, &k, shardcheck_count_visit, &visits) == present);
        break;
    case S_COMPUTE_PUT: cop.mode = COP_PUT; delta = !present; break;
    case S_COMPUTE_DELETE: cop.mode = COP_DELETE; delta = -present; break;
    case S_COMPUTE_KEEP: cop.mode = COP_KEEP; break;
    case S_COMPUTE_ABANDON: cop.mode = COP_ABANDON; break;
    }
    if (op >= S_COMPUTE_PUT)
        CHECK_EQ(shardcheck_compute(s->m, &k, &cop), op == S_COMPUTE_ABANDON ? -42 : 0);
    s->ops++;
    s->hits += present;
    s->misses += !present;
    check_totals(s);
    int changed = 0;
    for (int i = 0; i < STAT_SHARDS; i++) {
        const gomap_shard_counters *a = &before[i], *b = &s->per[i];
        if (a->ops == b->ops) {
            CHECK_MSG(b->entries == a->entries, "%s of key %" PRIu64 ": shard %d's entries "
                      "changed but not its ops", sop_names[op], k, i);
            continue;
        }
        changed++;
        CHECK_MSG(b->ops == a->ops + 1 && b->hits == a->hits + present &&
                  b->misses == a->misses + !present,
                  "%s of %s key %" PRIu64 " in shard %d: ops +%" PRIu64 ", hits +%" PRIu64
                  ", misses +%" PRIu64, sop_names[op], present ? "a present" : "an absent", k,
                  i, b->ops - a->ops, b->hits - a->hits, b->misses - a->misses);
        CHECK_MSG((long)b->entries - (long)a->entries == delta, "%s of key %" PRIu64
                  ": shard %d's entries %zu -> %zu", sop_names[op], k, i, a->entries,
                  b->entries);
    }
    CHECK_MSG(changed == 1, "%s of key %" PRIu64 ": %d shards counted it", sop_names[op], k,
              changed);
}

static void test_stats(void)
{
    gomap_options o = shardcheck_u64_options(8);
    stat_run s;
    memset(&s, 0, sizeof s);
    s.m = shardcheck_new(&o, STAT_SHARDS);
    gomap_shard_stats_t st = shardcheck_stats(s.m, NULL, 0);
    CHECK(st.shards == STAT_SHARDS && st.total.ops == 0 && st.total.entries == 0);
    CHECK(st.max_entries == 0 && st.max_ops == 0 && st.imbalance == 0.0);
    check_totals(&s);

    for (uint64_t k = 0; k < 40; k++) {
        counted(&s, S_GET, k);              /* miss */
        counted(&s, S_SET, k);              /* miss: inserted */
        counted(&s, S_SET, k);              /* hit: overwritten */
        counted(&s, S_GET, k);              /* hit */
        counted(&s, S_LOAD_OR_STORE, k);    /* hit: loaded */
        counted(&s, S_LOAD_OR_STORE, k + 100); /* miss: stored */
        counted(&s, S_VISIT, k);            /* hit */
        counted(&s, S_VISIT, k + 200);      /* miss */
        counted(&s, S_COMPUTE_PUT, k);      /* hit: modified */
        counted(&s, S_COMPUTE_PUT, k + 300); /* miss: inserted */
        counted(&s, S_COMPUTE_KEEP, k + 400); /* miss: nothing */
        counted(&s, S_COMPUTE_KEEP, k);     /* hit */
        counted(&s, S_COMPUTE_ABANDON, k);  /* hit */
        counted(&s, S_COMPUTE_ABANDON, k + 500); /* miss */
        counted(&s, S_COMPUTE_DELETE, k + 300); /* hit */
        counted(&s, S_COMPUTE_DELETE, k + 300); /* miss */
        counted(&s, S_DELETE, k + 100);     /* hit */
        counted(&s, S_DELETE, k + 100);     /* miss */
    }
    CHECK_EQ(gomap_shard_len(s.m), 40);
    /* The keys spread over several shards (builtin hash, 40 keys). */
    int used = 0;
    for (int i = 0; i < STAT_SHARDS; i++)
        used += s.per[i].entries > 0;
    CHECK(used > 1);

    /* Whole-map calls are not keyed operations: nothing counted. */
    int calls = 0;
    gomap_shard_range(s.m, shardcheck_count_range, &calls);
    CHECK_EQ(calls, 40);
    gomap_t *snap = NULL;
    CHECK_EQ(gomap_shard_snapshot(s.m, &snap), 0);
    gomap_free(snap);
    CHECK_SHARD_VALID(s.m);
    FILE *devnull = fopen("/dev/null", "w");
    CHECK(devnull != NULL);
    CHECK_EQ(gomap_shard_heatmap(s.m, devnull, GOMAP_HEATMAP_TEXT), 0);
    fclose(devnull);
    check_totals(&s);
    gomap_shard_clear(s.m);
    check_totals(&s);
    CHECK_EQ(s.per[0].entries + s.per[STAT_SHARDS - 1].entries, 0);

    /* per_shard shorter than the shard count: the first n only. */
    gomap_shard_counters few[5];
    memset(few, 0xEE, sizeof few);
    shardcheck_stats(s.m, few, 3);
    for (int i = 0; i < 3; i++) { /* check_totals's len took every lock once more */
        CHECK_EQ(few[i].lock_acquisitions, s.per[i].lock_acquisitions + 1);
        few[i].lock_acquisitions--;
    }
    CHECK(memcmp(few, s.per, 3 * sizeof few[0]) == 0);
    gomap_shard_counters poison;
    memset(&poison, 0xEE, sizeof poison);
    CHECK_MSG(memcmp(&few[3], &poison, sizeof poison) == 0, "stats wrote past per_shard[n-1]");
    memset(few, 0xEE, sizeof few);
    shardcheck_stats(s.m, few, 0);
    CHECK_MSG(memcmp(&few[0], &poison, sizeof poison) == 0, "stats wrote per_shard with n 0");
    shardcheck_stats(s.m, NULL, 40);
    gomap_shard_free(s.m);

    /* One shard: the busiest is the mean. */
    gomap_shard_t *one = shardcheck_new(&o, 1);
    for (uint64_t k = 0; k < 10; k++)
        set_u64(one, k, k);
    st = shardcheck_stats(one, NULL, 0);
    CHECK(st.shards == 1 && st.total.ops == 10 && st.max_ops == 10 && st.imbalance == 1.0);
    CHECK_EQ(st.max_entries, 10);
    gomap_shard_free(one);
}

/* The shard a key lives in does not change, and shardcheck_shard_of agrees
 * with where stats count it. Degenerate hashes put every key in one. */
static void test_shard_choice(void)
{
    gomap_shard_t *m = shardcheck_new_u64(hv_current, 8, STAT_SHARDS);
    unsigned first = 0;
    bool spread = false;
    for (uint64_t k = 0; k < 64; k++) {
        unsigned s = shardcheck_shard_of(m, &k);
        CHECK(s < STAT_SHARDS);
        set_u64(m, k, k);
        CHECK_EQ(shardcheck_shard_of(m, &k), s);
        gomap_shard_counters per[STAT_SHARDS];
        shardcheck_stats(m, per, STAT_SHARDS);
        CHECK(per[s].entries > 0);
        if (k == 0)
            first = s;
        spread |= s != first;
    }
    if (hv_current == HV_BUILTIN)
        CHECK_MSG(spread, "64 keys all in shard %u", first);
    else
        CHECK_MSG(!spread, "a constant shard hash spread keys over shards");
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
}

/* ------------------------------------------------------------------------ */
/* Stats take no lock                                                        */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_shard_t *m;
    atomic_int phase;        /* 1: the callback holds the shard; 2: stats returned */
    gomap_shard_stats_t seen;
} holder;

/* Inside compute (the key's shard held): stats of this very map, then wait
 * until another thread's stats returned. */
static int hold_shard(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    holder *h = ctx;
    h->seen = shardcheck_stats(h->m, NULL, 0);
    *(uint64_t *)val = 1;
    *present = true;
    atomic_store(&h->phase, 1);
    while (atomic_load(&h->phase) != 2)
        sched_yield();
    return 0;
}

static void *compute_thread(void *arg)
{
    holder *h = arg;
    CHECK_EQ(gomap_shard_compute(h->m, &(uint64_t){99}, hold_shard, h), 0);
    return NULL;
}

/* A shard's published entries and bytes equal its core map's own. */
static void check_published(gomap_shard_t *m, unsigned nshards)
{
    gomap_shard_counters per[STAT_SHARDS];
    gomap_shard_stats_t st = shardcheck_stats(m, per, nshards);
    CHECK_EQ(st.total.entries, gomap_shard_len(m));
    size_t bytes = 0;
    for (unsigned i = 0; i < nshards; i++)
        bytes += per[i].bytes_held;
    CHECK_EQ(st.total.bytes_held, bytes);
    CHECK(bytes > 0);
}

static void test_stats_lock_free(void)
{
    alarm(60); /* a stats call that waited for the held shard would hang */
    gomap_shard_t *m = shardcheck_new_u64(HV_BUILTIN, 8, STAT_SHARDS);
    for (uint64_t k = 0; k < 100; k++)
        set_u64(m, k, k);
    holder h = {.m = m};
    atomic_init(&h.phase, 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, compute_thread, &h), 0);
    while (atomic_load(&h.phase) != 1)
        sched_yield();
    gomap_shard_stats_t st = shardcheck_stats(m, NULL, 0); /* the shard of 99 is held */
    CHECK_EQ(st.total.entries, 100);
    CHECK_EQ(h.seen.total.entries, 100);
    CHECK_EQ(h.seen.total.ops, 101); /* 100 sets, and the compute's own look */
    atomic_store(&h.phase, 2);
    CHECK_EQ(pthread_join(t, NULL), 0);
    alarm(0);

    /* Entries and bytes follow writes, deletes, growth and clear. */
    check_published(m, STAT_SHARDS);
    gomap_shard_counters before[STAT_SHARDS];
    shardcheck_stats(m, before, STAT_SHARDS);
    for (uint64_t k = 100; k < 20000; k++)
        set_u64(m, k, k);
    check_published(m, STAT_SHARDS);
    gomap_shard_counters after[STAT_SHARDS];
    gomap_shard_stats_t st2 = shardcheck_stats(m, after, STAT_SHARDS);
    CHECK_EQ(st2.total.entries, 20000);
    for (unsigned i = 0; i < STAT_SHARDS; i++)
        CHECK_MSG(after[i].bytes_held > before[i].bytes_held, "shard %u grew but holds %zu bytes",
                  i, after[i].bytes_held);
    for (uint64_t k = 0; k < 20000; k += 2)
        CHECK(gomap_shard_delete(m, &k));
    CHECK_EQ(shardcheck_stats(m, NULL, 0).total.entries, 10000);
    gomap_shard_clear(m);
    CHECK_EQ(shardcheck_stats(m, NULL, 0).total.entries, 0);
    check_published(m, STAT_SHARDS);

    /* One shard: its published bytes are its core map's bytes_held. */
    gomap_shard_t *one = shardcheck_new_u64(HV_BUILTIN, 8, 1);
    for (uint64_t k = 0; k < 5000; k++)
        set_u64(one, k, k);
    /* The arrays the shard outgrew are given back by its writes once no
     * reader can walk them: after a grace period's callbacks, a few
     * overwrites (which neither grow nor allocate) hand them over and
     * release them. */
    gomap_rcu_barrier();
    for (uint64_t k = 0; k < 64; k++)
        set_u64(one, k, k);
    gomap_t *copy = NULL;
    CHECK_EQ(gomap_shard_snapshot(one, &copy), 0);
    gomap_stats_t ms;
    CHECK_EQ(gomap_stats(copy, &ms), 0);
    gomap_shard_stats_t s1 = shardcheck_stats(one, NULL, 0);
    CHECK_EQ(s1.total.entries, ms.entries);
    CHECK(s1.total.bytes_held >= ms.bytes_held / 2 && s1.total.bytes_held <= ms.bytes_held * 2);
    gomap_free(copy);
    CHECK_SHARD_VALID(one);
    gomap_shard_free(one);
    CHECK_SHARD_VALID(m);
    gomap_shard_free(m);
}

/* ------------------------------------------------------------------------ */
/* Heatmap                                                                   */
/* ------------------------------------------------------------------------ */

static char *heatmap_text(gomap_shard_t *m, int format)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    CHECK_EQ(gomap_shard_heatmap(m, f, format), 0);
    CHECK_EQ(fclose(f), 0);
    CHECK(buf != NULL && len > 0 && strlen(buf) == len);
    return buf;
}

static bool have_xmllint(void)
{
    int rc = system("command -v xmllint >/dev/null 2>&1");
    return rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

static void check_svg(gomap_shard_t *m, const char *dir)
{
    char *svg = heatmap_text(m, GOMAP_HEATMAP_SVG);
    CHECK(strstr(svg, "<svg") != NULL && strstr(svg, "</svg>") != NULL);
    if (dir) {
        char path[300], cmd[400];
        snprintf(path, sizeof path, "%s/shards.svg", dir);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL);
        CHECK_EQ(fputs(svg, f) >= 0, 1);
        CHECK_EQ(fclose(f), 0);
        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
        int rc = system(cmd);
        CHECK_MSG(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "`%s` failed", cmd);
        CHECK_EQ(unlink(path), 0);
    }
    free(svg);
}

static void test_heatmap(void)
{
    char dir[256];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/gomap-shard-XXXXXX", t && *t ? t : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    bool xmllint = have_xmllint();
    if (!xmllint)
        printf("   xmllint not installed: SVG well-formedness not checked\n");
    static const unsigned counts[] = {1, 16, 256};
    for (int s = 0; s < 3; s++) {
        gomap_options o = shardcheck_u64_options(8);
        gomap_shard_t *m = shardcheck_new(&o, counts[s]);
        for (int loaded = 0; loaded < 2; loaded++) {
            if (loaded) {
                for (uint64_t k = 0; k < 2000; k++)
                    set_u64(m, k, k);
                for (int i = 0; i < 500; i++) /* one hot key */
                    CHECK(gomap_shard_get(m, &(uint64_t){7}, NULL));
            }
            char *text = heatmap_text(m, GOMAP_HEATMAP_TEXT);
            CHECK_MSG(strstr(text, "shard") != NULL, "text heatmap does not mention shards:\n%s",
                      text);
            char num[16];
            snprintf(num, sizeof num, "%u", counts[s]);
            CHECK_MSG(strstr(text, num) != NULL, "text heatmap of %u shards never says %u",
                      counts[s], counts[s]);
            if (s == 1 && loaded)
                printf("%s", text);
            free(text);
            check_svg(m, xmllint ? dir : NULL);
        }

        CHECK_EQ(gomap_shard_heatmap(m, NULL, GOMAP_HEATMAP_TEXT), -EINVAL);
        CHECK_EQ(gomap_shard_heatmap(m, stdout, 2), -EINVAL);
        CHECK_EQ(gomap_shard_heatmap(m, stdout, -1), -EINVAL);
        {
            char path[300];
            snprintf(path, sizeof path, "%s/readonly.txt", dir);
            FILE *f = fopen(path, "w");
            CHECK(f != NULL);
            fclose(f);
            for (int fmt = GOMAP_HEATMAP_TEXT; fmt <= GOMAP_HEATMAP_SVG; fmt++) {
                f = fopen(path, "r");
                CHECK(f != NULL);
                int rc = gomap_shard_heatmap(m, f, fmt);
                CHECK_MSG(rc == -EIO, "heatmap format %d to a read-only stream: %d", fmt, rc);
                fclose(f);
            }
            CHECK_EQ(unlink(path), 0);
        }
        CHECK_SHARD_VALID(m);
        gomap_shard_free(m);
    }
    CHECK_EQ(rmdir(dir), 0);
}

/* ------------------------------------------------------------------------ */
/* Counting lanes                                                            */
/* ------------------------------------------------------------------------ */

enum { LANE_KEYS = 64, LANE_GETS = 3072 }; /* a multiple of 2 x LANE_KEYS */

typedef struct {
    gomap_shard_t *m;
    pthread_barrier_t *start;
} lane_arg;

/* LANE_GETS gets, key j % (2 * LANE_KEYS): keys below LANE_KEYS are
 * present, so exactly half hit. */
static void *lane_getter(void *p)
{
    lane_arg *a = p;
    pthread_barrier_wait(a->start);
    for (uint64_t j = 0; j < LANE_GETS; j++) {
        uint64_t k = j % (2 * LANE_KEYS), v;
        CHECK(gomap_shard_get(a->m, &k, &v) == (k < LANE_KEYS));
    }
    return NULL;
}

static void lane_wave(gomap_shard_t *m, unsigned threads, uint64_t *hits, uint64_t *misses)
{
    pthread_t *tid = malloc(threads * sizeof *tid);
    CHECK(tid != NULL);
    pthread_barrier_t start;
    CHECK_EQ(pthread_barrier_init(&start, NULL, threads), 0);
    lane_arg a = {m, &start};
    for (unsigned t = 0; t < threads; t++)
        CHECK_EQ(pthread_create(&tid[t], NULL, lane_getter, &a), 0);
    for (unsigned t = 0; t < threads; t++)
        CHECK_EQ(pthread_join(tid[t], NULL), 0);
    pthread_barrier_destroy(&start);
    free(tid);
    *hits += (uint64_t)threads * LANE_GETS / 2;
    *misses += (uint64_t)threads * LANE_GETS / 2;
    gomap_shard_counters per[STAT_SHARDS];
    gomap_shard_stats_t st = shardcheck_stats(m, per, STAT_SHARDS);
    CHECK_MSG(st.total.hits == *hits && st.total.misses == *misses,
              "after a wave of %u threads: hits %" PRIu64 " (want %" PRIu64 "), misses %" PRIu64
              " (want %" PRIu64 ")", threads, st.total.hits, *hits, st.total.misses, *misses);
    uint64_t sum = 0;
    for (unsigned i = 0; i < STAT_SHARDS; i++)
        sum += per[i].hits + per[i].misses;
    CHECK_EQ(sum, *hits + *misses);
}

static void test_lane_counts(void)
{
    gomap_shard_options o = {.map = {.key_kind = GOMAP_KEY_U64, .val_size = 8},
                             .shards = STAT_SHARDS};
    gomap_shard_t *m;
    CHECK_EQ(gomap_shard_new(&m, &o), 0);
    for (uint64_t k = 0; k < LANE_KEYS; k++)
        set_u64(m, k, k);
    uint64_t hits = 0, misses = LANE_KEYS; /* the sets inserted: misses */
    static const unsigned waves[] = {1, 12, 70, 3, 12};
    for (size_t w = 0; w < sizeof waves / sizeof waves[0]; w++)
        lane_wave(m, waves[w], &hits, &misses);
    char why[256];
    CHECK_MSG(gomap_shard_validate(m, why, sizeof why) == 0, "validate: %s", why);
    gomap_shard_free(m);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_stats);
    RUN_VARIANTS(test_shard_choice);
    RUN(test_stats_lock_free);
    RUN(test_heatmap);
    RUN(test_lane_counts);
    printf("ok\n");
    return 0;
}

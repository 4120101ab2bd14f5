/*
 * gomap-bench — gomap's core map against its peers, in one run.
 *
 * For every case (workload x key type x size) the key streams are built
 * once, then each repetition runs every implementation in turn, starting
 * with a different one each time (A B C, B C A, ...), so drift on a shared
 * machine falls on everyone alike. The Go peer runs in a child process on
 * the same streams. Rows give the median time per operation over the
 * repetitions with its min-max, each peer's median as a ratio to gomap's,
 * and a checksum of the values found, which must agree across everyone.
 *
 * `--suite sync` runs the concurrent suite instead (sync_bench.c): Go's
 * sync.Map benchmarks on gomap_sync_t, a locked gomap_t and Go's sync.Map,
 * at several thread counts. `--suite strategies` runs the strategies matrix
 * (strat_bench.c): read-heavy, exchange and rapid-grow mixes on uniform and
 * Zipf keys, on gomap's sharded, snapshot and sync maps,
 * tbb::concurrent_hash_map and Go's sync.Map and RWMutex-guarded map.
 * `--suite cache` runs the cache suite (cachebench/cache_bench.h): gomap's
 * cache against its sharded map, Caffeine (a Java peer process), Ristretto
 * and golang-lru (the Go peer), then the cache's expiry and memory figures.
 *
 * usage: gomap-bench [--suite single|sync|strategies|cache] [--quick|--long|--tiny]
 *                    [--csv|--json|--markdown] ...
 * (gomap-bench --help lists every option). Exit status: 0; 1 if a checksum
 * disagreed or a run failed; 2 for bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bench.h"
#include "common/peer_go.h"
#include "common/progress.h"
#include "common/report.h"
#include "cachebench/cache_bench.h"
#include "core/runner.h"
#include "strategies/strat_bench.h"
#include "sync/sync_bench.h"

/* ---- names ----------------------------------------------------------------- */

static const char *const workload_names[WL_COUNT] = {
    "insert", "insert-presized", "insert-latency", "lookup-hit", "lookup-50",
    "lookup-miss", "lookup-batch", "churn", "iterate",
};

const char *bench_workload_name(bench_workload wl) { return workload_names[wl]; }
const char *bench_keys_name(bench_key_type type) { return type == KEYS_U64 ? "u64" : "str"; }

/* ---- profiles ----------------------------------------------------------------- */

enum { MAX_SIZES = 8, MAX_CONTENDERS = 16 };

typedef struct {
    const char *name;
    size_t sizes[MAX_SIZES];
    unsigned nsizes;
    unsigned reps;
    size_t min_ops;
    unsigned workloads;   /* bit per bench_workload */
    size_t latency_max_n; /* insert-latency only up to this size */
    double sync_scale;    /* sync suite: multiplies each workload's operations */
    struct {
        size_t sizes[2];  /* key universes */
        unsigned nsizes;
        unsigned reps;
        double scale;     /* multiplies a run's operations (300 000) and copy budget */
    } strat;              /* the strategies matrix */
    struct {
        size_t universe, capacity; /* Zipf keys over universe; caches bounded to capacity */
        unsigned reps;
        double scale;     /* multiplies a run's operations (300 000) and the expiry runs */
    } cache;              /* the cache suite */
} profile;

#define ALL_WORKLOADS ((1u << WL_COUNT) - 1)
#define WL_BIT(w) (1u << (w))

static const profile profiles[] = {
    {"tiny", {1000}, 1, 2, 20000, ALL_WORKLOADS, 1000, 0.01, {{10000}, 1, 1, 0.01},
     {10000, 1000, 1, 0.01}},
    {"quick", {10000, 1000000}, 2, 2, 250000,
     WL_BIT(WL_INSERT) | WL_BIT(WL_LOOKUP_50) | WL_BIT(WL_LOOKUP_BATCH), 1000000, 0.25,
     {{10000}, 1, 2, 0.08}, {CACHE_UNIVERSE, CACHE_CAPACITY, 1, 0.1}},
    {"default", {1000, 10000, 100000, 1000000}, 4, 5, 1000000, ALL_WORKLOADS, 1000000, 1,
     {{10000, 1000000}, 2, 3, 1}, {CACHE_UNIVERSE, CACHE_CAPACITY, 5, 1}},
    {"long", {1000, 10000, 100000, 1000000, 10000000}, 5, 5, 1000000, ALL_WORKLOADS, 10000000, 4,
     {{10000, 1000000}, 2, 5, 4}, {CACHE_UNIVERSE, CACHE_CAPACITY, 9, 4}},
};

/* ---- contenders ----------------------------------------------------------------- */

typedef struct {
    const char *name;
    const bench_impl *impl; /* NULL: the Go peer */
} contender;

typedef enum { SUITE_SINGLE, SUITE_SYNC, SUITE_STRAT, SUITE_CACHE, SUITE_COUNT } suite_kind;

static const char *const suite_names[SUITE_COUNT] = {"single", "sync", "strategies", "cache"};

/* The contender every ratio is against, run whatever --impls says. */
static const char *const suite_base[SUITE_COUNT] = {"gomap", "gomap-sync", "shard", "gomap-cache"};

/* The cache suite's --workloads bit for the expiry and memory figures,
 * after its throughput workloads'. */
#define CACHE_EXPIRY_BIT (1u << CWL_COUNT)

/* Options that only some suites take. */
enum {
    OPT_KEYS = 1 << 0,
    OPT_SIZES = 1 << 1,
    OPT_MIN_OPS = 1 << 2,
    OPT_THREADS = 1 << 3,
    OPT_SCALE = 1 << 4,
    OPT_DISTS = 1 << 5,
    OPT_REPS = 1 << 6, /* any suite; noted so the profile's count does not override it */
};

static const unsigned suite_options[SUITE_COUNT] = {
    OPT_KEYS | OPT_SIZES | OPT_MIN_OPS | OPT_REPS,
    OPT_THREADS | OPT_SCALE | OPT_REPS,
    OPT_THREADS | OPT_SCALE | OPT_SIZES | OPT_DISTS | OPT_REPS,
    OPT_THREADS | OPT_SCALE | OPT_REPS,
};

typedef struct {
    profile prof;
    suite_kind suite;
    unsigned given;         /* OPT_ bits of the options given */
    const char *workloads;  /* --workloads, parsed once the suite is known */
    unsigned threads[PAR_MAX_THREAD_COUNTS];
    unsigned nthreads;
    char threads_text[PAR_MAX_THREAD_COUNTS * 4 + 1]; /* "1,2,8" */
    char sizes_text[STRAT_MAX_SIZES * 12];            /* strategies: "1e4,1e6" */
    double scale;           /* --scale; 0: the profile's */
    unsigned key_types;     /* bit per bench_key_type */
    unsigned dists;         /* strategies: bit per op_dist */
    uint64_t seed;
    bench_format fmt;
    const char *json_out;   /* --json-out: also write the JSON rendering here */
    bool quiet;
    const char *only;       /* comma list of implementation names, or NULL */
    const char *go_path;
    const char *java_path;
    const char *ccdf_path;  /* --ccdf: where the insert-latency CCDF goes, or NULL */
    contender who[MAX_CONTENDERS];
    unsigned nwho;
    sync_suite ss;          /* the sync suite's contenders */
    strat_suite st;         /* the strategies matrix's (and the cache suite's) contenders */
    go_peer *go;
    go_peer *java;          /* the cache suite's Java peer */
} options;

/* ---- command line ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gomap-bench [--suite single|sync|strategies|cache] [profile] [format] "
            "[options]\n"
            "profiles: --quick (under a minute), default, --long (adds 1e7), --tiny (tests)\n"
            "formats:  aligned table (default), --csv, --json, --markdown\n"
            "options:\n"
            "  --impls LIST       implementations to run (gomap,absl,glib,uthash,go); gomap always;\n"
            "                     opt-in: gomap-shard,gomap-cache, and floor,floor-mem (the\n"
            "                     machine's own delays, insert-latency only; docs/bench.md)\n"
            "  --workloads LIST   e.g. insert,lookup-50 (all: insert insert-presized insert-latency\n"
            "                     lookup-hit lookup-50 lookup-miss lookup-batch churn iterate)\n"
            "  --suite sync       the concurrent suite: Go's sync.Map benchmarks (docs/bench.md);\n"
            "                     --impls gomap-sync,mutex-map,rwlock-map,go-sync (default: all\n"
            "                     but rwlock-map; gomap-sync always), --workloads from\n"
            "                     load-mostly-hits load-mostly-misses load-or-store-balanced\n"
            "                     load-or-store-unique load-or-store-collision\n"
            "                     load-and-delete-balanced load-and-delete-unique\n"
            "                     load-and-delete-collision range adversarial-alloc\n"
            "                     adversarial-delete store-overwrite (or Go's names, e.g.\n"
            "                     LoadMostlyHits)\n"
            "  --suite strategies the strategies matrix (docs/bench.md): --impls shard,shard-1,\n"
            "                     shard-auto,snap,sync,shard-batch,sync-batch,tbb,cds_lfht,\n"
            "                     deleg-comb,deleg-1w,deleg-comb-batch,deleg-1w-batch,go-sync,\n"
            "                     go-rwmutex,go-chanpool\n"
            "                     (default: all built; shard always), --workloads from read-90\n"
            "                     read-98 exchange rapid-grow\n"
            "  --suite cache      the cache suite (docs/cache-bench.md): --impls gomap-cache,shard,\n"
            "                     caffeine,ristretto,golang-lru (default: all built; gomap-cache\n"
            "                     always), --workloads from read-100 read-75 insert-evict expiry\n"
            "  --threads LIST     sync, strategies, cache: thread counts (default 1,2,8)\n"
            "  --scale X          sync, strategies, cache: multiply every run's operations by X\n"
            "  --dists LIST       strategies: key distributions, uniform,zipf\n"
            "  --keys LIST        u64,str\n"
            "  --sizes LIST       e.g. 1e4,1e6 (at most 2e7); strategies: key universes\n"
            "  --reps N           repetitions per case\n"
            "  --min-ops N        lookups/churn steps at least N; inserts/iterations repeat to N\n"
            "  --seed N           key-stream seed (default 1)\n"
            "  --go-peer PATH     the Go peer program (default: gomap-peer-go beside this program)\n"
            "  --java-peer PATH   cache: the Java peer (default: gomap-peer-java beside this program)\n"
            "  --json-out FILE    also write the JSON rendering to FILE (scripts/charts.sh)\n"
            "  --ccdf FILE        insert-latency: write the latency CCDF for gnuplot to FILE\n"
            "                     (bench/charts/growth_latency.gp)\n"
            "  --quiet            no progress on stderr\n");
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || (*end && *end != ',') || d < 1 || d > 2e7)
        return false;
    *out = (size_t)(d + 0.5);
    return true;
}

/* Calls fn for each comma-separated item; false if any item is rejected. */
static bool each_item(const char *list, bool (*fn)(const char *item, void *ctx), void *ctx)
{
    char buf[256];
    if (strlen(list) >= sizeof buf)
        return false;
    strcpy(buf, list);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!fn(tok, ctx))
            return false;
    return true;
}

static bool add_workload(const char *item, void *ctx)
{
    for (unsigned w = 0; w < WL_COUNT; w++)
        if (strcmp(item, workload_names[w]) == 0) {
            *(unsigned *)ctx |= WL_BIT(w);
            return true;
        }
    return false;
}

static bool add_sync_workload(const char *item, void *ctx)
{
    int w = sync_workload_parse(item);
    if (w >= 0)
        *(unsigned *)ctx |= 1u << w;
    return w >= 0;
}

static bool add_strat_workload(const char *item, void *ctx)
{
    int w = strat_workload_parse(item);
    if (w >= 0)
        *(unsigned *)ctx |= 1u << w;
    return w >= 0;
}

static bool add_cache_workload(const char *item, void *ctx)
{
    int w = strcmp(item, "expiry") == 0 ? CWL_COUNT : cache_workload_parse(item);
    if (w >= 0)
        *(unsigned *)ctx |= 1u << w;
    return w >= 0;
}

static bool add_dist(const char *item, void *ctx)
{
    int d = strat_dist_parse(item);
    if (d >= 0)
        *(unsigned *)ctx |= 1u << d;
    return d >= 0;
}

static bool add_keys(const char *item, void *ctx)
{
    unsigned bit = strcmp(item, "u64") == 0 ? 1u << KEYS_U64
                   : strcmp(item, "str") == 0 ? 1u << KEYS_STR : 0;
    *(unsigned *)ctx |= bit;
    return bit != 0;
}

static bool add_size(const char *item, void *ctx)
{
    profile *p = ctx;
    return p->nsizes < MAX_SIZES && parse_size(item, &p->sizes[p->nsizes++]);
}

static bool parse_count(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = (size_t)v;
    return true;
}

static bool add_threads(const char *item, void *ctx)
{
    options *o = ctx;
    size_t t;
    if (o->nthreads == PAR_MAX_THREAD_COUNTS || !parse_count(item, &t) || t < 1 ||
        t > PAR_MAX_THREADS)
        return false;
    o->threads[o->nthreads++] = (unsigned)t;
    return true;
}

/* Writes list[0..n) as "1,2,8" (powers of ten from 1000 on as "1e4"). */
static void list_text(char *out, size_t len, const size_t *list, unsigned n)
{
    size_t k = 0;
    out[0] = 0;
    for (unsigned i = 0; i < n && k < len; i++) {
        size_t v = list[i];
        int e = 0;
        while (list[i] >= 1000 && v >= 10 && v % 10 == 0) {
            v /= 10;
            e++;
        }
        k += (size_t)(v == 1 && e ? snprintf(out + k, len - k, "%s1e%d", i ? "," : "", e)
                                  : snprintf(out + k, len - k, "%s%zu", i ? "," : "", list[i]));
    }
}

/* The concurrent suites' settings, from the options and the profile. */
static void finish_concurrent(options *o)
{
    size_t t[PAR_MAX_THREAD_COUNTS];
    if (o->nthreads == 0) {
        static const unsigned dflt[] = {1, 2, 8};
        memcpy(o->threads, dflt, sizeof dflt);
        o->nthreads = 3;
    }
    for (unsigned i = 0; i < o->nthreads; i++)
        t[i] = o->threads[i];
    list_text(o->threads_text, sizeof o->threads_text, t, o->nthreads);
    if (o->suite == SUITE_SYNC) {
        o->scale = o->scale > 0 ? o->scale : o->prof.sync_scale;
        return;
    }
    if (o->suite == SUITE_CACHE) {
        o->scale = o->scale > 0 ? o->scale : o->prof.cache.scale;
        o->prof.sizes[0] = o->prof.cache.universe;
        o->prof.nsizes = 1;
        o->prof.reps = o->given & OPT_REPS ? o->prof.reps : o->prof.cache.reps;
        o->dists = 1u << DIST_ZIPF;
        list_text(o->sizes_text, sizeof o->sizes_text, o->prof.sizes, o->prof.nsizes);
        return;
    }
    o->scale = o->scale > 0 ? o->scale : o->prof.strat.scale;
    if (!(o->given & OPT_SIZES)) {
        memcpy(o->prof.sizes, o->prof.strat.sizes, sizeof o->prof.strat.sizes);
        o->prof.nsizes = o->prof.strat.nsizes;
    }
    if (!(o->given & OPT_REPS))
        o->prof.reps = o->prof.strat.reps;
    o->prof.nsizes = o->prof.nsizes < STRAT_MAX_SIZES ? o->prof.nsizes : STRAT_MAX_SIZES;
    list_text(o->sizes_text, sizeof o->sizes_text, o->prof.sizes, o->prof.nsizes);
}

/* Checks that the options given belong to the suite, parses --workloads
 * for it and fills in its defaults. 0, or -1 after a message. */
static int finish_args(options *o)
{
    static bool (*const parse_wl[SUITE_COUNT])(const char *, void *) = {
        add_workload, add_sync_workload, add_strat_workload, add_cache_workload};
    static const unsigned all_wl[SUITE_COUNT] = {ALL_WORKLOADS, (1u << SWL_COUNT) - 1,
                                                 (1u << STWL_COUNT) - 1,
                                                 CACHE_EXPIRY_BIT | ((1u << CWL_COUNT) - 1)};
    if (o->given & ~suite_options[o->suite]) {
        static const struct {
            unsigned bit;
            const char *name;
        } names[] = {{OPT_KEYS, "--keys"},       {OPT_SIZES, "--sizes"}, {OPT_MIN_OPS, "--min-ops"},
                     {OPT_THREADS, "--threads"}, {OPT_SCALE, "--scale"}, {OPT_DISTS, "--dists"}};
        fprintf(stderr, "gomap-bench:");
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (o->given & ~suite_options[o->suite] & names[i].bit)
                fprintf(stderr, " %s", names[i].name);
        fprintf(stderr, ": not for --suite %s\n", suite_names[o->suite]);
        usage(stderr);
        return -1;
    }
    o->prof.workloads = o->suite == SUITE_SINGLE && !o->workloads ? o->prof.workloads
                                                                  : all_wl[o->suite];
    if (o->workloads) {
        o->prof.workloads = 0;
        if (!each_item(o->workloads, parse_wl[o->suite], &o->prof.workloads)) {
            fprintf(stderr, "gomap-bench: bad argument --workloads %s\n", o->workloads);
            usage(stderr);
            return -1;
        }
    }
    if (o->suite != SUITE_SINGLE)
        finish_concurrent(o);
    if (o->prof.nsizes == 0 || o->prof.workloads == 0 || o->key_types == 0 || o->dists == 0) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    o->prof = profiles[2];
    o->key_types = (1u << KEYS_U64) | (1u << KEYS_STR);
    o->dists = (1u << DIST_COUNT) - 1;
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t num;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--quick") == 0 || strcmp(a, "--long") == 0 ||
                   strcmp(a, "--tiny") == 0) {
            for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++)
                if (strcmp(a + 2, profiles[p].name) == 0)
                    o->prof = profiles[p];
        } else if (strcmp(a, "--csv") == 0) {
            o->fmt = FMT_CSV;
        } else if (strcmp(a, "--json") == 0) {
            o->fmt = FMT_JSON;
        } else if (strcmp(a, "--markdown") == 0) {
            o->fmt = FMT_MARKDOWN;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        } else if (!v) {
            goto bad; /* unknown, or an option below without its value */
        } else if (strcmp(a, "--impls") == 0) {
            o->only = argv[++i];
        } else if (strcmp(a, "--workloads") == 0) {
            o->workloads = argv[++i];
        } else if (strcmp(a, "--suite") == 0) {
            unsigned k = 0;
            while (k < SUITE_COUNT && strcmp(v, suite_names[k]) != 0)
                k++;
            if (k == SUITE_COUNT)
                goto bad;
            o->suite = (suite_kind)k;
            i++;
        } else if (strcmp(a, "--threads") == 0) {
            o->given |= OPT_THREADS;
            o->nthreads = 0;
            if (!each_item(argv[++i], add_threads, o))
                goto bad;
        } else if (strcmp(a, "--scale") == 0) {
            char *end;
            o->given |= OPT_SCALE;
            o->scale = strtod(argv[++i], &end);
            if (*end || !(o->scale > 0 && o->scale <= 1000))
                goto bad;
        } else if (strcmp(a, "--dists") == 0) {
            o->given |= OPT_DISTS;
            o->dists = 0;
            if (!each_item(argv[++i], add_dist, &o->dists))
                goto bad;
        } else if (strcmp(a, "--keys") == 0) {
            o->given |= OPT_KEYS;
            o->key_types = 0;
            if (!each_item(argv[++i], add_keys, &o->key_types))
                goto bad;
        } else if (strcmp(a, "--sizes") == 0) {
            o->given |= OPT_SIZES;
            o->prof.nsizes = 0;
            o->prof.latency_max_n = SIZE_MAX;
            if (!each_item(argv[++i], add_size, &o->prof))
                goto bad;
        } else if (strcmp(a, "--reps") == 0 && parse_count(argv[++i], &num) && num >= 1 &&
                   num <= PAR_MAX_REPS) {
            o->given |= OPT_REPS;
            o->prof.reps = (unsigned)num;
        } else if (strcmp(a, "--min-ops") == 0 && parse_count(argv[++i], &num) && num >= 1 &&
                   num <= 1000000000) {
            o->given |= OPT_MIN_OPS;
            o->prof.min_ops = num;
        } else if (strcmp(a, "--seed") == 0 && parse_count(argv[++i], &num)) {
            o->seed = num;
        } else if (strcmp(a, "--json-out") == 0 && v) {
            o->json_out = argv[++i];
        } else if (strcmp(a, "--ccdf") == 0 && v) {
            o->ccdf_path = argv[++i];
        } else if (strcmp(a, "--go-peer") == 0) {
            o->go_path = argv[++i];
        } else if (strcmp(a, "--java-peer") == 0) {
            o->java_path = argv[++i];
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "gomap-bench: bad argument %s%s%s\n", a, v ? " " : "", v ? v : "");
        usage(stderr);
        return -1;
    }
    return finish_args(o);
}

/* ---- setup -------------------------------------------------------------------------- */

/* Whether to run `name`: the suite's base always, the others if --impls
 * names them or, without --impls, if they run by default. */
static bool wanted(const options *o, const char *name, bool by_default)
{
    if (strcmp(name, suite_base[o->suite]) == 0)
        return true;
    if (!o->only)
        return by_default;
    size_t len = strlen(name);
    for (const char *p = o->only; (p = strstr(p, name)); p += len)
        if ((p == o->only || p[-1] == ',') && (p[len] == 0 || p[len] == ','))
            return true;
    return false;
}

/* The program `name` next to this one (a peer), unless `given` (--go-peer,
 * --java-peer) said otherwise. */
static void peer_path(char *buf, size_t len, const char *given, const char *name)
{
    ssize_t k = given ? 0 : readlink("/proc/self/exe", buf, len - 32);
    if (given || k <= 0) {
        snprintf(buf, len, "%s", given ? given : name);
        return;
    }
    buf[k] = 0;
    char *slash = strrchr(buf, '/');
    snprintf(slash ? slash + 1 : buf, len - (size_t)(slash ? slash + 1 - buf : 0), "%s", name);
}

static void machine_line(char *out, size_t len)
{
    char model[96] = "unknown CPU", line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && c) {
            snprintf(model, sizeof model, "%s", c + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    snprintf(out, len, "%s, %ld cores, %.0f GiB", model, sysconf(_SC_NPROCESSORS_ONLN),
             (double)pages * (double)psize / (1024.0 * 1024 * 1024));
}

/* The Go peer's contenders in each suite, and what each one is (%s: the
 * Go version). */
static const struct {
    suite_kind suite;
    const char *name, *what;
} go_contenders[] = {
    {SUITE_SINGLE, "go", "Go's built-in map, %s (Go peer process)"},
    {SUITE_SYNC, "go-sync", "Go's sync.Map, %s, GOMAXPROCS = threads (Go peer process)"},
    {SUITE_STRAT, "go-sync",
     "Go's sync.Map, %s, values *atomic.Uint64 (update = Add), GOMAXPROCS = threads (Go peer)"},
    {SUITE_STRAT, "go-rwmutex",
     "Go's map + sync.RWMutex (get under RLock), %s, GOMAXPROCS = threads (Go peer)"},
    {SUITE_STRAT, "go-chanpool",
     "Go maps owned by a pool of goroutines (one per CPU, a partition each), requests over "
     "channels, replies on a channel per client, %s, GOMAXPROCS = threads (Go peer)"},
    {SUITE_CACHE, "ristretto",
     "github.com/dgraph-io/ristretto 0.0.3 (Debian), NumCounters = 10 x bound, MaxCost = bound, "
     "BufferItems 64, cost 1, %s, GOMAXPROCS = threads (Go peer)"},
    {SUITE_CACHE, "golang-lru",
     "github.com/hashicorp/golang-lru 0.5.4 (Debian) lru.Cache (one lock), %s, GOMAXPROCS = "
     "threads (Go peer)"},
};

_Static_assert(sizeof(((bench_params *)0)->impls) / sizeof(const char *) >= PAR_MAX_CONTENDERS,
               "a report header line for every contender");

/* Adds a contender (impl NULL: the Go peer's) to the suite's list and its
 * "name: what" line to the report's header. */
static void add_contender(options *o, bench_params *par, const char *name, const void *impl,
                          const char *what)
{
    static char lines[PAR_MAX_CONTENDERS][256];
    if (par->nimpls == PAR_MAX_CONTENDERS || o->nwho == MAX_CONTENDERS)
        return;
    if (o->suite == SUITE_SYNC)
        o->ss.who[o->ss.nwho++] = (sync_contender){name, impl};
    else if (o->suite == SUITE_STRAT || o->suite == SUITE_CACHE)
        o->st.who[o->st.nwho++] = (strat_contender){name, impl, NULL};
    else
        o->who[o->nwho++] = (contender){name, impl};
    snprintf(lines[par->nimpls], sizeof lines[par->nimpls], "%s: %s", name, what);
    par->impls[par->nimpls] = lines[par->nimpls];
    par->nimpls++;
}

/* Starts the Go peer if the suite wants any of its contenders, and adds them. */
static void setup_go(options *o, bench_params *par)
{
    static char whats[sizeof go_contenders / sizeof go_contenders[0]][224];
    char path[PATH_MAX] = "";
    for (size_t i = 0; i < sizeof go_contenders / sizeof go_contenders[0]; i++) {
        if (go_contenders[i].suite != o->suite || !wanted(o, go_contenders[i].name, true))
            continue;
        if (!o->go && !*path) {
            peer_path(path, sizeof path, o->go_path, "gomap-peer-go");
            o->go = go_peer_start(path);
            if (!o->go && !o->quiet)
                fprintf(stderr, "gomap-bench: no Go peer at %s (make bench-peers); running "
                                "without\n", path);
        }
        if (!o->go)
            return;
        snprintf(whats[i], sizeof whats[i], go_contenders[i].what, go_peer_version(o->go));
        add_contender(o, par, go_contenders[i].name, NULL, whats[i]);
    }
}

/* The cache suite's Java peer (Caffeine), if wanted and there. */
static void setup_java(options *o, bench_params *par)
{
    static char what[224];
    char path[PATH_MAX];
    if (!wanted(o, "caffeine", true))
        return;
    peer_path(path, sizeof path, o->java_path, "gomap-peer-java");
    o->java = go_peer_start(path);
    if (!o->java) {
        if (!o->quiet)
            fprintf(stderr, "gomap-bench: no Java peer at %s (make bench-peers); running "
                            "without\n", path);
        return;
    }
    snprintf(what, sizeof what,
             "Caffeine 2.6.2 (Debian), maximumSize = bound, default executor, %s, "
             "JIT warm-up per stream: untimed rounds, >= 3 and >= 1e6 ops, until two agree "
             "within 5 %% (Java peer)",
             go_peer_version(o->java));
    add_contender(o, par, "caffeine", NULL, what);
    o->st.who[o->st.nwho - 1].peer = o->java;
}

static void setup(options *o, bench_params *par)
{
    par->profile = o->prof.name;
    par->seed = o->seed;
    par->reps = o->prof.reps;
    par->min_ops = o->prof.min_ops;
    par->suite = suite_names[o->suite];
    par->base = suite_base[o->suite];
    par->threads = o->threads_text;
    par->sizes = o->sizes_text;
    par->scale = o->scale;
    machine_line(par->machine, sizeof par->machine);
    if (o->suite == SUITE_SYNC) {
        for (const sync_impl *const *p = sync_impls; *p; p++)
            if (wanted(o, (*p)->name, (*p)->by_default))
                add_contender(o, par, (*p)->name, *p, (*p)->what);
    } else if (o->suite == SUITE_STRAT || o->suite == SUITE_CACHE) {
        for (const strat_impl *const *p = o->suite == SUITE_CACHE ? cache_impls : strat_impls;
             *p; p++)
            if (wanted(o, (*p)->name, true))
                add_contender(o, par, (*p)->name, *p, (*p)->what);
        if (o->suite == SUITE_CACHE)
            setup_java(o, par);
    } else {
        for (const bench_impl *const *p = bench_impls; *p; p++)
            if (wanted(o, (*p)->name, !(*p)->opt_in))
                add_contender(o, par, (*p)->name, *p, (*p)->what);
    }
    setup_go(o, par);
}

/* ---- running ---------------------------------------------------------------------- */

/* Runs one case for every contender, interleaved, and appends their rows.
 * Returns the rows written (none if a run failed); *ok turns false if a run
 * failed or a checksum disagreed. */
/* Writes the insert-latency CCDF (report_write_ccdf) to path; false with
 * a message if the file cannot be written. */
static bool write_ccdf(const char *path, const bench_params *p, const bench_row *rows,
                       size_t nrows)
{
    FILE *f = fopen(path, "w");
    if (f) {
        report_write_ccdf(f, p, rows, nrows);
        if (fclose(f) == 0)
            return true;
    }
    fprintf(stderr, "gomap-bench: cannot write %s\n", path);
    return false;
}

static size_t run_case(options *o, bench_case *c, bench_row *rows, bool *ok)
{
    enum { MAX_REPS = 1000 };
    static bench_result res[MAX_CONTENDERS][MAX_REPS];
    if (case_prepare(c)) {
        fprintf(stderr, "gomap-bench: out of memory preparing %s %s n=%zu\n",
                bench_workload_name(c->wl), bench_keys_name(c->type), c->n);
        *ok = false;
        return 0;
    }
    for (unsigned rep = 0; rep < o->prof.reps; rep++) {
        for (unsigned k = 0; k < o->nwho; k++) {
            unsigned w = (rep + k) % o->nwho;
            const contender *who = &o->who[w];
            int rc = who->impl ? run_inprocess(who->impl, c, &res[w][rep])
                               : go_peer_run(o->go, c->wl, c->type, c->n, c->seed, c->min_ops,
                                             &res[w][rep]);
            if (rc) {
                fprintf(stderr, "gomap-bench: %s %s on %s %s n=%zu\n", who->name,
                        rc == -ENOTSUP ? "cannot run (no such operation)" : "failed",
                        bench_workload_name(c->wl), bench_keys_name(c->type), c->n);
                case_release(c);
                *ok = false;
                return 0;
            }
        }
    }
    case_release(c);

    double gomap_med = 0;
    for (unsigned w = 0; w < o->nwho; w++) {
        double v[MAX_REPS], l[6][MAX_REPS];
        bench_row *r = &rows[w];
        memset(r, 0, sizeof *r);
        r->wl = c->wl;
        r->type = c->type;
        r->n = c->n;
        r->impl = o->who[w].name;
        r->reps = o->prof.reps;
        r->ops = res[w][0].ops;
        r->checksum = res[w][0].checksum;
        r->checksum_ok = true;
        r->ns_min = 1e300;
        for (unsigned rep = 0; rep < o->prof.reps; rep++) {
            const bench_result *x = &res[w][rep];
            v[rep] = x->ns / (double)(x->ops ? x->ops : 1);
            r->ns_min = v[rep] < r->ns_min ? v[rep] : r->ns_min;
            r->ns_max = v[rep] > r->ns_max ? v[rep] : r->ns_max;
            l[0][rep] = x->p50;
            l[1][rep] = x->p99;
            l[2][rep] = x->p999;
            l[3][rep] = x->max;
            l[4][rep] = (double)x->over20us;
            l[5][rep] = (double)x->over100us;
            for (unsigned b = 0; b < LAT_BINS; b++)
                r->hist[b] += x->hist[b];
            if (x->checksum != res[0][0].checksum)
                r->checksum_ok = false;
        }
        r->ns_med = bench_median(v, o->prof.reps);
        r->p50 = bench_median(l[0], o->prof.reps);
        r->p99 = bench_median(l[1], o->prof.reps);
        r->p999 = bench_median(l[2], o->prof.reps);
        r->max = bench_median(l[3], o->prof.reps);
        r->over20us = bench_median(l[4], o->prof.reps);
        r->over100us = bench_median(l[5], o->prof.reps);
        r->bytes_per_entry =
            res[w][0].bytes >= 0 && c->n ? (double)res[w][0].bytes / (double)c->n : -1;
        if (w == 0)
            gomap_med = r->ns_med;
        r->ratio = w > 0 && gomap_med > 0 ? r->ns_med / gomap_med : 0;
        if (!r->checksum_ok) {
            fprintf(stderr, "gomap-bench: CHECKSUM MISMATCH: %s on %s %s n=%zu\n", r->impl,
                    bench_workload_name(c->wl), bench_keys_name(c->type), c->n);
            *ok = false;
        }
    }
    return o->nwho;
}

/* The --json-out file, opened for writing; NULL (with a message) if it
 * cannot be, or if none was asked for. The caller closes it. */
static FILE *json_out(const options *o)
{
    FILE *f = o->json_out ? fopen(o->json_out, "w") : NULL;
    if (o->json_out && !f)
        fprintf(stderr, "gomap-bench: cannot write %s\n", o->json_out);
    return f;
}

/* A concurrent suite (sync_bench.c or strat_bench.c), once setup() has
 * found its contenders. */
static int run_concurrent(options *o, bench_params *par)
{
    par_settings run = {.go = o->go, .workloads = o->prof.workloads, .nthreads = o->nthreads,
                        .reps = o->prof.reps, .scale = o->scale, .quiet = o->quiet};
    strat_suite *st = &o->st;
    bool ok = true;
    memcpy(run.threads, o->threads, sizeof run.threads);
    o->ss.par = st->par = run;
    st->dists = o->dists;
    memcpy(st->sizes, o->prof.sizes, o->prof.nsizes * sizeof st->sizes[0]);
    st->nsizes = o->prof.nsizes;
    st->seed = o->seed;
    if (o->suite == SUITE_CACHE) {
        st->mixes = cache_mixes;
        st->nmixes = CWL_COUNT;
        st->capacity = o->prof.cache.capacity;
        st->par.workloads &= (1u << CWL_COUNT) - 1;
    }
    size_t room = o->suite == SUITE_SYNC ? (size_t)SWL_COUNT * run.nthreads * o->ss.nwho
                                         : strat_suite_rows(st);
    par_row *rows = calloc(room + 1, sizeof *rows);
    if (!rows)
        return 1;
    size_t nrows = o->suite == SUITE_SYNC ? sync_suite_run(&o->ss, rows, &ok)
                                          : strat_suite_run(st, rows, &ok);
    go_peer_stop(o->go);
    go_peer_stop(o->java);
    bench_metric metrics[CACHE_MAX_METRICS];
    if (o->suite == SUITE_CACHE && (o->prof.workloads & CACHE_EXPIRY_BIT)) {
        par->metrics = metrics;
        par->nmetrics = cache_expiry_run(o->scale, o->quiet, metrics);
    }
    report_write_par(stdout, o->fmt, par, rows, nrows);
    FILE *jf = json_out(o);
    if (jf) {
        report_write_par(jf, FMT_JSON, par, rows, nrows);
        ok = fclose(jf) == 0 && ok;
    }
    free(rows);
    return ok && (!o->json_out || jf) ? 0 : 1;
}

int main(int argc, char **argv)
{
    options o = {0};
    bench_params par = {0};
    if (parse_args(argc, argv, &o))
        return 2;
    setup(&o, &par);
    if (o.suite != SUITE_SINGLE)
        return run_concurrent(&o, &par);

    size_t ncases = 0, steps = 0, nrows = 0;
    progress pg;
    for (unsigned w = 0; w < WL_COUNT; w++)
        for (unsigned s = 0; s < o.prof.nsizes; s++) {
            bool run = o.prof.workloads >> w & 1;
            ncases += run * 2;
            steps += run && !(w == WL_INSERT_LATENCY && o.prof.sizes[s] > o.prof.latency_max_n)
                         ? (unsigned)__builtin_popcount(o.key_types)
                         : 0;
        }
    progress_start(&pg, steps, o.quiet);
    bench_row *rows = calloc(ncases * MAX_CONTENDERS + 1, sizeof *rows);
    if (!rows)
        return 1;
    bool ok = true;
    for (int type = KEYS_U64; type <= KEYS_STR; type++) {
        if (!(o.key_types >> type & 1))
            continue;
        for (unsigned w = 0; w < WL_COUNT; w++) {
            if (!(o.prof.workloads >> w & 1))
                continue;
            for (unsigned s = 0; s < o.prof.nsizes; s++) {
                bench_case c = {.wl = (bench_workload)w, .type = (bench_key_type)type,
                                .n = o.prof.sizes[s], .seed = o.seed, .min_ops = o.prof.min_ops};
                if (c.wl == WL_INSERT_LATENCY && c.n > o.prof.latency_max_n)
                    continue;
                char label[64];
                snprintf(label, sizeof label, "%-15s %s n=%-9zu", workload_names[w],
                         bench_keys_name(c.type), c.n);
                progress_step(&pg, label);
                nrows += run_case(&o, &c, rows + nrows, &ok);
            }
        }
    }
    progress_end(&pg);
    go_peer_stop(o.go);
    report_write(stdout, o.fmt, &par, rows, nrows);
    FILE *jf = json_out(&o);
    if (jf) {
        report_write(jf, FMT_JSON, &par, rows, nrows);
        ok = fclose(jf) == 0 && ok;
    }
    if (o.ccdf_path && !write_ccdf(o.ccdf_path, &par, rows, nrows))
        ok = false;
    free(rows);
    return ok && (!o.json_out || jf) ? 0 : 1;
}

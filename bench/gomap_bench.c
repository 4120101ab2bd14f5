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
 * usage: gomap-bench [--quick|--long|--tiny] [--csv|--json|--markdown] ...
 * (gomap-bench --help lists every option). Exit status: 0; 1 if a checksum
 * disagreed or a run failed; 2 for bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "peer_go.h"
#include "report.h"
#include "runner.h"

/* ---- names ----------------------------------------------------------------- */

static const char *const workload_names[WL_COUNT] = {
    "insert", "insert-presized", "insert-latency", "lookup-hit", "lookup-50",
    "lookup-miss", "lookup-batch", "churn", "iterate",
};

const char *bench_workload_name(bench_workload wl) { return workload_names[wl]; }
const char *bench_keys_name(bench_key_type type) { return type == KEYS_U64 ? "u64" : "str"; }

/* ---- profiles ----------------------------------------------------------------- */

enum { MAX_SIZES = 8, MAX_CONTENDERS = 8 };

typedef struct {
    const char *name;
    size_t sizes[MAX_SIZES];
    unsigned nsizes;
    unsigned reps;
    size_t min_ops;
    unsigned workloads;   /* bit per bench_workload */
    size_t latency_max_n; /* insert-latency only up to this size */
} profile;

#define ALL_WORKLOADS ((1u << WL_COUNT) - 1)
#define WL_BIT(w) (1u << (w))

static const profile profiles[] = {
    {"tiny", {1000}, 1, 2, 20000, ALL_WORKLOADS, 1000},
    {"quick", {10000, 1000000}, 2, 2, 250000,
     WL_BIT(WL_INSERT) | WL_BIT(WL_LOOKUP_50) | WL_BIT(WL_LOOKUP_BATCH), 1000000},
    {"default", {1000, 10000, 100000, 1000000}, 4, 5, 1000000, ALL_WORKLOADS, 1000000},
    {"long", {1000, 10000, 100000, 1000000, 10000000}, 5, 5, 1000000, ALL_WORKLOADS, 10000000},
};

/* ---- contenders ----------------------------------------------------------------- */

typedef struct {
    const char *name;
    const bench_impl *impl; /* NULL: the Go peer */
} contender;

typedef struct {
    profile prof;
    unsigned key_types;     /* bit per bench_key_type */
    uint64_t seed;
    bench_format fmt;
    bool quiet;
    const char *only;       /* comma list of implementation names, or NULL */
    const char *go_path;
    contender who[MAX_CONTENDERS];
    unsigned nwho;
    go_peer *go;
} options;

/* ---- command line ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gomap-bench [profile] [format] [options]\n"
            "profiles: --quick (under a minute), default, --long (adds 1e7), --tiny (tests)\n"
            "formats:  aligned table (default), --csv, --json, --markdown\n"
            "options:\n"
            "  --impls LIST       implementations to run (gomap,absl,glib,uthash,go); gomap always\n"
            "  --workloads LIST   e.g. insert,lookup-50 (all: insert insert-presized insert-latency\n"
            "                     lookup-hit lookup-50 lookup-miss lookup-batch churn iterate)\n"
            "  --keys LIST        u64,str\n"
            "  --sizes LIST       e.g. 1e4,1e6 (at most 2e7)\n"
            "  --reps N           repetitions per case\n"
            "  --min-ops N        lookups/churn steps at least N; inserts/iterations repeat to N\n"
            "  --seed N           key-stream seed (default 1)\n"
            "  --go-peer PATH     the Go peer program (default: gomap-peer-go beside this program)\n"
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

static int parse_args(int argc, char **argv, options *o)
{
    o->prof = profiles[2];
    o->key_types = (1u << KEYS_U64) | (1u << KEYS_STR);
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
            o->prof.workloads = 0;
            if (!each_item(argv[++i], add_workload, &o->prof.workloads))
                goto bad;
        } else if (strcmp(a, "--keys") == 0) {
            o->key_types = 0;
            if (!each_item(argv[++i], add_keys, &o->key_types))
                goto bad;
        } else if (strcmp(a, "--sizes") == 0) {
            o->prof.nsizes = 0;
            o->prof.latency_max_n = SIZE_MAX;
            if (!each_item(argv[++i], add_size, &o->prof))
                goto bad;
        } else if (strcmp(a, "--reps") == 0 && parse_count(argv[++i], &num) && num >= 1 &&
                   num <= 1000) {
            o->prof.reps = (unsigned)num;
        } else if (strcmp(a, "--min-ops") == 0 && parse_count(argv[++i], &num) && num >= 1 &&
                   num <= 1000000000) {
            o->prof.min_ops = num;
        } else if (strcmp(a, "--seed") == 0 && parse_count(argv[++i], &num)) {
            o->seed = num;
        } else if (strcmp(a, "--go-peer") == 0) {
            o->go_path = argv[++i];
        } else {
            goto bad;
        }
        continue;
    bad:
        fprintf(stderr, "gomap-bench: bad argument %s%s%s\n", a, v ? " " : "", v ? v : "");
        usage(stderr);
        return -1;
    }
    if (o->prof.nsizes == 0 || o->prof.workloads == 0 || o->key_types == 0) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- setup -------------------------------------------------------------------------- */

static bool wanted(const options *o, const char *name)
{
    if (!o->only || strcmp(name, "gomap") == 0)
        return true;
    size_t len = strlen(name);
    for (const char *p = o->only; (p = strstr(p, name)); p += len)
        if ((p == o->only || p[-1] == ',') && (p[len] == 0 || p[len] == ','))
            return true;
    return false;
}

/* gomap-peer-go next to this program, unless --go-peer said otherwise. */
static void default_go_path(char *buf, size_t len)
{
    ssize_t k = readlink("/proc/self/exe", buf, len - 16);
    if (k <= 0) {
        snprintf(buf, len, "gomap-peer-go");
        return;
    }
    buf[k] = 0;
    char *slash = strrchr(buf, '/');
    strcpy(slash ? slash + 1 : buf, "gomap-peer-go");
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

static void setup(options *o, bench_params *par)
{
    static char lines[MAX_CONTENDERS][192];
    static char go_what[96];
    par->profile = o->prof.name;
    par->seed = o->seed;
    par->reps = o->prof.reps;
    par->min_ops = o->prof.min_ops;
    machine_line(par->machine, sizeof par->machine);
    for (const bench_impl *const *p = bench_impls; *p; p++)
        if (wanted(o, (*p)->name) && o->nwho < MAX_CONTENDERS)
            o->who[o->nwho++] = (contender){(*p)->name, *p};
    if (wanted(o, "go")) {
        char path[PATH_MAX];
        if (o->go_path)
            snprintf(path, sizeof path, "%s", o->go_path);
        else
            default_go_path(path, sizeof path);
        o->go = go_peer_start(path);
        if (o->go) {
            snprintf(go_what, sizeof go_what, "Go's built-in map, %s (Go peer process)",
                     go_peer_version(o->go));
            o->who[o->nwho++] = (contender){"go", NULL};
        } else if (!o->quiet) {
            fprintf(stderr, "gomap-bench: no Go peer at %s (make bench-peers); running without\n",
                    path);
        }
    }
    for (unsigned i = 0; i < o->nwho; i++) {
        const char *what = o->who[i].impl ? o->who[i].impl->what : go_what;
        snprintf(lines[i], sizeof lines[i], "%s: %s", o->who[i].name, what);
        par->impls[par->nimpls++] = lines[i];
    }
}

/* ---- running ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs one case for every contender, interleaved, and appends their rows.
 * Returns the rows written (none if a run failed); *ok turns false if a run
 * failed or a checksum disagreed. */
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
                fprintf(stderr, "gomap-bench: %s failed on %s %s n=%zu\n", who->name,
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
        double v[MAX_REPS], l[4][MAX_REPS];
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
            if (x->checksum != res[0][0].checksum)
                r->checksum_ok = false;
        }
        r->ns_med = median(v, o->prof.reps);
        r->p50 = median(l[0], o->prof.reps);
        r->p99 = median(l[1], o->prof.reps);
        r->p999 = median(l[2], o->prof.reps);
        r->max = median(l[3], o->prof.reps);
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

int main(int argc, char **argv)
{
    options o = {0};
    bench_params par = {0};
    if (parse_args(argc, argv, &o))
        return 2;
    setup(&o, &par);

    size_t ncases = 0, done = 0, nrows = 0;
    for (unsigned w = 0; w < WL_COUNT; w++)
        ncases += (o.prof.workloads >> w & 1) * o.prof.nsizes * 2;
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
                if (!o.quiet)
                    fprintf(stderr, "gomap-bench: %-15s %s n=%-9zu (%zu)\n", workload_names[w],
                            bench_keys_name(c.type), c.n, ++done);
                nrows += run_case(&o, &c, rows + nrows, &ok);
            }
        }
    }
    go_peer_stop(o.go);
    report_write(stdout, o.fmt, &par, rows, nrows);
    free(rows);
    return ok ? 0 : 1;
}

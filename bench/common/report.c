/*
 * report.c — rendering bench_rows (and the concurrent suites' par_rows) as
 * a table, CSV, JSON or Markdown.
 */
#include "common/report.h"

#include <gomap/version.h>

#include "common/report_figures.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* 1000000 -> "1e6"; other sizes as plain numbers. */
const char *report_size_name(size_t n, char *buf, size_t len)
{
    int e = 0;
    size_t v = n;
    while (v >= 10 && v % 10 == 0) {
        v /= 10;
        e++;
    }
    if (v == 1 && e >= 3)
        snprintf(buf, len, "1e%d", e);
    else
        snprintf(buf, len, "%zu", n);
    return buf;
}

/* A time with as many decimals as it deserves. */
static const char *ns_text(double ns, char *buf, size_t len)
{
    snprintf(buf, len, ns < 10 ? "%.2f" : ns < 100 ? "%.1f" : "%.0f", ns);
    return buf;
}

static void write_table(FILE *out, const bench_params *p, const bench_row *rows, size_t n)
{
    fprintf(out, "# gomap-bench  gomap %s  profile=%s seed=%" PRIu64 " reps=%u min_ops=%zu\n",
            gomap_version(), p->profile, p->seed, p->reps, p->min_ops);
    fprintf(out, "# machine: %s\n", p->machine);
    for (unsigned i = 0; i < p->nimpls; i++)
        fprintf(out, "# %s\n", p->impls[i]);
    fprintf(out, "# ns/op: median of reps (min-max); x gomap: this row's median / gomap's\n");
    fprintf(out, "%-16s %-4s %-6s %-11s %9s %19s %8s %8s %8s %8s %8s %8s %9s %7s %7s %s\n",
            "workload", "keys", "n", "impl", "ns/op", "(min-max)", "Mops/s", "x gomap", "B/entry",
            "p50", "p99", "p99.9", "max", ">20us", ">100us", "check");
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        char sz[32], med[32], lo[32], hi[32], range[80], ratio[32] = "-", bpe[32] = "-";
        char l50[32] = "-", l99[32] = "-", l999[32] = "-", lmax[32] = "-";
        char n20[32] = "-", n100[32] = "-";
        snprintf(range, sizeof range, "(%s-%s)", ns_text(r->ns_min, lo, sizeof lo),
                 ns_text(r->ns_max, hi, sizeof hi));
        if (r->ratio > 0)
            snprintf(ratio, sizeof ratio, "%.2f", r->ratio);
        if (r->bytes_per_entry >= 0)
            snprintf(bpe, sizeof bpe, "%.1f", r->bytes_per_entry);
        if (r->wl == WL_INSERT_LATENCY) {
            ns_text(r->p50, l50, sizeof l50);
            ns_text(r->p99, l99, sizeof l99);
            ns_text(r->p999, l999, sizeof l999);
            ns_text(r->max, lmax, sizeof lmax);
            snprintf(n20, sizeof n20, "%.0f", r->over20us);
            snprintf(n100, sizeof n100, "%.0f", r->over100us);
        }
        fprintf(out, "%-16s %-4s %-6s %-11s %9s %19s %8.2f %8s %8s %8s %8s %8s %9s %7s %7s %s\n",
                bench_workload_name(r->wl), bench_keys_name(r->type),
                report_size_name(r->n, sz, sizeof sz), r->impl, ns_text(r->ns_med, med, sizeof med),
                range, r->ns_med > 0 ? 1e3 / r->ns_med : 0.0, ratio, bpe, l50, l99, l999, lmax,
                n20, n100, r->checksum_ok ? "ok" : "MISMATCH");
    }
}

static void write_csv(FILE *out, const bench_params *p, const bench_row *rows, size_t n)
{
    fprintf(out, "workload,keys,n,impl,reps,ops,ns_per_op_median,ns_per_op_min,ns_per_op_max,"
                 "mops_per_s,ratio_to_gomap,bytes_per_entry,lat_p50_ns,lat_p99_ns,lat_p999_ns,"
                 "lat_max_ns,lat_over_20us,lat_over_100us,checksum,checksum_ok,seed,profile\n");
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        fprintf(out, "%s,%s,%zu,%s,%u,%" PRIu64 ",%.3f,%.3f,%.3f,%.3f,%.4f,%.2f,%.1f,%.1f,%.1f,%.1f,"
                     "%.0f,%.0f,%" PRIu64 ",%d,%" PRIu64 ",%s\n",
                bench_workload_name(r->wl), bench_keys_name(r->type), r->n, r->impl, r->reps,
                r->ops, r->ns_med, r->ns_min, r->ns_max, r->ns_med > 0 ? 1e3 / r->ns_med : 0.0,
                r->ratio, r->bytes_per_entry, r->p50, r->p99, r->p999, r->max, r->over20us,
                r->over100us, r->checksum,
                r->checksum_ok, p->seed, p->profile);
    }
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void write_json(FILE *out, const bench_params *p, const bench_row *rows, size_t n)
{
    fprintf(out, "{\n  \"params\": {\"gomap_version\": ");
    json_string(out, gomap_version());
    fprintf(out, ", \"profile\": ");
    json_string(out, p->profile);
    fprintf(out, ", \"seed\": %" PRIu64 ", \"reps\": %u, \"min_ops\": %zu, \"machine\": ", p->seed,
            p->reps, p->min_ops);
    json_string(out, p->machine);
    fprintf(out, ",\n    \"impls\": [");
    for (unsigned i = 0; i < p->nimpls; i++) {
        fprintf(out, i ? ", " : "");
        json_string(out, p->impls[i]);
    }
    fprintf(out, "]},\n  \"rows\": [");
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        fprintf(out, "%s\n    {\"workload\": \"%s\", \"keys\": \"%s\", \"n\": %zu, \"impl\": ",
                i ? "," : "", bench_workload_name(r->wl), bench_keys_name(r->type), r->n);
        json_string(out, r->impl);
        fprintf(out, ", \"reps\": %u, \"ops\": %" PRIu64 ", \"ns_per_op\": {\"median\": %.3f, "
                     "\"min\": %.3f, \"max\": %.3f}, \"mops_per_s\": %.3f",
                r->reps, r->ops, r->ns_med, r->ns_min, r->ns_max,
                r->ns_med > 0 ? 1e3 / r->ns_med : 0.0);
        if (r->ratio > 0)
            fprintf(out, ", \"ratio_to_gomap\": %.4f", r->ratio);
        if (r->bytes_per_entry >= 0)
            fprintf(out, ", \"bytes_per_entry\": %.2f", r->bytes_per_entry);
        if (r->wl == WL_INSERT_LATENCY)
            fprintf(out, ", \"latency_ns\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, "
                         "\"max\": %.1f}, \"inserts_over\": {\"20us\": %.0f, \"100us\": %.0f}",
                    r->p50, r->p99, r->p999, r->max, r->over20us, r->over100us);
        fprintf(out, ", \"checksum\": %" PRIu64 ", \"checksum_ok\": %s}", r->checksum,
                r->checksum_ok ? "true" : "false");
    }
    fprintf(out, "\n  ]\n}\n");
}

/* ---- Markdown: peers side by side ---------------------------------------- */

enum { MAX_COLS = 16 };

/* Appends impl to the k columns unless it is there; returns the new k. */
static unsigned add_column(const char **cols, unsigned k, const char *impl)
{
    unsigned j = 0;
    while (j < k && strcmp(cols[j], impl) != 0)
        j++;
    if (j == k && k < MAX_COLS)
        cols[k++] = impl;
    return k;
}

/* The implementations in first-seen order. */
static unsigned impl_columns(const bench_row *rows, size_t n, const char **cols)
{
    unsigned k = 0;
    for (size_t i = 0; i < n; i++)
        k = add_column(cols, k, rows[i].impl);
    return k;
}

static const bench_row *find_row(const bench_row *rows, size_t n, const bench_row *like,
                                 const char *impl)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].wl == like->wl && rows[i].type == like->type && rows[i].n == like->n &&
            strcmp(rows[i].impl, impl) == 0)
            return &rows[i];
    return NULL;
}

/* True for the first row of each case (workload, keys, n). */
static bool first_of_case(const bench_row *rows, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (rows[j].wl == rows[i].wl && rows[j].type == rows[i].type && rows[j].n == rows[i].n)
            return false;
    return true;
}

/* "| first | second | cols... | extra... |" and its rule, numbers right-aligned. */
static void md_header2(FILE *out, const char *first, const char *second, const char **cols,
                       unsigned k, const char *const *extra, unsigned nextra)
{
    fprintf(out, "| %s | %s |", first, second);
    for (unsigned c = 0; c < k + nextra; c++)
        fprintf(out, " %s |", c < k ? cols[c] : extra[c - k]);
    fprintf(out, "\n|---|---:|");
    for (unsigned c = 0; c < k + nextra; c++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
}

static void md_header(FILE *out, const char *first, const char **cols, unsigned k)
{
    md_header2(out, first, "n", cols, k, NULL, 0);
}

static void write_markdown(FILE *out, const bench_params *p, const bench_row *rows, size_t n)
{
    const char *cols[MAX_COLS];
    unsigned k = impl_columns(rows, n, cols);
    char sz[32], t[32];

    fprintf(out, "Machine: %s. Profile `%s`, seed %" PRIu64 ", %u interleaved repetitions, "
                 "medians.\n\n",
            p->machine, p->profile, p->seed, p->reps);
    for (int type = KEYS_U64; type <= KEYS_STR; type++) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            const bench_row *r = &rows[i];
            if (r->type != (bench_key_type)type || !first_of_case(rows, i))
                continue;
            if (!any) {
                fprintf(out, "**%s keys**: gomap in ns/op; peers as their time / gomap's "
                             "(above 1: gomap is faster)\n\n",
                        bench_keys_name(r->type));
                md_header(out, "workload", cols, k);
                any = true;
            }
            fprintf(out, "| %s | %s |", bench_workload_name(r->wl), report_size_name(r->n, sz, sizeof sz));
            for (unsigned c = 0; c < k; c++) {
                const bench_row *x = find_row(rows, n, r, cols[c]);
                if (!x)
                    fprintf(out, " |");
                else if (strcmp(cols[c], "gomap") == 0)
                    fprintf(out, " %s |", ns_text(x->ns_med, t, sizeof t));
                else
                    fprintf(out, " %.2f |", x->ratio);
            }
            fprintf(out, "\n");
        }
        if (any)
            fprintf(out, "\n");
    }

    bool any = false;
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        if (r->wl != WL_INSERT || !first_of_case(rows, i))
            continue;
        if (!any) {
            fprintf(out, "**Bytes per entry** after growing from empty (allocator-counted)\n\n");
            md_header(out, "keys", cols, k);
            any = true;
        }
        fprintf(out, "| %s | %s |", bench_keys_name(r->type), report_size_name(r->n, sz, sizeof sz));
        for (unsigned c = 0; c < k; c++) {
            const bench_row *x = find_row(rows, n, r, cols[c]);
            if (x && x->bytes_per_entry >= 0)
                fprintf(out, " %.1f |", x->bytes_per_entry);
            else
                fprintf(out, " - |");
        }
        fprintf(out, "\n");
    }
    if (any)
        fprintf(out, "\n");

    any = false;
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        if (r->wl != WL_INSERT_LATENCY || !first_of_case(rows, i))
            continue;
        if (!any) {
            fprintf(out, "**Insert latency** growing from empty, ns: p99.9 / max / inserts "
                         "over 100 us (medians over repetitions)\n\n");
            md_header(out, "keys", cols, k);
            any = true;
        }
        fprintf(out, "| %s | %s |", bench_keys_name(r->type), report_size_name(r->n, sz, sizeof sz));
        for (unsigned c = 0; c < k; c++) {
            const bench_row *x = find_row(rows, n, r, cols[c]);
            char a[32], b[32];
            if (x)
                fprintf(out, " %s / %s / %.0f |", ns_text(x->p999, a, sizeof a),
                        ns_text(x->max, b, sizeof b), x->over100us);
            else
                fprintf(out, " - |");
        }
        fprintf(out, "\n");
    }
    if (any)
        fprintf(out, "\n");
}

void report_write_ccdf(FILE *out, const bench_params *p, const bench_row *rows, size_t nrows)
{
    fprintf(out, "# gomap-bench insert-latency CCDF: fraction of inserts taking at least "
                 "latency_ns (all runs pooled)\n# seed=%" PRIu64 " reps=%u machine: %s\n",
            p->seed, p->reps, p->machine);
    bool first = true;
    for (size_t i = 0; i < nrows; i++) {
        const bench_row *r = &rows[i];
        if (r->wl != WL_INSERT_LATENCY || !first_of_case(rows, i))
            continue;
        size_t end = i + 1;
        while (end < nrows && !first_of_case(rows, end))
            end++;
        char sz[32];
        fprintf(out, "%s# %s n=%s\nlatency_ns", first ? "" : "\n\n", bench_keys_name(r->type),
                report_size_name(r->n, sz, sizeof sz));
        first = false;
        for (size_t j = i; j < end; j++)
            fprintf(out, " %s", rows[j].impl);
        fputc('\n', out);
        for (unsigned b = 0; b < LAT_BINS; b++) {
            fprintf(out, "%.6g", lat_bin_low(b));
            for (size_t j = i; j < end; j++) {
                uint64_t total = 0, above = 0;
                for (unsigned k = 0; k < LAT_BINS; k++) {
                    total += rows[j].hist[k];
                    above += k >= b ? rows[j].hist[k] : 0;
                }
                fprintf(out, " %.6g", total ? (double)above / (double)total : 0.0);
            }
            fputc('\n', out);
        }
    }
}

void report_write(FILE *out, bench_format fmt, const bench_params *p, const bench_row *rows,
                  size_t nrows)
{
    switch (fmt) {
    case FMT_CSV: write_csv(out, p, rows, nrows); break;
    case FMT_JSON: write_json(out, p, rows, nrows); break;
    case FMT_MARKDOWN: write_markdown(out, p, rows, nrows); break;
    default: write_table(out, p, rows, nrows); break;
    }
}

/* ---- the concurrent suites (sync, strategies) ----------------------------------- */

/* Bytes as KiB with one decimal, or "-" when not measured. */
static const char *kib_text(int64_t bytes, char *buf, size_t len)
{
    if (bytes < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", (double)bytes / 1024);
    return buf;
}

static const char *check_text(const par_row *r)
{
    return !r->checked ? "not-checked" : r->checksum_ok ? "ok" : "MISMATCH";
}

/* Whether the suite's cases have a key distribution and a size (strategies)
 * besides the workload and thread count (sync). */
static bool keyed_cases(const bench_params *p) { return strcmp(p->suite, "sync") != 0; }

/* Whether the rows carry dropped-writes counts (the cache suite). */
static bool drop_counts(const bench_params *p) { return strcmp(p->suite, "cache") == 0; }

/* Whether the rows carry latency, bytes and reclamation (the strategies
 * matrix: report_figures.h). */
static bool has_figures(const bench_params *p) { return strcmp(p->suite, "strategies") == 0; }

/* "dropped/refused of ops", or "-" when not measured. */
static const char *drops_text(const par_row *r, char *buf, size_t len)
{
    if (r->dropped < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%" PRId64 "/%" PRId64 " of %" PRIu64, r->dropped, r->refused,
                 r->drop_ops);
    return buf;
}

/* The cache suite's other figures (p->metrics), one line each. */
static void write_metrics_table(FILE *out, const bench_params *p)
{
    if (p->nmetrics)
        fprintf(out, "# expiry and memory (docs/cache-bench.md):\n");
    for (size_t i = 0; i < p->nmetrics; i++)
        fprintf(out, "%-12s %-52s %12.3f %s\n", p->metrics[i].impl, p->metrics[i].name,
                p->metrics[i].value, p->metrics[i].unit);
}

/* The ratio column's short name: "gomap-sync" -> "sync". */
static const char *base_label(const bench_params *p)
{
    const char *dash = strrchr(p->base, '-');
    return dash && dash[1] ? dash + 1 : p->base;
}

static void write_par_table(FILE *out, const bench_params *p, const par_row *rows, size_t n)
{
    bool keyed = keyed_cases(p);
    char col[32];
    fprintf(out, "# gomap-bench  gomap %s  suite=%s profile=%s reps=%u threads=%s",
            gomap_version(), p->suite, p->profile, p->reps, p->threads);
    if (keyed)
        fprintf(out, " sizes=%s seed=%" PRIu64, p->sizes, p->seed);
    fprintf(out, " scale=%g\n# machine: %s\n", p->scale, p->machine);
    for (unsigned i = 0; i < p->nimpls; i++)
        fprintf(out, "# %s\n", p->impls[i]);
    fprintf(out, "# ns/op: wall time of the parallel phase / all threads' ops, median of reps "
                 "(min-max); x %s: median / %s's;\n"
                 "# vs Nthr: throughput / own throughput at N threads; retired KiB: %s "
                 "retired bytes, peak during the run / at its end\n",
            base_label(p), p->base, keyed ? "the deferred-free maps'" : "gomap-sync's");
    if (has_figures(p))
        fprintf(out, "# p50, p99.9, lat-max: one operation's time, ns (1 in 64 sampled); B/ent, "
                     "peak: bytes per entry at the end, peak; GPs, pause: grace periods waited, "
                     "a writer's longest wait (Go: collections, longest pause); \xe2\x80\x93: "
                     "none (docs/bench.md)\n");
    if (keyed)
        fprintf(out, "# capped: a contender whose writes copy the map ran fewer ops "
                     "(docs/bench.md)\n%-12s %-7s %-4s", "workload", "dist", "n");
    else
        fprintf(out, "%-26s", "workload");
    snprintf(col, sizeof col, "x %s", base_label(p));
    fprintf(out, " %3s %-16s %8s %9s %19s %8s %7s %8s %17s", "thr", "impl", "ops", "ns/op",
            "(min-max)", "Mops/s", col, "vs Nthr", "retired KiB");
    if (has_figures(p))
        figures_table_header(out);
    fprintf(out, " %s%s\n", "check", drop_counts(p) ? "  dropped/refused writes" : "");
    for (size_t i = 0; i < n; i++) {
        const par_row *r = &rows[i];
        char med[32], lo[32], hi[32], range[80], ratio[32] = "-", scal[32] = "-", pk[32], end[32],
            ret[80] = "-", sz[32];
        snprintf(range, sizeof range, "(%s-%s)", ns_text(r->ns_min, lo, sizeof lo),
                 ns_text(r->ns_max, hi, sizeof hi));
        if (r->ratio > 0)
            snprintf(ratio, sizeof ratio, "%.2f", r->ratio);
        if (r->scaling > 0)
            snprintf(scal, sizeof scal, "%.2f/%u", r->scaling, r->base_threads);
        if (r->retired_peak >= 0)
            snprintf(ret, sizeof ret, "%s/%s", kib_text(r->retired_peak, pk, sizeof pk),
                     kib_text(r->retired_end, end, sizeof end));
        if (keyed)
            fprintf(out, "%-12s %-7s %-4s", r->workload, r->dist, report_size_name(r->n, sz, sizeof sz));
        else
            fprintf(out, "%-26s", r->workload);
        fprintf(out, " %3u %-16s %8" PRIu64 " %9s %19s %8.2f %7s %8s %17s", r->threads,
                r->impl, r->ops, ns_text(r->ns_med, med, sizeof med), range,
                r->ns_med > 0 ? 1e3 / r->ns_med : 0.0, ratio, scal, ret);
        if (has_figures(p))
            figures_table(out, r);
        fprintf(out, " %s%s", check_text(r), r->capped ? " capped" : "");
        if (drop_counts(p))
            fprintf(out, "  %s", drops_text(r, ret, sizeof ret));
        fprintf(out, "\n");
    }
    write_metrics_table(out, p);
}

/* The ratio's CSV column and JSON field: "ratio_to_gomap_sync". */
static const char *ratio_name(const bench_params *p, char *buf, size_t len)
{
    snprintf(buf, len, "ratio_to_%s", p->base);
    for (char *c = buf; *c; c++)
        *c = *c == '-' ? '_' : *c;
    return buf;
}

static void write_par_csv(FILE *out, const bench_params *p, const par_row *rows, size_t n)
{
    bool keyed = keyed_cases(p);
    char ratio_col[64];
    ratio_name(p, ratio_col, sizeof ratio_col);
    fprintf(out, "suite,workload,%sthreads,impl,reps,ops,ns_per_op_median,ns_per_op_min,"
                 "ns_per_op_max,mops_per_s,%s,throughput_vs_base,base_threads,"
                 "retired_peak_bytes,retired_end_bytes,checksum,checksum_checked,checksum_ok,"
                 "%s%s",
            keyed ? "dist,n," : "", ratio_col, keyed ? "capped," : "",
            drop_counts(p) ? "dropped_writes,refused_writes,drop_ops," : "");
    if (has_figures(p))
        figures_csv_header(out);
    fprintf(out, "profile\n");
    for (size_t i = 0; i < n; i++) {
        const par_row *r = &rows[i];
        fprintf(out, "%s,%s,", p->suite, r->workload);
        if (keyed)
            fprintf(out, "%s,%zu,", r->dist, r->n);
        fprintf(out, "%u,%s,%u,%" PRIu64 ",%.3f,%.3f,%.3f,%.6g,%.4f,%.4f,%u,%" PRId64
                     ",%" PRId64 ",%" PRIu64 ",%d,%d,",
                r->threads, r->impl, r->reps, r->ops, r->ns_med, r->ns_min, r->ns_max,
                r->ns_med > 0 ? 1e3 / r->ns_med : 0.0, r->ratio, r->scaling, r->base_threads,
                r->retired_peak, r->retired_end, r->checksum, r->checked, r->checksum_ok);
        if (keyed)
            fprintf(out, "%d,", r->capped);
        if (drop_counts(p))
            fprintf(out, "%" PRId64 ",%" PRId64 ",%" PRIu64 ",", r->dropped, r->refused,
                    r->drop_ops);
        if (has_figures(p))
            figures_csv(out, r);
        fprintf(out, "%s\n", p->profile);
    }
}

static void write_par_json(FILE *out, const bench_params *p, const par_row *rows, size_t n)
{
    bool keyed = keyed_cases(p);
    char ratio_field[64];
    ratio_name(p, ratio_field, sizeof ratio_field);
    fprintf(out, "{\n  \"params\": {\"gomap_version\": ");
    json_string(out, gomap_version());
    fprintf(out, ", \"suite\": ");
    json_string(out, p->suite);
    fprintf(out, ", \"profile\": ");
    json_string(out, p->profile);
    fprintf(out, ", \"reps\": %u, \"threads\": [%s], \"scale\": %g, ", p->reps, p->threads,
            p->scale);
    if (keyed)
        fprintf(out, "\"sizes\": [%s], \"seed\": %" PRIu64 ", ", p->sizes, p->seed);
    fprintf(out, "\"base\": ");
    json_string(out, p->base);
    fprintf(out, ", \"machine\": ");
    json_string(out, p->machine);
    fprintf(out, ",\n    \"impls\": [");
    for (unsigned i = 0; i < p->nimpls; i++) {
        fprintf(out, i ? ", " : "");
        json_string(out, p->impls[i]);
    }
    fprintf(out, "]},\n  \"rows\": [");
    for (size_t i = 0; i < n; i++) {
        const par_row *r = &rows[i];
        fprintf(out, "%s\n    {\"workload\": \"%s\", ", i ? "," : "", r->workload);
        if (keyed)
            fprintf(out, "\"dist\": \"%s\", \"n\": %zu, ", r->dist, r->n);
        fprintf(out, "\"threads\": %u, \"impl\": ", r->threads);
        json_string(out, r->impl);
        fprintf(out, ", \"reps\": %u, \"ops\": %" PRIu64 ", \"ns_per_op\": {\"median\": %.3f, "
                     "\"min\": %.3f, \"max\": %.3f}, \"mops_per_s\": %.6g",
                r->reps, r->ops, r->ns_med, r->ns_min, r->ns_max,
                r->ns_med > 0 ? 1e3 / r->ns_med : 0.0);
        if (r->ratio > 0)
            fprintf(out, ", \"%s\": %.4f", ratio_field, r->ratio);
        if (r->scaling > 0)
            fprintf(out, ", \"throughput_vs_base\": %.4f, \"base_threads\": %u", r->scaling,
                    r->base_threads);
        if (r->retired_peak >= 0)
            fprintf(out, ", \"retired_bytes\": {\"peak\": %" PRId64 ", \"end\": %" PRId64 "}",
                    r->retired_peak, r->retired_end);
        if (keyed)
            fprintf(out, ", \"capped\": %s", r->capped ? "true" : "false");
        if (drop_counts(p) && r->dropped >= 0)
            fprintf(out, ", \"dropped_writes\": %" PRId64 ", \"refused_writes\": %" PRId64
                         ", \"drop_ops\": %" PRIu64,
                    r->dropped, r->refused, r->drop_ops);
        if (has_figures(p))
            figures_json(out, r);
        fprintf(out, ", \"checksum\": %" PRIu64 ", \"checksum_checked\": %s, \"checksum_ok\": %s}",
                r->checksum, r->checked ? "true" : "false", r->checksum_ok ? "true" : "false");
    }
    fprintf(out, "\n  ]");
    if (p->nmetrics) {
        fprintf(out, ",\n  \"metrics\": [");
        for (size_t i = 0; i < p->nmetrics; i++) {
            fprintf(out, "%s\n    {\"impl\": ", i ? "," : "");
            json_string(out, p->metrics[i].impl);
            fprintf(out, ", \"name\": ");
            json_string(out, p->metrics[i].name);
            fprintf(out, ", \"value\": %.6g, \"unit\": ", p->metrics[i].value);
            json_string(out, p->metrics[i].unit);
            fprintf(out, "}");
        }
        fprintf(out, "\n  ]");
    }
    fprintf(out, "\n}\n");
}

/* Whether a and b are the same case; threads 0: at any thread count. */
static bool same_case(const par_row *a, const par_row *b, unsigned threads)
{
    return strcmp(a->workload, b->workload) == 0 && a->n == b->n &&
           (a->dist == b->dist || (a->dist && b->dist && strcmp(a->dist, b->dist) == 0)) &&
           (threads == 0 || a->threads == b->threads);
}

static const par_row *find_par_row(const par_row *rows, size_t n, const par_row *like,
                                   unsigned threads, const char *impl)
{
    for (size_t i = 0; i < n; i++)
        if (same_case(&rows[i], like, 0) && rows[i].threads == threads &&
            strcmp(rows[i].impl, impl) == 0)
            return &rows[i];
    return NULL;
}

/* True for the first row of each case (any thread count: threads 0). */
static bool first_par_row(const par_row *rows, size_t i, unsigned threads)
{
    for (size_t j = 0; j < i; j++)
        if (same_case(&rows[j], &rows[i], threads))
            return false;
    return true;
}

/* "| workload |" or "| workload | dist | n |", then extra; and its rule. */
static void md_case_header(FILE *out, bool keyed, const char *extra, const char **cols,
                           unsigned k, const char *tail, const char *tail_rule)
{
    fprintf(out, keyed ? "| workload | dist | n |%s" : "| workload |%s", extra);
    for (unsigned c = 0; c < k; c++)
        fprintf(out, " %s |", cols[c]);
    fprintf(out, "%s\n|---|%s%s", tail, keyed ? "---|---:|" : "", *extra ? "---:|" : "");
    for (unsigned c = 0; c < k; c++)
        fprintf(out, "---:|");
    fprintf(out, "%s\n", tail_rule);
}

static void md_case_cells(FILE *out, bool keyed, const par_row *r)
{
    char sz[32];
    if (keyed)
        fprintf(out, "| %s | %s | %s |", r->workload, r->dist, report_size_name(r->n, sz, sizeof sz));
    else
        fprintf(out, "| %s |", r->workload);
}

/* The cache suite's throughput: Mops/s medians per contender, and the
 * base's throughput over Caffeine's and Ristretto's (the targets of
 * docs/cache-bench.md). */
static void write_markdown_mops(FILE *out, const par_row *rows, size_t n, const char **cols,
                                unsigned k)
{
    static const char *const vs[] = {"caffeine", "ristretto"};
    static const char *const vs_cols[] = {"÷ caffeine", "÷ ristretto"};
    fprintf(out, "**Throughput** (Mops/s, median; last columns: %s's throughput / the "
                 "peer's)\n\n", cols[0]);
    md_header2(out, "workload", "threads", cols, k, vs_cols, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].impl, cols[0]) != 0)
            continue;
        fprintf(out, "| %s | %u |", rows[i].workload, rows[i].threads);
        for (unsigned c = 0; c < k; c++) {
            const par_row *x = find_par_row(rows, n, &rows[i], rows[i].threads, cols[c]);
            fprintf(out, x && x->ns_med > 0 ? " %.2f |" : " - |", x ? 1e3 / x->ns_med : 0.0);
        }
        for (unsigned v = 0; v < 2; v++) {
            const par_row *x = find_par_row(rows, n, &rows[i], rows[i].threads, vs[v]);
            fprintf(out, x && rows[i].ns_med > 0 ? " %.2f |" : " - |",
                    x ? x->ns_med / rows[i].ns_med : 0.0);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

/* The cache suite's dropped writes: a row per workload that measured them,
 * "dropped / refused" per contender. */
static void write_markdown_drops(FILE *out, const par_row *rows, size_t n, const char **cols,
                                 unsigned k)
{
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any = any || rows[i].dropped >= 0;
    if (!any)
        return;
    fprintf(out, "**Dropped writes** (set, then get of the same key by the same thread, in a "
                 "full cache: sets that returned success but could not be read back / sets "
                 "refused)\n\n");
    md_header2(out, "workload, threads", "set-gets", cols, k, NULL, 0);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].dropped < 0 || strcmp(rows[i].impl, cols[0]) != 0)
            continue;
        fprintf(out, "| %s, %u | %" PRIu64 " |", rows[i].workload, rows[i].threads,
                rows[i].drop_ops);
        for (unsigned c = 0; c < k; c++) {
            const par_row *x = find_par_row(rows, n, &rows[i], rows[i].threads, cols[c]);
            if (x && x->dropped >= 0)
                fprintf(out, " %" PRId64 " / %" PRId64 " |", x->dropped, x->refused);
            else
                fprintf(out, " - |");
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

static void write_par_markdown(FILE *out, const bench_params *p, const par_row *rows, size_t n)
{
    bool keyed = keyed_cases(p), any_capped = false;
    const char *cols[MAX_COLS];
    unsigned k = 0, max_threads = 0, base = 0;
    char t[32], a[32], b[32];
    for (size_t i = 0; i < n; i++) {
        k = add_column(cols, k, rows[i].impl);
        max_threads = rows[i].threads > max_threads ? rows[i].threads : max_threads;
        base = rows[i].base_threads;
    }
    const char *b0 = k ? cols[0] : "-";
    fprintf(out, "Machine: %s. Suite `%s`, profile `%s`, threads %s, %u interleaved "
                 "repetitions, medians.\n\n",
            p->machine, p->suite, p->profile, p->threads, p->reps);
    if (drop_counts(p))
        fprintf(out, "**Cache suite**: %s in ns/op (wall time / all threads' operations, "
                     "median and min–max); the others as their time / %s's (above 1: %s is "
                     "faster)\n\n",
                b0, b0, b0);
    else if (keyed)
        fprintf(out, "**Strategies matrix**: %s in ns/op (wall time / all threads' operations, "
                     "median and min–max); the others as their time / %s's (above 1: %s is "
                     "faster); retired KiB of the maps that defer frees (peak / end of run)\n\n",
                b0, b0, b0);
    else
        fprintf(out, "**Concurrent suite** (Go's sync.Map benchmarks): %s in ns/op (wall time "
                     "/ all threads' operations, median and min–max); the others as their time "
                     "/ %s's (above 1: %s is faster); %s's retired bytes (KiB, peak / end of "
                     "run)\n\n",
                b0, b0, b0, b0);
    md_case_header(out, keyed, " threads |", cols, k, " retired KiB | checksum |", "---:|---|");
    for (size_t i = 0; i < n; i++) {
        const par_row *r = &rows[i];
        if (!first_par_row(rows, i, r->threads))
            continue;
        bool ok = true;
        char ret[160] = "";
        md_case_cells(out, keyed, r);
        fprintf(out, " %u |", r->threads);
        for (unsigned c = 0; c < k; c++) {
            const par_row *x = find_par_row(rows, n, r, r->threads, cols[c]);
            if (x) {
                ok = ok && x->checksum_ok;
                any_capped = any_capped || x->capped;
            }
            if (x && x->retired_peak >= 0)
                snprintf(ret + strlen(ret), sizeof ret - strlen(ret), "%s%s%s%s / %s",
                         *ret ? ", " : "", keyed ? x->impl : "", keyed ? " " : "",
                         kib_text(x->retired_peak, a, sizeof a),
                         kib_text(x->retired_end, b, sizeof b));
            if (!x)
                fprintf(out, " |");
            else if (c == 0)
                fprintf(out, " %s (%s–%s) |", ns_text(x->ns_med, t, sizeof t),
                        ns_text(x->ns_min, a, sizeof a), ns_text(x->ns_max, b, sizeof b));
            else
                fprintf(out, " %.2f%s |", x->ratio, x->capped ? "†" : "");
        }
        fprintf(out, " %s | %s |\n", *ret ? ret : "-",
                !r->checked ? "not checked" : ok ? "ok" : "MISMATCH");
    }
    fprintf(out, "\n");
    if (any_capped)
        fprintf(out, "† capped: the contender's writes copy the whole map, so it ran fewer "
                     "operations (its figure is per operation it ran; docs/bench.md).\n\n");

    if (has_figures(p))
        figures_markdown(out, rows, n);
    if (drop_counts(p)) {
        write_markdown_mops(out, rows, n, cols, k);
        write_markdown_drops(out, rows, n, cols, k);
    }
    if (drop_counts(p) && p->nmetrics) {
        fprintf(out, "**Expiry and memory** (gomap-cache)\n\n| figure | value |\n|---|---:|\n");
        for (size_t i = 0; i < p->nmetrics; i++)
            fprintf(out, "| %s | %.3g %s |\n", p->metrics[i].name, p->metrics[i].value,
                    p->metrics[i].unit);
        fprintf(out, "\n");
    }
    if (base == 0 || base == max_threads)
        return;
    fprintf(out, "**Scaling**: each contender's throughput at %u threads / its own at %u\n\n",
            max_threads, base);
    md_case_header(out, keyed, "", cols, k, "", "");
    for (size_t i = 0; i < n; i++) {
        if (!first_par_row(rows, i, 0))
            continue;
        md_case_cells(out, keyed, &rows[i]);
        for (unsigned c = 0; c < k; c++) {
            const par_row *x = find_par_row(rows, n, &rows[i], max_threads, cols[c]);
            if (x && x->scaling > 0)
                fprintf(out, " %.2f |", x->scaling);
            else
                fprintf(out, " - |");
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

void report_write_par(FILE *out, bench_format fmt, const bench_params *p, const par_row *rows,
                      size_t nrows)
{
    switch (fmt) {
    case FMT_CSV: write_par_csv(out, p, rows, nrows); break;
    case FMT_JSON: write_par_json(out, p, rows, nrows); break;
    case FMT_MARKDOWN: write_par_markdown(out, p, rows, nrows); break;
    default: write_par_table(out, p, rows, nrows); break;
    }
}

/*
 * report.c — rendering bench_rows (and the concurrent suite's sync_rows) as
 * a table, CSV, JSON or Markdown.
 */
#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* 1000000 -> "1e6"; other sizes as plain numbers. */
static const char *size_name(size_t n, char *buf, size_t len)
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
    fprintf(out, "# gomap-bench  profile=%s seed=%" PRIu64 " reps=%u min_ops=%zu\n", p->profile,
            p->seed, p->reps, p->min_ops);
    fprintf(out, "# machine: %s\n", p->machine);
    for (unsigned i = 0; i < p->nimpls; i++)
        fprintf(out, "# %s\n", p->impls[i]);
    fprintf(out, "# ns/op: median of reps (min-max); x gomap: this row's median / gomap's\n");
    fprintf(out, "%-16s %-4s %-6s %-7s %9s %19s %8s %8s %8s %8s %8s %8s %9s %s\n", "workload",
            "keys", "n", "impl", "ns/op", "(min-max)", "Mops/s", "x gomap", "B/entry", "p50",
            "p99", "p99.9", "max", "check");
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        char sz[32], med[32], lo[32], hi[32], range[80], ratio[32] = "-", bpe[32] = "-";
        char l50[32] = "-", l99[32] = "-", l999[32] = "-", lmax[32] = "-";
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
        }
        fprintf(out, "%-16s %-4s %-6s %-7s %9s %19s %8.2f %8s %8s %8s %8s %8s %9s %s\n",
                bench_workload_name(r->wl), bench_keys_name(r->type),
                size_name(r->n, sz, sizeof sz), r->impl, ns_text(r->ns_med, med, sizeof med),
                range, r->ns_med > 0 ? 1e3 / r->ns_med : 0.0, ratio, bpe, l50, l99, l999, lmax,
                r->checksum_ok ? "ok" : "MISMATCH");
    }
}

static void write_csv(FILE *out, const bench_params *p, const bench_row *rows, size_t n)
{
    fprintf(out, "workload,keys,n,impl,reps,ops,ns_per_op_median,ns_per_op_min,ns_per_op_max,"
                 "mops_per_s,ratio_to_gomap,bytes_per_entry,lat_p50_ns,lat_p99_ns,lat_p999_ns,"
                 "lat_max_ns,checksum,checksum_ok,seed,profile\n");
    for (size_t i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        fprintf(out, "%s,%s,%zu,%s,%u,%" PRIu64 ",%.3f,%.3f,%.3f,%.3f,%.4f,%.2f,%.1f,%.1f,%.1f,%.1f,"
                     "%" PRIu64 ",%d,%" PRIu64 ",%s\n",
                bench_workload_name(r->wl), bench_keys_name(r->type), r->n, r->impl, r->reps,
                r->ops, r->ns_med, r->ns_min, r->ns_max, r->ns_med > 0 ? 1e3 / r->ns_med : 0.0,
                r->ratio, r->bytes_per_entry, r->p50, r->p99, r->p999, r->max, r->checksum,
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
    fprintf(out, "{\n  \"params\": {\"profile\": ");
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
                         "\"max\": %.1f}",
                    r->p50, r->p99, r->p999, r->max);
        fprintf(out, ", \"checksum\": %" PRIu64 ", \"checksum_ok\": %s}", r->checksum,
                r->checksum_ok ? "true" : "false");
    }
    fprintf(out, "\n  ]\n}\n");
}

/* ---- Markdown: peers side by side ---------------------------------------- */

enum { MAX_COLS = 8 };

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

static void md_header(FILE *out, const char *first, const char **cols, unsigned k)
{
    fprintf(out, "| %s | n |", first);
    for (unsigned c = 0; c < k; c++)
        fprintf(out, " %s |", cols[c]);
    fprintf(out, "\n|---|---:|");
    for (unsigned c = 0; c < k; c++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
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
            fprintf(out, "| %s | %s |", bench_workload_name(r->wl), size_name(r->n, sz, sizeof sz));
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
        fprintf(out, "| %s | %s |", bench_keys_name(r->type), size_name(r->n, sz, sizeof sz));
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
            fprintf(out, "**Insert latency** growing from empty, ns: p99.9 / max "
                         "(median over repetitions)\n\n");
            md_header(out, "keys", cols, k);
            any = true;
        }
        fprintf(out, "| %s | %s |", bench_keys_name(r->type), size_name(r->n, sz, sizeof sz));
        for (unsigned c = 0; c < k; c++) {
            const bench_row *x = find_row(rows, n, r, cols[c]);
            char a[32], b[32];
            if (x)
                fprintf(out, " %s / %s |", ns_text(x->p999, a, sizeof a),
                        ns_text(x->max, b, sizeof b));
            else
                fprintf(out, " - |");
        }
        fprintf(out, "\n");
    }
    if (any)
        fprintf(out, "\n");
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

/* ---- the concurrent suite --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Bytes as KiB with one decimal, or "-" when not measured. */
static const char *kib_text(int64_t bytes, char *buf, size_t len)
{
    if (bytes < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", (double)bytes / 1024);
    return buf;
}

static const char *check_text(const sync_row *r)
{
    return !r->checked ? "not-checked" : r->checksum_ok ? "ok" : "MISMATCH";
}

static void write_sync_table(FILE *out, const bench_params *p, const sync_row *rows, size_t n)
{
    fprintf(out, "# gomap-bench  suite=sync profile=%s reps=%u threads=%s scale=%g\n", p->profile,
            p->reps, p->threads, p->scale);
    fprintf(out, "# machine: %s\n", p->machine);
    for (unsigned i = 0; i < p->nimpls; i++)
        fprintf(out, "# %s\n", p->impls[i]);
    fprintf(out, "# ns/op: wall time of the parallel phase / all threads' ops, median of reps "
                 "(min-max); x sync: median / gomap-sync's;\n"
                 "# vs Nthr: throughput / own throughput at N threads; retired KiB: gomap-sync's "
                 "retired_bytes, peak during the run / at its end\n");
    fprintf(out, "%-26s %3s %-11s %8s %9s %19s %8s %7s %8s %17s %s\n", "workload", "thr", "impl",
            "ops", "ns/op", "(min-max)", "Mops/s", "x sync", "vs Nthr", "retired KiB", "check");
    for (size_t i = 0; i < n; i++) {
        const sync_row *r = &rows[i];
        char med[32], lo[32], hi[32], range[80], ratio[32] = "-", scal[32] = "-", pk[32], end[32],
            ret[80] = "-";
        snprintf(range, sizeof range, "(%s-%s)", ns_text(r->ns_min, lo, sizeof lo),
                 ns_text(r->ns_max, hi, sizeof hi));
        if (r->ratio > 0)
            snprintf(ratio, sizeof ratio, "%.2f", r->ratio);
        if (r->scaling > 0)
            snprintf(scal, sizeof scal, "%.2f/%u", r->scaling, r->base_threads);
        if (r->retired_peak >= 0)
            snprintf(ret, sizeof ret, "%s/%s", kib_text(r->retired_peak, pk, sizeof pk),
                     kib_text(r->retired_end, end, sizeof end));
        fprintf(out, "%-26s %3u %-11s %8" PRIu64 " %9s %19s %8.2f %7s %8s %17s %s\n", r->workload,
                r->threads, r->impl, r->ops, ns_text(r->ns_med, med, sizeof med), range,
                r->ns_med > 0 ? 1e3 / r->ns_med : 0.0, ratio, scal, ret, check_text(r));
    }
}

static void write_sync_csv(FILE *out, const bench_params *p, const sync_row *rows, size_t n)
{
    fprintf(out, "suite,workload,threads,impl,reps,ops,ns_per_op_median,ns_per_op_min,"
                 "ns_per_op_max,mops_per_s,ratio_to_gomap_sync,throughput_vs_base,base_threads,"
                 "retired_peak_bytes,retired_end_bytes,checksum,checksum_checked,checksum_ok,"
                 "profile\n");
    for (size_t i = 0; i < n; i++) {
        const sync_row *r = &rows[i];
        fprintf(out, "sync,%s,%u,%s,%u,%" PRIu64 ",%.3f,%.3f,%.3f,%.3f,%.4f,%.4f,%u,%" PRId64
                     ",%" PRId64 ",%" PRIu64 ",%d,%d,%s\n",
                r->workload, r->threads, r->impl, r->reps, r->ops, r->ns_med, r->ns_min,
                r->ns_max, r->ns_med > 0 ? 1e3 / r->ns_med : 0.0, r->ratio, r->scaling,
                r->base_threads, r->retired_peak, r->retired_end, r->checksum, r->checked,
                r->checksum_ok, p->profile);
    }
}

static void write_sync_json(FILE *out, const bench_params *p, const sync_row *rows, size_t n)
{
    fprintf(out, "{\n  \"params\": {\"suite\": \"sync\", \"profile\": ");
    json_string(out, p->profile);
    fprintf(out, ", \"reps\": %u, \"threads\": [%s], \"scale\": %g, \"machine\": ", p->reps,
            p->threads, p->scale);
    json_string(out, p->machine);
    fprintf(out, ",\n    \"impls\": [");
    for (unsigned i = 0; i < p->nimpls; i++) {
        fprintf(out, i ? ", " : "");
        json_string(out, p->impls[i]);
    }
    fprintf(out, "]},\n  \"rows\": [");
    for (size_t i = 0; i < n; i++) {
        const sync_row *r = &rows[i];
        fprintf(out, "%s\n    {\"workload\": \"%s\", \"threads\": %u, \"impl\": ", i ? "," : "",
                r->workload, r->threads);
        json_string(out, r->impl);
        fprintf(out, ", \"reps\": %u, \"ops\": %" PRIu64 ", \"ns_per_op\": {\"median\": %.3f, "
                     "\"min\": %.3f, \"max\": %.3f}, \"mops_per_s\": %.3f",
                r->reps, r->ops, r->ns_med, r->ns_min, r->ns_max,
                r->ns_med > 0 ? 1e3 / r->ns_med : 0.0);
        if (r->ratio > 0)
            fprintf(out, ", \"ratio_to_gomap_sync\": %.4f", r->ratio);
        if (r->scaling > 0)
            fprintf(out, ", \"throughput_vs_base\": %.4f, \"base_threads\": %u", r->scaling,
                    r->base_threads);
        if (r->retired_peak >= 0)
            fprintf(out, ", \"retired_bytes\": {\"peak\": %" PRId64 ", \"end\": %" PRId64 "}",
                    r->retired_peak, r->retired_end);
        fprintf(out, ", \"checksum\": %" PRIu64 ", \"checksum_checked\": %s, \"checksum_ok\": %s}",
                r->checksum, r->checked ? "true" : "false", r->checksum_ok ? "true" : "false");
    }
    fprintf(out, "\n  ]\n}\n");
}

static const sync_row *find_sync_row(const sync_row *rows, size_t n, const char *workload,
                                     unsigned threads, const char *impl)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].workload, workload) == 0 && rows[i].threads == threads &&
            strcmp(rows[i].impl, impl) == 0)
            return &rows[i];
    return NULL;
}

/* True for the first row of each workload (any thread count: threads 0). */
static bool first_sync_row(const sync_row *rows, size_t i, unsigned threads)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(rows[j].workload, rows[i].workload) == 0 &&
            (threads == 0 || rows[j].threads == rows[i].threads))
            return false;
    return true;
}

static void write_sync_markdown(FILE *out, const bench_params *p, const sync_row *rows, size_t n)
{
    const char *cols[MAX_COLS];
    unsigned k = 0, max_threads = 0, base = 0;
    char t[32], a[32], b[32];
    for (size_t i = 0; i < n; i++) {
        k = add_column(cols, k, rows[i].impl);
        max_threads = rows[i].threads > max_threads ? rows[i].threads : max_threads;
        base = rows[i].base_threads;
    }
    fprintf(out, "Machine: %s. Suite `sync`, profile `%s`, threads %s, %u interleaved "
                 "repetitions, medians.\n\n",
            p->machine, p->profile, p->threads, p->reps);
    fprintf(out, "**Concurrent suite** (Go's sync.Map benchmarks): %s in ns/op (wall time / all "
                 "threads' operations, median and min–max); the others as their time / %s's "
                 "(above 1: %s is faster); %s's retired bytes (KiB, peak / end of run)\n\n",
            k ? cols[0] : "-", k ? cols[0] : "-", k ? cols[0] : "-", k ? cols[0] : "-");
    fprintf(out, "| workload | threads |");
    for (unsigned c = 0; c < k; c++)
        fprintf(out, " %s |", cols[c]);
    fprintf(out, " retired KiB | checksum |\n|---|---:|");
    for (unsigned c = 0; c <= k; c++)
        fprintf(out, "---:|");
    fprintf(out, "---|\n");
    for (size_t i = 0; i < n; i++) {
        const sync_row *r = &rows[i];
        if (!first_sync_row(rows, i, r->threads))
            continue;
        const sync_row *x0 = find_sync_row(rows, n, r->workload, r->threads, cols[0]);
        bool ok = true;
        fprintf(out, "| %s | %u |", r->workload, r->threads);
        for (unsigned c = 0; c < k; c++) {
            const sync_row *x = find_sync_row(rows, n, r->workload, r->threads, cols[c]);
            if (x)
                ok = ok && x->checksum_ok;
            if (!x)
                fprintf(out, " |");
            else if (c == 0)
                fprintf(out, " %s (%s–%s) |", ns_text(x->ns_med, t, sizeof t),
                        ns_text(x->ns_min, a, sizeof a), ns_text(x->ns_max, b, sizeof b));
            else
                fprintf(out, " %.2f |", x->ratio);
        }
        if (x0 && x0->retired_peak >= 0)
            fprintf(out, " %s / %s |", kib_text(x0->retired_peak, a, sizeof a),
                    kib_text(x0->retired_end, b, sizeof b));
        else
            fprintf(out, " - |");
        fprintf(out, " %s |\n", !r->checked ? "not checked" : ok ? "ok" : "MISMATCH");
    }
    fprintf(out, "\n");

    if (base == 0 || base == max_threads)
        return;
    fprintf(out, "**Scaling**: each contender's throughput at %u threads / its own at %u\n\n",
            max_threads, base);
    fprintf(out, "| workload |");
    for (unsigned c = 0; c < k; c++)
        fprintf(out, " %s |", cols[c]);
    fprintf(out, "\n|---|");
    for (unsigned c = 0; c < k; c++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
    for (size_t i = 0; i < n; i++) {
        if (!first_sync_row(rows, i, 0))
            continue;
        fprintf(out, "| %s |", rows[i].workload);
        for (unsigned c = 0; c < k; c++) {
            const sync_row *x = find_sync_row(rows, n, rows[i].workload, max_threads, cols[c]);
            if (x && x->scaling > 0)
                fprintf(out, " %.2f |", x->scaling);
            else
                fprintf(out, " - |");
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
}

void report_write_sync(FILE *out, bench_format fmt, const bench_params *p, const sync_row *rows,
                       size_t nrows)
{
    switch (fmt) {
    case FMT_CSV: write_sync_csv(out, p, rows, nrows); break;
    case FMT_JSON: write_sync_json(out, p, rows, nrows); break;
    case FMT_MARKDOWN: write_sync_markdown(out, p, rows, nrows); break;
    default: write_sync_table(out, p, rows, nrows); break;
    }
}

/*
 * report.c — rendering bench_rows as a table, CSV, JSON or Markdown.
 */
#include "report.h"

#include <inttypes.h>
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

/* The implementations in first-seen order. */
static unsigned impl_columns(const bench_row *rows, size_t n, const char **cols)
{
    unsigned k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned j = 0;
        while (j < k && strcmp(cols[j], rows[i].impl) != 0)
            j++;
        if (j == k && k < MAX_COLS)
            cols[k++] = rows[i].impl;
    }
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

/*
 * report_figures.c — latency, bytes and reclamation columns of the
 * strategies matrix (report_figures.h).
 */
#include "common/report_figures.h"

#include <inttypes.h>
#include <string.h>

#define DASH "\xe2\x80\x93" /* "–": the contender has no such thing */

/* v with the format fmt, or dash when v < 0. */
static const char *num(double v, const char *fmt, const char *dash, char *buf, size_t len)
{
    if (v < 0)
        snprintf(buf, len, "%s", dash);
    else
        snprintf(buf, len, fmt, v);
    return buf;
}

/* ns as the table and Markdown print them: "85", "1.2k" (µs), "3.4M" (ms). */
static const char *ns_short(double ns, char *buf, size_t len)
{
    if (ns < 0)
        return num(ns, "", DASH, buf, len);
    if (ns >= 1e6)
        snprintf(buf, len, "%.1fM", ns / 1e6);
    else if (ns >= 1e4)
        snprintf(buf, len, "%.0fk", ns / 1e3);
    else if (ns >= 1e3)
        snprintf(buf, len, "%.1fk", ns / 1e3);
    else
        snprintf(buf, len, "%.0f", ns);
    return buf;
}

void figures_csv_header(FILE *out)
{
    fprintf(out, "lat_p50_ns,lat_p99_ns,lat_p999_ns,lat_max_ns,bytes_per_entry,"
                 "peak_bytes_per_entry,bytes_counted_by,grace_periods,writer_pause_max_ns,");
}

void figures_csv(FILE *out, const par_row *r)
{
    char b[9][32];
    fprintf(out, "%s,%s,%s,%s,%s,%s,%s,%s,%s,", num(r->lat_p50, "%.1f", "", b[0], 32),
            num(r->lat_p99, "%.1f", "", b[1], 32), num(r->lat_p999, "%.1f", "", b[2], 32),
            num(r->lat_max, "%.1f", "", b[3], 32), num(r->bytes_per_entry, "%.2f", "", b[4], 32),
            num(r->peak_bytes_per_entry, "%.2f", "", b[5], 32),
            r->mem_method ? r->mem_method : "", num((double)r->grace_periods, "%.0f", "", b[7], 32),
            num(r->pause_ns, "%.0f", "", b[8], 32));
}

void figures_json(FILE *out, const par_row *r)
{
    char b[8][32];
    fprintf(out, ", \"latency_ns\": {\"p50\": %s, \"p99\": %s, \"p999\": %s, \"max\": %s}",
            num(r->lat_p50, "%.1f", "null", b[0], 32), num(r->lat_p99, "%.1f", "null", b[1], 32),
            num(r->lat_p999, "%.1f", "null", b[2], 32), num(r->lat_max, "%.1f", "null", b[3], 32));
    fprintf(out, ", \"memory\": {\"bytes_per_entry\": %s, \"peak_bytes_per_entry\": %s, "
                 "\"counted_by\": %s%s%s}",
            num(r->bytes_per_entry, "%.2f", "null", b[4], 32),
            num(r->peak_bytes_per_entry, "%.2f", "null", b[5], 32), r->mem_method ? "\"" : "",
            r->mem_method ? r->mem_method : "null", r->mem_method ? "\"" : "");
    fprintf(out, ", \"reclamation\": {\"grace_periods\": %s, \"writer_pause_max_ns\": %s}",
            num((double)r->grace_periods, "%.0f", "null", b[6], 32),
            num(r->pause_ns, "%.0f", "null", b[7], 32));
}

void figures_table_header(FILE *out)
{
    fprintf(out, " %7s %7s %7s %7s %6s %6s %6s", "p50", "p99.9", "lat-max", "B/ent", "peak",
            "GPs", "pause");
}

/* " text", right-aligned in width columns (the dash is 3 bytes, 1 column). */
static void cell(FILE *out, int width, const char *text)
{
    fprintf(out, " %*s", width + (strcmp(text, DASH) == 0 ? 2 : 0), text);
}

void figures_table(FILE *out, const par_row *r)
{
    char b[32];
    cell(out, 7, ns_short(r->lat_p50, b, sizeof b));
    cell(out, 7, ns_short(r->lat_p999, b, sizeof b));
    cell(out, 7, ns_short(r->lat_max, b, sizeof b));
    cell(out, 7, num(r->bytes_per_entry, "%.1f", DASH, b, sizeof b));
    cell(out, 6, num(r->peak_bytes_per_entry, "%.1f", DASH, b, sizeof b));
    cell(out, 6, num((double)r->grace_periods, "%.0f", DASH, b, sizeof b));
    cell(out, 6, ns_short(r->pause_ns, b, sizeof b));
}

/* Retired bytes as "peak / end" KiB, or "–". */
static const char *retired_kib(const par_row *r, char *buf, size_t len)
{
    if (r->retired_peak < 0)
        snprintf(buf, len, DASH);
    else
        snprintf(buf, len, "%.0f / %.0f", (double)r->retired_peak / 1024,
                 (double)r->retired_end / 1024);
    return buf;
}

void figures_markdown(FILE *out, const par_row *rows, size_t n)
{
    unsigned base = n ? rows[0].base_threads : 0;
    char sz[32], b[10][48];
    fprintf(out, "**Latency, memory and reclamation** at %u threads: one operation's time in "
                 "ns (1 in 64 sampled; p50 / p99 / p99.9 / max); bytes held per entry at the "
                 "end of the run, and the run's peak per entry; retired KiB (peak / end); RCU "
                 "grace periods waited during a run and a writer's longest wait for one (Go: "
                 "collections and the longest stop-the-world pause); – where the contender "
                 "has no such thing\n\n",
            base);
    fprintf(out, "| workload | dist | n | impl | p50 | p99 | p99.9 | max | B/entry | peak "
                 "B/entry | retired KiB | grace periods | longest pause |\n"
                 "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n; i++) {
        const par_row *r = &rows[i];
        if (r->threads != base)
            continue;
        fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                r->workload, r->dist, report_size_name(r->n, sz, sizeof sz), r->impl,
                ns_short(r->lat_p50, b[0], 48), ns_short(r->lat_p99, b[1], 48),
                ns_short(r->lat_p999, b[2], 48), ns_short(r->lat_max, b[3], 48),
                num(r->bytes_per_entry, "%.1f", DASH, b[4], 48),
                num(r->peak_bytes_per_entry, "%.1f", DASH, b[5], 48), retired_kib(r, b[6], 48),
                num((double)r->grace_periods, "%.0f", DASH, b[7], 48),
                ns_short(r->pause_ns, b[8], 48));
    }
    fprintf(out, "\n");
}

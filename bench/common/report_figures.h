/*
 * report_figures.h — the strategies matrix's figures beyond throughput
 * (sampled operation latency, bytes per entry, reclamation) in each of the
 * four renderings of report.c, which calls these for the strategies suite
 * only. A figure a contender does not have is "–" in the table and
 * Markdown, an empty CSV field, and null in JSON.
 */
#ifndef GOMAP_BENCH_REPORT_FIGURES_H
#define GOMAP_BENCH_REPORT_FIGURES_H

#include <stdio.h>

#include "common/report.h"

/* The CSV columns, each followed by a comma; then a row's fields. */
void figures_csv_header(FILE *out);
void figures_csv(FILE *out, const par_row *r);

/* The row's JSON members, each preceded by ", ". */
void figures_json(FILE *out, const par_row *r);

/* The table's extra columns: header, then a row's cells (each preceded by
 * a space). */
void figures_table_header(FILE *out);
void figures_table(FILE *out, const par_row *r);

/* The Markdown table of the figures, one line per contender at the base
 * thread count (2 if run) of each case. */
void figures_markdown(FILE *out, const par_row *rows, size_t n);

/* 1000000 -> "1e6" (report.c). */
const char *report_size_name(size_t n, char *buf, size_t len);

#endif /* GOMAP_BENCH_REPORT_FIGURES_H */

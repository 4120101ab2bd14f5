/*
 * map_heatmap.h — the heatmap's grid of a core map, and its text form.
 *
 * The grid belongs to the core map because the core's own misuse report
 * draws its text form (core/map_fault.c); diag/ draws it as SVG too
 * (gomap_heatmap). Building the grid reads only the array's header, tophash
 * bytes and overflow pointers, and walks at most CHAIN_WALK_MAX buckets of a
 * chain: the report draws it for a map that another thread may be writing
 * at that very moment.
 */
#ifndef GOMAP_CORE_MAP_HEATMAP_H
#define GOMAP_CORE_MAP_HEATMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <gomap/map.h>

#define GRID_COLS 64          /* cells per row (text: 64 + label fits 80 columns) */
#define GRID_ROWS_MAX 32      /* rows a grid can hold (the SVG uses them all) */
#define TEXT_ROWS_DEFAULT 16  /* rows of gomap_heatmap's text form */
#define CHAIN_WALK_MAX 64     /* buckets of one chain looked at */

typedef struct {
    float mean;      /* live slots per bucket, averaged over the cell's buckets */
    float ovf_share; /* share of the cell's buckets that have overflow chains */
} gomap__cell;

typedef struct {
    size_t entries;     /* the map's count */
    size_t nbuckets;    /* buckets of the current array (0: none) */
    size_t old_buckets; /* buckets of the old array while growing, else 0 */
    bool growing;
    bool same_size;     /* the growth keeps the size */
    size_t fold;        /* consecutive buckets per cell, a power of two */
    size_t ncells;
    unsigned cols, rows;
    gomap__cell cells[GRID_COLS * GRID_ROWS_MAX];
} gomap__grid;

/* Fills g for the current array of m with at most max_rows rows of cells
 * (1..GRID_ROWS_MAX): the smallest power-of-two fold that fits. */
void gomap__grid_build(const gomap_t *m, unsigned max_rows, gomap__grid *g);

/* Mean entries per bucket of the current array. */
double gomap__grid_load(const gomap__grid *g);

/* The cell at (row, col), or NULL past the last cell. */
const gomap__cell *gomap__grid_cell(const gomap__grid *g, unsigned row, unsigned col);

/* "same-size" or "doubling". */
const char *gomap__grid_growth_kind(const gomap__grid *g);

/* The text heatmap of gomap_heatmap, limited to max_rows rows of cells (0:
 * the default of 16; any request is capped at 32); the folding grows until
 * every bucket has a cell, so the whole map always fits. The misuse report
 * draws it with 4 rows. Best effort on a map being written concurrently. */
void gomap__heatmap_text(const gomap_t *m, FILE *out, unsigned max_rows);

#endif /* GOMAP_CORE_MAP_HEATMAP_H */

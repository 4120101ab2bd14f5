/*
 * shard_grid.h — the per-shard load grids of the sharded map's and the
 * cache's heatmaps: one cell per shard, 64 to a row, shaded (text) or
 * coloured (SVG) by the shard's value relative to the mean over shards.
 */
#ifndef GOMAP_DIAG_SHARD_GRID_H
#define GOMAP_DIAG_SHARD_GRID_H

#include <stdio.h>

enum { GRID_COLS = 64, GRID_SVG_MARGIN = 16, GRID_SVG_CELL = 12, GRID_SVG_LABEL = 64 };

/* Rows of text: the label `what`, then a shade per value v[0 .. n). */
void gomap__grid_text(FILE *out, const char *what, const double *v, unsigned n);

/* The text legend of the shades (one line). */
void gomap__grid_text_legend(FILE *out);

/* The grid as SVG rectangles from height y; returns the height below it. */
unsigned gomap__grid_svg(FILE *out, unsigned y, const char *what, const double *v, unsigned n);

/* The colour legend at height y; returns the height below it. */
unsigned gomap__grid_svg_legend(FILE *out, unsigned y);

/* Pixel height of a grid of n cells (its rows and the gap after it). */
static inline unsigned gomap__grid_svg_height(unsigned n)
{
    return ((n + GRID_COLS - 1) / GRID_COLS) * GRID_SVG_CELL + 16;
}

#endif /* GOMAP_DIAG_SHARD_GRID_H */

/*
 * map_heatmap_svg.c — gomap_heatmap: a map's bucket occupancy, as text or
 * as an SVG picture.
 *
 * Both forms draw the grid of core/map_heatmap.h (at most GRID_COLS columns,
 * consecutive buckets folded into one cell when there are more buckets than
 * cells). The text form is the core's (the misuse report draws it too);
 * this file adds the SVG form and the public entry point.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/render.h"
#include "core/map_heatmap.h"
#include "core/map_internal.h"


/* ======================================================================== */
/* Heatmap: SVG                                                              */
/* ======================================================================== */

enum {
    SVG_MARGIN = 16,
    SVG_LABEL_W = 64,   /* row labels left of the grid */
    SVG_TOP = 80,       /* title lines above the grid */
    SVG_LEGEND_H = 80,  /* legend below the grid */
    SVG_MIN_W = 640,    /* room for the title and the legend */
    SVG_GRID_W = 768    /* target grid width; cells are 12 to 48 px */
};

typedef struct {
    unsigned cs;         /* cell size in px */
    unsigned x0, y0;     /* top-left of the grid */
    unsigned w, h;       /* picture size */
} svg_layout;

static svg_layout svg_layout_of(const gomap__grid *g)
{
    svg_layout l;
    unsigned cs = g->cols ? SVG_GRID_W / g->cols : 48;
    l.cs = cs < 12 ? 12 : cs > 48 ? 48 : cs;
    l.x0 = SVG_MARGIN + SVG_LABEL_W;
    l.y0 = SVG_TOP;
    l.w = l.x0 + g->cols * l.cs + SVG_MARGIN;
    if (l.w < SVG_MIN_W)
        l.w = SVG_MIN_W;
    l.h = l.y0 + g->rows * l.cs + SVG_LEGEND_H + SVG_MARGIN;
    return l;
}

static void svg_head(const gomap__grid *g, const svg_layout *l, FILE *out)
{
    gomap__svg_begin(out, l->w, l->h, "gomap heatmap: %zu entries, %zu buckets, %zu per cell",
                     g->entries, g->nbuckets, g->fold);
    fprintf(out, "<text x=\"%d\" y=\"26\" font-size=\"16\" font-weight=\"bold\">"
                 "gomap bucket occupancy: %zu entries, %zu buckets, load factor %.2f</text>\n",
            SVG_MARGIN, g->entries, g->nbuckets, gomap__grid_load(g));
    fprintf(out, "<text x=\"%d\" y=\"46\" font-size=\"12\">each cell: %zu %s (%u \u00d7 %u "
                 "cells); colour = mean live slots per bucket</text>\n",
            SVG_MARGIN, g->fold, g->fold == 1 ? "bucket" : "consecutive buckets", g->cols, g->rows);
    if (g->growing)
        fprintf(out, "<text x=\"%d\" y=\"64\" font-size=\"12\" fill=\"#b2182b\">growing (%s): "
                     "new array shown; old array of %zu buckets not shown</text>\n",
                SVG_MARGIN, gomap__grid_growth_kind(g), g->old_buckets);
    else if (!g->nbuckets)
        fprintf(out, "<text x=\"%d\" y=\"64\" font-size=\"12\">no bucket array</text>\n",
                SVG_MARGIN);
}

/* The overflow mark: a red dot whose size grows with the share of the
 * cell's buckets that have overflow chains (in a cell and in the legend). */
static void svg_dot(FILE *out, double cx, double cy, unsigned cs, double share)
{
    fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#e31a1c\" "
                 "stroke=\"#ffffff\" stroke-width=\"0.6\"/>\n",
            cx, cy, cs * (0.1 + 0.2 * share));
}

static void svg_cells(const gomap__grid *g, const svg_layout *l, FILE *out)
{
    unsigned gap = 1; /* between cells, showing the grey backdrop as grid lines */
    if (!g->rows)
        return;
    fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"#d0d0d0\"/>\n",
            l->x0 - gap, l->y0 - gap, g->cols * l->cs + gap, g->rows * l->cs + gap);
    fprintf(out, "<text x=\"%u\" y=\"%u\" font-size=\"9\" text-anchor=\"end\" "
                 "fill=\"#555555\">first bucket</text>\n", l->x0 - 6, l->y0 - 4);
    for (unsigned r = 0; r < g->rows; r++) {
        unsigned y = l->y0 + r * l->cs;
        fprintf(out, "<text x=\"%u\" y=\"%.1f\" font-size=\"9\" text-anchor=\"end\" "
                     "fill=\"#555555\">%zu</text>\n",
                l->x0 - 6, y + l->cs * 0.5 + 3, (size_t)r * g->cols * g->fold);
        for (unsigned c = 0; c < g->cols; c++) {
            const gomap__cell *x = gomap__grid_cell(g, r, c);
            if (!x)
                continue;
            char colour[8];
            gomap__ramp_colour(x->mean, colour);
            unsigned xx = l->x0 + c * l->cs;
            fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"%s\"/>\n",
                    xx, y, l->cs - gap, l->cs - gap, colour);
            if (x->ovf_share > 0)
                svg_dot(out, xx + (l->cs - gap) / 2.0, y + (l->cs - gap) / 2.0, l->cs,
                        x->ovf_share);
        }
    }
}

static void svg_legend(const gomap__grid *g, const svg_layout *l, FILE *out)
{
    unsigned y = l->y0 + g->rows * l->cs + 20;
    unsigned x = SVG_MARGIN, sw = 26;
    fprintf(out, "<text x=\"%u\" y=\"%u\" font-size=\"11\">mean live slots per bucket:</text>\n",
            x, y + 11);
    x += 160;
    for (unsigned i = 0; i <= 8; i++) {
        char colour[8];
        gomap__ramp_colour(i, colour);
        fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"14\" fill=\"%s\" "
                     "stroke=\"#999999\" stroke-width=\"0.5\"/>\n",
                x + i * sw, y, sw - 2, colour);
        fprintf(out, "<text x=\"%u\" y=\"%u\" font-size=\"10\" text-anchor=\"middle\">%u%s</text>\n",
                x + i * sw + (sw - 2) / 2, y + 27, i, i == 8 ? "+" : "");
    }
    /* The overflow marks as drawn in the grid: for one bucket of a cell
     * with overflow, and for all of them. */
    double r = l->cs * 0.3, cx = SVG_MARGIN + r;
    y += 52;
    if (g->fold > 1) {
        svg_dot(out, cx, y, l->cs, 1.0 / (double)g->fold);
        cx += 2 * r + 4;
    }
    svg_dot(out, cx, y, l->cs, 1);
    fprintf(out, "<text x=\"%.0f\" y=\"%u\" font-size=\"11\">%s</text>\n", cx + r + 6, y + 4,
            g->fold > 1 ? "overflow chains; the dot grows with the share of the cell's buckets "
                          "that have one"
                        : "the bucket has an overflow chain");
}

static void svg_render(const gomap__grid *g, FILE *out)
{
    svg_layout l = svg_layout_of(g);
    svg_head(g, &l, out);
    svg_cells(g, &l, out);
    svg_legend(g, &l, out);
    gomap__svg_end(out);
}

/* ======================================================================== */
/* gomap_heatmap                                                             */
/* ======================================================================== */

int gomap_heatmap(const gomap_t *m, FILE *out, int format)
{
    if (!m || !out || (format != GOMAP_HEATMAP_TEXT && format != GOMAP_HEATMAP_SVG))
        return -EINVAL;
    if (format == GOMAP_HEATMAP_TEXT) {
        gomap__heatmap_text(m, out, 0);
    } else {
        gomap__grid g;
        gomap__grid_build(m, GRID_ROWS_MAX, &g);
        svg_render(&g, out);
    }
    return gomap__out_finish(out);
}

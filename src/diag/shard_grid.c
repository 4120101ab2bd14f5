/* shard_grid.c — per-shard load grids (see shard_grid.h). */
#include "diag/shard_grid.h"

#include "base/render.h"

/* A value relative to the mean, on the colour ramp's 0..8 scale: the mean
 * is 4, twice the mean or more is 8. */
static double load_level(double v, double mean)
{
    double l = mean > 0 ? 4.0 * v / mean : 0;
    return l > 8 ? 8 : l;
}

/* Text shade: none, under half the mean, under the mean, under twice the
 * mean, twice the mean or more. */
static unsigned load_shade(double v, double mean)
{
    return v <= 0 ? 0 : v < 0.5 * mean ? 1 : v < mean ? 2 : v < 2 * mean ? 3 : 4;
}

static double mean_of(const double *v, unsigned n)
{
    double sum = 0;
    for (unsigned i = 0; i < n; i++)
        sum += v[i];
    return n ? sum / n : 0;
}

void gomap__grid_text(FILE *out, const char *what, const double *v, unsigned n)
{
    double mean = mean_of(v, n);
    for (unsigned r = 0; r * GRID_COLS < n; r++) {
        fprintf(out, "%-7s %5u \u2502", r ? "" : what, r * GRID_COLS);
        for (unsigned c = 0; c < GRID_COLS && r * GRID_COLS + c < n; c++)
            fputs(gomap__shade[load_shade(v[r * GRID_COLS + c], mean)], out);
        fputs("\u2502\n", out);
    }
}

void gomap__grid_text_legend(FILE *out)
{
    fprintf(out, "%s 0  %s <0.5x  %s <1x  %s <2x  %s 2x+  of the mean over shards\n",
            gomap__shade[0], gomap__shade[1], gomap__shade[2], gomap__shade[3], gomap__shade[4]);
}

unsigned gomap__grid_svg(FILE *out, unsigned y, const char *what, const double *v, unsigned n)
{
    double mean = mean_of(v, n);
    fprintf(out, "<text x=\"%d\" y=\"%u\" font-size=\"12\">%s</text>\n", GRID_SVG_MARGIN, y + 10,
            what);
    for (unsigned i = 0; i < n; i++) {
        char colour[8];
        gomap__ramp_colour(load_level(v[i], mean), colour);
        fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                     "<title>shard %u: %.0f</title></rect>\n",
                GRID_SVG_MARGIN + GRID_SVG_LABEL + (i % GRID_COLS) * GRID_SVG_CELL,
                y + (i / GRID_COLS) * GRID_SVG_CELL, GRID_SVG_CELL - 1, GRID_SVG_CELL - 1, colour,
                i, v[i]);
    }
    return y + gomap__grid_svg_height(n);
}

unsigned gomap__grid_svg_legend(FILE *out, unsigned y)
{
    static const char *const legend[] = {"0", "0.5x", "1x", "1.5x", "2x+"};
    for (unsigned i = 0; i < 5; i++) {
        char colour[8];
        gomap__ramp_colour(2.0 * i, colour);
        fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"28\" height=\"12\" fill=\"%s\" "
                     "stroke=\"#999999\" stroke-width=\"0.5\"/><text x=\"%u\" y=\"%u\" "
                     "font-size=\"10\">%s</text>\n",
                GRID_SVG_MARGIN + GRID_SVG_LABEL + i * 64, y, colour,
                GRID_SVG_MARGIN + GRID_SVG_LABEL + i * 64 + 32, y + 10, legend[i]);
    }
    return y + 36;
}

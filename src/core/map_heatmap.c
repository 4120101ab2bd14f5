/*
 * map_heatmap.c — the heatmap's grid of a core map, and its text form
 * (map_heatmap.h says why they live in core/).
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "base/render.h"
#include "core/map_heatmap.h"
#include "core/map_internal.h"

static size_t ceil_div(size_t a, size_t b) { return a / b + (a % b != 0); }

/* The bucket count an array records in its header (see map.c: the header
 * sits right in front of bucket 0). Unlike B, it cannot disagree with the
 * array while a writer swaps arrays under a concurrent reader. */
static size_t array_nbuckets(const char *arr)
{
    return arr ? ((const struct array_hdr *)(const void *)arr - 1)->nbuckets : 0;
}

/* Live slots of the chain at head (its first CHAIN_WALK_MAX buckets), and
 * whether it has overflow buckets. */
static size_t chain_live(const gomap_t *m, char *head, bool *overflow)
{
    size_t live = 0;
    unsigned walked = 0;
    *overflow = *overflow_of(m, head) != NULL;
    for (char *b = head; b && walked < CHAIN_WALK_MAX; b = *overflow_of(m, b), walked++)
        for (unsigned i = 0; i < BUCKET_SLOTS; i++)
            live += tophash_of(b)[i] >= MIN_TOPHASH;
    return live;
}

/* Cell c of g: buckets [c*fold, (c+1)*fold) of arr, clipped to the array. */
static void fill_cell(const gomap_t *m, char *arr, gomap__grid *g, size_t c)
{
    size_t lo = c * g->fold, hi = lo + g->fold < g->nbuckets ? lo + g->fold : g->nbuckets;
    size_t live = 0, with_overflow = 0;
    for (size_t i = lo; i < hi; i++) {
        bool ovf;
        live += chain_live(m, bucket_at(m, arr, i), &ovf);
        with_overflow += ovf;
    }
    g->cells[c].mean = (float)((double)live / (double)(hi - lo));
    g->cells[c].ovf_share = (float)((double)with_overflow / (double)(hi - lo));
}

/* Fills g for the current array of m with at most max_rows rows of cells
 * (1..GRID_ROWS_MAX): the smallest power-of-two fold that fits. Header
 * fields are read once each; only tophash bytes and overflow pointers of
 * the array are read. */
void gomap__grid_build(const gomap_t *m, unsigned max_rows, gomap__grid *g)
{
    char *arr = m->buckets;
    unsigned b = m->B, flags = m->flags;
    memset(g, 0, offsetof(gomap__grid, cells));
    g->entries = m->count;
    g->nbuckets = array_nbuckets(arr);
    g->growing = m->oldbuckets != NULL;
    g->same_size = (flags & FLAG_SAME_SIZE_GROW) != 0;
    if (g->growing && b < 8 * sizeof(size_t))
        g->old_buckets = g->same_size ? (size_t)1 << b : b ? (size_t)1 << (b - 1) : 0;
    size_t cap = (size_t)GRID_COLS * max_rows;
    g->fold = 1;
    while (ceil_div(g->nbuckets, g->fold) > cap)
        g->fold *= 2;
    g->ncells = ceil_div(g->nbuckets, g->fold);
    GOMAP_ASSERT(g->ncells <= sizeof g->cells / sizeof g->cells[0]);
    g->cols = (unsigned)(g->ncells < GRID_COLS ? g->ncells : GRID_COLS);
    g->rows = g->cols ? (unsigned)ceil_div(g->ncells, g->cols) : 0;
    for (size_t c = 0; c < g->ncells; c++)
        fill_cell(m, arr, g, c);
}

double gomap__grid_load(const gomap__grid *g)
{
    return g->nbuckets ? (double)g->entries / (double)g->nbuckets : 0.0;
}

const gomap__cell *gomap__grid_cell(const gomap__grid *g, unsigned row, unsigned col)
{
    size_t c = (size_t)row * g->cols + col;
    return c < g->ncells ? &g->cells[c] : NULL;
}

const char *gomap__grid_growth_kind(const gomap__grid *g)
{
    return g->same_size ? "same-size" : "doubling";
}

/* ======================================================================== */
/* Heatmap: text                                                             */
/* ======================================================================== */

static unsigned shade_level(float mean)
{
    return mean <= 0 ? 0 : mean < 2 ? 1 : mean < 4 ? 2 : mean < 6 ? 3 : 4;
}

static int digits(size_t v)
{
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* The overflow mark under a cell: '^' when a quarter or more of its
 * buckets have overflow chains, '.' when fewer do, ' ' when none does. */
static char overflow_mark(const gomap__cell *x)
{
    if (!x || x->ovf_share <= 0)
        return ' ';
    if (x->ovf_share < 0.25f)
        return '.';
    return '^';
}

/* One row of cells behind its first bucket's index, and, if any cell of the
 * row has overflow chains, a line of marks under the cells. */
static void text_row(const gomap__grid *g, FILE *out, unsigned r, int label_w)
{
    fprintf(out, "%*zu \u2502", label_w, (size_t)r * g->cols * g->fold);
    unsigned marked = 0; /* cells up to the last marked one */
    for (unsigned c = 0; c < g->cols; c++) {
        const gomap__cell *x = gomap__grid_cell(g, r, c);
        fputs(x ? gomap__shade[shade_level(x->mean)] : " ", out);
        if (overflow_mark(x) != ' ')
            marked = c + 1;
    }
    fputs("\u2502\n", out);
    if (!marked)
        return;
    fprintf(out, "%*s  ", label_w, "");
    for (unsigned c = 0; c < marked; c++)
        putc(overflow_mark(gomap__grid_cell(g, r, c)), out);
    putc('\n', out);
}

static void text_render(const gomap__grid *g, FILE *out)
{
    fprintf(out, "heatmap: %zu entries, %zu buckets, %zu bucket%s/cell, load factor %.2f\n",
            g->entries, g->nbuckets, g->fold, g->fold == 1 ? "" : "s", gomap__grid_load(g));
    if (g->growing)
        fprintf(out, "growing (%s): only the new array is shown (old array: %zu buckets)\n",
                gomap__grid_growth_kind(g), g->old_buckets);
    if (!g->nbuckets) {
        fputs("no bucket array\n", out);
        return;
    }
    int label_w = digits((size_t)(g->rows - 1) * g->cols * g->fold);
    for (unsigned r = 0; r < g->rows; r++)
        text_row(g, out, r, label_w);
    fprintf(out, "%s 0  %s <2  %s <4  %s <6  %s 6+  mean live slots per bucket\n", gomap__shade[0],
            gomap__shade[1], gomap__shade[2], gomap__shade[3], gomap__shade[4]);
    fputs(g->fold == 1 ? "^ the bucket has an overflow chain\n"
                       : "^ overflow chains in a quarter or more of a cell's buckets, . in fewer\n",
          out);
}

/* max_rows 0 means TEXT_ROWS_DEFAULT, the size gomap_heatmap draws; more
 * than GRID_ROWS_MAX rows are never drawn. Either way the fold grows until
 * every bucket has a cell. */
void gomap__heatmap_text(const gomap_t *m, FILE *out, unsigned max_rows)
{
    if (!m || !out)
        return;
    if (max_rows == 0)
        max_rows = TEXT_ROWS_DEFAULT;
    if (max_rows > GRID_ROWS_MAX)
        max_rows = GRID_ROWS_MAX;
    gomap__grid g;
    gomap__grid_build(m, max_rows, &g);
    text_render(&g, out);
}


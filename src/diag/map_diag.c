/*
 * map_diag.c — gomap_dump and gomap_heatmap: a map's buckets, for a person.
 *
 * The dump walks every chain of the current array and, while growing, of
 * the old one. It reads a slot's key and value only while the slot's tophash
 * is live (>= MIN_TOPHASH): an evacuated slot's out-of-line key belongs to
 * the new slot and may already be freed, so only its marker is printed.
 *
 * The heatmap is computed once into a grid of cells (struct grid: at most
 * GRID_COLS columns, consecutive buckets folded into one cell when there are
 * more buckets than cells) and rendered either as text or as SVG. Building
 * the grid reads only the array's header, tophash bytes and overflow
 * pointers, and walks at most CHAIN_WALK_MAX buckets of a chain, because the
 * misuse report draws it for a map that another thread may be writing at
 * that very moment.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/map_internal.h"

/* Flushes what was written and reports a write error on the stream. */
static int finish(FILE *out)
{
    return (fflush(out) != 0 || ferror(out)) ? -EIO : 0;
}

/* ======================================================================== */
/* Dump                                                                      */
/* ======================================================================== */

#define DUMP_HEX_MAX 32  /* bytes of a key or value shown in hex */
#define DUMP_STR_MAX 64  /* string keys longer than this are shortened ... */
#define DUMP_STR_HEAD 48 /* ... to their first DUMP_STR_HEAD bytes */

static const char *kind_name(unsigned kind)
{
    static const char *const names[] = {"u32", "u64", "f64", "str", "bytes", "custom"};
    return kind <= GOMAP_KEY_CUSTOM ? names[kind] : "?";
}

/* Go's name of a marker tophash, or NULL for a live one. */
static const char *marker_name(uint8_t top)
{
    static const char *const names[MIN_TOPHASH] = {"emptyRest", "emptyOne", "evacX",
                                                   "evacY", "evacEmpty"};
    return top < MIN_TOPHASH ? names[top] : NULL;
}

/* n bytes in hex (memory order); past DUMP_HEX_MAX bytes, "..." and the
 * length. */
static void put_hex(FILE *out, const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t shown = n < DUMP_HEX_MAX ? n : DUMP_HEX_MAX;
    for (size_t i = 0; i < shown; i++)
        fprintf(out, "%02x", c[i]);
    if (shown < n)
        fprintf(out, "... (%zu bytes)", n);
    else if (n == 0)
        fputs("(0 bytes)", out);
}

/* A string key, double-quoted, with C escapes for quotes, backslashes and
 * every byte outside printable ASCII; a long one is cut to DUMP_STR_HEAD
 * bytes followed by "..." and its length. */
static void put_str(FILE *out, const gomap_str *s)
{
    size_t shown = s->len <= DUMP_STR_MAX ? s->len : DUMP_STR_HEAD;
    putc('"', out);
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s->ptr[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            putc(c, out);
    }
    putc('"', out);
    if (shown < s->len)
        fprintf(out, "... (%zu bytes)", s->len);
}

/* A double in the shortest %g form that reads back as the same value;
 * "-0" and "nan" spelled out (a NaN's sign and payload carry no meaning). */
static void put_f64(FILE *out, double d)
{
    if (isnan(d)) {
        fputs("nan", out);
        return;
    }
    if (d == 0) {
        fputs(signbit(d) ? "-0" : "0", out);
        return;
    }
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    fputs(buf, out);
}

/* The key of live slot i of bucket b, rendered by kind. */
static void put_key(const gomap_t *m, FILE *out, char *b, unsigned i)
{
    const void *k = key_of_slot(m, key_slot_at(m, b, i));
    switch (m->key_kind) {
    case GOMAP_KEY_U32: {
        uint32_t v;
        memcpy(&v, k, sizeof v);
        fprintf(out, "%" PRIu32, v);
        break;
    }
    case GOMAP_KEY_U64: {
        uint64_t v;
        memcpy(&v, k, sizeof v);
        fprintf(out, "%" PRIu64, v);
        break;
    }
    case GOMAP_KEY_F64: {
        double v;
        memcpy(&v, k, sizeof v);
        put_f64(out, v);
        break;
    }
    case GOMAP_KEY_STR: {
        gomap_str s;
        memcpy(&s, k, sizeof s);
        put_str(out, &s);
        break;
    }
    default:
        put_hex(out, k, m->key_size);
        break;
    }
}

/* One bucket: its eight tophash bytes (markers by name), then a line per
 * live slot. Slots with a marker are not read any further. */
static void dump_slots(const gomap_t *m, FILE *out, char *b)
{
    fputs("  tophash:", out);
    for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
        const char *name = marker_name(tophash_of(b)[i]);
        if (name)
            fprintf(out, " %s", name);
        else
            fprintf(out, " %02x", tophash_of(b)[i]);
    }
    putc('\n', out);
    for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
        if (tophash_of(b)[i] < MIN_TOPHASH)
            continue;
        fprintf(out, "  [%u] %02x key=", i, tophash_of(b)[i]);
        put_key(m, out, b, i);
        if (m->val_size) {
            fputs(" val=", out);
            put_hex(out, val_of_slot(m, val_slot_at(m, b, i)), m->val_size);
        }
        putc('\n', out);
    }
}

/* A chain: its head bucket, then each overflow bucket, numbered from 1. A
 * chain that is one bucket of emptyRest is printed as one line. */
static void dump_chain(const gomap_t *m, FILE *out, const char *what, size_t idx, char *head)
{
    static const uint8_t all_rest[BUCKET_SLOTS]; /* EMPTY_REST == 0 */
    if (!*overflow_of(m, head) && !memcmp(tophash_of(head), all_rest, BUCKET_SLOTS)) {
        fprintf(out, "%s %zu: empty\n", what, idx);
        return;
    }
    size_t n = 0;
    for (char *b = head; b; b = *overflow_of(m, b), n++) {
        if (n == 0)
            fprintf(out, "%s %zu:\n", what, idx);
        else
            fprintf(out, "%s %zu overflow %zu:\n", what, idx, n);
        dump_slots(m, out, b);
    }
}

static void dump_header(const gomap_t *m, FILE *out)
{
    fprintf(out, "gomap %p: %s keys", (const void *)m, kind_name(m->key_kind));
    if (m->key_kind == GOMAP_KEY_BYTES || m->key_kind == GOMAP_KEY_CUSTOM)
        fprintf(out, " of %zu bytes", m->key_size);
    fprintf(out, ", %zu-byte values\n", m->val_size);
    fprintf(out, "count=%zu B=%u buckets=%zu flags=0x%x%s overflow=%zu", m->count,
            (unsigned)m->B, m->buckets ? (size_t)1 << m->B : 0, (unsigned)m->flags,
            (m->flags & FLAG_SAME_SIZE_GROW) ? " (sameSizeGrow)" : "", m->noverflow);
    if (is_growing(m))
        fprintf(out, " growing=%s oldbuckets=%zu nevacuate=%zu",
                (m->flags & FLAG_SAME_SIZE_GROW) ? "same-size" : "doubling",
                old_bucket_count(m), m->nevacuate);
    else
        fputs(" growing=no", out);
    fprintf(out, " bytes_held=%zu\n", m->mem.bytes_held);
}

int gomap_dump(const gomap_t *m, FILE *out)
{
    if (!m || !out)
        return -EINVAL;
    dump_header(m, out);
    if (!m->buckets)
        fputs("no bucket array\n", out);
    if (m->buckets) {
        size_t n = (size_t)1 << m->B;
        fprintf(out, "current array: %zu bucket%s\n", n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            dump_chain(m, out, "bucket", i, bucket_at(m, m->buckets, i));
    }
    if (is_growing(m)) {
        size_t n = old_bucket_count(m);
        fprintf(out, "old array: %zu buckets, evacuated below %zu\n", n, m->nevacuate);
        for (size_t i = 0; i < n; i++)
            dump_chain(m, out, "old bucket", i, bucket_at(m, m->oldbuckets, i));
    }
    return finish(out);
}

/* ======================================================================== */
/* Heatmap: the grid                                                         */
/* ======================================================================== */

#define GRID_COLS 64          /* cells per row (text: 64 + label fits 80 columns) */
#define GRID_ROWS_MAX 32      /* rows a grid can hold (the SVG uses them all) */
#define TEXT_ROWS_DEFAULT 16  /* rows of gomap_heatmap's text form */
#define CHAIN_WALK_MAX 64     /* buckets of one chain looked at */

typedef struct {
    float mean;      /* live slots per bucket, averaged over the cell's buckets */
    float ovf_share; /* share of the cell's buckets that have overflow chains */
} cell;

typedef struct {
    size_t entries;     /* the map's count */
    size_t nbuckets;    /* buckets of the current array (0: none) */
    size_t old_buckets; /* buckets of the old array while growing, else 0 */
    bool growing;
    bool same_size;     /* the growth keeps the size */
    size_t fold;        /* consecutive buckets per cell, a power of two */
    size_t ncells;
    unsigned cols, rows;
    cell cells[GRID_COLS * GRID_ROWS_MAX];
} grid;

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
static void fill_cell(const gomap_t *m, char *arr, grid *g, size_t c)
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
static void grid_build(const gomap_t *m, unsigned max_rows, grid *g)
{
    char *arr = m->buckets;
    unsigned b = m->B, flags = m->flags;
    memset(g, 0, offsetof(grid, cells));
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
    g->cols = (unsigned)(g->ncells < GRID_COLS ? g->ncells : GRID_COLS);
    g->rows = g->cols ? (unsigned)ceil_div(g->ncells, g->cols) : 0;
    for (size_t c = 0; c < g->ncells; c++)
        fill_cell(m, arr, g, c);
}

static double grid_load(const grid *g)
{
    return g->nbuckets ? (double)g->entries / (double)g->nbuckets : 0.0;
}

static const cell *grid_cell(const grid *g, unsigned row, unsigned col)
{
    size_t c = (size_t)row * g->cols + col;
    return c < g->ncells ? &g->cells[c] : NULL;
}

static const char *growth_kind(const grid *g)
{
    return g->same_size ? "same-size" : "doubling";
}

/* ======================================================================== */
/* Heatmap: text                                                             */
/* ======================================================================== */

/* Shades for mean live slots 0, under 2, under 4, under 6, 6 or more (a
 * chain with overflow buckets holds more than 8). */
const char *const gomap__shade[5] = {"\u00b7", "\u2591", "\u2592", "\u2593", "\u2588"};

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
static char overflow_mark(const cell *x)
{
    if (!x || x->ovf_share <= 0)
        return ' ';
    if (x->ovf_share < 0.25f)
        return '.';
    return '^';
}

/* One row of cells behind its first bucket's index, and, if any cell of the
 * row has overflow chains, a line of marks under the cells. */
static void text_row(const grid *g, FILE *out, unsigned r, int label_w)
{
    fprintf(out, "%*zu \u2502", label_w, (size_t)r * g->cols * g->fold);
    unsigned marked = 0; /* cells up to the last marked one */
    for (unsigned c = 0; c < g->cols; c++) {
        const cell *x = grid_cell(g, r, c);
        fputs(x ? gomap__shade[shade_level(x->mean)] : " ", out);
        if (overflow_mark(x) != ' ')
            marked = c + 1;
    }
    fputs("\u2502\n", out);
    if (!marked)
        return;
    fprintf(out, "%*s  ", label_w, "");
    for (unsigned c = 0; c < marked; c++)
        putc(overflow_mark(grid_cell(g, r, c)), out);
    putc('\n', out);
}

static void text_render(const grid *g, FILE *out)
{
    fprintf(out, "heatmap: %zu entries, %zu buckets, %zu bucket%s/cell, load factor %.2f\n",
            g->entries, g->nbuckets, g->fold, g->fold == 1 ? "" : "s", grid_load(g));
    if (g->growing)
        fprintf(out, "growing (%s): only the new array is shown (old array: %zu buckets)\n",
                growth_kind(g), g->old_buckets);
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
    grid g;
    grid_build(m, max_rows, &g);
    text_render(&g, out);
}

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

/* Colour for mean live slots, interpolated over nine stops for 0..8
 * (ColorBrewer YlGnBu: pale yellow for empty, dark blue for full). */
void gomap__ramp_colour(double mean, char buf[8])
{
    static const unsigned char stop[9][3] = {
        {0xff, 0xff, 0xd9}, {0xed, 0xf8, 0xb1}, {0xc7, 0xe9, 0xb4},
        {0x7f, 0xcd, 0xbb}, {0x41, 0xb6, 0xc4}, {0x1d, 0x91, 0xc0},
        {0x22, 0x5e, 0xa8}, {0x25, 0x34, 0x94}, {0x08, 0x1d, 0x58}};
    mean = mean < 0 ? 0 : mean > 8 ? 8 : mean;
    unsigned i = mean >= 8 ? 7 : (unsigned)mean;
    double f = mean - i;
    unsigned rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (unsigned)(stop[i][k] + f * (stop[i + 1][k] - stop[i][k]) + 0.5);
    snprintf(buf, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

typedef struct {
    unsigned cs;         /* cell size in px */
    unsigned x0, y0;     /* top-left of the grid */
    unsigned w, h;       /* picture size */
} svg_layout;

static svg_layout svg_layout_of(const grid *g)
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

static void svg_head(const grid *g, const svg_layout *l, FILE *out)
{
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\" "
                 "viewBox=\"0 0 %u %u\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n",
            l->w, l->h, l->w, l->h);
    fprintf(out, "<title>gomap heatmap: %zu entries, %zu buckets, %zu per cell</title>\n",
            g->entries, g->nbuckets, g->fold);
    fprintf(out, "<rect width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n", l->w, l->h);
    fprintf(out, "<text x=\"%d\" y=\"26\" font-size=\"16\" font-weight=\"bold\">"
                 "gomap bucket occupancy: %zu entries, %zu buckets, load factor %.2f</text>\n",
            SVG_MARGIN, g->entries, g->nbuckets, grid_load(g));
    fprintf(out, "<text x=\"%d\" y=\"46\" font-size=\"12\">each cell: %zu %s (%u \u00d7 %u "
                 "cells); colour = mean live slots per bucket</text>\n",
            SVG_MARGIN, g->fold, g->fold == 1 ? "bucket" : "consecutive buckets", g->cols, g->rows);
    if (g->growing)
        fprintf(out, "<text x=\"%d\" y=\"64\" font-size=\"12\" fill=\"#b2182b\">growing (%s): "
                     "new array shown; old array of %zu buckets not shown</text>\n",
                SVG_MARGIN, growth_kind(g), g->old_buckets);
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

static void svg_cells(const grid *g, const svg_layout *l, FILE *out)
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
            const cell *x = grid_cell(g, r, c);
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

static void svg_legend(const grid *g, const svg_layout *l, FILE *out)
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

static void svg_render(const grid *g, FILE *out)
{
    svg_layout l = svg_layout_of(g);
    svg_head(g, &l, out);
    svg_cells(g, &l, out);
    svg_legend(g, &l, out);
    fputs("</svg>\n", out);
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
        grid g;
        grid_build(m, GRID_ROWS_MAX, &g);
        svg_render(&g, out);
    }
    return finish(out);
}

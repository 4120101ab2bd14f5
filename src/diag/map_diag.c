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

#include "base/render.h"
#include "core/map_heatmap.h"
#include "core/map_internal.h"


/* ======================================================================== */
/* Dump                                                                      */
/* ======================================================================== */

#define DUMP_HEX_MAX 32  /* bytes of a key or value shown in hex */
#define DUMP_STR_MAX 64  /* string keys longer than this are shortened ... */
#define DUMP_STR_HEAD 48 /* ... to their first DUMP_STR_HEAD bytes */

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
    fprintf(out, "gomap %p: %s keys", (const void *)m, gomap__key_kind_name(m->key_kind));
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
    return gomap__out_finish(out);
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

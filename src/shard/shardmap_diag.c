/*
 * shardmap_diag.c — the sharded map's stats, shard-load heatmap and
 * validator. None of this is on a hot path: each reads one shard at a time
 * under its lock (shared), so the figures of different shards may be from
 * slightly different instants while the map is busy.
 */
#include <errno.h>
#include <string.h>

#include "base/render.h"
#include "shard/shardmap_internal.h"
#include "diag/validate.h"

/* ---- counters ------------------------------------------------------------------------ */

static void read_counters(gomap_shard_t *m, struct shard *s, gomap_shard_counters *c)
{
    shard_take(m, s, true);
    c->entries = layer_len(s->map);
    shard_release(m, s);
    size_t i = (size_t)(s - m->shards);
    c->hits = c->misses = 0;
    for (unsigned lane = 0; lane < m->nlanes; lane++) {
        const struct shard_tally *t = &m->tallies[(size_t)lane * m->lane_stride + i];
        c->hits += load_relaxed(&t->hits);
        c->misses += load_relaxed(&t->misses);
    }
    c->ops = c->hits + c->misses;
    c->waits = load_relaxed(&s->waits.count);
    c->wait_ns = load_relaxed(&s->waits.ns);
}

static void add_counters(gomap_shard_counters *sum, const gomap_shard_counters *c)
{
    sum->entries += c->entries;
    sum->ops += c->ops;
    sum->hits += c->hits;
    sum->misses += c->misses;
    sum->waits += c->waits;
    sum->wait_ns += c->wait_ns;
}

int gomap_shard_stats(gomap_shard_t *m, gomap_shard_stats_t *out,
                      gomap_shard_counters *per_shard, size_t n)
{
    if (!m || !out)
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    memset(out, 0, sizeof *out);
    out->shards = m->nshards;
    for (unsigned i = 0; i < m->nshards; i++) {
        gomap_shard_counters c;
        read_counters(m, &m->shards[i], &c);
        add_counters(&out->total, &c);
        if (c.entries > out->max_entries)
            out->max_entries = c.entries;
        if (c.ops > out->max_ops)
            out->max_ops = c.ops;
        if (per_shard && i < n)
            per_shard[i] = c;
    }
    if (per_shard && n > m->nshards)
        memset(per_shard + m->nshards, 0, (n - m->nshards) * sizeof *per_shard);
    if (out->total.ops)
        out->imbalance = (double)out->max_ops * m->nshards / (double)out->total.ops;
    return 0;
}

/* ---- heatmap ------------------------------------------------------------------------ */

/* A shard's load relative to the mean over shards, on the colour ramp's
 * 0..8 scale: the mean is 4, twice the mean or more is 8. */
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

enum { COLS = 64, HOTTEST = 5 };

typedef struct {
    const gomap_shard_counters *c;
    unsigned n;
    gomap_shard_stats_t st;
    unsigned hot[HOTTEST]; /* busiest shards by ops, busiest first */
    unsigned nhot;
} load_view;

static double ops_of(const gomap_shard_counters *c) { return (double)c->ops; }
static double entries_of(const gomap_shard_counters *c) { return (double)c->entries; }

static void find_hottest(load_view *v)
{
    v->nhot = 0;
    for (unsigned i = 0; i < v->n; i++) {
        uint64_t ops = v->c[i].ops;
        unsigned at = v->nhot;
        while (at > 0 && v->c[v->hot[at - 1]].ops < ops)
            at--;
        if (!ops || at >= HOTTEST)
            continue;
        unsigned end = v->nhot < HOTTEST ? v->nhot++ : HOTTEST - 1;
        memmove(&v->hot[at + 1], &v->hot[at], (end - at) * sizeof v->hot[0]);
        v->hot[at] = i;
    }
}

static void text_grid(const load_view *v, FILE *out, const char *what,
                      double (*metric)(const gomap_shard_counters *), double total)
{
    double mean = total / v->n;
    for (unsigned r = 0; r * COLS < v->n; r++) {
        fprintf(out, "%-7s %5u \u2502", r ? "" : what, r * COLS);
        for (unsigned c = 0; c < COLS && r * COLS + c < v->n; c++)
            fputs(gomap__shade[load_shade(metric(&v->c[r * COLS + c]), mean)], out);
        fputs("\u2502\n", out);
    }
}

static void hot_line(const load_view *v, unsigned k, char *buf, size_t len)
{
    const gomap_shard_counters *c = &v->c[v->hot[k]];
    double mean_ops = (double)v->st.total.ops / v->n;
    snprintf(buf, len, "shard %u: %.2fx mean ops, %zu entries, %.0f%% hits, %llu waits (%.3f ms)",
             v->hot[k], mean_ops > 0 ? (double)c->ops / mean_ops : 0.0, c->entries,
             c->ops ? 100.0 * (double)c->hits / (double)c->ops : 0.0,
             (unsigned long long)c->waits, (double)c->wait_ns / 1e6);
}

static void text_render(const load_view *v, FILE *out)
{
    fprintf(out, "shard heatmap: %u shards, %zu entries, %llu ops, imbalance %.2f "
                 "(busiest shard's ops / mean)\n",
            v->n, v->st.total.entries, (unsigned long long)v->st.total.ops, v->st.imbalance);
    text_grid(v, out, "ops", ops_of, (double)v->st.total.ops);
    text_grid(v, out, "entries", entries_of, (double)v->st.total.entries);
    fprintf(out, "%s 0  %s <0.5x  %s <1x  %s <2x  %s 2x+  of the mean over shards\n",
            gomap__shade[0], gomap__shade[1], gomap__shade[2], gomap__shade[3], gomap__shade[4]);
    for (unsigned k = 0; k < v->nhot; k++) {
        char line[160];
        hot_line(v, k, line, sizeof line);
        fprintf(out, "%s%s\n", k ? "         " : "hottest: ", line);
    }
}

enum { SVG_M = 16, SVG_CELL = 12, SVG_LABEL = 64, SVG_TOP = 56 };

static unsigned svg_grid(const load_view *v, FILE *out, unsigned y, const char *what,
                         double (*metric)(const gomap_shard_counters *), double total)
{
    double mean = total / v->n;
    fprintf(out, "<text x=\"%d\" y=\"%u\" font-size=\"12\">%s</text>\n", SVG_M, y + 10, what);
    for (unsigned i = 0; i < v->n; i++) {
        char colour[8];
        double m = metric(&v->c[i]);
        gomap__ramp_colour(load_level(m, mean), colour);
        fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"%d\" height=\"%d\" fill=\"%s\">"
                     "<title>shard %u: %.0f</title></rect>\n",
                SVG_M + SVG_LABEL + (i % COLS) * SVG_CELL, y + (i / COLS) * SVG_CELL,
                SVG_CELL - 1, SVG_CELL - 1, colour, i, m);
    }
    return y + ((v->n + COLS - 1) / COLS) * SVG_CELL + 16;
}

static void svg_render(const load_view *v, FILE *out)
{
    unsigned cols = v->n < COLS ? v->n : COLS;
    unsigned grid_h = ((v->n + COLS - 1) / COLS) * SVG_CELL + 16;
    unsigned w = SVG_M * 2 + SVG_LABEL + COLS * SVG_CELL + 80;
    unsigned h = SVG_TOP + 2 * grid_h + 40 + 16 * (v->nhot + 1) + SVG_M;
    gomap__svg_begin(out, w, h, "gomap shard heatmap");
    fprintf(out, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">gomap shard "
                 "load: %u shards, %zu entries, %llu ops</text>\n"
                 "<text x=\"%d\" y=\"42\" font-size=\"12\">one cell per shard (%u per row); "
                 "colour = load relative to the mean; imbalance %.2f</text>\n",
            SVG_M, v->n, v->st.total.entries, (unsigned long long)v->st.total.ops, SVG_M, cols,
            v->st.imbalance);
    unsigned y = svg_grid(v, out, SVG_TOP, "ops", ops_of, (double)v->st.total.ops);
    y = svg_grid(v, out, y, "entries", entries_of, (double)v->st.total.entries);
    static const char *const legend[] = {"0", "0.5x", "1x", "1.5x", "2x+"};
    for (unsigned i = 0; i < 5; i++) {
        char colour[8];
        gomap__ramp_colour(2.0 * i, colour);
        fprintf(out, "<rect x=\"%u\" y=\"%u\" width=\"28\" height=\"12\" fill=\"%s\" "
                     "stroke=\"#999999\" stroke-width=\"0.5\"/><text x=\"%u\" y=\"%u\" "
                     "font-size=\"10\">%s</text>\n",
                SVG_M + SVG_LABEL + i * 64, y, colour, SVG_M + SVG_LABEL + i * 64 + 32, y + 10,
                legend[i]);
    }
    y += 36;
    for (unsigned k = 0; k < v->nhot; k++, y += 16) {
        char line[160];
        hot_line(v, k, line, sizeof line);
        fprintf(out, "<text x=\"%d\" y=\"%u\" font-size=\"11\">%s%s</text>\n", SVG_M, y,
                k ? "" : "hottest: ", line);
    }
    gomap__svg_end(out);
}

int gomap_shard_heatmap(gomap_shard_t *m, FILE *out, int format)
{
    if (!m || !out || (format != GOMAP_HEATMAP_TEXT && format != GOMAP_HEATMAP_SVG))
        return -EINVAL;
    size_t bytes = (size_t)m->nshards * sizeof(gomap_shard_counters);
    gomap_shard_counters *c = gomap__alloc(m->opt.alloc, bytes);
    if (!c)
        return -ENOMEM;
    load_view v = {.c = c, .n = m->nshards};
    gomap_shard_stats(m, &v.st, c, m->nshards);
    find_hottest(&v);
    if (format == GOMAP_HEATMAP_TEXT)
        text_render(&v, out);
    else
        svg_render(&v, out);
    gomap__free(m->opt.alloc, c, bytes);
    return gomap__out_finish(out);
}

/* ---- validate ------------------------------------------------------------------------ */

typedef struct {
    const gomap_shard_t *m;
    unsigned shard;
    size_t misplaced;
} placement_check;

static int check_placement(const void *key, void *val, void *arg)
{
    (void)val;
    placement_check *p = arg;
    const gomap_t *map = p->m->shards[p->shard].map;
    /* A NaN key's hash is random each time: it can live in any shard. */
    if (gomap__key_is_reflexive(map, key) &&
        shard_for(p->m, gomap__hash_key(map, key)) != &p->m->shards[p->shard])
        p->misplaced++;
    return 0;
}

static int validate_shard(gomap_shard_t *m, unsigned i, struct gomap__why w)
{
    const gomap_t *map = m->shards[i].map;
    char inner[200];
    if (gomap_validate(map, inner, sizeof inner) != 0)
        return gomap__why_fail(w, "shard %u: %s", i, inner);
    if (!layer_seeded_with(map, m->seed))
        return gomap__why_fail(w, "shard %u: hash seed differs from the map's", i);
    placement_check p = {m, i, 0};
    gomap__for_each_entry(map, check_placement, &p);
    if (p.misplaced)
        return gomap__why_fail(w, "shard %u: %zu key%s belonging to another shard", i,
                               p.misplaced, p.misplaced == 1 ? "" : "s");
    return 0;
}

int gomap_shard_validate(gomap_shard_t *m, char *why, size_t why_len)
{
    struct gomap__why w = gomap__why_start(why, why_len);
    if (!m)
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    if (!m->nshards || (m->nshards & (m->nshards - 1)) || m->mask != m->nshards - 1)
        return gomap__why_fail(w, "shard count %u and mask %#x disagree (the count must be a "
                               "power of two and the mask one less)", m->nshards, m->mask);
    for (unsigned i = 0; i < m->nshards; i++) {
        struct shard *s = &m->shards[i];
        if ((uintptr_t)s % SHARD_ALIGN)
            return gomap__why_fail(w, "shard %u not aligned to %d bytes", i, SHARD_ALIGN);
        shard_take(m, s, true);
        int rc = validate_shard(m, i, w);
        shard_release(m, s);
        if (rc)
            return rc;
    }
    return 0;
}

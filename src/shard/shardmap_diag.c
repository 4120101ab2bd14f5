/*
 * shardmap_diag.c — the sharded map's stats, shard-load heatmap and
 * validator. None of this is on a hot path. Stats and the heatmap take no
 * lock: they read the counters and what each shard published at its last
 * release (shard_publish) with relaxed loads, so a scrape never waits for a
 * shard and never makes an operation wait. Validate reads one shard at a
 * time under its lock (shared). The figures of different shards may be
 * from slightly different instants while the map is busy.
 */
#include <errno.h>
#include <string.h>

#include "base/render.h"
#include "diag/shard_grid.h"
#include "shard/shardmap_internal.h"
#include "diag/validate.h"

/* ---- counters ------------------------------------------------------------------------ */

static void read_counters(const gomap_shard_t *m, const struct shard *s, gomap_shard_counters *c)
{
    c->entries = load_relaxed(&s->entries);
    c->bytes_held = load_relaxed(&s->bytes_held);
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
    sum->bytes_held += c->bytes_held;
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

enum { HOTTEST = 5 };

typedef struct {
    const gomap_shard_counters *c;
    unsigned n;
    gomap_shard_stats_t st;
    unsigned hot[HOTTEST]; /* busiest shards by ops, busiest first */
    unsigned nhot;
    double *col; /* n values: the grid being drawn */
} load_view;

/* One value per shard: its ops, or its entries. */
static void column(const load_view *v, double *out, bool entries)
{
    for (unsigned i = 0; i < v->n; i++)
        out[i] = entries ? (double)v->c[i].entries : (double)v->c[i].ops;
}

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
    column(v, v->col, false);
    gomap__grid_text(out, "ops", v->col, v->n);
    column(v, v->col, true);
    gomap__grid_text(out, "entries", v->col, v->n);
    gomap__grid_text_legend(out);
    for (unsigned k = 0; k < v->nhot; k++) {
        char line[160];
        hot_line(v, k, line, sizeof line);
        fprintf(out, "%s%s\n", k ? "         " : "hottest: ", line);
    }
}

enum { SVG_M = GRID_SVG_MARGIN, SVG_TOP = 56 };

static void svg_render(const load_view *v, FILE *out)
{
    unsigned cols = v->n < GRID_COLS ? v->n : GRID_COLS;
    unsigned grid_h = gomap__grid_svg_height(v->n);
    unsigned w = SVG_M * 2 + GRID_SVG_LABEL + GRID_COLS * GRID_SVG_CELL + 80;
    unsigned h = SVG_TOP + 2 * grid_h + 40 + 16 * (v->nhot + 1) + SVG_M;
    gomap__svg_begin(out, w, h, "gomap shard heatmap");
    fprintf(out, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">gomap shard "
                 "load: %u shards, %zu entries, %llu ops</text>\n"
                 "<text x=\"%d\" y=\"42\" font-size=\"12\">one cell per shard (%u per row); "
                 "colour = load relative to the mean; imbalance %.2f</text>\n",
            SVG_M, v->n, v->st.total.entries, (unsigned long long)v->st.total.ops, SVG_M, cols,
            v->st.imbalance);
    column(v, v->col, false);
    unsigned y = gomap__grid_svg(out, SVG_TOP, "ops", v->col, v->n);
    column(v, v->col, true);
    y = gomap__grid_svg(out, y, "entries", v->col, v->n);
    y = gomap__grid_svg_legend(out, y);
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
    size_t bytes = (size_t)m->nshards * (sizeof(gomap_shard_counters) + sizeof(double));
    gomap_shard_counters *c = gomap__alloc(m->opt.alloc, bytes);
    if (!c)
        return -ENOMEM;
    load_view v = {.c = c, .n = m->nshards, .col = (double *)(c + m->nshards)};
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

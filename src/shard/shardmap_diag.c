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

#include "base/rcu.h"
#include "base/render.h"
#include "diag/shard_grid.h"
#include "shard/shardmap_internal.h"
#include "diag/validate.h"

/* ---- counters ------------------------------------------------------------------------ */

static void read_counters(const struct shard *s, gomap_shard_counters *c)
{
    const struct shard_table *t = s->table;
    c->entries = load_relaxed(&s->entries);
    c->bytes_held = load_relaxed(&s->bytes_held);
    c->hits = c->misses = 0;
    tally_sum(t, s->index, &c->hits, &c->misses);
    c->ops = c->hits + c->misses;
    c->waits = load_relaxed(&s->waits.count);
    c->wait_ns = load_relaxed(&s->waits.ns);
    c->lock_acquisitions = load_relaxed(&s->acquisitions);
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
    sum->lock_acquisitions += c->lock_acquisitions;
}

/* The stats of head table t (alive: the caller is in a read-side section
 * or pinned it), its move's target's counts in the totals, and the counts
 * of the tables it replaced. */
static void stats_of(const gomap_shard_t *m, const struct shard_table *t, gomap_shard_stats_t *out,
                     gomap_shard_counters *per_shard, size_t n)
{
    memset(out, 0, sizeof *out);
    out->shards = t->nshards;
    out->resizes = load_relaxed(&m->resizes);
    uint64_t head_ops = 0;
    for (unsigned i = 0; i < t->nshards; i++) {
        gomap_shard_counters c;
        read_counters(&t->shards[i], &c);
        add_counters(&out->total, &c);
        head_ops += c.ops;
        if (c.entries > out->max_entries)
            out->max_entries = c.entries;
        if (c.ops > out->max_ops)
            out->max_ops = c.ops;
        if (per_shard && i < n)
            per_shard[i] = c;
    }
    /* Acquire: the target's fields as the mover made them. */
    const struct shard_table *next = load_acquire(&t->next);
    if (next) {
        out->resize_target = next->nshards;
        for (unsigned j = 0; j < next->nshards; j++) {
            gomap_shard_counters c;
            read_counters(&next->shards[j], &c);
            add_counters(&out->total, &c);
        }
    }
    const struct shard_carried *k = &t->carried;
    out->total.hits += k->hits;
    out->total.misses += k->misses;
    out->total.ops += k->hits + k->misses;
    out->total.waits += k->waits;
    out->total.wait_ns += k->wait_ns;
    out->total.lock_acquisitions += k->acquisitions;
    if (per_shard && n > t->nshards)
        memset(per_shard + t->nshards, 0, (n - t->nshards) * sizeof *per_shard);
    if (head_ops)
        out->imbalance = (double)out->max_ops * t->nshards / (double)head_ops;
    out->optimistic_retries = load_relaxed(&m->opt_retries);
    out->optimistic_fallbacks = load_relaxed(&m->opt_fallbacks);
    gomap__lat_read(&m->lat_get, &out->get_latency);
    gomap__lat_read(&m->lat_write, &out->write_latency);
}

int gomap_shard_stats(gomap_shard_t *m, gomap_shard_stats_t *out,
                      gomap_shard_counters *per_shard, size_t n)
{
    if (!m || !out)
        return -EINVAL;
    /* The head may be replaced and freed: read it inside a read-side
     * section (acquire: its fields as the move that installed it wrote). */
    gomap__rcu_read_lock();
    stats_of(m, load_acquire(&m->table), out, per_shard, n);
    gomap__rcu_read_unlock();
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
    /* Pinned, so that its count stays the count of the table we read. */
    gomap__rcu_read_lock();
    struct shard_table *t = load_acquire(&m->table); /* as in gomap_shard_stats */
    table_pin(t);
    gomap__rcu_read_unlock();
    size_t bytes = (size_t)t->nshards * (sizeof(gomap_shard_counters) + sizeof(double));
    gomap_shard_counters *c = gomap__alloc(m->opt.alloc, bytes);
    if (!c) {
        table_unpin(t);
        return -ENOMEM;
    }
    load_view v = {.c = c, .n = t->nshards, .col = (double *)(c + t->nshards)};
    stats_of(m, t, &v.st, c, t->nshards);
    table_unpin(t);
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
    const struct shard *s;
    size_t misplaced;
} placement_check;

static int check_placement(const void *key, void *val, void *arg)
{
    (void)val;
    placement_check *p = arg;
    const gomap_t *map = p->s->map;
    /* A NaN key's hash is random each time: it can live in any shard. */
    if (gomap__key_is_reflexive(map, key) &&
        table_shard(p->s->table, gomap__hash_key(map, key)) != p->s)
        p->misplaced++;
    return 0;
}

static int validate_shard(gomap_shard_t *m, const struct shard *s, const char *which,
                          struct gomap__why w)
{
    const gomap_t *map = s->map;
    unsigned i = s->index;
    char inner[200];
    if (gomap_validate(map, inner, sizeof inner) != 0)
        return gomap__why_fail(w, "%sshard %u: %s", which, i, inner);
    if (!layer_seeded_with(map, m->seed))
        return gomap__why_fail(w, "%sshard %u: hash seed differs from the map's", which, i);
    placement_check p = {s, 0};
    gomap__for_each_entry(map, check_placement, &p);
    if (p.misplaced)
        return gomap__why_fail(w, "%sshard %u: %zu key%s belonging to another shard", which, i,
                               p.misplaced, p.misplaced == 1 ? "" : "s");
    return 0;
}

static int validate_shape(const struct shard_table *t, const char *which, struct gomap__why w)
{
    if (!t->nshards || (t->nshards & (t->nshards - 1)) || t->mask != t->nshards - 1)
        return gomap__why_fail(w, "%sshard count %u and mask %#x disagree (the count must be a "
                               "power of two and the mask one less)", which, t->nshards, t->mask);
    for (unsigned i = 0; i < t->nshards; i++)
        if ((uintptr_t)&t->shards[i] % SHARD_ALIGN)
            return gomap__why_fail(w, "%sshard %u not aligned to %d bytes", which, i,
                                   SHARD_ALIGN);
    return 0;
}

/* Checks the shards of t that hold entries, one at a time under its lock:
 * the head's shards that are not moved (head), or the target's that a
 * move filled. */
static int validate_table(gomap_shard_t *m, struct shard_table *t, bool head,
                          struct gomap__why w)
{
    const char *which = head ? "" : "resize target's ";
    int rc = validate_shape(t, which, w);
    for (unsigned i = 0; i < t->nshards && rc == 0; i++) {
        struct shard *s = &t->shards[i];
        if (!head && !s->map)
            continue;
        shard_take(m, s, true);
        if (!load_relaxed(&s->moved)) /* under its lock */
            rc = validate_shard(m, s, which, w);
        shard_unlock(m, s);
    }
    return rc;
}

int gomap_shard_validate(gomap_shard_t *m, char *why, size_t why_len)
{
    struct gomap__why w = gomap__why_start(why, why_len);
    if (!m)
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    gomap__rcu_read_lock();
    struct shard_table *t = load_acquire(&m->table); /* as in gomap_shard_stats */
    table_pin(t);
    gomap__rcu_read_unlock();
    int rc = validate_table(m, t, true, w);
    /* Alive while t is pinned: t's move cannot finish, and so the target's
     * own move cannot start (acquire: the target as made). */
    struct shard_table *next = load_acquire(&t->next);
    if (rc == 0 && next)
        rc = validate_table(m, next, false, w);
    table_unpin(t);
    return rc;
}

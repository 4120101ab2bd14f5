/*
 * cache_diag.c — the cache's stats, validator, dump and heatmap. None of it
 * is on a hot path: each reads one shard at a time under its mutex, so the
 * figures of different shards may be from slightly different instants
 * while the cache is busy.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/render.h"
#include "cache/cache_internal.h"
#include "diag/shard_grid.h"
#include "diag/validate.h"

/* ---- stats --------------------------------------------------------------------------- */

static size_t shard_bytes(const struct cache_shard *s)
{
    size_t b = s->bytes + layer_bytes_held(s->map) + (s->loads ? layer_bytes_held(s->loads) : 0);
    if (s->pol.sketch.words)
        b += gomap__sketch_bytes(&s->pol.sketch);
    if (s->pol.tuner)
        b += gomap__tuner_bytes(s->pol.tuner);
    return b;
}

static void add_shard(gomap_cache_stats_t *o, const struct cache_shard *s)
{
    const struct cache_counters *n = &s->n;
    o->hits += load_relaxed(&n->hits);
    o->misses += load_relaxed(&n->misses);
    o->loads += load_relaxed(&n->loads);
    o->load_failures += load_relaxed(&n->load_failures);
    o->load_ns += load_relaxed(&n->load_ns);
    o->load_waits += load_relaxed(&n->load_waits);
    o->sets += load_relaxed(&n->sets);
    o->rejected += load_relaxed(&n->rejected);
    for (unsigned k = 0; k < 5; k++)
        o->removed[k] += load_relaxed(&n->removed[k]);
    o->entries += (size_t)load_relaxed(&s->pub.entries);
    o->cost += load_relaxed(&s->pub.cost);
    uint64_t drift_max = load_relaxed(&n->drift_max);
    if (drift_max > o->wheel_drift_max_ns)
        o->wheel_drift_max_ns = drift_max;
    o->wheel_drift_sum_ns += load_relaxed(&n->drift_sum);
    o->wheel_cascades += load_relaxed(&n->cascades);
    o->maintenance_runs += load_relaxed(&n->maint_runs);
    o->maintenance_ns += load_relaxed(&n->maint_ns);
    for (unsigned k = 0; k < GOMAP_CACHE_BATCH_BUCKETS; k++)
        o->evict_batches[k] += load_relaxed(&n->evict_batches[k]);
    o->lock_waits += load_relaxed(&n->lock_waits);
    o->lock_wait_ns += load_relaxed(&n->lock_wait_ns);
    o->write_budget_raises += load_relaxed(&n->budget_raises);
    o->write_budget_cuts += load_relaxed(&n->budget_cuts);
    uint64_t lag = load_relaxed(&n->lag_max), budget = load_relaxed(&s->pub.budget);
    if (lag > o->wheel_lag_max_ns)
        o->wheel_lag_max_ns = lag;
    if (budget > o->write_budget_max)
        o->write_budget_max = (unsigned)budget;
    o->bytes_held += (size_t)load_relaxed(&s->pub.bytes);
}

/* Stores v unless the gauge holds it already: an overwrite in place
 * changes none of them, and then dirties no cache line. */
static void gauge_set(_Atomic uint64_t *g, uint64_t v)
{
    if (load_relaxed(g) != v)
        store_relaxed(g, v);
}

void gomap__cache_publish(struct cache_shard *s)
{
    gauge_set(&s->pub.entries, (uint64_t)layer_len(s->map));
    gauge_set(&s->pub.cost, s->cost);
    gauge_set(&s->pub.bytes, (uint64_t)shard_bytes(s));
    gauge_set(&s->pub.budget, s->wheel.budget);
}

int gomap_cache_stats(gomap_cache_t *c, gomap_cache_stats_t *out)
{
    if (!c || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    for (unsigned k = 0; k < c->nshards; k++)
        add_shard(out, &c->shards[k]);
    out->rejected += load_relaxed(&c->invalid);
    out->max_cost = c->max_cost;
    out->shards = c->nshards;
    out->window_share = c->max_cost ? (double)load_relaxed(&c->window_permille) / 1000.0 : 0;
    out->bytes_held += sizeof *c + 64 + c->nshards * sizeof(struct cache_shard);
    gomap__lat_read(&c->lat_get, &out->get_latency);
    gomap__lat_read(&c->lat_write, &out->write_latency);
    return 0;
}

int gomap_cache_shard_stats(gomap_cache_t *c, gomap_cache_shard_counters *out, size_t n)
{
    if (!c || (!out && n))
        return -EINVAL;
    for (size_t k = 0; k < n; k++) {
        gomap_cache_shard_counters *o = &out[k];
        memset(o, 0, sizeof *o);
        if (k >= c->nshards)
            continue;
        const struct cache_shard *s = &c->shards[k];
        o->hits = load_relaxed(&s->n.hits);
        o->misses = load_relaxed(&s->n.misses);
        o->sets = load_relaxed(&s->n.sets);
        o->evictions = load_relaxed(&s->n.removed[GOMAP_CACHE_EVICTED]);
        o->expirations = load_relaxed(&s->n.removed[GOMAP_CACHE_EXPIRED]);
        o->entries = (size_t)load_relaxed(&s->pub.entries);
        o->cost = load_relaxed(&s->pub.cost);
        o->lock_waits = load_relaxed(&s->n.lock_waits);
        o->lock_wait_ns = load_relaxed(&s->n.lock_wait_ns);
    }
    return 0;
}

/* ---- validate ------------------------------------------------------------------------ */

/* What a walk over a shard's entry table counts. */
struct tally {
    size_t live, free_, detached, per_queue[3];
    uint64_t cost, queue_cost[3], timed;
};

static int check_entries(gomap_cache_t *c, struct cache_shard *s, unsigned k, struct tally *t,
                         struct gomap__why w)
{
    memset(t, 0, sizeof *t);
    for (uint32_t i = 0; i < s->ents.used; i++) {
        struct cache_entry *e = entry_at(c, s, i);
        if (e->queue == Q_FREE) {
            t->free_++;
            continue;
        }
        if (e->queue == Q_DETACHED) {
            t->detached++;
            continue;
        }
        if (e->queue > Q_PROTECTED)
            return gomap__why_fail(w, "shard %u: entry %u has state %u", k, i, e->queue);
        t->live++;
        t->cost += e->cost;
        t->per_queue[e->queue]++;
        t->queue_cost[e->queue] += e->cost;
        const void *key = entry_key(c, e);
        if (gomap__cache_find(c, s, key, cache_hash(c, key)) != i)
            return gomap__why_fail(w, "shard %u: entry %u's key does not lead to it", k, i);
        if (cache_shard_for(c, cache_hash(c, key)) != s)
            return gomap__why_fail(w, "shard %u: entry %u belongs to another shard", k, i);
        if (e->cost == 0)
            return gomap__why_fail(w, "shard %u: entry %u costs 0", k, i);
        bool timed = e->deadline != CACHE_NEVER;
        if (timed != (e->wbucket != WHEEL_NO_BUCKET))
            return gomap__why_fail(w, "shard %u: entry %u is %s the wheel with deadline %" PRIu64,
                                   k, i, timed ? "not on" : "on", e->deadline);
        t->timed += timed;
    }
    return 0;
}

/* Walks a list (policy or wheel bucket): every member must be `expect`
 * (a queue, or a bucket), linked both ways. */
static int check_list(gomap_cache_t *c, struct cache_shard *s, const cache_list *l,
                      enum cache_links which, unsigned expect, size_t *count, uint64_t *cost,
                      size_t limit)
{
    uint32_t prev = CACHE_NONE;
    for (uint32_t i = l->newest; i != CACHE_NONE;) {
        if (i >= s->ents.used || ++*count > limit)
            return -1;
        struct cache_entry *e = entry_at(c, s, i);
        const cache_link *x = which == LINKS_POLICY ? &e->plink : &e->wlink;
        unsigned at = which == LINKS_POLICY ? e->queue : e->wbucket;
        if (at != expect || x->newer != prev)
            return -1;
        *cost += e->cost;
        prev = i;
        i = x->older;
    }
    return prev == l->oldest ? 0 : -1;
}

static int check_shard(gomap_cache_t *c, struct cache_shard *s, unsigned k, struct gomap__why w)
{
    char inner[200];
    if (gomap_validate(s->map, inner, sizeof inner) != 0)
        return gomap__why_fail(w, "shard %u: %s", k, inner);
    struct tally t;
    int rc = check_entries(c, s, k, &t, w);
    if (rc)
        return rc;
    if (t.live != layer_len(s->map))
        return gomap__why_fail(w, "shard %u: %zu entries in the table, %zu in the map", k, t.live,
                               layer_len(s->map));
    if (t.cost != s->cost)
        return gomap__why_fail(w, "shard %u: entries cost %" PRIu64 ", the shard counts %" PRIu64,
                               k, t.cost, s->cost);
    if (s->max_cost && s->cost > s->max_cost)
        return gomap__why_fail(w, "shard %u: cost %" PRIu64 " over its bound %" PRIu64, k,
                               s->cost, s->max_cost);
    if (t.timed != s->wheel.scheduled)
        return gomap__why_fail(w, "shard %u: %" PRIu64 " timed entries, %" PRIu64 " on the wheel",
                               k, t.timed, s->wheel.scheduled);
    size_t on_wheel = 0;
    for (unsigned b = 0; b < WHEEL_LEVELS * WHEEL_SLOTS; b++) {
        uint64_t ignored = 0;
        if (check_list(c, s, &s->wheel.bucket[b], LINKS_WHEEL, b, &on_wheel, &ignored,
                       s->ents.used))
            return gomap__why_fail(w, "shard %u: wheel bucket %u is broken", k, b);
    }
    if (on_wheel != t.timed)
        return gomap__why_fail(w, "shard %u: %zu entries in wheel buckets, %" PRIu64 " timed", k,
                               on_wheel, t.timed);
    if (!s->pol.max_cost)
        return 0;
    for (unsigned q = 0; q < 3; q++) {
        size_t n = 0;
        uint64_t cost = 0;
        if (check_list(c, s, &s->pol.q[q], LINKS_POLICY, q, &n, &cost, s->ents.used) ||
            n != t.per_queue[q] || cost != s->pol.qcost[q] || cost != t.queue_cost[q])
            return gomap__why_fail(w, "shard %u: policy list %u is broken", k, q);
    }
    return 0;
}

int gomap_cache_validate(gomap_cache_t *c, char *why, size_t why_len)
{
    struct gomap__why w = gomap__why_start(why, why_len);
    if (!c)
        return -EINVAL;
    if (!c->nshards || (c->nshards & (c->nshards - 1)) || c->mask != c->nshards - 1)
        return gomap__why_fail(w, "shard count %u and mask %#x disagree", c->nshards, c->mask);
    uint64_t bound = 0;
    for (unsigned k = 0; k < c->nshards; k++) {
        struct cache_shard *s = &c->shards[k];
        bound += s->max_cost;
        cache_lock(s);
        int rc = check_shard(c, s, k, w);
        cache_unlock(s);
        if (rc)
            return rc;
    }
    if (bound != c->max_cost)
        return gomap__why_fail(w, "the shards' bounds add up to %" PRIu64 ", not %" PRIu64, bound,
                               c->max_cost);
    return 0;
}

/* ---- dump ----------------------------------------------------------------------------- */

/* Entries per wheel level of a shard. */
static void wheel_levels(gomap_cache_t *c, struct cache_shard *s, size_t per_level[WHEEL_LEVELS])
{
    for (unsigned l = 0; l < WHEEL_LEVELS; l++) {
        per_level[l] = 0;
        for (unsigned b = 0; b < WHEEL_SLOTS; b++)
            for (uint32_t i = s->wheel.bucket[l * WHEEL_SLOTS + b].newest; i != CACHE_NONE;
                 i = entry_at(c, s, i)->wlink.older)
                per_level[l]++;
    }
}

int gomap_cache_dump(gomap_cache_t *c, FILE *out)
{
    if (!c || !out)
        return -EINVAL;
    fprintf(out, "gomap cache %p: %u shards, key %s, value %zu bytes, max_cost %" PRIu64
                 " (per entry up to %" PRIu64 "), default ttl %" PRIu64 " ns, on_remove %s, "
                 "maintenance thread %s\n",
            (void *)c, c->nshards, gomap__key_kind_name(c->lay.key_kind), c->lay.val_size,
            c->max_cost, c->max_entry_cost, c->ttl_ns, c->on_remove ? "yes" : "no",
            c->maint ? "yes" : "no");
    for (unsigned k = 0; k < c->nshards; k++) {
        struct cache_shard *s = &c->shards[k];
        size_t lv[WHEEL_LEVELS];
        cache_lock(s);
        wheel_levels(c, s, lv);
        const struct cache_policy *p = &s->pol;
        fprintf(out, "shard %u: %zu entries, cost %" PRIu64 "/%" PRIu64 ", window %.3f (cost %" PRIu64
                     "), probation %" PRIu64 ", protected %" PRIu64 ", wheel %zu|%zu|%zu|%zu|%zu "
                     "by level, worked off to %" PRIu64 " ns, %" PRIu64 " hits %" PRIu64 " misses\n",
                k, layer_len(s->map), s->cost, s->max_cost, p->max_cost ? p->share : 0.0,
                p->qcost[Q_WINDOW], p->qcost[Q_PROBATION], p->qcost[Q_PROTECTED], lv[0], lv[1],
                lv[2], lv[3], lv[4], s->wheel.done, load_relaxed(&s->n.hits),
                load_relaxed(&s->n.misses));
        cache_unlock(s);
    }
    return gomap__out_finish(out);
}

/* ---- heatmap ------------------------------------------------------------------------ */

/* Per shard: operations (gets and sets), fill (cost held / bound, or
 * entries when unbounded), and the wheel's entries by level in total. */
struct view {
    double *ops, *fill;
    size_t levels[WHEEL_LEVELS];
    gomap_cache_stats_t st;
};

static void gather(gomap_cache_t *c, struct view *v)
{
    memset(v->levels, 0, sizeof v->levels);
    for (unsigned k = 0; k < c->nshards; k++) {
        struct cache_shard *s = &c->shards[k];
        size_t lv[WHEEL_LEVELS];
        cache_lock(s);
        v->ops[k] = (double)(load_relaxed(&s->n.hits) + load_relaxed(&s->n.misses) +
                             load_relaxed(&s->n.sets));
        v->fill[k] = s->max_cost ? (double)s->cost / (double)s->max_cost
                                 : (double)layer_len(s->map);
        wheel_levels(c, s, lv);
        cache_unlock(s);
        for (unsigned l = 0; l < WHEEL_LEVELS; l++)
            v->levels[l] += lv[l];
    }
    gomap_cache_stats(c, &v->st);
}

static const char *const level_names[WHEEL_LEVELS] = {"<1.07 s", "<68.7 s", "<73.3 min",
                                                      "<3.26 d", "<208 d+"};

static void text_render(gomap_cache_t *c, const struct view *v, FILE *out)
{
    fprintf(out, "cache heatmap: %u shards, %zu entries, cost %" PRIu64 " of %" PRIu64
                 ", %" PRIu64 " hits, %" PRIu64 " misses\n",
            c->nshards, v->st.entries, v->st.cost, v->st.max_cost, v->st.hits, v->st.misses);
    gomap__grid_text(out, "ops", v->ops, c->nshards);
    gomap__grid_text(out, "fill", v->fill, c->nshards);
    gomap__grid_text_legend(out);
    fputs("wheel:", out);
    for (unsigned l = 0; l < WHEEL_LEVELS; l++)
        fprintf(out, "  %s %zu", level_names[l], v->levels[l]);
    fputc('\n', out);
}

static void svg_render(gomap_cache_t *c, const struct view *v, FILE *out)
{
    enum { TOP = 56 };
    unsigned n = c->nshards;
    unsigned w = GRID_SVG_MARGIN * 2 + GRID_SVG_LABEL + GRID_COLS * GRID_SVG_CELL + 80;
    unsigned h = TOP + 2 * gomap__grid_svg_height(n) + 36 + 40 + GRID_SVG_MARGIN;
    gomap__svg_begin(out, w, h, "gomap cache heatmap");
    fprintf(out, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">gomap cache: %u "
                 "shards, %zu entries, cost %" PRIu64 " of %" PRIu64 "</text>\n"
                 "<text x=\"%d\" y=\"42\" font-size=\"12\">one cell per shard; colour = value "
                 "relative to the mean over shards</text>\n",
            GRID_SVG_MARGIN, n, v->st.entries, v->st.cost, v->st.max_cost, GRID_SVG_MARGIN);
    unsigned y = gomap__grid_svg(out, TOP, "ops", v->ops, n);
    y = gomap__grid_svg(out, y, "fill", v->fill, n);
    y = gomap__grid_svg_legend(out, y);
    fprintf(out, "<text x=\"%d\" y=\"%u\" font-size=\"11\">wheel:", GRID_SVG_MARGIN, y);
    for (unsigned l = 0; l < WHEEL_LEVELS; l++)
        fprintf(out, " %s %zu;", level_names[l], v->levels[l]);
    fputs("</text>\n", out);
    gomap__svg_end(out);
}

int gomap_cache_heatmap(gomap_cache_t *c, FILE *out, int format)
{
    if (!c || !out || (format != GOMAP_HEATMAP_TEXT && format != GOMAP_HEATMAP_SVG))
        return -EINVAL;
    size_t bytes = 2 * (size_t)c->nshards * sizeof(double);
    double *cols = gomap__alloc(c->alloc, bytes);
    if (!cols)
        return -ENOMEM;
    struct view v = {.ops = cols, .fill = cols + c->nshards};
    gather(c, &v);
    if (format == GOMAP_HEATMAP_TEXT)
        text_render(c, &v, out);
    else
        svg_render(c, &v, out);
    gomap__free(c->alloc, cols, bytes);
    return gomap__out_finish(out);
}

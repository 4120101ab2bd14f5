/*
 * metrics.c — the metrics registry: names, add, remove, and reading each
 * structure's stats for a scrape (gomap__metrics_gather). Rendering is in
 * metrics_format.c, the exporter in metrics_server.c; the layout and the
 * locking rule in metrics_internal.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "metrics/metrics_internal.h"

/* ---- names ------------------------------------------------------------------------ */

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 if it is not
 * one: overlong forms, surrogates and code points past U+10FFFF are not. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80                ? 1
                 : c >= 0xC2 && c < 0xE0 ? 2
                 : c >= 0xE0 && c < 0xF0 ? 3
                 : c >= 0xF0 && c < 0xF5 ? 4
                                         : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) || /* overlong, surrogate */
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))   /* overlong, > U+10FFFF */
        return 0;
    return len;
}

/* Whether name is 1 to GOMAP_METRICS_NAME_MAX bytes of UTF-8 with no
 * control character. */
static bool name_ok(const char *name)
{
    if (!name)
        return false;
    size_t n = strnlen(name, GOMAP_METRICS_NAME_MAX + 1);
    if (n == 0 || n > GOMAP_METRICS_NAME_MAX)
        return false;
    const unsigned char *s = (const unsigned char *)name;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x20 || s[i] == 0x7F)
            return false;
        size_t len = utf8_seq(s + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

/* The name as a label value: backslash, double quote and line feed
 * escaped (the last cannot occur in a name, but the format says how). */
static size_t escape(const char *name, char *out)
{
    size_t k = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            if (out) {
                out[k] = '\\';
                out[k + 1] = *p;
                if (*p == '\n')
                    out[k + 1] = 'n';
            }
            k += 2;
        } else {
            if (out)
                out[k] = *p;
            k++;
        }
    }
    if (out)
        out[k] = '\0';
    return k + 1;
}

/* ---- life cycle ------------------------------------------------------------------- */

int gomap__metrics_new_with(gomap_metrics_t **out, const gomap_allocator *alloc)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    gomap_metrics_t *r = gomap__alloc(alloc, sizeof *r);
    if (!r)
        return -ENOMEM;
    memset(r, 0, sizeof *r);
    r->alloc = alloc;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        gomap__free(alloc, r, sizeof *r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

int gomap_metrics_new(gomap_metrics_t **out)
{
    return gomap__metrics_new_with(out, NULL);
}

static void entry_free(const gomap_metrics_t *r, struct metrics_entry *e)
{
    if (!e)
        return;
    gomap__free(r->alloc, e->name, e->name_size);
    gomap__free(r->alloc, e->label, e->label_size);
    gomap__free(r->alloc, e->per_shard, (size_t)e->nshards * e->shard_size);
    gomap__free(r->alloc, e, sizeof *e);
}

void gomap_metrics_free(gomap_metrics_t *r)
{
    if (!r)
        return;
    struct metrics_entry *e = r->head;
    while (e) {
        struct metrics_entry *next = e->next;
        entry_free(r, e);
        e = next;
    }
    pthread_mutex_destroy(&r->lock);
    gomap__free(r->alloc, r, sizeof *r);
}

/* ---- add, remove ------------------------------------------------------------------ */

static char *copy_string(const gomap_metrics_t *r, const char *s, size_t size)
{
    char *c = gomap__alloc(r->alloc, size);
    if (c)
        memcpy(c, s, size);
    return c;
}

/* A new entry for name, everything allocated, not yet linked; NULL when
 * out of memory. */
static struct metrics_entry *entry_new(const gomap_metrics_t *r, const char *name,
                                       enum metrics_kind kind, void *map, unsigned nshards)
{
    struct metrics_entry *e = gomap__alloc(r->alloc, sizeof *e);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->map = map;
    e->name_size = strlen(name) + 1;
    e->label_size = escape(name, NULL);
    e->name = copy_string(r, name, e->name_size);
    e->label = gomap__alloc(r->alloc, e->label_size);
    if (nshards) {
        e->shard_size = kind == MK_SHARD ? sizeof(gomap_shard_counters)
                                         : sizeof(gomap_cache_shard_counters);
        e->per_shard = gomap__alloc(r->alloc, (size_t)nshards * e->shard_size);
        e->nshards = e->per_shard ? nshards : 0;
    }
    if (!e->name || !e->label || (nshards && !e->per_shard)) {
        entry_free(r, e);
        return NULL;
    }
    escape(name, e->label);
    return e;
}

/* The link that points at name's place in the sorted list; *found says
 * whether an entry of that name is there. */
static struct metrics_entry **find(gomap_metrics_t *r, const char *name, bool *found)
{
    struct metrics_entry **at = &r->head;
    int cmp = 1;
    while (*at && (cmp = strcmp((*at)->name, name)) < 0)
        at = &(*at)->next;
    *found = *at && cmp == 0;
    return at;
}

static int add(gomap_metrics_t *r, const char *name, enum metrics_kind kind, void *map,
               gomap_metrics_stats_fn fn, unsigned nshards)
{
    if (!r || (!map && !fn) || !name_ok(name))
        return -EINVAL;
    struct metrics_entry *e = entry_new(r, name, kind, map, nshards);
    if (!e)
        return -ENOMEM;
    e->fn = fn;
    pthread_mutex_lock(&r->lock);
    bool found;
    struct metrics_entry **at = find(r, name, &found);
    if (!found) {
        e->next = *at;
        *at = e;
    }
    pthread_mutex_unlock(&r->lock);
    if (found) {
        entry_free(r, e);
        return -EEXIST;
    }
    return 0;
}

int gomap_metrics_add_sync(gomap_metrics_t *r, const char *name, gomap_sync_t *m)
{
    return add(r, name, MK_SYNC, m, NULL, 0);
}

int gomap_metrics_add_shard(gomap_metrics_t *r, const char *name, gomap_shard_t *m)
{
    return add(r, name, MK_SHARD, m, NULL, gomap_shard_count(m));
}

int gomap_metrics_add_snap(gomap_metrics_t *r, const char *name, gomap_snap_t *m)
{
    return add(r, name, MK_SNAP, m, NULL, 0);
}

int gomap_metrics_add_cache(gomap_metrics_t *r, const char *name, gomap_cache_t *c)
{
    return add(r, name, MK_CACHE, c, NULL, gomap_cache_shards(c));
}

/* The entry's map is fn's ctx, which may be NULL. */
int gomap_metrics_add_func(gomap_metrics_t *r, const char *name, gomap_metrics_stats_fn fn,
                           void *ctx)
{
    if (!fn)
        return -EINVAL;
    return add(r, name, MK_FUNC, ctx, fn, 0);
}

int gomap_metrics_remove(gomap_metrics_t *r, const char *name)
{
    if (!r || !name)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    bool found;
    struct metrics_entry **at = find(r, name, &found);
    struct metrics_entry *e = found ? *at : NULL;
    if (e)
        *at = e->next;
    pthread_mutex_unlock(&r->lock);
    if (!e)
        return -ENOENT;
    entry_free(r, e);
    return 0;
}

/* ---- scrape ----------------------------------------------------------------------- */

static bool read_stats(struct metrics_entry *e)
{
    switch (e->kind) {
    case MK_FUNC:
        memset(&e->st.core, 0, sizeof e->st.core);
        if (e->fn(&e->st.core, e->map) == 0)
            return true;
        e->func_failures++;
        return false;
    case MK_SYNC: return gomap_sync_stats(e->map, &e->st.sync) == 0;
    case MK_SHARD: return gomap_shard_stats(e->map, &e->st.shard, e->per_shard, e->nshards) == 0;
    case MK_SNAP: return gomap_snap_stats(e->map, &e->st.snap) == 0;
    case MK_CACHE:
        return gomap_cache_stats(e->map, &e->st.cache) == 0 &&
               gomap_cache_shard_stats(e->map, e->per_shard, e->nshards) == 0;
    default: return false;
    }
}

/* A sharded map resized since it was added (gomap_shard_resize, its auto
 * mode) gets a per-shard table of its new count, so that every shard has
 * its series. Out of memory: the old table stays, and the scrape shows the
 * first shards only (gomap_shard_stats fills what fits). */
static void fit_shards(gomap_metrics_t *r, struct metrics_entry *e)
{
    unsigned n = gomap_shard_count(e->map);
    if (n == e->nshards || n == 0)
        return;
    void *c = gomap__alloc(r->alloc, (size_t)n * e->shard_size);
    if (!c)
        return;
    gomap__free(r->alloc, e->per_shard, (size_t)e->nshards * e->shard_size);
    e->per_shard = c;
    e->nshards = n;
}

void gomap__metrics_gather(gomap_metrics_t *r)
{
    for (struct metrics_entry *e = r->head; e; e = e->next) {
        if (e->kind == MK_SHARD)
            fit_shards(r, e);
        e->ok = read_stats(e);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void observe_scrape(gomap_metrics_t *r, uint64_t ns)
{
    unsigned i = 0;
    while (i < SCRAPE_BUCKETS && ns > gomap__metrics_scrape_le_ns[i])
        i++;
    r->scrape_le[i]++;
    r->scrapes++;
    r->scrape_ns += ns;
}

int gomap_metrics_write(gomap_metrics_t *r, FILE *out)
{
    if (!r || !out)
        return -EINVAL;
    pthread_mutex_lock(&r->lock);
    uint64_t t0 = now_ns();
    gomap__metrics_gather(r);
    int rc = gomap__metrics_render(r, out);
    observe_scrape(r, now_ns() - t0);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

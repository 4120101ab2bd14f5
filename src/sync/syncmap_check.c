/*
 * syncmap_check.c — the sync map's stats and invariant check.
 */
#include "sync/syncmap_internal.h"

#include "diag/validate.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- stats and validate ----------------------------------------------------------------- */

int gomap_sync_stats(gomap_sync_t *m, gomap_sync_stats_t *out)
{
    if (!m || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    gomap__obj_flush(m); /* so that retired_bytes drains once writes stop */
    out->len = gomap_sync_len(m);
    pthread_mutex_lock(&m->mu);
    uintptr_t w = read_word(m);
    out->read_entries = read_table(w) ? gomap_len(read_table(w)->map) : 0;
    out->dirty_entries = m->dirty ? gomap_len(m->dirty->map) : 0;
    out->amended = read_amended(w);
    out->misses = m->misses;
    out->promotions = m->promotions;
    out->dirty_copies = m->dirty_copies;
    pthread_mutex_unlock(&m->mu);
    gomap__count_read(&m->reclaim, &out->retired_objects, &out->retired_bytes,
                      &out->reclaimed_bytes);
    gomap__lat_read(&m->lat_get, &out->get_latency);
    gomap__lat_read(&m->lat_write, &out->write_latency);
    return 0;
}

struct check_ctx {
    gomap_sync_t *m;
    const struct table *other;  /* the table to look keys up in, or NULL */
    const char *why;            /* first failure */
    size_t live;                /* entries with a value */
};

/* Over read's entries: I1 (no dirty: nothing EXPUNGED) and I2 (with dirty:
 * every entry not EXPUNGED is in dirty, as the same entry). */
static int check_read_entry(const void *key, void *val, void *ctx)
{
    struct check_ctx *c = ctx;
    struct entry *e = entry_in(val);
    struct box *p = load_relaxed(&e->p);
    if (!c->other) {
        if (p == EXPUNGED)
            c->why = "an entry of the read part is expunged while there is no dirty map";
        c->live += has_value(p);
    } else if (p != EXPUNGED && gomap__key_is_reflexive(c->other->map, key) &&
               table_find(c->other, key, key_hash(c->m, key)) != e) {
        c->why = "a live entry of the read part is missing from the dirty map";
    }
    return c->why != NULL;
}

/* Over dirty's entries: none EXPUNGED (I2); without `amended` every key is
 * also in read (I3). */
static int check_dirty_entry(const void *key, void *val, void *ctx)
{
    struct check_ctx *c = ctx;
    struct entry *e = entry_in(val);
    struct box *p = load_relaxed(&e->p);
    if (p == EXPUNGED)
        c->why = "an expunged entry is in the dirty map";
    else if (c->other && gomap__key_is_reflexive(c->other->map, key) &&
             table_find(c->other, key, key_hash(c->m, key)) != e)
        c->why = "the dirty map has a key the read part lacks, and the read part is not amended";
    c->live += has_value(p);
    return c->why != NULL;
}

int gomap_sync_validate(gomap_sync_t *m, char *why, size_t why_len)
{
    if (!m)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    uintptr_t w = read_word(m);
    struct table *r = read_table(w), *d = m->dirty;
    struct check_ctx c = {m, NULL, NULL, 0};
    char inner[200], msg[256];
    if (r && gomap_validate(r->map, inner, sizeof inner) != 0)
        c.why = (snprintf(msg, sizeof msg, "read part: %s", inner), msg);
    else if (d && gomap_validate(d->map, inner, sizeof inner) != 0)
        c.why = (snprintf(msg, sizeof msg, "dirty map: %s", inner), msg);
    else if (read_amended(w) && !d)
        c.why = "the read part is amended but there is no dirty map";
    if (!c.why && r) {
        c.other = d;
        gomap__for_each_entry(r->map, check_read_entry, &c);
    }
    if (!c.why && d) {
        c.other = read_amended(w) ? NULL : r;
        if (!read_amended(w) && !r && gomap_len(d->map))
            c.why = "the dirty map has keys, the read part is empty and not amended";
        else
            gomap__for_each_entry(d->map, check_dirty_entry, &c);
    }
    if (!c.why && c.live != gomap_sync_len(m))
        c.why = "gomap_sync_len differs from the number of live entries";
    pthread_mutex_unlock(&m->mu);
    if (c.why)
        rc = gomap__why_fail((struct gomap__why){why, why_len}, "%s", c.why);
    return rc;
}

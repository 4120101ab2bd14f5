/*
 * snapmap_check.c — the snapshot map's stats and invariant check (V1-V3 in
 * snapmap_internal.h).
 */
#include "snap/snapmap_internal.h"

/* ---- stats and validate ---------------------------------------------------------------- */

int gomap_snap_stats(gomap_snap_t *m, gomap_snap_stats_t *out)
{
    if (!m || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    /* Under gc_mu the current version cannot be replaced (publication takes
     * gc_mu) and no retired one can be freed (it must leave the list). */
    pthread_mutex_lock(&m->gc_mu);
    const version *cur = current_version(m);
    out->len = gomap_len(cur->map);
    out->versions = m->versions;
    out->views = gomap__snap_views_locked(m, cur);
    out->bytes_current = cur->bytes;
    pthread_mutex_unlock(&m->gc_mu);
    gomap__count_read(&m->reclaim, &out->retired_versions, &out->retired_bytes,
                      &out->reclaimed_bytes);
    gomap__lat_read(&m->copy_time, &out->copy_latency);
    return 0;
}

/* V1: the version's map still holds the bytes it was published with, and
 * belongs to m. */
static const char *check_version(const gomap_snap_t *m, const version *v)
{
    if (v->owner != m)
        return "a version belongs to another snapshot map";
    if (!layer_frozen(v->map))
        return "a published version's map is not frozen";
    if (v->bytes != gomap__snap_version_bytes(v))
        return "a published version's map was written after publication";
    if (layer_key_kind(v->map) != m->key_kind || layer_val_size(v->map) != m->val_size)
        return "a version's map has other key or value options than the snapshot map";
    return NULL;
}

/* A count whose view bits are implausibly high: they wrapped below zero. */
static bool views_wrapped(const version *v)
{
    return (gomap__snap_refs_of(v) & REF_VIEWS) > REF_VIEWS / 2;
}

/* V2, V3 and V1 for every retired version. Under gc_mu; cur is the version
 * the caller's view holds (its base reference if current, and a view). */
static const char *check_counts_locked(gomap_snap_t *m, const version *cur)
{
    const char *bad;
    if (current_version(m) == cur && !(gomap__snap_refs_of(cur) & REF_BASE))
        return "the current version has lost its base reference";
    if ((gomap__snap_refs_of(cur) & REF_VIEWS) == 0 || views_wrapped(cur))
        return "a version's view count is below the views held";
    size_t n = 0, bytes = 0;
    for (const version *v = m->retired_list; v; v = v->next) {
        if (v == current_version(m))
            return "the current version is on the retired list";
        if (v->next && v->next->prev != v)
            return "the retired list's links disagree";
        if (views_wrapped(v))
            return "a version's view count is below the views held";
        if ((bad = check_version(m, v)) != NULL)
            return bad;
        n++;
        bytes += v->bytes;
    }
    size_t retired, retired_bytes;
    gomap__count_read(&m->reclaim, &retired, &retired_bytes, NULL);
    if (n > retired || retired > m->versions)
        return "retired_versions disagrees with the retired list or the versions published";
    if (bytes > retired_bytes)
        return "retired_bytes is below the bytes of the retired list";
    return NULL;
}

int gomap_snap_validate(gomap_snap_t *m, char *why, size_t why_len)
{
    if (!m)
        return -EINVAL;
    struct gomap__why w = gomap__why_start(why, why_len);
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    const version *v = view_version(view, MSG_VIEW_USED_GONE, GOMAP_CALLER);
    int rc = gomap_validate(v->map, why, why_len);
    if (rc == 0) {
        const char *bad = check_version(m, v);
        if (!bad) {
            pthread_mutex_lock(&m->gc_mu);
            bad = check_counts_locked(m, v);
            pthread_mutex_unlock(&m->gc_mu);
        }
        if (bad)
            rc = gomap__why_fail(w, "%s", bad);
    }
    gomap_snap_release(view);
    return rc;
}

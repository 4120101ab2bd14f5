/*
 * deleg_diag.c — the delegation map's stats and validator. The partitions'
 * maps are checked by their own servers (an internal request each), so the
 * validator never reads a core map another thread may be writing.
 */
#include <errno.h>
#include <string.h>

#include "deleg/deleg_internal.h"
#include "diag/validate.h"

/* ---- stats -------------------------------------------------------------------------- */

int gomap_deleg_stats(gomap_deleg_t *m, gomap_deleg_stats_t *out)
{
    if (!m || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->workers = m->workers;
    out->partitions = m->nparts;
    out->clients = load_relaxed(&m->nregistered);
    out->queue_depth = m->depth;
    out->entries = gomap_deleg_len(m);
    for (unsigned p = 0; p < m->nparts; p++) {
        const struct deleg_part *part = &m->parts[p];
        out->ops += load_relaxed(&part->ops);
        out->batches += load_relaxed(&part->batches);
        out->passes += load_relaxed(&part->passes);
        out->direct_ops += load_relaxed(&part->direct);
        out->sleeps += load_relaxed(&part->sleeps);
    }
    for (unsigned ci = 0; ci < NCLIENT_SLOTS; ci++) {
        const struct deleg_client *c = &m->clients[ci];
        out->full_waits += load_relaxed(&c->full_waits);
        out->full_wait_ns += load_relaxed(&c->full_wait_ns);
        out->full_waiting += load_relaxed(&c->full_waiting);
        out->refused += load_relaxed(&c->refused);
        out->sleeps += load_relaxed(&c->sleeps);
    }
    out->shared_ops = load_relaxed(&m->shared_ops);
    if (out->batches)
        out->mean_batch = (double)out->ops / (double)out->batches;
    return 0;
}

/* ---- validate ----------------------------------------------------------------------- */

typedef struct {
    const gomap_deleg_t *m;
    unsigned part;
    size_t misplaced;
} placement_check;

static int check_placement(const void *key, void *val, void *arg)
{
    (void)val;
    placement_check *pc = arg;
    const gomap_t *map = pc->m->parts[pc->part].map;
    /* A NaN key's hash is random each time: it can live in any partition. */
    if (gomap__key_is_reflexive(map, key) &&
        part_of(pc->m, gomap__hash_key(map, key)) != pc->part)
        pc->misplaced++;
    return 0;
}

/* What a partition's server found. */
typedef struct {
    struct gomap__why w;
    int rc;
} part_verdict;

/* Runs on partition p's server (gomap__deleg_call). */
static void validate_part(gomap_deleg_t *m, unsigned p, void *arg)
{
    part_verdict *v = arg;
    const struct deleg_part *part = &m->parts[p];
    char inner[200];
    if (gomap_validate(part->map, inner, sizeof inner) != 0) {
        v->rc = gomap__why_fail(v->w, "partition %u: %s", p, inner);
        return;
    }
    if (!layer_seeded_with(part->map, m->seed)) {
        v->rc = gomap__why_fail(v->w, "partition %u: hash seed differs from the map's", p);
        return;
    }
    if (load_relaxed(&part->len) != layer_len(part->map)) {
        v->rc = gomap__why_fail(v->w, "partition %u: published length %zu, map holds %zu", p,
                                load_relaxed(&part->len), layer_len(part->map));
        return;
    }
    placement_check pc = {m, p, 0};
    gomap__for_each_entry(part->map, check_placement, &pc);
    if (pc.misplaced)
        v->rc = gomap__why_fail(v->w, "partition %u: %zu key%s belonging to another partition",
                                p, pc.misplaced, pc.misplaced == 1 ? "" : "s");
}

/* One client's queue: every ring within its capacity, and no more
 * outstanding over all rings than queue_depth. */
static int validate_client(gomap_deleg_t *m, unsigned ci, struct gomap__why w)
{
    struct deleg_client *c = &m->clients[ci];
    unsigned st = load_acquire(&c->state);
    if (st > CLIENT_ORPHANED)
        return gomap__why_fail(w, "client %u: state %u unknown", ci, st);
    if (!load_acquire(&c->rings)) {
        if (st != CLIENT_FREE || ci == SHARED_CLIENT)
            return gomap__why_fail(w, "client %u: in use without rings", ci);
        return 0;
    }
    unsigned total = 0, heads = 0;
    for (unsigned p = 0; p < m->nparts; p++) {
        struct deleg_ring *r = ring_of(m, c, p);
        unsigned head = load_acquire(&r->head), tail = load_acquire(&r->tail);
        if (head - tail > m->capacity)
            return gomap__why_fail(w, "client %u, partition %u: tail %u past head %u or "
                                   "further behind than %u", ci, p, tail, head, m->capacity);
        total += head - tail;
        heads += head;
    }
    if (total > m->depth)
        return gomap__why_fail(w, "client %u: %u requests outstanding, queue depth %u", ci,
                               total, m->depth);
    if (heads != c->posted)
        return gomap__why_fail(w, "client %u: rings hold %u posts, client counted %u", ci,
                               heads, c->posted);
    return 0;
}

int gomap_deleg_validate(gomap_deleg_t *m, char *why, size_t why_len)
{
    struct gomap__why w = gomap__why_start(why, why_len);
    if (!m)
        return -EINVAL;
    deleg_reentry_check(m, GOMAP_CALLER);
    if (m->nparts != (m->workers ? m->workers : 1))
        return gomap__why_fail(w, "%u partitions for %u workers", m->nparts, m->workers);
    if (m->depth == 0 || m->depth > m->capacity || (m->capacity & (m->capacity - 1)))
        return gomap__why_fail(w, "queue depth %u, ring capacity %u", m->depth, m->capacity);
    unsigned hi = load_acquire(&m->clients_hi);
    if (hi > GOMAP_DELEG_CLIENTS_MAX || load_relaxed(&m->nregistered) > hi)
        return gomap__why_fail(w, "%u clients registered, %u slots in use, bound %u",
                               load_relaxed(&m->nregistered), hi, GOMAP_DELEG_CLIENTS_MAX);
    for (unsigned p = 0; p < m->nparts; p++) {
        part_verdict v = {w, 0};
        gomap__deleg_call(m, p, validate_part, &v);
        if (v.rc)
            return v.rc;
    }
    for (unsigned ci = 0; ci < NCLIENT_SLOTS; ci++) {
        int rc = validate_client(m, ci, w);
        if (rc)
            return rc;
    }
    return 0;
}

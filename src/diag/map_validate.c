/*
 * map_validate.c — gomap_validate: checks every structural invariant of
 * docs/map.md, and nothing else. Read-only; O(entries x chain length).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/map_internal.h"
#include "diag/validate.h"

int gomap__why_fail(struct gomap__why w, const char *fmt, ...)
{
    if (w.buf && w.len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w.buf, w.len, fmt, ap);
        va_end(ap);
    }
    return -EFAULT;
}

static bool all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Checks one live slot: its key hashes to this bucket with this tophash (for
 * keys equal to themselves), and looking it up finds exactly this slot.
 * `where` names the array's buckets in reasons: "bucket" (the current array)
 * or "old bucket". */
static int check_live_slot(const gomap_t *m, struct gomap__why w, const char *where, size_t idx,
                           size_t mask, char *b, unsigned i)
{
    const void *key = key_of_slot(m, key_slot_at(m, b, i));
    if (!gomap__key_is_reflexive(m, key))
        return 0; /* NaN: hash is random, cannot be found by design */
    uint64_t h = gomap__hash_key(m, key);
    if ((h & mask) != idx)
        return gomap__why_fail(w, "%s %zu slot %u holds a key hashing to %s %zu",
                               where, idx, i, where, (size_t)(h & mask));
    if (tophash_of(b)[i] != tophash_from(h))
        return gomap__why_fail(w, "%s %zu slot %u: tophash %u, key's is %u", where, idx, i,
                               tophash_of(b)[i], tophash_from(h));
    slot_ref f = gomap__find_hashed(m, key, h);
    if (f.b != b || f.i != i)
        return gomap__why_fail(w, "%s %zu slot %u: lookup of its key %s", where, idx, i,
                               f.b ? "finds another slot (duplicate key)" : "fails (unreachable)");
    return 0;
}

/* Checks one chain that holds live data (current array, or an old bucket not
 * yet evacuated): tophash values, the EMPTY_REST suffix rule, zeroed empty
 * slots, placement. Adds its live slots to *live and its overflow buckets
 * to *ovf. `where` as for check_live_slot. */
static int check_chain(const gomap_t *m, struct gomap__why w, const char *where, size_t idx,
                       size_t mask, char *head, size_t *live, size_t *ovf)
{
    bool rest = false;        /* an EMPTY_REST has been seen */
    uint8_t prev = 0xff;      /* previous slot's tophash in chain order */
    for (char *b = head; b; b = *overflow_of(m, b)) {
        if (b != head)
            (*ovf)++;
        for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
            uint8_t t = tophash_of(b)[i];
            if (t > EMPTY_ONE && t < MIN_TOPHASH)
                return gomap__why_fail(w, "%s %zu slot %u: evacuation mark %u in a live chain",
                                       where, idx, i, t);
            if (rest && t != EMPTY_REST)
                return gomap__why_fail(w, "%s %zu slot %u: tophash %u after an emptyRest",
                                       where, idx, i, t);
            if (t == EMPTY_REST && !rest) {
                if (prev == EMPTY_ONE)
                    return gomap__why_fail(w, "%s %zu: emptyOne right before the emptyRest run",
                                           where, idx);
                rest = true;
            }
            if (is_empty_top(t)) {
                if (!all_zero(key_slot_at(m, b, i), m->key_slot) ||
                    !all_zero(val_slot_at(m, b, i), m->val_slot))
                    return gomap__why_fail(w, "%s %zu slot %u: empty slot not zeroed", where,
                                           idx, i);
            } else {
                (*live)++;
                int rc = check_live_slot(m, w, where, idx, mask, b, i);
                if (rc)
                    return rc;
            }
            prev = t;
        }
    }
    if (prev == EMPTY_ONE)
        return gomap__why_fail(w, "%s %zu: chain ends in emptyOne (should be emptyRest)",
                               where, idx);
    return 0;
}

/* An evacuated old chain: every slot carries a mark (X, Y or empty). */
static int check_evacuated_chain(const gomap_t *m, struct gomap__why w, size_t idx, char *head)
{
    for (char *b = head; b; b = *overflow_of(m, b))
        for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
            uint8_t t = tophash_of(b)[i];
            if (t <= EMPTY_ONE || t >= MIN_TOPHASH)
                return gomap__why_fail(w, "old bucket %zu slot %u: tophash %u in an "
                                       "evacuated chain", idx, i, t);
        }
    return 0;
}

static int check_header(const gomap_t *m, struct gomap__why w)
{
    if (m->B > MAX_B)
        return gomap__why_fail(w, "B = %u exceeds %u", m->B, MAX_B);
    if (!m->buckets && (m->B || m->count || m->oldbuckets || m->noverflow))
        return gomap__why_fail(w, "no bucket array but B=%u count=%zu noverflow=%zu%s", m->B,
                               m->count, m->noverflow,
                               m->oldbuckets ? " and an old array" : "");
    if (m->hash_mul != hash_u64_mul_of(m->seed))
        return gomap__why_fail(w, "hash multiplier %#llx is not the seed's",
                               (unsigned long long)m->hash_mul);
    uint8_t shape = load_relaxed(&((gomap_t *)(uintptr_t)m)->lookup_shape);
    if (m->lookup_mask != bucket_mask(m->B) || m->idle_shape != idle_shape_now(m) ||
        shape != lookup_shape_now(m))
        return gomap__why_fail(w, "lookup mask %zu / shape %u (idle %u), not %zu / %u (%u) "
                               "for B=%u%s", m->lookup_mask, shape, m->idle_shape,
                               bucket_mask(m->B), lookup_shape_now(m), idle_shape_now(m), m->B,
                               m->oldbuckets ? " while growing" : "");
    if (!m->oldbuckets && (m->flags & FLAG_SAME_SIZE_GROW))
        return gomap__why_fail(w, "same-size-grow flag set while not growing");
    if (m->oldbuckets) {
        if (!(m->flags & FLAG_SAME_SIZE_GROW) && m->B == 0)
            return gomap__why_fail(w, "growing by doubling with B = 0");
        if (m->nevacuate >= old_bucket_count(m))
            return gomap__why_fail(w, "nevacuate %zu reaches the %zu old buckets but the old array "
                                   "is still attached", m->nevacuate, old_bucket_count(m));
    }
    return 0;
}

int gomap_validate(const gomap_t *m, char *why, size_t why_len)
{
    if (!m)
        return -EINVAL;
    struct gomap__why w = gomap__why_start(why, why_len);
    int rc = check_header(m, w);
    if (rc || !m->buckets)
        return rc;

    size_t live = 0, ovf = 0, old_ovf = 0;
    size_t n = (size_t)1 << m->B, mask = bucket_mask(m->B);
    for (size_t i = 0; i < n; i++)
        if ((rc = check_chain(m, w, "bucket", i, mask, bucket_at(m, m->buckets, i), &live, &ovf)))
            return rc;
    if (ovf != m->noverflow)
        return gomap__why_fail(w, "noverflow %zu but %zu overflow buckets chained",
                               m->noverflow, ovf);
    if (gomap__overflow_listed(m->buckets) != ovf)
        return gomap__why_fail(w, "%zu overflow buckets chained but %zu on the array's list", ovf,
                               gomap__overflow_listed(m->buckets));

    if (m->oldbuckets) {
        size_t nold = old_bucket_count(m), oldmask = nold - 1;
        bool same = m->flags & FLAG_SAME_SIZE_GROW;
        for (size_t i = 0; i < nold; i++) {
            char *ob = bucket_at(m, m->oldbuckets, i);
            if (is_evacuated_bucket(ob)) {
                if ((rc = check_evacuated_chain(m, w, i, ob)))
                    return rc;
                continue;
            }
            if (i < m->nevacuate)
                return gomap__why_fail(w, "old bucket %zu below nevacuate %zu is not evacuated",
                                       i, m->nevacuate);
            if ((rc = check_chain(m, w, "old bucket", i, oldmask, ob, &live, &old_ovf)))
                return rc;
            /* Its destinations receive nothing before it is evacuated. */
            for (int half = 0; half < (same ? 1 : 2); half++) {
                char *d = bucket_at(m, m->buckets, i + (half ? nold : 0));
                if (*overflow_of(m, d) || tophash_of(d)[0] != EMPTY_REST)
                    return gomap__why_fail(w, "new bucket %zu filled before old bucket %zu "
                                           "was evacuated", i + (half ? nold : 0), i);
            }
        }
    }
    if (live != m->count)
        return gomap__why_fail(w, "count %zu but %zu live entries", m->count, live);
    return 0;
}

/*
 * map_stats.c — gomap_stats: the shape of a map, for people and tests.
 */
#include <errno.h>

#include "core/map_internal.h"

/* Live slots (tophash >= MIN_TOPHASH) of one bucket, overflow not followed. */
static unsigned live_slots(char *b)
{
    unsigned n = 0;
    for (unsigned i = 0; i < BUCKET_SLOTS; i++)
        n += tophash_of(b)[i] >= MIN_TOPHASH;
    return n;
}

/* Fills chain_hist and slots_hist from the current array (diag.h says what
 * each bin counts). Old buckets are not included, even while growing. */
static void fill_histograms(const gomap_t *m, gomap_stats_t *out)
{
    for (size_t i = 0; i < out->buckets; i++) {
        size_t overflow = 0;
        char *head = bucket_at(m, m->buckets, i);
        for (char *b = head; b; b = *overflow_of(m, b)) {
            overflow += b != head;
            out->slots_hist[live_slots(b)]++;
        }
        out->chain_hist[overflow < GOMAP_HIST_CHAIN - 1 ? overflow : GOMAP_HIST_CHAIN - 1]++;
    }
}

int gomap_stats(const gomap_t *m, gomap_stats_t *out)
{
    if (!m || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->entries = m->count;
    out->b = m->B;
    out->buckets = m->buckets ? (size_t)1 << m->B : 0;
    out->overflow_buckets = m->noverflow;
    out->growing = is_growing(m);
    out->same_size_grow = (m->flags & FLAG_SAME_SIZE_GROW) != 0;
    out->old_buckets = is_growing(m) ? old_bucket_count(m) : 0;
    if (is_growing(m)) {
        for (size_t i = 0; i < out->old_buckets; i++)
            out->evacuated += is_evacuated_bucket(bucket_at(m, m->oldbuckets, i));
    }
    out->bytes_held = m->mem.bytes_held;
    out->mapped_bytes = gomap__mapped_bytes(m);
    out->live_iterators = load_relaxed(&((gomap_t *)(uintptr_t)m)->iterators);
    out->retained_bytes = m->retained_bytes;
    out->iterator_reclaims = m->iter_reclaims;
    out->reseeds = m->reseeds;
    out->mem_limit = m->mem.limit;
    out->budget_crossed = m->budget.next;
    out->load_factor = out->buckets ? (double)m->count / (double)out->buckets : 0.0;
    fill_histograms(m, out);
    return 0;
}

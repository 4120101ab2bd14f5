/*
 * map_budget.c — memory-budget thresholds (gomap_set_budget_handler).
 *
 * The hard limit itself lives in the allocator wrapper (alloc.c): an
 * allocation that would take bytes_held over gomap_options.mem_limit fails
 * like any out-of-memory, so the write returns -ENOMEM with the map
 * unchanged. This file only reports the approach: each threshold fires once,
 * in increasing order, at the end of the write that reached it.
 */
#include <errno.h>
#include <stdlib.h>

#include "core/map_internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int gomap_set_budget_handler(gomap_t *m, const double *thresholds, size_t n,
                             gomap_budget_fn fn, void *ctx)
{
    if (!m)
        return -EINVAL;
    /* Before the argument checks: a frozen map has no limit, so they would
     * refuse every call and hide the misuse. */
    gomap__frozen_check(m, GOMAP_CALLER);
    if (!m->mem.limit || n > GOMAP_BUDGET_MAX_THRESHOLDS || (n && (!fn || !thresholds)))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(thresholds[i] > 0 && thresholds[i] <= 1)) /* also rejects NaN */
            return -EINVAL;
    gomap__write_begin(m, GOMAP_CALLER);
    struct budget *b = &m->budget;
    if (n) {
        memcpy(b->thresholds, thresholds, n * sizeof *thresholds);
        qsort(b->thresholds, n, sizeof *thresholds, cmp_double);
    }
    b->n = (unsigned)n;
    b->next = 0;
    b->fn = fn;
    b->ctx = ctx;
    gomap__write_end(m);
    return 0;
}

void gomap__budget_check(gomap_t *m)
{
    struct budget *b = &m->budget;
    while (b->next < b->n &&
           (double)m->mem.bytes_held >= b->thresholds[b->next] * (double)m->mem.limit) {
        double t = b->thresholds[b->next++];
        b->fn(m, t, m->mem.bytes_held, m->mem.limit, b->ctx);
    }
}

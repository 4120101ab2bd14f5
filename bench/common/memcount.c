/*
 * memcount.c — the counting allocator (memcount.h).
 */
#include "common/memcount.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The calling thread's slot, taken in turn at its first count. */
static unsigned my_slot(void)
{
    static atomic_uint next;
    static _Thread_local unsigned slot; /* 0: none yet; else slot + 1 */
    if (!slot)
        slot = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % MEMCOUNT_SLOTS + 1;
    return slot - 1;
}

void memcount_add(memcount *mc, int64_t size)
{
    /* Relaxed: the count orders nothing; readers sum a moment's values. */
    __atomic_fetch_add(&mc->slot[my_slot()].bytes, size, __ATOMIC_RELAXED);
}

int64_t memcount_live(const memcount *mc)
{
    int64_t sum = 0;
    for (unsigned s = 0; s < MEMCOUNT_SLOTS; s++)
        sum += __atomic_load_n(&mc->slot[s].bytes, __ATOMIC_RELAXED);
    return sum;
}

int64_t memcount_gauge(void *ctx) { return memcount_live(ctx); }

static void *counted_alloc(size_t size, void *ctx)
{
    void *p = malloc(size);
    if (p)
        memcount_add(ctx, (int64_t)size);
    return p;
}

static void counted_free(void *p, size_t size, void *ctx)
{
    if (!p)
        return;
    memcount_add(ctx, -(int64_t)size);
    free(p);
}

void memcount_init(memcount *mc)
{
    memset(mc, 0, sizeof *mc);
    mc->alloc = (gomap_allocator){counted_alloc, counted_free, mc};
}

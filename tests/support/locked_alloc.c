#include "locked_alloc.h"

static void *la_alloc(size_t size, void *ctx)
{
    locked_alloc *la = ctx;
    pthread_mutex_lock(&la->mu);
    void *p = la->fa.iface.alloc(size, la->fa.iface.ctx);
    pthread_mutex_unlock(&la->mu);
    return p;
}

static void la_free(void *ptr, size_t size, void *ctx)
{
    locked_alloc *la = ctx;
    pthread_mutex_lock(&la->mu);
    la->fa.iface.free(ptr, size, la->fa.iface.ctx);
    pthread_mutex_unlock(&la->mu);
}

void locked_alloc_init(locked_alloc *la)
{
    fail_alloc_init(&la->fa);
    pthread_mutex_init(&la->mu, NULL);
    la->iface = (gomap_allocator){la_alloc, la_free, la};
}

void locked_alloc_destroy(locked_alloc *la)
{
    pthread_mutex_destroy(&la->mu);
}

void locked_alloc_arm(locked_alloc *la, size_t n, bool all)
{
    pthread_mutex_lock(&la->mu);
    fail_alloc_fail_nth(&la->fa, n);
    la->fa.fail_all = all;
    pthread_mutex_unlock(&la->mu);
}

fail_alloc locked_alloc_counts(locked_alloc *la)
{
    pthread_mutex_lock(&la->mu);
    fail_alloc c = la->fa;
    pthread_mutex_unlock(&la->mu);
    return c;
}

#include "testclock.h"

#include "check.h"

void testclock_init(testclock *c, uint64_t start)
{
    atomic_init(&c->now, start);
    atomic_init(&c->reads, 0);
}

uint64_t testclock_read(void *ctx)
{
    testclock *c = ctx;
    atomic_fetch_add_explicit(&c->reads, 1, memory_order_relaxed);
    return atomic_load_explicit(&c->now, memory_order_acquire);
}

uint64_t testclock_now(testclock *c)
{
    return atomic_load_explicit(&c->now, memory_order_acquire);
}

void testclock_set(testclock *c, uint64_t t)
{
    uint64_t now = testclock_now(c);
    CHECK_MSG(t >= now, "test clock moved back from %" PRIu64 " to %" PRIu64, now, t);
    atomic_store_explicit(&c->now, t, memory_order_release);
}

void testclock_advance(testclock *c, uint64_t d)
{
    uint64_t now = testclock_now(c);
    CHECK_MSG(d <= UINT64_MAX - now, "test clock advanced past 2^64: %" PRIu64 " + %" PRIu64,
              now, d);
    atomic_store_explicit(&c->now, now + d, memory_order_release);
}

/*
 * testclock.h — a manual clock to inject into a cache (gomap/cache.h:
 * gomap_cache_options.clock): time moves only when the test moves it.
 *
 *   testclock clk;
 *   testclock_init(&clk, 1000000000);
 *   opt.clock = testclock_read;
 *   opt.clock_ctx = &clk;
 *   ...
 *   testclock_advance(&clk, 5000000);
 *
 * Reads and moves are atomic, so threads may read it while one moves it.
 * It never goes backwards (testclock_set to an earlier time fails the
 * test): a cache's clock must be monotonic.
 */
#ifndef GOMAP_TEST_TESTCLOCK_H
#define GOMAP_TEST_TESTCLOCK_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct testclock {
    _Atomic uint64_t now;
    _Atomic uint64_t reads;   /* calls of testclock_read */
} testclock;

void testclock_init(testclock *c, uint64_t start);

/* The clock function: ctx is the testclock. */
uint64_t testclock_read(void *ctx);

/* The time now, without counting a read. */
uint64_t testclock_now(testclock *c);

/* Moves the clock to t (>= now) or by d ns (not past UINT64_MAX). */
void testclock_set(testclock *c, uint64_t t);
void testclock_advance(testclock *c, uint64_t d);

#endif

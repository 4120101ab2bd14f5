/*
 * clock.c — calibration of the time-stamp counter.
 */
#include "common/clock.h"

double clock_ns_per_tick(void)
{
    static double cached;
    if (cached == 0) {
        double t0 = clock_ns();
        uint64_t c0 = clock_ticks();
        while (clock_ns() - t0 < 20e6)
            ;
        double t1 = clock_ns();
        uint64_t c1 = clock_ticks();
        cached = c1 > c0 ? (t1 - t0) / (double)(c1 - c0) : 1.0;
    }
    return cached;
}

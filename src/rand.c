#include "rand.h"

#include <stdbool.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t state;
static _Thread_local bool seeded;

static void seed_state(void)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
        /* No entropy available yet: fall back to the clock and an address
         * that differs per thread. Good enough for hash-flooding defence. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&state;
    }
    state = s;
    seeded = true;
}

uint64_t gomap__rand64(void)
{
    if (!seeded)
        seed_state();
    state += 0xa0761d6478bd642full;
    __uint128_t r = (__uint128_t)state * (state ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

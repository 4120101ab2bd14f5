#include "rand.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t state;
static _Thread_local bool seeded;

static void seed_state(void)
{
    uint64_t s = 0;
    /* A debugging aid, like Python's PYTHONHASHSEED: a fixed seed makes hash
     * seeds and iteration orders repeat from run to run (every thread starts
     * from the same state). It disables the hash-flooding defence. */
    const char *fixed = getenv("GOMAP_HASH_SEED");
    if (fixed && *fixed) {
        state = strtoull(fixed, NULL, 0);
        seeded = true;
        return;
    }
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

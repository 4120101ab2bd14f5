#include "base/rand.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "base/env.h"

static _Thread_local uint64_t state;
static _Thread_local bool seeded;

static atomic_bool seed_warned;

/* GOMAP_HASH_SEED, a debugging aid like Python's PYTHONHASHSEED: a fixed
 * seed makes hash seeds and iteration orders repeat from run to run (every
 * thread starts from the same state). It disables the hash-flooding
 * defence, so a value that is not exactly a number (gomap__env_parse_u64)
 * is ignored, with a warning, rather than read as whatever prefix parses:
 * "abc" must not quietly mean seed 0. Read by each thread when it first
 * needs a random number; the warning is printed once per process. */
static bool fixed_seed(uint64_t *out)
{
    const char *fixed = getenv("GOMAP_HASH_SEED");
    if (!fixed)
        return false;
    if (gomap__env_parse_u64(fixed, out))
        return true;
    gomap__env_warn_once(&seed_warned, "GOMAP_HASH_SEED", fixed,
                         "not a decimal or 0x-hexadecimal unsigned 64-bit number",
                         "using a random seed");
    return false;
}

static void seed_state(void)
{
    uint64_t s = 0;
    if (fixed_seed(&s)) {
        state = s;
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

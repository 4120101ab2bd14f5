#include "check.h"

#include <string.h>
#include <time.h>

void check_fail(const char *file, int line, const char *what, const char *detail)
{
    fprintf(stderr, "%s:%d: CHECK failed: %s%s%s\n", file, line, what,
            detail ? ": " : "", detail ? detail : "");
    fflush(stderr);
    abort();
}

uint64_t test_seed(void)
{
    static uint64_t seed;
    static int have;
    if (!have) {
        const char *env = getenv("GOMAP_TEST_SEED");
        if (env && *env) {
            seed = strtoull(env, NULL, 0);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
        }
        have = 1;
        /* Derive the library's hash seeds and iteration starts from the test
         * seed too, so one number reproduces the whole run. */
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, seed ^ (uint64_t)0x5851f42d4c957f2dull);
        setenv("GOMAP_HASH_SEED", buf, 0);
        printf("seed: %" PRIu64 " (reproduce with GOMAP_TEST_SEED=%" PRIu64 ")\n", seed, seed);
        fflush(stdout);
    }
    return seed;
}

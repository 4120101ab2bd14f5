#include "check.h"

#include "ckey.h"

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

gomap_t *check_map_new(gomap_key_kind kind, size_t key_size, size_t val_size, size_t hint)
{
    gomap_t *m = NULL;
    int rc = ckey_map_new(&m, kind, key_size, val_size, HASH_NONE, hint);
    CHECK_MSG(rc == 0 && m != NULL, "gomap_new(kind %d, key %zu, val %zu, hint %zu): %s",
              (int)kind, key_size, val_size, hint, gomap_strerror(rc));
    return m;
}

gomap_t *check_u64_map(gomap_check_mode mode, size_t hint, uint64_t fill)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = sizeof(uint64_t);
    o.hint = hint;
    o.check = mode;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    for (uint64_t k = 0; k < fill; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    return m;
}

gomap_stats_t check_map_stats(const gomap_t *m)
{
    gomap_stats_t s;
    memset(&s, 0xFF, sizeof s);
    CHECK_EQ(gomap_stats(m, &s), 0);
    return s;
}

/*
 * test_map_validate.c — the wording of gomap_validate's reasons.
 *
 * The only corruption the public API can cause is a custom hash that breaks
 * its contract by changing its answer for a stored key. That places the key
 * in the wrong bucket, which the validator reports as
 *   "bucket I slot S holds a key hashing to bucket J"
 * for the current array and
 *   "old bucket I slot S holds a key hashing to old bucket J"
 * for a bucket of the old array not yet evacuated. The answer changes by
 * flipping the hash's lowest bit, so J is I with that bit flipped.
 *
 *   misplaced_key_current   every key of a grown map, one at a time.
 *   misplaced_key_old       every key of a map in the middle of a growth:
 *                           some live in old buckets, all others in new ones.
 *
 * Deterministic: no randomness.
 */
#include "check.h"

#include <gomap.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The key whose hash is flipped; none while 'flipping' is false. */
static bool flipping;
static uint64_t flipped_key;

static uint64_t contrary_hash(const void *key, uint64_t seed)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    uint64_t z = (k ^ seed) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return flipping && k == flipped_key ? z ^ 1 : z;
}

static bool u64_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

static gomap_t *new_map(void)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_CUSTOM;
    o.key_size = sizeof(uint64_t);
    o.val_size = sizeof(uint64_t);
    o.hash = contrary_hash;
    o.equal = u64_equal;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    return m;
}

/* Validates m with key k's hash flipped; counts the reasons that name the
 * current and the old array, checking their exact form. */
static void validate_flipped(const gomap_t *m, uint64_t k, int *current, int *old)
{
    char why[256] = "";
    flipping = true;
    flipped_key = k;
    int rc = gomap_validate(m, why, sizeof why);
    flipping = false;
    CHECK_MSG(rc != 0, "key %llu: a misplaced key passes validation", (unsigned long long)k);
    CHECK_MSG(strstr(why, "bucket bucket") == NULL && strstr(why, "old old") == NULL,
              "reason repeats a word: %s", why);
    size_t i, j;
    unsigned s;
    int end = 0;
    if (sscanf(why, "bucket %zu slot %u holds a key hashing to bucket %zu%n", &i, &s, &j, &end) ==
            3 && why[end] == '\0') {
        (*current)++;
    } else if (sscanf(why, "old bucket %zu slot %u holds a key hashing to old bucket %zu%n", &i, &s,
                      &j, &end) == 3 && why[end] == '\0') {
        (*old)++;
    } else {
        CHECK_MSG(false, "unexpected reason: %s", why);
        return;
    }
    CHECK_MSG(j == (i ^ 1) && s < 8, "reason: %s", why);
}

static void test_misplaced_key_current(void)
{
    gomap_t *m = new_map();
    for (uint64_t k = 0; k < 500; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK(!st.growing && st.b >= 1);
    CHECK_VALID(m);
    int current = 0, old = 0;
    for (uint64_t k = 0; k < 500; k++)
        validate_flipped(m, k, &current, &old);
    CHECK_EQ(current, 500);
    CHECK_EQ(old, 0);
    CHECK_VALID(m);
    gomap_free(m);
}

static void test_misplaced_key_old(void)
{
    gomap_t *m = new_map();
    gomap_stats_t st;
    uint64_t n = 0;
    /* Fill until a doubling growth starts on a map of several buckets. */
    do {
        CHECK_EQ(gomap_set(m, &n, &n), 0);
        n++;
        CHECK_EQ(gomap_stats(m, &st), 0);
    } while (!(st.growing && st.old_buckets >= 4));
    CHECK(st.evacuated < st.old_buckets);
    CHECK_VALID(m);
    int current = 0, old = 0;
    for (uint64_t k = 0; k < n; k++)
        validate_flipped(m, k, &current, &old);
    CHECK(current > 0);
    CHECK(old > 0);
    CHECK_EQ(current + old, (int)n);
    gomap_free(m);
}

int main(void)
{
    RUN(test_misplaced_key_current);
    RUN(test_misplaced_key_old);
    printf("ok\n");
    return 0;
}

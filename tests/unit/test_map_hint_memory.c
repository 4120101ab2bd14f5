/*
 * test_map_hint_memory.c — a large hint costs address space, not resident
 * memory, and gomap_clear and gomap_free never fault in the pages of the
 * hinted array that no entry touched.
 *
 * A map made with hint = 2^25 (a 2^23-bucket array: 1.2 GB for u64 keys
 * and values, 1.7 GB for string keys; 2^21 at debug level 2) holds a few
 * entries. Clearing it,
 * refilling it, and freeing it must each leave the process's resident
 * memory (VmRSS) within a small margin of where it was after the first
 * entries went in: before, gomap_clear wrote zeros over the whole array
 * (+1.2 GB resident) and gomap_free walked every bucket for overflow chains
 * (writing each one's link). The base is taken after the first inserts
 * because with transparent huge pages each entry may make its 2 MiB of the
 * array resident (map.h, "What a hint costs"). Resident memory is a count
 * the kernel keeps, not a time, so this is no timing test; the margin (an
 * eighth of the array, at most 64 MiB) covers the allocator's and the
 * sanitizers' own growth.
 *
 * With a custom allocator the array is the allocator's memory, zeroed at
 * creation; there the test only checks that clear and free work and give
 * every byte back.
 */
#include "check.h"
#include "fail_alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Debug level 2 (the asan preset) validates the whole map after each of the
 * first 1024 writes, and ThreadSanitizer shadows every mapped byte: there a
 * smaller array and fewer entries keep the test short. */
#if GOMAP_DEBUG_LEVEL >= 2 || WORK_DIV > 1
enum { HINT_LOG2 = 21, FEW = 16 };
#else
enum { HINT_LOG2 = 25, FEW = 100 };
#endif

/* The margin: an eighth of the array, at most 64 MiB (set per map). */
static long margin_kib;

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            v = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    CHECK(v > 0);
    return v;
}

static void put(gomap_t *m, gomap_key_kind kind, uint64_t k)
{
    char buf[32];
    gomap_str s = {buf, (size_t)snprintf(buf, sizeof buf, "key %" PRIu64, k)};
    CHECK_EQ(gomap_set(m, kind == GOMAP_KEY_STR ? (const void *)&s : (const void *)&k, &k), 0);
}

static void check_rss_near(long base, const char *after)
{
    long now = rss_kib();
    CHECK_MSG(now - base < margin_kib, "resident memory grew by %ld KiB after %s (margin %ld)",
              now - base, after, margin_kib);
}

static void hinted(gomap_key_kind kind)
{
    gomap_options o = {.key_kind = kind, .val_size = 8, .hint = (size_t)1 << HINT_LOG2};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK((size_t)1 << HINT_LOG2 <= 6.5 * (double)st.buckets);
    CHECK(st.mapped_bytes > (size_t)8 << 20 && st.mapped_bytes <= st.bytes_held);
    margin_kib = (long)(st.mapped_bytes >> 13); /* an eighth, in KiB */
    if (margin_kib > 64 * 1024)
        margin_kib = 64 * 1024;
    for (uint64_t k = 0; k < FEW; k++)
        put(m, kind, k);
    long base = rss_kib();
    gomap_clear(m);
    CHECK_EQ(gomap_len(m), 0);
    check_rss_near(base, "gomap_clear");
    for (uint64_t k = 0; k < FEW; k++)
        put(m, kind, k);
    CHECK_VALID(m);
    CHECK_EQ(gomap_len(m), FEW);
    gomap_clear(m);
    check_rss_near(base, "a second gomap_clear");
    for (uint64_t k = 0; k < FEW; k++)
        put(m, kind, k);
    gomap_free(m);
    check_rss_near(base, "gomap_free");
    printf("   %s: array of %zu buckets (%zu MiB mapped); resident memory %+ld KiB\n",
           kind == GOMAP_KEY_STR ? "string keys" : "u64 keys", st.buckets, st.mapped_bytes >> 20,
           rss_kib() - base);
}

static void test_hint_u64(void) { hinted(GOMAP_KEY_U64); }
static void test_hint_str(void) { hinted(GOMAP_KEY_STR); }

/* A custom allocator's array: clear and free still empty and give back. */
static void test_hint_custom_allocator(void)
{
    fail_alloc fa;
    fail_alloc_init(&fa);
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8, .hint = 1 << 16,
                       .alloc = &fa.iface};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.mapped_bytes, 0);
    for (uint64_t k = 0; k < 70000; k++)
        put(m, GOMAP_KEY_U64, k);
    gomap_clear(m);
    CHECK_VALID(m);
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.overflow_buckets, 0);
    CHECK_EQ(st.bytes_held, fa.live_bytes);
    for (uint64_t k = 0; k < 100; k++)
        CHECK(gomap_get(m, &k) == NULL);
    gomap_free(m);
    CHECK_EQ(fa.live_blocks, 0);
}

int main(void)
{
    RUN(test_hint_u64);
    RUN(test_hint_str);
    RUN(test_hint_custom_allocator);
    printf("test_map_hint_memory: ok\n");
    return 0;
}

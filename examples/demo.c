/*
 * demo.c — a tour of gomap, Go's map in C.
 *
 * Each numbered part does something with a map, checks the result, and
 * prints one or a few lines about it:
 *   1. a u64 -> u64 map grows from empty to a million entries;
 *   2. lookups of every key, and of keys that are not there;
 *   3. half the keys are deleted, then gomap_shrink gives memory back;
 *   4. word counts with string keys and gomap_assign (Go's m[w]++);
 *   5. float keys: +0 and -0 are one key, NaN is never found;
 *   6. iteration order is randomised, as in Go;
 *   7. gomap_validate checks every map's structure.
 * The first line names the gomap it runs with (gomap_version()).
 * The program exits with status 1 if any check fails.
 */
#include <gomap.h>

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

/* Records and reports a failed check; the demo carries on and exits 1. */
#define EXPECT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "demo.c:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static gomap_t *new_map(gomap_key_kind kind, size_t val_size)
{
    gomap_options opt = {.key_kind = kind, .val_size = val_size};
    gomap_t *m = NULL;
    int rc = gomap_new(&m, &opt);
    if (rc != 0) {
        fprintf(stderr, "gomap_new: %s\n", gomap_strerror(rc));
        exit(1); /* NOLINT(concurrency-mt-unsafe): the demo is single-threaded */
    }
    return m;
}

static gomap_stats_t stats(const gomap_t *m)
{
    gomap_stats_t s;
    memset(&s, 0, sizeof s);
    EXPECT(gomap_stats(m, &s) == 0);
    return s;
}

/* "512 B", "1.2 KiB", "36.6 MiB": a byte count for people. Returns buf. */
static const char *human(size_t bytes, char buf[16])
{
    if (bytes < 1024)
        snprintf(buf, 16, "%zu B", bytes);
    else if (bytes < (size_t)1024 * 1024)
        snprintf(buf, 16, "%.1f KiB", (double)bytes / 1024.0);
    else
        snprintf(buf, 16, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    return buf;
}

/* ------------------------------------------------------------------------ */

static const size_t N = 1000000;

/* Part 1: insert keys 0 .. N-1 with value 2k+1 and show the bucket array at
 * a few sizes. 13313 is the first insert past 6.5 entries per bucket with
 * 2048 buckets, so a doubling has just started there; it finishes a little
 * later, two old buckets moved per write. */
static void grow(gomap_t *m)
{
    static const size_t marks[] = {8, 9, 13312, 13313, 14000, 100000, 1000000};
    size_t next = 0;
    printf("1. u64 -> u64 map, %zu inserts into an empty map (no size hint)\n", N);
    printf("     len      B   buckets  growing (evacuated)  load     held\n");
    for (uint64_t k = 0; k < N; k++) {
        uint64_t v = 2 * k + 1;
        EXPECT(gomap_set_u64(m, k, &v) == 0);
        if (next < sizeof marks / sizeof marks[0] && k + 1 == marks[next]) {
            gomap_stats_t s = stats(m);
            char growth[32] = "no";
            if (s.growing)
                snprintf(growth, sizeof growth, "yes (%zu of %zu)", s.evacuated, s.old_buckets);
            char held[16];
            printf("  %8zu  %3u  %8zu  %-18s  %4.2f  %9s\n", s.entries, s.b, s.buckets,
                   growth, s.load_factor, human(s.bytes_held, held));
            EXPECT(s.entries == k + 1 && s.buckets == (size_t)1 << s.b);
            if (k + 1 == 13312)
                EXPECT(s.buckets == 2048 && !s.growing);
            if (k + 1 == 13313)
                EXPECT(s.buckets == 4096 && s.growing && s.old_buckets == 2048);
            next++;
        }
    }
    EXPECT(gomap_len(m) == N);
}

/* Part 2: every key has its value; keys never inserted are absent. */
static void lookups(const gomap_t *m)
{
    size_t hits = 0, misses = 0;
    for (uint64_t k = 0; k < N; k++) {
        const uint64_t *v = gomap_get_u64(m, k);
        if (v && *v == 2 * k + 1)
            hits++;
        if (!gomap_get_u64(m, N + k))
            misses++;
    }
    EXPECT(hits == N && misses == N);
    printf("2. lookups: %zu of %zu keys found with the right value;\n"
           "   %zu of %zu keys never inserted were not found\n", hits, N, misses, N);
}

/* Part 3: delete the even keys, then shrink. */
static void delete_and_shrink(gomap_t *m)
{
    for (uint64_t k = 0; k < N; k += 2)
        EXPECT(gomap_delete_u64(m, k));
    gomap_stats_t before = stats(m);
    char b1[16], b2[16], b3[16];
    printf("3. deleted the %zu even keys: len %zu, still %zu buckets, %s"
           " (Go never shrinks)\n", N / 2, gomap_len(m), before.buckets,
           human(before.bytes_held, b1));
    EXPECT(gomap_shrink(m) == 0);
    gomap_stats_t after = stats(m);
    printf("   gomap_shrink: %zu -> %zu buckets, %s -> %s (%s given back)\n",
           before.buckets, after.buckets, human(before.bytes_held, b1),
           human(after.bytes_held, b2), human(before.bytes_held - after.bytes_held, b3));
    EXPECT(after.buckets < before.buckets && after.bytes_held < before.bytes_held);
    EXPECT(after.load_factor <= 6.5);
    size_t ok = 0;
    for (uint64_t k = 0; k < N; k++) {
        const uint64_t *v = gomap_get_u64(m, k);
        ok += (k % 2) ? (v && *v == 2 * k + 1) : (v == NULL);
    }
    EXPECT(ok == N);
    printf("   after shrink: all %zu odd keys found, no even key found\n", N / 2);
}

/* ------------------------------------------------------------------------ */

static const char TEXT[] =
    "Don't communicate by sharing memory, share memory by communicating. "
    "Concurrency is not parallelism. Channels orchestrate; mutexes serialize. "
    "The bigger the interface, the weaker the abstraction. Make the zero value "
    "useful. A little copying is better than a little dependency. Clear is "
    "better than clever. Errors are values. Don't just check errors, handle "
    "them gracefully.";

typedef struct {
    gomap_str word;
    uint64_t count;
} word_count;

static int by_count_then_word(const void *a, const void *b)
{
    const word_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    size_t n = x->word.len < y->word.len ? x->word.len : y->word.len;
    int c = memcmp(x->word.ptr, y->word.ptr, n);
    return c ? c : (x->word.len > y->word.len) - (x->word.len < y->word.len);
}

/* How often `w` occurs in TEXT, counted the slow way, to check the map. */
static uint64_t count_slowly(const char *lower, size_t len, gomap_str w)
{
    uint64_t n = 0;
    for (size_t i = 0; i + w.len <= len; i++) {
        bool starts = i == 0 || (!isalpha((unsigned char)lower[i - 1]) && lower[i - 1] != '\'');
        bool ends = i + w.len == len || (!isalpha((unsigned char)lower[i + w.len]) &&
                                          lower[i + w.len] != '\'');
        n += starts && ends && memcmp(lower + i, w.ptr, w.len) == 0;
    }
    return n;
}

/* Part 4: count words (letters and apostrophes, lower-cased). */
static void word_counts(void)
{
    char lower[sizeof TEXT];
    for (size_t i = 0; i < sizeof TEXT; i++)
        lower[i] = (char)tolower((unsigned char)TEXT[i]);
    size_t len = sizeof TEXT - 1;

    gomap_t *m = new_map(GOMAP_KEY_STR, sizeof(uint64_t));
    size_t words = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && (isalpha((unsigned char)lower[j]) || lower[j] == '\''))
            j++;
        if (j > i) {
            gomap_str w = {lower + i, j - i};
            void *slot;
            EXPECT(gomap_assign(m, &w, &slot) >= 0);  /* 1: new word, 0: seen before */
            (*(uint64_t *)slot)++;                    /* m[w]++ */
            words++;
            i = j;
        } else {
            i++;
        }
    }

    /* Copy the entries out, check each against a slow count, sort them. */
    size_t distinct = gomap_len(m), n = 0;
    word_count *all = calloc(distinct, sizeof *all);
    EXPECT(all != NULL);
    gomap_iter it;
    const void *k;
    void *v;
    uint64_t total = 0;
    gomap_iter_init(&it, m);
    while (all && gomap_iter_next(&it, &k, &v) && n < distinct) {
        all[n].word = *(const gomap_str *)k;
        all[n].count = *(const uint64_t *)v;
        EXPECT(all[n].count == count_slowly(lower, len, all[n].word));
        total += all[n].count;
        n++;
    }
    EXPECT(n == distinct && total == words);
    if (all)
        qsort(all, n, sizeof *all, by_count_then_word);
    printf("4. word counts with gomap_assign: %zu words, %zu distinct; most frequent:\n  ",
           words, distinct);
    for (size_t i = 0; i < 6 && i < n; i++)
        printf(" %.*s=%llu", (int)all[i].word.len, all[i].word.ptr,
               (unsigned long long)all[i].count);
    printf("\n");
    /* "the" occurs 5 times in TEXT, more than any other word. */
    const uint64_t *the = gomap_get_str(m, "the", 3);
    EXPECT(the && *the == 5);
    EXPECT(n >= 2 && all[0].word.len == 3 && memcmp(all[0].word.ptr, "the", 3) == 0 &&
           all[1].count < 5);
    free(all);
    EXPECT(gomap_validate(m, NULL, 0) == 0);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */

/* Part 5: Go's float-key rules. */
static void float_keys(void)
{
    gomap_t *m = new_map(GOMAP_KEY_F64, sizeof(int));
    double pz = 0.0, nz = -0.0, nan = NAN;
    int one = 1, two = 2, got = 0;
    EXPECT(gomap_set(m, &pz, &one) == 0);
    EXPECT(gomap_set(m, &nz, &two) == 0);
    EXPECT(gomap_get_copy(m, &pz, &got) && got == 2);

    gomap_iter it;
    const void *k;
    gomap_iter_init(&it, m);
    EXPECT(gomap_iter_next(&it, &k, NULL));
    double stored = *(const double *)k;
    gomap_iter_done(&it);
    printf("5. float keys: m[+0.0] = 1, then m[-0.0] = 2: len %zu, m[+0.0] == %d,"
           " stored key %s\n", gomap_len(m), got, signbit(stored) ? "now -0" : "+0");
    EXPECT(gomap_len(m) == 1 && signbit(stored));

    for (int i = 0; i < 3; i++)
        EXPECT(gomap_set(m, &nan, &i) == 0);
    bool found = gomap_get(m, &nan) != NULL;
    bool deleted = gomap_delete(m, &nan);
    size_t nans = 0;
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, &k, NULL))
        nans += isnan(*(const double *)k) != 0;
    printf("   3 x set(NaN): len %zu; get(NaN) %s; delete(NaN) %s; iteration sees %zu NaN keys\n",
           gomap_len(m), found ? "found" : "not found", deleted ? "true" : "false", nans);
    EXPECT(gomap_len(m) == 4 && !found && !deleted && nans == 3);
    gomap_clear(m);
    printf("   gomap_clear removes them all: len %zu\n", gomap_len(m));
    EXPECT(gomap_len(m) == 0);
    EXPECT(gomap_validate(m, NULL, 0) == 0);
    gomap_free(m);
}

/* Part 6: two iterations over the same small map, in different orders. */
static void iteration_order(void)
{
    enum { K = 8 };
    gomap_t *m = new_map(GOMAP_KEY_U32, 0);  /* a set of 1 .. K */
    for (uint32_t k = 1; k <= K; k++)
        EXPECT(gomap_set_u32(m, k, NULL) == 0);

    char orders[2][3 * K + 1] = {"", ""};
    int tries = 0;
    for (int n = 0; n < 2 && tries < 100; tries++) {
        char buf[3 * K + 1] = "";
        size_t pos = 0;
        unsigned seen = 0;
        gomap_iter it;
        const void *k;
        gomap_iter_init(&it, m);
        while (gomap_iter_next(&it, &k, NULL)) {
            uint32_t key = *(const uint32_t *)k;
            EXPECT(key >= 1 && key <= K && !(seen & (1u << key)));
            seen |= 1u << key;
            pos += (size_t)snprintf(buf + pos, sizeof buf - pos, " %u", (unsigned)key);
        }
        EXPECT(seen == ((1u << (K + 1)) - 2));  /* every key exactly once */
        if (n == 0 || strcmp(buf, orders[0]) != 0)
            memcpy(orders[n++], buf, sizeof buf);
    }
    printf("6. iterating a map of keys 1..%d twice:%s  and%s\n", K, orders[0],
           orders[1][0] ? orders[1] : " (no other order seen)");
    printf("   (a second order appeared after %d iterations: each starts at a random"
           " bucket and slot)\n", tries);
    EXPECT(strcmp(orders[0], orders[1]) != 0);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */

int main(void)
{
    /* The headers say which gomap the program was compiled with; the
     * library, which one it runs with. */
    printf("gomap demo: Go's built-in map, in C (gomap %s)\n\n", gomap_version());
    EXPECT(strcmp(gomap_version(), GOMAP_VERSION_STRING) == 0);
    gomap_t *m = new_map(GOMAP_KEY_U64, sizeof(uint64_t));
    grow(m);
    lookups(m);
    delete_and_shrink(m);
    word_counts();
    float_keys();
    iteration_order();

    char why[256] = "";
    int rc = gomap_validate(m, why, sizeof why);
    if (rc == 0)
        printf("7. gomap_validate on the big map: ok (every structural invariant holds)\n");
    else
        printf("7. gomap_validate on the big map: %s: %s\n", gomap_strerror(rc), why);
    EXPECT(rc == 0);
    gomap_free(m);

    if (failures) {
        printf("\nFAILED: %d check(s) did not hold\n", failures);
        return 1;
    }
    printf("\nall checks passed\n");
    return 0;
}

/*
 * hash_choice.c — measures the hash functions gomap uses against
 * alternatives, on this machine, for docs/hashing.md.
 *
 * Integer keys: the current mixer (hash_u64 in src/hash.h: one 64x64->128
 * multiply, folded) against the murmur3 / splitmix64 finaliser (fmix64) of
 * key ^ seed, XXH3_64bits_withSeed on the key's 8 bytes, and, as a negative
 * control, a bare multiplicative hash (key * odd constant: fast, but its low
 * bits, which pick the bucket, see only the key's low bits).
 * String keys (16..40 bytes): XXH3_64bits_withSeed (current) against XXH64,
 * wyhash (final4, written out below) and FNV-1a 64.
 *
 * Two things are measured for each:
 *   speed     ns per hash over 1e6 keys (independent hashes, so this is
 *             throughput, as in a batch lookup or a rehash); median of
 *             several runs;
 *   quality   what matters to gomap's buckets: 1e6 keys hashed into 2^17
 *             buckets by the low 17 bits (the bucket index, load 7.6, just
 *             above the 6.5 average the map keeps), giving the longest chain
 *             in entries and the overflow buckets needed (ceil(n/8) - 1 per
 *             bucket) against the Poisson expectation for a random hash; and
 *             the spread of the tophash byte (the top 8 bits, bumped past the
 *             markers 0..4 as gomap does) as a chi-square over its 251
 *             values (about 250 for a random hash), and the pairs of entries
 *             of one bucket with equal tophash (false candidates a lookup
 *             compares keys for). Median over several seeds.
 * Key sets: sequential integers 0..n-1, integers with stride 4096 (aligned
 * pointers), random integers; strings "user000000012345@example.org" style
 * (28 bytes) and URL-like strings of 16..40 bytes, both sequential-looking.
 *
 * Usage: gomap-hash-choice [runs]   (default 5)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "common/clock.h"
#include "common/median.h"
#include "core/map_internal.h"

#define NKEYS 1000000
#define QBITS 17
#define NBUCKETS ((size_t)1 << QBITS)

/* ---- alternatives ---------------------------------------------------------- */

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static inline uint64_t int_mum(uint64_t k, uint64_t seed) { return hash_u64(k, seed); }
static inline uint64_t int_fmix(uint64_t k, uint64_t seed) { return fmix64(k ^ seed); }
static inline uint64_t int_xxh3(uint64_t k, uint64_t seed)
{
    return XXH3_64bits_withSeed(&k, sizeof k, seed);
}
static inline uint64_t int_mult(uint64_t k, uint64_t seed)
{
    return (k ^ seed) * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t fnv1a(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* wyhash final4 (Wang Yi, public domain), as in wyhash.h. */
static inline uint64_t wyr8(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline uint64_t wyr4(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t wyr3(const uint8_t *p, size_t k)
{
    return ((uint64_t)p[0] << 16) | ((uint64_t)p[k >> 1] << 8) | p[k - 1];
}
static inline void wymum(uint64_t *a, uint64_t *b)
{
    __uint128_t r = (__uint128_t)*a * *b;
    *a = (uint64_t)r;
    *b = (uint64_t)(r >> 64);
}
static inline uint64_t wymix(uint64_t a, uint64_t b)
{
    wymum(&a, &b);
    return a ^ b;
}
static const uint64_t wyp[4] = {0x2d358dccaa6c78a5ull, 0x8bb84b93962eacc9ull,
                                0x4b33a62ed433d4a3ull, 0x4d5a2da51de1aa47ull};
static inline uint64_t wyhash(const void *key, size_t len, uint64_t seed)
{
    const uint8_t *p = key;
    uint64_t a, b;
    seed ^= wymix(seed ^ wyp[0], wyp[1]);
    if (len <= 16) {
        if (len >= 4) {
            a = (wyr4(p) << 32) | wyr4(p + ((len >> 3) << 2));
            b = (wyr4(p + len - 4) << 32) | wyr4(p + len - 4 - ((len >> 3) << 2));
        } else if (len > 0) {
            a = wyr3(p, len);
            b = 0;
        } else {
            a = b = 0;
        }
    } else {
        size_t i = len;
        if (i > 48) {
            uint64_t see1 = seed, see2 = seed;
            do {
                seed = wymix(wyr8(p) ^ wyp[1], wyr8(p + 8) ^ seed);
                see1 = wymix(wyr8(p + 16) ^ wyp[2], wyr8(p + 24) ^ see1);
                see2 = wymix(wyr8(p + 32) ^ wyp[3], wyr8(p + 40) ^ see2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= see1 ^ see2;
        }
        while (i > 16) {
            seed = wymix(wyr8(p) ^ wyp[1], wyr8(p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        a = wyr8(p + i - 16);
        b = wyr8(p + i - 8);
    }
    a ^= wyp[1];
    b ^= seed;
    wymum(&a, &b);
    return wymix(a ^ wyp[0] ^ len, b ^ wyp[1]);
}

static inline uint64_t str_xxh3(const void *p, size_t n, uint64_t s) { return hash_bytes(p, n, s); }
static inline uint64_t str_xxh64(const void *p, size_t n, uint64_t s) { return XXH64(p, n, s); }
static inline uint64_t str_wy(const void *p, size_t n, uint64_t s) { return wyhash(p, n, s); }
static inline uint64_t str_fnv(const void *p, size_t n, uint64_t s) { return fnv1a(p, n, s); }

/* ---- key sets ---------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

enum { INT_SEQ, INT_STRIDE, INT_RANDOM, NINTSETS };
static const char *const int_set_names[] = {"sequential", "stride 4096", "random"};

static void make_ints(uint64_t *k, int set)
{
    uint64_t s = 42;
    for (size_t i = 0; i < NKEYS; i++)
        k[i] = set == INT_SEQ ? i : set == INT_STRIDE ? (uint64_t)i << 12 : splitmix(&s);
}

enum { STR_EMAIL, STR_URL, NSTRSETS };
static const char *const str_set_names[] = {"user...@example.org", "url 16-40 B"};

#define STR_STRIDE 48
static void make_strs(char *buf, size_t *len, int set)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char *p = buf + i * STR_STRIDE;
        int n;
        if (set == STR_EMAIL) {
            n = snprintf(p, STR_STRIDE, "user%012zu@example.org", i);
        } else {
            /* 16..40 bytes: a varying path depth keeps every length in use. */
            static const char *const dirs[] = {"", "a/", "img/", "item/x/", "static/v2/"};
            n = snprintf(p, STR_STRIDE, "https://h.io/%s%zu%.*s", dirs[i % 5], i,
                         (int)(i % 11), "/index.html");
            if (n < 16) {
                memset(p + n, '_', (size_t)(16 - n));
                n = 16;
            }
            if (n > 40)
                n = 40;
        }
        len[i] = (size_t)n;
    }
}

/* ---- measurement ------------------------------------------------------------- */

typedef struct {
    double max_chain;
    double overflow;
    double top_chi2;
    double top_pairs;
} quality;

/* Bucket and tophash statistics of NKEYS hashes. */
static quality quality_of(const uint64_t *h)
{
    static uint32_t count[NBUCKETS];
    static size_t tops[256];
    memset(count, 0, sizeof count);
    memset(tops, 0, sizeof tops);
    for (size_t i = 0; i < NKEYS; i++) {
        count[h[i] & bucket_mask(QBITS)]++;
        tops[tophash_from(h[i])]++;
    }
    quality q = {0, 0, 0, 0};
    for (size_t b = 0; b < NBUCKETS; b++) {
        if (count[b] > q.max_chain)
            q.max_chain = count[b];
        if (count[b] > BUCKET_SLOTS)
            q.overflow += (count[b] - 1) / BUCKET_SLOTS;
    }
    /* Expected tophash counts: 1/256 per value, values 5..9 also receive
     * 0..4. */
    for (int t = MIN_TOPHASH; t < 256; t++) {
        double e = (double)NKEYS / 256 * (t < 2 * MIN_TOPHASH ? 2 : 1);
        q.top_chi2 += ((double)tops[t] - e) * ((double)tops[t] - e) / e;
    }
    /* Pairs of entries of one bucket with equal tophash bytes: each is a
     * candidate a lookup must compare a key against for nothing. */
    static uint8_t seen[NBUCKETS * 256];
    for (size_t i = 0; i < NKEYS; i++) {
        size_t cell = (h[i] & bucket_mask(QBITS)) * 256 + tophash_from(h[i]);
        q.top_pairs += seen[cell];
        if (seen[cell] < 255)
            seen[cell]++;
    }
    for (size_t i = 0; i < NKEYS; i++)
        seen[(h[i] & bucket_mask(QBITS)) * 256 + tophash_from(h[i])] = 0;
    return q;
}

/* Equal-tophash pairs within buckets for a random hash: lambda^2 / 2 pairs
 * per bucket, each equal with probability sum p_t^2 over tophash values. */
static double random_top_pairs(void)
{
    double lambda = (double)NKEYS / (double)NBUCKETS, same = 0;
    for (int t = MIN_TOPHASH; t < 256; t++) {
        double pt = (t < 2 * MIN_TOPHASH ? 2.0 : 1.0) / 256;
        same += pt * pt;
    }
    return (double)NBUCKETS * lambda * lambda / 2 * same;
}

/* Overflow buckets a random hash needs on average: sum over buckets of
 * E[ceil(X/8) - 1; X > 8] with X ~ Poisson(NKEYS / NBUCKETS). */
static double poisson_overflow(void)
{
    double lambda = (double)NKEYS / (double)NBUCKETS, p = exp(-lambda), e = 0;
    for (int k = 0; k < 200; k++) {
        if (k > BUCKET_SLOTS)
            e += p * (double)((k - 1) / BUCKET_SLOTS);
        p *= lambda / (k + 1);
    }
    return e * (double)NBUCKETS;
}

/* The longest chain a random hash typically gives: the smallest m with
 * NBUCKETS * P(X >= m) below 1/2, X ~ Poisson(NKEYS / NBUCKETS). */
static int poisson_max(void)
{
    double lambda = (double)NKEYS / (double)NBUCKETS, p = exp(-lambda), below = 0;
    for (int k = 0; k < 200; k++) {
        if ((1 - below) * (double)NBUCKETS < 0.5)
            return k;
        below += p;
        p *= lambda / (k + 1);
    }
    return 200;
}

static volatile uint64_t sink;

#define INT_HASHES(X) X(mum) X(fmix) X(xxh3) X(mult)
#define STR_HASHES(X) X(xxh3) X(xxh64) X(wy) X(fnv)

typedef uint64_t (*int_fn)(uint64_t, uint64_t);
typedef uint64_t (*str_fn)(const void *, size_t, uint64_t);

/* One timed pass per hash function, each its own loop so the hash inlines. */
#define INT_TIMED(name)                                                        \
    static double time_int_##name(const uint64_t *k, uint64_t seed)           \
    {                                                                          \
        uint64_t acc = 0;                                                      \
        double t0 = clock_ns();                                                  \
        for (size_t i = 0; i < NKEYS; i++)                                     \
            acc += int_##name(k[i], seed);                                     \
        double t = (clock_ns() - t0) / NKEYS;                                    \
        sink += acc;                                                           \
        return t;                                                              \
    }
INT_HASHES(INT_TIMED)

#define STR_TIMED(name)                                                        \
    static double time_str_##name(const char *buf, const size_t *len, uint64_t seed) \
    {                                                                          \
        uint64_t acc = 0;                                                      \
        double t0 = clock_ns();                                                  \
        for (size_t i = 0; i < NKEYS; i++)                                     \
            acc += str_##name(buf + i * STR_STRIDE, len[i], seed);             \
        double t = (clock_ns() - t0) / NKEYS;                                    \
        sink += acc;                                                           \
        return t;                                                              \
    }
STR_HASHES(STR_TIMED)

typedef struct {
    const char *name;
    const char *what;
    double (*time_int)(const uint64_t *, uint64_t);
    double (*time_str)(const char *, const size_t *, uint64_t);
    int_fn fi;
    str_fn fs;
} candidate;

static const candidate int_cands[] = {
    {"mum (current)", "hash_u64: (k^s) x ((s^c)|1), 128-bit, folded", time_int_mum, NULL, int_mum, NULL},
    {"fmix64", "murmur3 finaliser of k^s", time_int_fmix, NULL, int_fmix, NULL},
    {"xxh3-8B", "XXH3_64bits_withSeed(&k, 8, s)", time_int_xxh3, NULL, int_xxh3, NULL},
    {"mult (control)", "(k^s) x 0x9e37..15, not mixed", time_int_mult, NULL, int_mult, NULL},
};
static const candidate str_cands[] = {
    {"xxh3 (current)", "XXH3_64bits_withSeed", NULL, time_str_xxh3, NULL, str_xxh3},
    {"xxh64", "XXH64", NULL, time_str_xxh64, NULL, str_xxh64},
    {"wyhash", "wyhash final4", NULL, time_str_wy, NULL, str_wy},
    {"fnv1a", "FNV-1a 64, seed xored in", NULL, time_str_fnv, NULL, str_fnv},
};

static void header(const char *title, double expect_ovf)
{
    printf("\n%s\n", title);
    printf("%-16s %-20s %8s %6s %9s %9s %9s\n", "hash", "keys", "ns/hash", "max", "overflow",
           "top chi2", "top pairs");
    printf("%-16s %-20s %8s %6d %9.0f %9s %9.0f\n", "(random hash)", "expected", "", poisson_max(),
           expect_ovf, "~250", random_top_pairs());
}

/* One row of the table: candidate c (an integer one when it has time_int)
 * on the key set just made (integers in keys, or strings in sbuf and slen),
 * over `runs` seeds drawn from seed0: the medians of its time and of the
 * quality of its hashes (h holds them). */
static void measure_row(const candidate *c, const char *set_name, int runs, uint64_t seed0,
                        const uint64_t *keys, const char *sbuf, const size_t *slen, uint64_t *h)
{
    double t[64], mc[64], ov[64], chi[64], tp[64];
    uint64_t s = seed0;
    for (int r = 0; r < runs; r++) {
        uint64_t seed = splitmix(&s);
        if (c->time_int) {
            t[r] = c->time_int(keys, seed);
            for (size_t i = 0; i < NKEYS; i++)
                h[i] = c->fi(keys[i], seed);
        } else {
            t[r] = c->time_str(sbuf, slen, seed);
            for (size_t i = 0; i < NKEYS; i++)
                h[i] = c->fs(sbuf + i * STR_STRIDE, slen[i], seed);
        }
        quality q = quality_of(h);
        mc[r] = q.max_chain;
        ov[r] = q.overflow;
        chi[r] = q.top_chi2;
        tp[r] = q.top_pairs;
    }
    unsigned n = (unsigned)runs;
    printf("%-16s %-20s %8.2f %6.0f %9.0f %9.0f %9.0f\n", c->name, set_name,
           bench_median(t, n), bench_median(mc, n), bench_median(ov, n), bench_median(chi, n),
           bench_median(tp, n));
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1 || runs > 64)
        runs = 5;
    uint64_t *keys = malloc(NKEYS * sizeof *keys);
    uint64_t *h = malloc(NKEYS * sizeof *h);
    char *sbuf = malloc((size_t)NKEYS * STR_STRIDE);
    size_t *slen = malloc(NKEYS * sizeof *slen);
    if (!keys || !h || !sbuf || !slen) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    const double expect_ovf = poisson_overflow();
    printf("gomap-hash-choice: %d keys into 2^%d buckets; median of %d runs/seeds\n",
           NKEYS, QBITS, runs);

    header("Integer keys (u64)", expect_ovf);
    for (int set = 0; set < NINTSETS; set++) {
        make_ints(keys, set);
        for (size_t c = 0; c < sizeof int_cands / sizeof int_cands[0]; c++)
            measure_row(&int_cands[c], int_set_names[set], runs, 7, keys, NULL, NULL, h);
    }

    header("String keys (16..40 bytes)", expect_ovf);
    for (int set = 0; set < NSTRSETS; set++) {
        make_strs(sbuf, slen, set);
        for (size_t c = 0; c < sizeof str_cands / sizeof str_cands[0]; c++)
            measure_row(&str_cands[c], str_set_names[set], runs, 11, NULL, sbuf, slen, h);
    }
    printf("\nmax: entries in the fullest bucket; overflow: overflow buckets needed (a\n"
           "random hash gives the 'expected' row); top chi2: chi-square of the tophash byte\n"
           "over its 251 values (about 250 for a random hash; far above means some values\n"
           "are crowded); top pairs: pairs of entries of one bucket with equal tophash, i.e.\n"
           "key compares a lookup makes for nothing. Lower ns/hash is faster.\n");
    free(keys);
    free(h);
    free(sbuf);
    free(slen);
    return (int)(sink & 0);
}

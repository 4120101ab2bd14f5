/*
 * test_concurrent_readers.c — many threads reading one map with no writer.
 *
 * gomap/map.h allows any number of concurrent readers (lookups, get_copy,
 * iterators, len, clone, validate, stats) as long as nobody writes. This test
 * builds three maps on the main thread — u64 keys, string keys, and a u64 map
 * stopped in the middle of an incremental growth — then starts READERS
 * threads together that each, for ROUNDS rounds and every map:
 *   - look up every key (typed and generic calls, gomap_get_copy) and check
 *     the value, and look up keys that are certainly absent;
 *   - iterate the whole map and check every key is produced exactly once
 *     with its value; also abandon an iteration half way (gomap_iter_done);
 *   - check gomap_len, gomap_validate and gomap_stats (reads move nothing,
 *     so the stats, including growth progress, equal those taken before);
 *   - clone the map and check the clone holds the same entries.
 * After the threads end, the main thread checks the maps are untouched and
 * that no iterator is still counted live (gomap_shrink succeeds).
 *
 * Run under ThreadSanitizer this shows that reads really are reads: any
 * hidden write in a read path (iterator bookkeeping, lazy state, statistics)
 * is reported as a data race. Keys come from test_seed().
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    READERS = 4,
    ROUNDS = 4,
    N_U64 = 20000,
    N_STR = 10000,
    MIN_GROW = 10000,  /* the growing map has at least this many entries */
};

/* One map under test. Every map here stores the key's index as its value
 * (uint64_t), so a reader can check value and key together. */
typedef struct {
    const char *name;
    gomap_t *m;
    gomap_key_kind kind;
    size_t n;
    bool dense;              /* u64 keys are exactly 0 .. n-1 */
    uint64_t *u64_keys;      /* GOMAP_KEY_U64: key of index i */
    char **str_keys;         /* GOMAP_KEY_STR: key of index i */
    size_t *str_lens;
    gomap_stats_t stats;     /* taken before the readers start */
} subject;

typedef struct {
    subject *maps;
    size_t nmaps;
    pthread_barrier_t start;
    uint64_t seed;
} shared_state;

typedef struct {
    shared_state *sh;
    unsigned id;
    pthread_t thread;
} reader_arg;

/* ------------------------------------------------------------------------ */
/* Building the maps (main thread, before any reader exists)                 */
/* ------------------------------------------------------------------------ */

static gomap_t *make_map(gomap_key_kind kind)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = kind;
    o.val_size = sizeof(uint64_t);
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    return m;
}

/* Present u64 keys are odd; a miss key is made even, so it is never present. */
static void build_u64(subject *s, uint64_t *rng)
{
    s->name = "u64";
    s->kind = GOMAP_KEY_U64;
    s->m = make_map(GOMAP_KEY_U64);
    s->u64_keys = malloc(N_U64 * sizeof *s->u64_keys);
    CHECK(s->u64_keys != NULL);
    size_t n = 0;
    while (n < N_U64) {
        uint64_t k = test_rand(rng) | 1;
        if (gomap_get_u64(s->m, k))
            continue;  /* a repeated random key: draw again */
        uint64_t idx = n;
        CHECK_EQ(gomap_set_u64(s->m, k, &idx), 0);
        s->u64_keys[n++] = k;
    }
    s->n = n;
}

/* Present string keys start with "k"; a miss key starts with "miss". */
static void build_str(subject *s, uint64_t *rng)
{
    s->name = "str";
    s->kind = GOMAP_KEY_STR;
    s->m = make_map(GOMAP_KEY_STR);
    s->str_keys = malloc(N_STR * sizeof *s->str_keys);
    s->str_lens = malloc(N_STR * sizeof *s->str_lens);
    CHECK(s->str_keys != NULL && s->str_lens != NULL);
    for (size_t i = 0; i < N_STR; i++) {
        /* Lengths from 2 to ~60 bytes, unique through the index. */
        char buf[96];
        int pad = (int)test_rand_below(rng, 40);
        int len = snprintf(buf, sizeof buf, "k%zu-%0*" PRIx64, i, pad, test_rand(rng));
        CHECK(len > 0 && (size_t)len < sizeof buf);
        s->str_keys[i] = malloc((size_t)len);
        CHECK(s->str_keys[i] != NULL);
        memcpy(s->str_keys[i], buf, (size_t)len);
        s->str_lens[i] = (size_t)len;
        uint64_t idx = i;
        CHECK_EQ(gomap_set_str(s->m, buf, (size_t)len, &idx), 0);
    }
    s->n = N_STR;
}

/* Keys 0, 1, 2, ... inserted until a doubling growth has just begun with at
 * least MIN_GROW entries; nothing evacuates it afterwards, since only writes
 * move entries. Misses are keys >= n. */
static void build_growing(subject *s)
{
    s->name = "growing";
    s->kind = GOMAP_KEY_U64;
    s->dense = true;
    s->m = make_map(GOMAP_KEY_U64);
    s->u64_keys = malloc(4 * MIN_GROW * sizeof *s->u64_keys);
    CHECK(s->u64_keys != NULL);
    size_t n = 0;
    for (;;) {
        CHECK(n < 4 * MIN_GROW);
        uint64_t idx = n;
        CHECK_EQ(gomap_set_u64(s->m, (uint64_t)n, &idx), 0);
        s->u64_keys[n] = n;
        n++;
        gomap_stats_t st;
        CHECK_EQ(gomap_stats(s->m, &st), 0);
        if (n >= MIN_GROW && st.growing)
            break;
    }
    s->n = n;
}

static void free_subject(subject *s)
{
    gomap_free(s->m);
    free(s->u64_keys);
    if (s->str_keys) {
        for (size_t i = 0; i < s->n; i++)
            free(s->str_keys[i]);
        free(s->str_keys);
        free(s->str_lens);
    }
}

/* ------------------------------------------------------------------------ */
/* What a reader checks                                                      */
/* ------------------------------------------------------------------------ */

/* The key of index i in the form gomap_get expects (u64 value or gomap_str),
 * written to the caller's storage. */
static const void *key_of(const subject *s, size_t i, uint64_t *u, gomap_str *str)
{
    if (s->kind == GOMAP_KEY_U64) {
        *u = s->u64_keys[i];
        return u;
    }
    str->ptr = s->str_keys[i];
    str->len = s->str_lens[i];
    return str;
}

static bool same_key(const subject *s, size_t i, const void *stored)
{
    if (s->kind == GOMAP_KEY_U64)
        return *(const uint64_t *)stored == s->u64_keys[i];
    const gomap_str *ks = stored;
    return ks->len == s->str_lens[i] && memcmp(ks->ptr, s->str_keys[i], ks->len) == 0;
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Every key, visited from a random start with a random odd stride so that
 * threads touch buckets in different orders. */
static void check_lookups(const subject *s, uint64_t *rng)
{
    size_t start = (size_t)test_rand_below(rng, s->n);
    size_t stride = (size_t)test_rand_below(rng, s->n) | 1;
    while (gcd(stride, s->n) != 1)
        stride += 2;  /* coprime with n: the walk is a permutation */
    for (size_t j = 0; j < s->n; j++) {
        size_t i = (start + j * stride) % s->n;
        uint64_t u;
        gomap_str str;
        const void *key = key_of(s, i, &u, &str);

        const uint64_t *p = gomap_get(s->m, key);
        CHECK_MSG(p != NULL, "%s: key %zu missing", s->name, i);
        CHECK_MSG(*p == i, "%s: key %zu has value %" PRIu64, s->name, i, *p);
        const uint64_t *q = s->kind == GOMAP_KEY_U64 ? gomap_get_u64(s->m, u)
                                                     : gomap_get_str(s->m, str.ptr, str.len);
        CHECK(q == p);
        uint64_t out = ~(uint64_t)0;
        CHECK(gomap_get_copy(s->m, key, &out));
        CHECK_EQ(out, i);

        /* A key that cannot be present. */
        char mbuf[32];
        uint64_t miss;
        bool found;
        if (s->kind == GOMAP_KEY_STR) {
            int len = snprintf(mbuf, sizeof mbuf, "miss%zu", i);
            found = gomap_get_str(s->m, mbuf, (size_t)len) != NULL;
        } else if (s->dense) {
            miss = s->n + i;  /* the growing map holds exactly 0 .. n-1 */
            found = gomap_get_u64(s->m, miss) != NULL;
        } else {
            miss = u & ~(uint64_t)1;  /* the u64 map holds odd keys only */
            found = gomap_get(s->m, &miss) != NULL;
        }
        CHECK_MSG(!found, "%s: absent key %zu found", s->name, i);
    }
    /* get_copy of an absent key gives the zero value. */
    uint64_t out = 123;
    if (s->kind == GOMAP_KEY_STR) {
        gomap_str absent = {"miss", 4};
        CHECK(!gomap_get_copy(s->m, &absent, &out));
    } else {
        uint64_t absent = s->dense ? s->n : 2;
        CHECK(!gomap_get_copy(s->m, &absent, &out));
    }
    CHECK_EQ(out, 0);
}

/* A full iteration: each index exactly once, key and value agreeing. */
static void check_iteration(const subject *s, unsigned char *seen)
{
    memset(seen, 0, s->n);
    gomap_iter it;
    gomap_iter_init(&it, s->m);
    const void *k;
    void *v;
    size_t count = 0;
    while (gomap_iter_next(&it, &k, &v)) {
        CHECK(k != NULL && v != NULL);
        uint64_t idx = *(const uint64_t *)v;
        CHECK_MSG(idx < s->n, "%s: value %" PRIu64 " out of range", s->name, idx);
        CHECK_MSG(!seen[idx], "%s: index %" PRIu64 " produced twice", s->name, idx);
        CHECK_MSG(same_key(s, (size_t)idx, k), "%s: key/value mismatch at %" PRIu64,
                  s->name, idx);
        seen[idx] = 1;
        count++;
    }
    CHECK_MSG(count == s->n, "%s: iteration produced %zu of %zu", s->name, count, s->n);
    /* The iterator stays finished. */
    CHECK(!gomap_iter_next(&it, &k, &v));
}

/* An iteration abandoned part way; what it produced is still correct. */
static void check_partial_iteration(const subject *s, uint64_t *rng)
{
    size_t stop = (size_t)test_rand_below(rng, s->n);
    gomap_iter it;
    gomap_iter_init(&it, s->m);
    const void *k;
    void *v;
    for (size_t i = 0; i < stop; i++) {
        CHECK(gomap_iter_next(&it, &k, &v));
        uint64_t idx = *(const uint64_t *)v;
        CHECK(idx < s->n && same_key(s, (size_t)idx, k));
    }
    gomap_iter_done(&it);
}

static void check_stats_unchanged(const subject *s)
{
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(s->m, &st), 0);
    CHECK_EQ(st.entries, s->n);
    CHECK_EQ(st.b, s->stats.b);
    CHECK_EQ(st.buckets, s->stats.buckets);
    CHECK_EQ(st.overflow_buckets, s->stats.overflow_buckets);
    CHECK_EQ(st.growing, s->stats.growing);
    CHECK_EQ(st.same_size_grow, s->stats.same_size_grow);
    CHECK_EQ(st.old_buckets, s->stats.old_buckets);
    CHECK_MSG(st.evacuated == s->stats.evacuated, "%s: a read evacuated buckets (%zu -> %zu)",
              s->name, s->stats.evacuated, st.evacuated);
    CHECK_EQ(st.bytes_held, s->stats.bytes_held);
    CHECK_EQ(st.reseeds, s->stats.reseeds);
}

/* Clone the shared map (a read of it) and check the clone fully. The clone
 * is this thread's own, so it may be written. */
static void check_clone(const subject *s, unsigned char *seen)
{
    gomap_t *c = NULL;
    CHECK_EQ(gomap_clone(&c, s->m), 0);
    CHECK(c != NULL && c != s->m);
    CHECK_EQ(gomap_len(c), s->n);
    CHECK_VALID(c);
    subject cs = *s;
    cs.m = c;
    check_iteration(&cs, seen);
    for (size_t i = 0; i < s->n; i++) {
        uint64_t u;
        gomap_str str;
        const void *key = key_of(s, i, &u, &str);
        const uint64_t *p = gomap_get(c, key);
        CHECK(p != NULL && *p == i);
        CHECK(p != gomap_get(s->m, key));
    }
    /* Writing the clone leaves the shared map alone (checked by the stats
     * comparison that follows in the caller). */
    uint64_t u;
    gomap_str str;
    CHECK(gomap_delete(c, key_of(s, 0, &u, &str)));
    CHECK_EQ(gomap_len(c), s->n - 1);
    gomap_free(c);
}

static void *reader(void *argp)
{
    reader_arg *arg = argp;
    shared_state *sh = arg->sh;
    uint64_t rng = sh->seed ^ (0x5851F42D4C957F2Dull * (arg->id + 1));
    size_t max_n = 0;
    for (size_t i = 0; i < sh->nmaps; i++)
        if (sh->maps[i].n > max_n)
            max_n = sh->maps[i].n;
    unsigned char *seen = malloc(max_n);
    CHECK(seen != NULL);

    pthread_barrier_wait(&sh->start);
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t mi = 0; mi < sh->nmaps; mi++) {
            /* Threads take the maps in different orders. */
            const subject *s = &sh->maps[(mi + arg->id) % sh->nmaps];
            CHECK_EQ(gomap_len(s->m), s->n);
            check_lookups(s, &rng);
            check_iteration(s, seen);
            check_partial_iteration(s, &rng);
            CHECK_VALID(s->m);
            check_clone(s, seen);
            check_stats_unchanged(s);
        }
    }
    free(seen);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Test                                                                      */
/* ------------------------------------------------------------------------ */

static void test_concurrent_readers(void)
{
    uint64_t seed = test_seed();
    uint64_t rng = seed;
    subject maps[3];
    memset(maps, 0, sizeof maps);
    build_u64(&maps[0], &rng);
    build_str(&maps[1], &rng);
    build_growing(&maps[2]);
    for (size_t i = 0; i < 3; i++) {
        CHECK_VALID(maps[i].m);
        CHECK_EQ(gomap_stats(maps[i].m, &maps[i].stats), 0);
        CHECK_EQ(maps[i].stats.entries, maps[i].n);
    }
    /* The third map really is mid-growth, with old buckets left to move. */
    CHECK(maps[2].stats.growing);
    CHECK(maps[2].stats.old_buckets > 0);
    CHECK(maps[2].stats.evacuated < maps[2].stats.old_buckets);
    printf("maps: u64 %zu entries, str %zu, growing %zu (evacuated %zu of %zu old buckets)\n",
           maps[0].n, maps[1].n, maps[2].n, maps[2].stats.evacuated,
           maps[2].stats.old_buckets);

    shared_state sh;
    sh.maps = maps;
    sh.nmaps = 3;
    sh.seed = seed;
    CHECK_EQ(pthread_barrier_init(&sh.start, NULL, READERS), 0);
    reader_arg args[READERS];
    for (unsigned t = 0; t < READERS; t++) {
        args[t].sh = &sh;
        args[t].id = t;
        CHECK_EQ(pthread_create(&args[t].thread, NULL, reader, &args[t]), 0);
    }
    for (unsigned t = 0; t < READERS; t++)
        CHECK_EQ(pthread_join(args[t].thread, NULL), 0);
    pthread_barrier_destroy(&sh.start);

    /* Untouched by the readers, and no iterator left counted as live: the
     * first write (shrink) is allowed and the entries survive it. */
    size_t max_n = 0;
    for (size_t i = 0; i < 3; i++)
        if (maps[i].n > max_n)
            max_n = maps[i].n;
    unsigned char *seen = malloc(max_n);
    CHECK(seen != NULL);
    for (size_t i = 0; i < 3; i++) {
        subject *s = &maps[i];
        check_stats_unchanged(s);
        CHECK_VALID(s->m);
        CHECK_EQ(gomap_shrink(s->m), 0);
        gomap_stats_t st;
        CHECK_EQ(gomap_stats(s->m, &st), 0);
        CHECK(!st.growing);
        CHECK_EQ(st.entries, s->n);
        CHECK_VALID(s->m);
        check_iteration(s, seen);
        free_subject(s);
    }
    free(seen);
}

int main(void)
{
    RUN(test_concurrent_readers);
    printf("ok\n");
    return 0;
}

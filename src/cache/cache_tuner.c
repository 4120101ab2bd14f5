/*
 * cache_tuner.c — the window tuner (see cache_tuner.h): three shadow
 * W-TinyLFU caches over a sample of the keys, and the epochs that steer the
 * window towards the best of them.
 *
 * A shadow is W-TinyLFU as the cache runs it (bench/cache/policy_tinylfu.c
 * is the same policy over dense ids): a window LRU takes every new key; the
 * rest is a segmented LRU, probation and protected (80 % of the main part).
 * A hit in probation promotes the key to protected, whose overflow goes back
 * to probation's front. A key leaving the window, when the shadow is over
 * capacity, duels probation's oldest key by the shadow's count-min sketch;
 * a warm candidate (estimate >= 6) that loses or ties is still admitted with
 * probability 1/128 (Caffeine's defence against hash flooding).
 *
 * Its keys are 32-bit fingerprints of the sampled hashes (the low bits of
 * their seeded mix, independent of the bits that decide the sample): two
 * keys of one shadow share a fingerprint with a chance of about 1024 in 2^32
 * per lookup, which blurs an estimate by a hit at worst and saves a third of
 * the key table. Nodes are indices (at most 1024 + 1 + the lists'
 * sentinels fit in 16 bits): a node array of fingerprints and list links,
 * and an open-addressing table (linear probing, about half full at most) from
 * fingerprint to node.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "cache/cache_sketch.h"
#include "cache/cache_tuner.h"

/* Chosen by measurement (docs/cache-policy.md): the shares the best static
 * window of each trace clusters at; the epoch (in multiples of the
 * capacity), the score's decay per epoch and the window's step per epoch
 * (share of the capacity) of the best of a sweep. */
static const double SHADOW_SHARES[] = {0.01, 0.2, 0.8};
enum { SHADOWS = sizeof SHADOW_SHARES / sizeof SHADOW_SHARES[0], SHADOW_MAX = 1024 };
static const double EPOCH = 2, DECAY = 0.9, STEP = 0.05;

enum { WINDOW, PROBATION, PROTECTED, LISTS };
#define NONE UINT16_MAX

typedef struct {
    uint16_t newer, older; /* towards the list's front (newest) and back */
} link16;

typedef struct {
    /* One block: key[nodes], link[nodes + LISTS], table[table_size],
     * where[nodes]. Nodes are cap + 1: a new key is in before one leaves. */
    void *block;
    size_t block_bytes;
    uint32_t *key;   /* node -> its key's fingerprint */
    link16 *link;    /* node -> its links; then one sentinel per list */
    uint16_t *table; /* 0: empty; else 1 + the node of a key */
    uint8_t *where;  /* node -> 1 + its list; 0 when free */
    size_t mask;     /* table size - 1 */
    uint16_t free;   /* first free node, chained through link[].older */
    size_t len[LISTS];
    size_t cap, window_cap, protected_cap;
    cache_sketch sk;
    uint64_t rng;
} shadow;

struct cache_tuner {
    shadow shadow[SHADOWS];
    double score[SHADOWS];
    size_t epoch_hits[SHADOWS];
    uint64_t sample_seed, sample_below; /* sampled: mix(hash ^ seed) <= below */
    size_t epoch_len, epoch_n;
    unsigned chosen;
    double share;
};

/* ---- lists of nodes ---- */

static uint16_t sentinel(const shadow *s, unsigned list)
{
    return (uint16_t)(s->cap + 1 + list);
}

static void list_push(shadow *s, unsigned list, uint16_t x)
{
    uint16_t head = sentinel(s, list), first = s->link[head].older;
    s->link[x].newer = head;
    s->link[x].older = first;
    s->link[first].newer = x;
    s->link[head].older = x;
    s->where[x] = (uint8_t)(list + 1);
    s->len[list]++;
}

static void list_unlink(shadow *s, uint16_t x)
{
    unsigned list = s->where[x] - 1u;
    s->link[s->link[x].newer].older = s->link[x].older;
    s->link[s->link[x].older].newer = s->link[x].newer;
    s->where[x] = 0;
    s->len[list]--;
}

/* Moves x to the front of `list`, from wherever it is. */
static void list_move(shadow *s, unsigned list, uint16_t x)
{
    list_unlink(s, x);
    list_push(s, list, x);
}

/* The oldest node of `list`, or NONE when it is empty. */
static uint16_t list_back(const shadow *s, unsigned list)
{
    uint16_t head = sentinel(s, list), x = s->link[head].newer;
    return x == head ? NONE : x;
}

/* ---- the table from fingerprint to node ---- */

static uint16_t table_find(const shadow *s, uint32_t key)
{
    for (size_t i = key & s->mask; s->table[i]; i = (i + 1) & s->mask)
        if (s->key[s->table[i] - 1u] == key)
            return (uint16_t)(s->table[i] - 1u);
    return NONE;
}

static void table_insert(shadow *s, uint16_t x)
{
    size_t i = s->key[x] & s->mask;
    while (s->table[i])
        i = (i + 1) & s->mask;
    s->table[i] = (uint16_t)(x + 1u);
}

/* Removes node x, shifting back the entries after it that may move (so no
 * tombstones). */
static void table_remove(shadow *s, uint16_t x)
{
    size_t i = s->key[x] & s->mask;
    while (s->table[i] != x + 1u)
        i = (i + 1) & s->mask;
    for (size_t j = (i + 1) & s->mask; s->table[j]; j = (j + 1) & s->mask) {
        size_t home = s->key[s->table[j] - 1u] & s->mask;
        /* The entry at j may fill i unless its home lies in (i, j]. */
        if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
            s->table[i] = s->table[j];
            i = j;
        }
    }
    s->table[i] = 0;
}

/* ---- one shadow: W-TinyLFU with a fixed window ---- */

static size_t shadow_len(const shadow *s)
{
    return s->len[WINDOW] + s->len[PROBATION] + s->len[PROTECTED];
}

static void shadow_remove(shadow *s, uint16_t x)
{
    list_unlink(s, x);
    table_remove(s, x);
    s->link[x].older = s->free;
    s->free = x;
}

static void demote_protected(shadow *s)
{
    while (s->len[PROTECTED] > s->protected_cap)
        list_move(s, PROBATION, list_back(s, PROTECTED));
}

static bool admit(shadow *s, uint16_t cand, uint16_t victim)
{
    unsigned cf = gomap__sketch_frequency(&s->sk, s->key[cand]);
    unsigned vf = gomap__sketch_frequency(&s->sk, s->key[victim]);
    return cache_admit(cf, vf, &s->rng);
}

/* Moves window overflow to probation; over capacity, each candidate duels
 * probation's oldest key and the loser leaves. */
static void evict(shadow *s)
{
    while (s->len[WINDOW] > s->window_cap) {
        uint16_t cand = list_back(s, WINDOW);
        list_move(s, PROBATION, cand);
        if (shadow_len(s) <= s->cap)
            continue;
        uint16_t victim = list_back(s, PROBATION);
        if (victim == cand && s->len[PROTECTED])
            victim = list_back(s, PROTECTED);
        shadow_remove(s, victim != cand && admit(s, cand, victim) ? victim : cand);
    }
    GOMAP_ASSERT(shadow_len(s) <= s->cap);
}

/* One access to the key of fingerprint `key`; true on a hit. */
static bool shadow_access(shadow *s, uint32_t key)
{
    gomap__sketch_increment(&s->sk, key);
    uint16_t x = table_find(s, key);
    if (x != NONE) {
        unsigned list = s->where[x] - 1u;
        list_move(s, list == PROBATION ? PROTECTED : list, x);
        if (list == PROBATION)
            demote_protected(s);
        return true;
    }
    x = s->free;
    GOMAP_ASSERT_ALWAYS(x != NONE);
    s->free = s->link[x].older;
    s->key[x] = key;
    table_insert(s, x);
    list_push(s, WINDOW, x);
    evict(s);
    return false;
}

static void shadow_free(shadow *s, const gomap_allocator *a)
{
    gomap__free(a, s->block, s->block_bytes);
    s->block = NULL;
    gomap__sketch_free(&s->sk, a);
}

/* A shadow of `cap` entries (1..SHADOW_MAX) whose window is `share` of it.
 * 0 or -ENOMEM (nothing held). */
static int shadow_init(shadow *s, size_t cap, double share, uint64_t seed, const gomap_allocator *a)
{
    size_t nodes = cap + 1, table_size = 4;
    while (table_size < 2 * cap)
        table_size *= 2;
    size_t key_off = 0, link_off = key_off + nodes * sizeof(uint32_t);
    size_t table_off = link_off + (nodes + LISTS) * sizeof(link16);
    size_t where_off = table_off + table_size * sizeof(uint16_t);
    size_t bytes = where_off + nodes;
    char *block = gomap__alloc(a, bytes);
    if (!block)
        return -ENOMEM;
    if (gomap__sketch_init(&s->sk, cap, cache_mix64(seed), a)) {
        gomap__free(a, block, bytes);
        return -ENOMEM;
    }
    memset(block, 0, bytes);
    s->block = block;
    s->block_bytes = bytes;
    s->key = (uint32_t *)(void *)(block + key_off);
    s->link = (link16 *)(void *)(block + link_off);
    s->table = (uint16_t *)(void *)(block + table_off);
    s->where = (uint8_t *)(block + where_off);
    s->mask = table_size - 1;
    s->cap = cap;
    for (size_t i = 0; i < nodes; i++)
        s->link[i].older = (uint16_t)(i + 1 < nodes ? i + 1 : NONE);
    s->free = 0;
    for (unsigned l = 0; l < LISTS; l++) {
        uint16_t head = sentinel(s, l);
        s->link[head].newer = s->link[head].older = head;
        s->len[l] = 0;
    }
    /* The window holds share x cap entries, at least 1 and, when cap > 1,
     * at most cap - 1; protected 80 % of the rest. */
    double w = share * (double)cap;
    size_t max = cap > 1 ? cap - 1 : 1;
    s->window_cap = w < 1 ? 1 : w > (double)max ? max : (size_t)w;
    s->protected_cap = (cap - s->window_cap) * 8 / 10;
    s->rng = seed;
    return 0;
}

/* ---- the tuner ---- */

cache_tuner *gomap__tuner_new(size_t capacity, uint64_t seed, const gomap_allocator *a)
{
    if (capacity == 0)
        capacity = 1;
    cache_tuner *t = gomap__alloc(a, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    size_t cap = capacity < SHADOW_MAX ? capacity : SHADOW_MAX;
    uint64_t shadow_seed = cache_mix64(seed + 1);
    for (unsigned i = 0; i < SHADOWS; i++)
        if (shadow_init(&t->shadow[i], cap, SHADOW_SHARES[i], shadow_seed, a)) {
            gomap__tuner_free(t, a);
            return NULL;
        }
    t->sample_seed = cache_mix64(seed + 2);
    /* Sample rate SHADOW_MAX / capacity: below = rate x 2^64. */
    t->sample_below =
        capacity <= SHADOW_MAX
            ? UINT64_MAX
            : (uint64_t)((double)SHADOW_MAX / (double)capacity * 18446744073709551616.0);
    double epoch = EPOCH * (double)capacity;
    t->epoch_len = epoch >= (double)SIZE_MAX ? SIZE_MAX : (size_t)epoch;
    t->share = SHADOW_SHARES[0];
    return t;
}

static void end_epoch(cache_tuner *t)
{
    unsigned best = t->chosen;
    for (unsigned i = 0; i < SHADOWS; i++) {
        t->score[i] = DECAY * t->score[i] + (double)t->epoch_hits[i];
        t->epoch_hits[i] = 0;
        if (t->score[i] > t->score[best])
            best = i;
    }
    t->chosen = best;
    /* A step towards the leader's share. */
    double target = SHADOW_SHARES[best];
    if (t->share < target)
        t->share = t->share + STEP < target ? t->share + STEP : target;
    else if (t->share > target)
        t->share = t->share - STEP > target ? t->share - STEP : target;
    t->epoch_n = 0;
}

void gomap__tuner_access(cache_tuner *t, uint64_t hash)
{
    uint64_t h = cache_mix64(hash ^ t->sample_seed);
    if (h <= t->sample_below)
        for (unsigned i = 0; i < SHADOWS; i++)
            t->epoch_hits[i] += shadow_access(&t->shadow[i], (uint32_t)h);
    if (++t->epoch_n >= t->epoch_len)
        end_epoch(t);
}

double gomap__tuner_window_share(const cache_tuner *t)
{
    return t->share;
}

size_t gomap__tuner_bytes(const cache_tuner *t)
{
    size_t bytes = sizeof *t;
    for (unsigned i = 0; i < SHADOWS; i++)
        bytes += t->shadow[i].block_bytes + gomap__sketch_bytes(&t->shadow[i].sk);
    return bytes;
}

void gomap__tuner_free(cache_tuner *t, const gomap_allocator *a)
{
    if (!t)
        return;
    for (unsigned i = 0; i < SHADOWS; i++)
        shadow_free(&t->shadow[i], a);
    gomap__free(a, t, sizeof *t);
}

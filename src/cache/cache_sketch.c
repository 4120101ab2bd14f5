/* cache_sketch.c — the count-min sketch of W-TinyLFU (see cache_sketch.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "cache/cache_sketch.h"

enum { ROWS = 4, PER_WORD = 16, SAMPLE_FACTOR = 10 };

/* The widest sketch asked for: the word array's size and the sample
 * period stay far from overflowing. */
#define CAPACITY_MAX (SIZE_MAX / 64)

/* 64-byte blocks of 8 words: a row is width / 16 words, 4 rows. */
static size_t block_count(const cache_sketch *s) { return s->width / 32; }

static size_t width_for(size_t capacity)
{
    size_t width = (size_t)2 * PER_WORD; /* one block of 8 words at least */
    while (width < 4 * capacity)
        width *= 2;
    return width;
}

/* The counters, then one mark bit a block (see Ageing). */
static size_t mark_words(size_t width) { return (width / 32 + 63) / 64; }

static size_t words_bytes(size_t width)
{
    return (ROWS * (width / PER_WORD) + mark_words(width)) * sizeof(uint64_t);
}

/* A zeroed array of counters and marks for `width` counters a row, or
 * NULL. */
static uint64_t *words_new(size_t width, const gomap_allocator *a)
{
    size_t bytes = words_bytes(width);
    uint64_t *w = gomap__alloc(a, bytes);
    if (w)
        memset(w, 0, bytes);
    return w;
}

/* A fresh array's state: no halving due, every block current. */
static void words_adopt(cache_sketch *s, uint64_t *words, size_t width)
{
    s->words = words;
    s->marks = words + ROWS * (width / PER_WORD);
    s->width = width;
    s->additions = 0;
    s->parity = 0;
    s->swept = block_count(s);
}

int gomap__sketch_init(cache_sketch *s, size_t capacity, uint64_t seed, const gomap_allocator *a)
{
    if (capacity == 0)
        capacity = 1;
    if (capacity > CAPACITY_MAX)
        return -ENOMEM;
    size_t width = width_for(capacity);
    uint64_t *words = words_new(width, a);
    if (!words)
        return -ENOMEM;
    words_adopt(s, words, width);
    s->seed = seed;
    s->sample = SAMPLE_FACTOR * capacity;
    return 0;
}

int gomap__sketch_ensure(cache_sketch *s, size_t capacity, const gomap_allocator *a)
{
    if (capacity <= s->sample / SAMPLE_FACTOR)
        return 0;
    if (capacity > CAPACITY_MAX)
        return -ENOMEM;
    size_t width = width_for(capacity);
    if (width > s->width) {
        uint64_t *words = words_new(width, a);
        if (!words)
            return -ENOMEM;
        gomap__free(a, s->words, words_bytes(s->width));
        words_adopt(s, words, width);
    }
    s->sample = SAMPLE_FACTOR * capacity;
    return 0;
}

void gomap__sketch_free(cache_sketch *s, const gomap_allocator *a)
{
    if (s->words)
        gomap__free(a, s->words, words_bytes(s->width));
    s->words = NULL;
}

/* Where a key's counters are (h: the key's hash mixed with the seed). The
 * four counters of a key share one 64-byte block of 8 words (as in
 * Caffeine's FrequencySketch), so an increment or an estimate touches one
 * cache line instead of four: the block comes from h, and row r's counter
 * from byte r of a second mix of h (one bit: which of the row's two words
 * in the block; four bits: which nibble). */
typedef struct {
    size_t block;   /* its index */
    uint64_t picks; /* byte r picks row r's counter */
} sketch_spot;

static sketch_spot spot(const cache_sketch *s, uint64_t hash)
{
    uint64_t h = cache_mix64(hash ^ s->seed);
    return (sketch_spot){(size_t)(h & (block_count(s) - 1)), cache_mix64(h)};
}

/* Row r's counter in the block: its word (through *word) and nibble shift. */
static unsigned counter(const cache_sketch *s, sketch_spot sp, unsigned r, uint64_t **word)
{
    unsigned byte = (unsigned)(sp.picks >> (r * 8)) & 0xff;
    *word = s->words + sp.block * 8 + (size_t)r * 2 + (byte & 1);
    return ((byte >> 1) & 15) * 4;
}

/* Ageing. When a sample completes, every counter is halved; not in that
 * call, which would be O(width), milliseconds for a sketch of millions of
 * entries, but block by block, with the same result. Each block has a
 * mark bit; the sketch has a parity, which the completion flips, so every
 * block is then stale (mark != parity). A stale block is halved, and its
 * mark set, before anything counts in it; an estimate reads a stale block
 * as halved. So every read and write sees the counts that halving them
 * all at once would have left. Meanwhile each increment halves the next
 * SWEEP_BLOCKS stale blocks in order (`swept`: the next to look at; the
 * block count when the sweep is done), so all are current again within
 * blocks / SWEEP_BLOCKS <= capacity / 8 increments, long before the next
 * completion (10 x capacity additions later; should one come first, the
 * sweep is finished then). */
enum { SWEEP_BLOCKS = 2 };

static bool stale(const cache_sketch *s, size_t block)
{
    return ((s->marks[block / 64] >> (block % 64)) & 1) != s->parity;
}

static void halve_block(cache_sketch *s, size_t block)
{
    uint64_t *w = s->words + block * 8;
    for (unsigned i = 0; i < 8; i++)
        w[i] = (w[i] >> 1) & 0x7777777777777777ull;
    s->marks[block / 64] ^= 1ull << (block % 64);
}

static void sweep(cache_sketch *s, size_t n)
{
    size_t blocks = block_count(s);
    for (; s->swept < blocks && n; s->swept++, n--)
        if (stale(s, s->swept))
            halve_block(s, s->swept);
}

void gomap__sketch_increment(cache_sketch *s, uint64_t hash)
{
    sketch_spot sp = spot(s, hash);
    if (stale(s, sp.block))
        halve_block(s, sp.block);
    int added = 0;
    for (unsigned r = 0; r < ROWS; r++) {
        uint64_t *w;
        unsigned sh = counter(s, sp, r, &w);
        if (((*w >> sh) & 15) < 15) {
            *w += 1ull << sh;
            added = 1;
        }
    }
    sweep(s, SWEEP_BLOCKS);
    if (added && ++s->additions >= s->sample) {
        sweep(s, SIZE_MAX); /* done long ago, unless the sample is tiny */
        s->additions /= 2;
        s->parity ^= 1;
        s->swept = 0;
    }
}

unsigned gomap__sketch_frequency(const cache_sketch *s, uint64_t hash)
{
    sketch_spot sp = spot(s, hash);
    unsigned f = 15;
    for (unsigned r = 0; r < ROWS; r++) {
        uint64_t *w;
        unsigned sh = counter(s, sp, r, &w);
        unsigned v = (unsigned)(*w >> sh) & 15;
        f = v < f ? v : f;
    }
    return stale(s, sp.block) ? f >> 1 : f;
}

size_t gomap__sketch_bytes(const cache_sketch *s)
{
    return s->words ? words_bytes(s->width) : 0;
}

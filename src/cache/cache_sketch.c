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

static size_t width_for(size_t capacity)
{
    size_t width = (size_t)2 * PER_WORD; /* one block of 8 words at least */
    while (width < 4 * capacity)
        width *= 2;
    return width;
}

static size_t words_bytes(size_t width)
{
    return ROWS * (width / PER_WORD) * sizeof(uint64_t);
}

/* A zeroed word array for `width` counters a row, or NULL. */
static uint64_t *words_new(size_t width, const gomap_allocator *a)
{
    size_t bytes = words_bytes(width);
    uint64_t *w = gomap__alloc(a, bytes);
    if (w)
        memset(w, 0, bytes);
    return w;
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
    s->words = words;
    s->width = width;
    s->seed = seed;
    s->additions = 0;
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
        s->words = words;
        s->width = width;
        s->additions = 0;
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
    uint64_t *block;
    uint64_t picks; /* byte r picks row r's counter */
} sketch_spot;

static sketch_spot spot(const cache_sketch *s, uint64_t hash)
{
    uint64_t h = cache_mix64(hash ^ s->seed);
    size_t blocks = s->width / 32; /* width / 4 words, 8 a block */
    return (sketch_spot){s->words + (size_t)(h & (blocks - 1)) * 8, cache_mix64(h)};
}

/* Row r's counter in the block: its word (through *word) and nibble shift. */
static unsigned counter(sketch_spot sp, unsigned r, uint64_t **word)
{
    unsigned byte = (unsigned)(sp.picks >> (r * 8)) & 0xff;
    *word = sp.block + r * 2 + (byte & 1);
    return ((byte >> 1) & 15) * 4;
}

static void halve(cache_sketch *s)
{
    size_t n = ROWS * (s->width / PER_WORD);
    for (size_t i = 0; i < n; i++)
        s->words[i] = (s->words[i] >> 1) & 0x7777777777777777ull;
    s->additions /= 2;
}

void gomap__sketch_increment(cache_sketch *s, uint64_t hash)
{
    sketch_spot sp = spot(s, hash);
    int added = 0;
    for (unsigned r = 0; r < ROWS; r++) {
        uint64_t *w;
        unsigned sh = counter(sp, r, &w);
        if (((*w >> sh) & 15) < 15) {
            *w += 1ull << sh;
            added = 1;
        }
    }
    if (added && ++s->additions >= s->sample)
        halve(s);
}

unsigned gomap__sketch_frequency(const cache_sketch *s, uint64_t hash)
{
    sketch_spot sp = spot(s, hash);
    unsigned f = 15;
    for (unsigned r = 0; r < ROWS; r++) {
        uint64_t *w;
        unsigned sh = counter(sp, r, &w);
        unsigned v = (unsigned)(*w >> sh) & 15;
        f = v < f ? v : f;
    }
    return f;
}

size_t gomap__sketch_bytes(const cache_sketch *s)
{
    return s->words ? words_bytes(s->width) : 0;
}

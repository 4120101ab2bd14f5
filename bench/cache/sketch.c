/* sketch.c — the count-min sketch of W-TinyLFU (see sketch.h). */
#include <errno.h>
#include <stdlib.h>

#include "cache/policy.h"
#include "cache/sketch.h"

enum { ROWS = 4 };

int sketch_init(sketch *s, size_t capacity, uint64_t seed)
{
    s->width = 16;
    while (s->width < 4 * capacity)
        s->width *= 2;
    s->words = calloc(ROWS * s->width / 16, sizeof *s->words);
    s->seed = seed;
    s->additions = 0;
    s->sample = 10 * (capacity ? capacity : 1);
    return s->words ? 0 : -ENOMEM;
}

void sketch_free(sketch *s)
{
    free(s->words);
    s->words = NULL;
}

/* The counter of `key` in `row`: word index and shift of its nibble. */
static size_t slot(const sketch *s, uint64_t h, unsigned row, unsigned *shift)
{
    size_t i = (size_t)(sim_mix64(h + row) & (s->width - 1));
    *shift = (unsigned)(i & 15) * 4;
    return row * (s->width / 16) + i / 16;
}

static void halve(sketch *s)
{
    size_t n = ROWS * s->width / 16;
    for (size_t i = 0; i < n; i++)
        s->words[i] = (s->words[i] >> 1) & 0x7777777777777777ull;
    s->additions /= 2;
}

void sketch_increment(sketch *s, uint32_t key)
{
    uint64_t h = sim_mix64(key ^ s->seed);
    int added = 0;
    for (unsigned r = 0; r < ROWS; r++) {
        unsigned sh;
        size_t w = slot(s, h, r, &sh);
        if (((s->words[w] >> sh) & 15) < 15) {
            s->words[w] += 1ull << sh;
            added = 1;
        }
    }
    if (added && ++s->additions >= s->sample)
        halve(s);
}

unsigned sketch_frequency(const sketch *s, uint32_t key)
{
    uint64_t h = sim_mix64(key ^ s->seed);
    unsigned f = 15;
    for (unsigned r = 0; r < ROWS; r++) {
        unsigned sh;
        size_t w = slot(s, h, r, &sh);
        unsigned v = (unsigned)(s->words[w] >> sh) & 15;
        f = v < f ? v : f;
    }
    return f;
}

/*
 * sketch_choice.c — where a key's four counters of the cache's count-min
 * sketch should live, measured on this machine (docs/cache.md).
 *
 *   rows    four rows, each counter at an independent index of its own
 *           row: four cache lines per access (the textbook layout)
 *   block   the four counters in one 64-byte block chosen by the hash,
 *           each row's counter in one of two words of the block (Caffeine's
 *           FrequencySketch since 3.0; src/cache/cache_sketch.c)
 *
 * Both over the same memory (16 counters per entry of capacity, 4 bits
 * each), for a sketch of `capacity` entries (default 2^20: 8 MiB, larger
 * than this machine's L3); each step increments one random key and reads
 * another's estimate, as a cache hit followed by an admission duel does.
 * Prints ns per step, median of `runs` interleaved runs.
 *
 * Usage: gomap-sketch-choice [capacity] [runs]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/median.h"

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef size_t (*slot_fn)(size_t width, uint64_t h, unsigned row, unsigned *shift);

/* width counters a row; words = width / 4 in all. */
static size_t slot_rows(size_t width, uint64_t h, unsigned row, unsigned *shift)
{
    size_t i = (size_t)(mix(h + row) & (width - 1));
    *shift = (unsigned)(i % 16) * 4;
    return row * (width / 16) + i / 16;
}

static size_t slot_block(size_t width, uint64_t h, unsigned row, unsigned *shift)
{
    size_t block = (size_t)(h & (width / 32 - 1)) * 8;
    unsigned byte = (unsigned)(mix(h) >> (row * 8)) & 0xff;
    *shift = ((byte >> 1) & 15) * 4;
    return block + (size_t)row * 2 + (byte & 1);
}

static double run(slot_fn slot, uint64_t *words, size_t width, size_t steps, unsigned *sink)
{
    uint64_t x = 1;
    double t0 = clock_ns();
    for (size_t i = 0; i < steps; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t h = mix(x), g = mix(x + 1);
        for (unsigned r = 0; r < 4; r++) {
            unsigned sh;
            size_t w = slot(width, h, r, &sh);
            if (((words[w] >> sh) & 15) < 15)
                words[w] += 1ull << sh;
        }
        unsigned f = 15;
        for (unsigned r = 0; r < 4; r++) {
            unsigned sh;
            unsigned v = (unsigned)(words[slot(width, g, r, &sh)] >> sh) & 15;
            f = v < f ? v : f;
        }
        *sink += f;
    }
    return (clock_ns() - t0) / (double)steps;
}

int main(int argc, char **argv)
{
    size_t capacity = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)1 << 20;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (capacity < 8 || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: gomap-sketch-choice [capacity >= 8] [runs 1..64]\n");
        return 2;
    }
    size_t width = 32;
    while (width < 4 * capacity)
        width *= 2;
    uint64_t *words = calloc(width / 4, sizeof *words);
    if (!words)
        return 1;
    double rows[64], block[64];
    unsigned sink = 0;
    size_t steps = 4000000;
    for (int r = 0; r < runs; r++) {
        rows[r] = run(slot_rows, words, width, steps, &sink);
        block[r] = run(slot_block, words, width, steps, &sink);
    }
    printf("sketch of %zu entries (%zu KiB), %d runs, ns per increment + estimate (median)\n",
           capacity, width / 4 * sizeof *words >> 10, runs);
    printf("rows   %6.1f\nblock  %6.1f\n(checksum %u)\n", bench_median(rows, (unsigned)runs),
           bench_median(block, (unsigned)runs), sink);
    free(words);
    return 0;
}

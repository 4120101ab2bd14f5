/*
 * check_cost — what misuse detection costs per write and per read.
 *
 * Three maps, identical but for the check mode (off, fast, strict), each a
 * u64 -> u64 map presized for KEYS entries so no write grows it and the
 * working set stays in cache: the figure is the detector's own cost, not
 * memory latency. Rounds are interleaved (off, fast, strict, off, ...) and
 * the median of ROUNDS is reported with the min-max spread, as
 * ../shared/BENCHMARKING.md asks. A checksum shows every map did the work.
 *
 * usage: gomap-check-cost [rounds]
 */
#include <gomap.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/median.h"

#define KEYS 4096
#define OPS (1u << 21)
#define MODES 3

/* Overwrites existing keys: the write path without growth. */
static double time_writes(gomap_t *m, uint64_t *sum)
{
    double t0 = clock_ns();
    for (uint64_t i = 0; i < OPS; i++) {
        uint64_t k = (i * 2654435761u) % KEYS;
        gomap_set_u64(m, k, &i);
    }
    double t = (clock_ns() - t0) / OPS;
    *sum += *(uint64_t *)gomap_get_u64(m, 7);
    return t;
}

static double time_reads(gomap_t *m, uint64_t *sum)
{
    uint64_t s = 0;
    double t0 = clock_ns();
    for (uint64_t i = 0; i < OPS; i++)
        s += *(uint64_t *)gomap_get_u64(m, (i * 2654435761u) % KEYS);
    double t = (clock_ns() - t0) / OPS;
    *sum += s;
    return t;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    if (rounds < 1 || rounds > 1000)
        rounds = 15;
    static const char *names[MODES] = {"off", "fast", "strict"};
    gomap_check_mode modes[MODES] = {GOMAP_CHECK_OFF, GOMAP_CHECK_FAST, GOMAP_CHECK_STRICT};
    gomap_t *m[MODES];
    for (int i = 0; i < MODES; i++) {
        gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8, .hint = KEYS, .check = modes[i]};
        if (gomap_new(&m[i], &o) != 0)
            return 1;
        for (uint64_t k = 0; k < KEYS; k++)
            gomap_set_u64(m[i], k, &k);
    }
    double *w = calloc((size_t)rounds * MODES, sizeof *w), *r = calloc((size_t)rounds * MODES, sizeof *r);
    uint64_t sums[MODES] = {0};
    if (!w || !r)
        return 1;
    for (int round = 0; round < rounds; round++)
        for (int i = 0; i < MODES; i++) {
            w[i * rounds + round] = time_writes(m[i], &sums[i]);
            r[i * rounds + round] = time_reads(m[i], &sums[i]);
        }
    printf("misuse detection cost, u64 map of %d keys (in cache), %u ops per round, %d rounds\n",
           KEYS, OPS, rounds);
    printf("%-7s %22s %22s %12s\n", "mode", "write ns/op med (min-max)", "read ns/op med (min-max)",
           "checksum");
    double base_w = 0, base_r = 0;
    for (int i = 0; i < MODES; i++) {
        double mw = bench_median(w + i * rounds, (unsigned)rounds);
        double mr = bench_median(r + i * rounds, (unsigned)rounds); /* both sorted now */
        if (i == 0) {
            base_w = mw;
            base_r = mr;
        }
        printf("%-7s %7.2f (%5.2f-%5.2f) x%.2f %7.2f (%5.2f-%5.2f) x%.2f %12llu\n", names[i], mw,
               w[i * rounds], w[i * rounds + rounds - 1], mw / base_w, mr, r[i * rounds],
               r[i * rounds + rounds - 1], mr / base_r, (unsigned long long)sums[i]);
        gomap_free(m[i]);
    }
    free(w);
    free(r);
    return 0;
}

/*
 * rand.h — fast per-thread random numbers, seeded from the OS.
 *
 * Used for hash seeds, iteration start points and NaN hashes. Each thread has
 * its own generator state (no sharing, no locks), seeded once from
 * getrandom(2), or from the GOMAP_HASH_SEED environment variable when it
 * holds a number (for reproducing a run; it makes hashing predictable; any
 * other value is ignored with a warning, see gomap_new in gomap/map.h). The generator is
 * wyrand. Not for cryptography.
 */
#ifndef GOMAP_RAND_H
#define GOMAP_RAND_H

#include <stdint.h>

uint64_t gomap__rand64(void);

#endif

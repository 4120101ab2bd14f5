/*
 * ckey.h — a GOMAP_KEY_CUSTOM key type for tests.
 *
 * ckey_equal compares a and b only; junk is meant to be random on every
 * call, so a map that compared custom keys bytewise instead of calling
 * equal() would go wrong. ckey_hash is a good hash; ckey_hash_weak is a
 * degenerate one (four values per seed) that piles keys into a few long
 * overflow chains whose tophash bytes are all equal.
 */
#ifndef GOMAP_TEST_CKEY_H
#define GOMAP_TEST_CKEY_H

#include <gomap.h>

#include <stdbool.h>
#include <stdint.h>

/* Which hash a test map's custom keys use. */
enum { HASH_NONE, HASH_GOOD, HASH_WEAK };

typedef struct {
    uint32_t a, b;
    uint64_t junk;
} ckey;

/* The splitmix64 finaliser: a bijective 64-bit mixer. */
uint64_t mix64(uint64_t z);

uint64_t ckey_hash(const void *k, uint64_t seed);
uint64_t ckey_hash_weak(const void *k, uint64_t seed);
bool ckey_equal(const void *x, const void *y);

/* gomap_new with these options; for custom_hash HASH_GOOD or HASH_WEAK the
 * map hashes with ckey_hash or ckey_hash_weak and compares with ckey_equal.
 * Returns gomap_new's result. */
int ckey_map_new(gomap_t **out, gomap_key_kind kind, size_t key_size, size_t val_size,
                 int custom_hash, size_t hint);

#endif

/*
 * testkey.h — the keys and values the OOM tests of the concurrent maps
 * derive from an index: a u64 key (the index times an odd constant) or a
 * string key ("str-key-<i>-" and up to 18 more bytes), and a value of any
 * size from (index, version).
 */
#ifndef GOMAP_TEST_TESTKEY_H
#define GOMAP_TEST_TESTKEY_H

#include <gomap.h>

#include <stddef.h>
#include <stdint.h>

/* Storage for one key; the pointer testkey_of returns points into it and
 * stays valid until the next call on the same testkey. */
typedef struct {
    uint64_t u;
    gomap_str s;
    char text[48];
} testkey;

/* Key i of kind GOMAP_KEY_STR, or otherwise of kind GOMAP_KEY_U64. */
const void *testkey_of(testkey *k, gomap_key_kind kind, uint64_t i);

/* A value of `size` bytes derived from (i, version). */
void testkey_val(uint64_t i, uint64_t version, unsigned char *out, size_t size);

#endif

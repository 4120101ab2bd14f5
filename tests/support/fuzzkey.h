/*
 * fuzzkey.h — the keys the fuzz targets (tests/fuzz/) draw from an id, so
 * that the core map's target and the concurrent maps' target exercise the
 * same key space.
 *
 * Ids below 256 are the everyday space: float ids (mod 32) 0..7 are both
 * zeros, two NaNs, both infinities, a subnormal and DBL_MAX; string id 0 is
 * {NULL, 0}, id 1 the same empty key with a non-NULL pointer, ids from 192
 * long strings alike in length, prefix and suffix (the one-bucket fast path
 * must fall back to hashing). Ids from 256 are plain keys of their own. Two
 * ids may give one key: harmless, a reference sees the same key.
 */
#ifndef GOMAP_TEST_FUZZKEY_H
#define GOMAP_TEST_FUZZKEY_H

#include <gomap.h>

#include <stdbool.h>
#include <stdint.h>

#include "ckey.h"

/* Room for one key of any kind the targets use (byte keys up to 256). */
typedef struct {
    union {
        uint32_t u32;
        uint64_t u64;
        double f64;
        ckey c;
        unsigned char raw[256];
    } u;
    gomap_str s;
} fuzzkey_buf;

typedef struct {
    gomap_key_kind kind;
    size_t key_size;        /* GOMAP_KEY_BYTES / GOMAP_KEY_CUSTOM */
    bool nan_ok;            /* false: NaN ids give +infinity instead */
    bool no_negative_zero;  /* -0.0 ids give +0.0 */
    uint32_t *counter;      /* bumped for a custom key's ignored bytes */
} fuzzkey_space;

/* The key for id, built in kb; returns what the map calls take. */
const void *fuzzkey_make(const fuzzkey_space *sp, fuzzkey_buf *kb, unsigned id);

/* A copy of a key the map handed out, in kb, so it survives the next write. */
const void *fuzzkey_copy(const fuzzkey_space *sp, fuzzkey_buf *kb, const void *key);

/* Bytes that make a key of this space what it is (strings: 0, compare the
 * bytes they point to). */
size_t fuzzkey_bytes(const fuzzkey_space *sp);

#endif

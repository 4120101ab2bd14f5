/*
 * keystream.c — building key sets and query sets from the seeded streams.
 */
#include "common/keystream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum { STR_MIN = 16, STR_SPAN = 25 }; /* string keys are 16..40 bytes */

static size_t str_len_of(uint64_t h) { return STR_MIN + (size_t)(h % STR_SPAN); }

/* The first 11 characters spell out all 64 bits of h, so distinct numbers
 * give distinct strings; the rest is filler derived from h. */
static void str_fill(char *out, uint64_t h, size_t len)
{
    for (size_t j = 0; j < len; j++)
        out[j] = j < 11 ? alphabet[(h >> (6 * j)) & 63]
                        : alphabet[ks_mix(h + (uint64_t)j * KS_GOLDEN) & 63];
}

/* Writes the string of number h at *cursor and advances it. */
static gomap_str str_put(char **cursor, uint64_t h)
{
    size_t len = str_len_of(h);
    gomap_str s = {*cursor, len};
    str_fill(*cursor, h, len);
    *cursor += len;
    return s;
}

static int alloc_arrays(bench_keyset *ks, bench_key_type type, size_t count, size_t bytes)
{
    memset(ks, 0, sizeof *ks);
    ks->type = type;
    ks->n = count;
    if (type == KEYS_U64)
        ks->u64 = malloc((count ? count : 1) * sizeof *ks->u64);
    else
        ks->str = malloc((count ? count : 1) * sizeof *ks->str);
    if (bytes)
        ks->bytes = malloc(bytes);
    if ((type == KEYS_U64 ? !ks->u64 : !ks->str) || (bytes && !ks->bytes)) {
        ks_free(ks);
        return -ENOMEM;
    }
    return 0;
}

int ks_make_set(bench_keyset *ks, bench_key_type type, uint64_t seed, unsigned stream,
                size_t count)
{
    size_t bytes = type == KEYS_STR ? count * (STR_MIN + STR_SPAN) : 0;
    if (alloc_arrays(ks, type, count, bytes))
        return -ENOMEM;
    char *cursor = ks->bytes;
    for (size_t i = 0; i < count; i++) {
        uint64_t h = ks_key(seed, stream, i);
        if (type == KEYS_U64)
            ks->u64[i] = h;
        else
            ks->str[i] = str_put(&cursor, h);
    }
    return 0;
}

int ks_make_queries(bench_keyset *q, bench_key_type type, uint64_t seed, size_t n,
                    size_t count, int hit_percent)
{
    size_t bytes = type == KEYS_STR ? count * (STR_MIN + STR_SPAN) : 0;
    if (alloc_arrays(q, type, count, bytes))
        return -ENOMEM;
    char *cursor = q->bytes;
    for (size_t j = 0; j < count; j++) {
        bool hit = hit_percent == 100 ||
                   (hit_percent == 50 && (ks_key(seed, STREAM_COIN, j) & 1));
        uint64_t h = hit ? ks_key(seed, STREAM_SET, ks_key(seed, STREAM_PICK, j) % n)
                         : ks_key(seed, STREAM_MISS, j);
        if (type == KEYS_U64)
            q->u64[j] = h;
        else
            q->str[j] = str_put(&cursor, h);
    }
    return 0;
}

void ks_free(bench_keyset *ks)
{
    free(ks->u64);
    free(ks->str);
    free(ks->bytes);
    memset(ks, 0, sizeof *ks);
}

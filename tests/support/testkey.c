/* testkey.c — see testkey.h. */
#include "testkey.h"

#include <inttypes.h>
#include <stdio.h>

const void *testkey_of(testkey *k, gomap_key_kind kind, uint64_t i)
{
    if (kind == GOMAP_KEY_STR) {
        int n = snprintf(k->text, sizeof k->text, "str-key-%" PRIu64 "-%.*s", i, (int)(i % 19),
                         "0123456789abcdefghi");
        k->s = (gomap_str){k->text, (size_t)n};
        return &k->s;
    }
    k->u = i * 0x9E3779B97F4A7C15ull;
    return &k->u;
}

void testkey_val(uint64_t i, uint64_t version, unsigned char *out, size_t size)
{
    uint64_t x = i * 1000003 + version;
    for (size_t b = 0; b < size; b++)
        out[b] = (unsigned char)(x >> (8 * (b % 8))) ^ (unsigned char)b;
}

#include "ckey.h"

#include <string.h>

uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t ckey_hash(const void *k, uint64_t seed)
{
    ckey c;
    memcpy(&c, k, sizeof c);
    return mix64((((uint64_t)c.a << 32) | c.b) ^ mix64(seed));
}

uint64_t ckey_hash_weak(const void *k, uint64_t seed)
{
    ckey c;
    memcpy(&c, k, sizeof c);
    return mix64((c.a & 3) + seed);
}

bool ckey_equal(const void *x, const void *y)
{
    ckey a, b;
    memcpy(&a, x, sizeof a);
    memcpy(&b, y, sizeof b);
    return a.a == b.a && a.b == b.b;
}

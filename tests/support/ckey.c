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

int ckey_map_new(gomap_t **out, gomap_key_kind kind, size_t key_size, size_t val_size,
                 int custom_hash, size_t hint)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = kind;
    o.key_size = key_size;
    o.val_size = val_size;
    o.hint = hint;
    if (custom_hash != HASH_NONE) {
        o.hash = custom_hash == HASH_WEAK ? ckey_hash_weak : ckey_hash;
        o.equal = ckey_equal;
    }
    return gomap_new(out, &o);
}

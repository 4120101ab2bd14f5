#include "hashvariant.h"

#include "ckey.h"

#include <stdio.h>
#include <string.h>

int hv_current;

const char *hash_variant_name(int variant)
{
    switch (variant) {
    case HV_BUILTIN: return "builtin";
    case HV_DEGENERATE: return "degenerate";
    case HV_TRUNCATED: return "truncated";
    }
    return "?";
}

uint64_t hash_degenerate(const void *key, uint64_t seed)
{
    (void)key;
    (void)seed;
    return 0x9E3779B97F4A7C15ull; /* the same for every key */
}

/* Four low bits (the bucket within a small array) and two top bits (part of
 * the tophash byte) vary; everything else is constant, so at most 64 hash
 * values exist. */
uint64_t hash_truncated(const void *key, uint64_t seed)
{
    uint64_t k;
    memcpy(&k, key, sizeof k);
    uint64_t h = mix64(k ^ seed);
    return (h & 0xC00000000000000Full) | 0x2A5A5A5A5A5A5A50ull;
}

static bool equal_u64(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

void hash_variant_keys(gomap_options *o, int variant)
{
    if (variant == HV_BUILTIN) {
        o->key_kind = GOMAP_KEY_U64;
        o->hash = NULL;
        o->equal = NULL;
        return;
    }
    o->key_kind = GOMAP_KEY_CUSTOM;
    o->key_size = sizeof(uint64_t);
    o->hash = variant == HV_DEGENERATE ? hash_degenerate : hash_truncated;
    o->equal = equal_u64;
}

void hash_variant_run_all(const char *name, void (*fn)(void))
{
    for (hv_current = HV_BUILTIN; hv_current < HV_COUNT; hv_current++) {
        printf("== %s [%s hash]\n", name, hash_variant_name(hv_current));
        fflush(stdout);
        fn();
    }
}

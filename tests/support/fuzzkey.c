/*
 * fuzzkey.c — keys from ids for the fuzz targets (fuzzkey.h).
 */
#include "fuzzkey.h"

#include "check.h"

#include <float.h>
#include <math.h>
#include <string.h>

static double float_key(const fuzzkey_space *sp, unsigned id)
{
    unsigned hi = id >> 8, v = hi ? 32 : id % 32;
    if ((v == 2 || v == 3) && !sp->nan_ok)
        v = 4;
    if (v == 1 && sp->no_negative_zero)
        v = 0;
    uint64_t bits;
    double d;
    switch (v) {
    case 0: return 0.0;
    case 1: return -0.0;
    case 2: bits = 0x7FF8000000000000ull | id; memcpy(&d, &bits, 8); return d;
    case 3: bits = 0xFFF0000000000001ull | ((uint64_t)id << 8); memcpy(&d, &bits, 8); return d;
    case 4: return INFINITY;
    case 5: return -INFINITY;
    case 6: return DBL_MIN / 8;
    case 7: return DBL_MAX;
    default: return hi ? 1000.0 + id * 0.25 : (double)id * 0.5 - 20.0;
    }
}

static const gomap_str *string_key(fuzzkey_buf *kb, unsigned id)
{
    uint8_t lo = (uint8_t)id, hi = (uint8_t)(id >> 8);
    if (hi) {
        kb->s.len = 2 + id % 29;
        for (size_t i = 0; i < kb->s.len; i++)
            kb->u.raw[i] = (unsigned char)(lo + i * hi);
        kb->u.raw[1] = (unsigned char)(0x80 | hi);
    } else if (id <= 1) {
        kb->s.ptr = id == 0 ? NULL : (const char *)kb->u.raw;
        kb->s.len = 0;
        return &kb->s;
    } else if (id >= 192) {
        kb->s.len = 32 + id % 4;
        memset(kb->u.raw, '~', kb->s.len);
        memcpy(kb->u.raw, "PREF", 4);
        kb->u.raw[4 + id % 24] = lo;
        memcpy(kb->u.raw + kb->s.len - 4, "SUFX", 4);
    } else {
        kb->s.len = 1 + id % 37;
        for (size_t i = 0; i < kb->s.len; i++)
            kb->u.raw[i] = i == 0 ? lo : (unsigned char)(id * 7 + i * (id & 3));
    }
    kb->s.ptr = (const char *)kb->u.raw;
    return &kb->s;
}

const void *fuzzkey_make(const fuzzkey_space *sp, fuzzkey_buf *kb, unsigned id)
{
    uint8_t lo = (uint8_t)id, hi = (uint8_t)(id >> 8);
    switch (sp->kind) {
    case GOMAP_KEY_U32:
        kb->u.u32 = id < 128 ? id : id * 2654435761u;
        break;
    case GOMAP_KEY_U64:
        kb->u.u64 = id < 128 ? id : (uint64_t)id * 0x9E3779B97F4A7C15ull;
        break;
    case GOMAP_KEY_F64:
        kb->u.f64 = float_key(sp, id);
        break;
    case GOMAP_KEY_STR:
        return string_key(kb, id);
    case GOMAP_KEY_BYTES:
        for (size_t i = 0; i < sp->key_size; i++)
            kb->u.raw[i] = i == 0 ? lo : (unsigned char)(lo + i);
        if (sp->key_size > 1 && hi)
            kb->u.raw[1] = (unsigned char)(0xA0 ^ hi);
        break;
    case GOMAP_KEY_CUSTOM:
        kb->u.c.a = id;
        kb->u.c.b = id ^ 0x55u;
        kb->u.c.junk = mix64(++*sp->counter);
        break;
    }
    return kb->u.raw;
}

size_t fuzzkey_bytes(const fuzzkey_space *sp)
{
    switch (sp->kind) {
    case GOMAP_KEY_U32: return 4;
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: return 8;
    case GOMAP_KEY_STR: return 0;
    default: return sp->key_size;
    }
}

const void *fuzzkey_copy(const fuzzkey_space *sp, fuzzkey_buf *kb, const void *key)
{
    if (sp->kind == GOMAP_KEY_STR) {
        const gomap_str *s = key;
        CHECK(s->len <= sizeof kb->u.raw);
        if (s->len)
            memcpy(kb->u.raw, s->ptr, s->len);
        kb->s.ptr = s->len ? (const char *)kb->u.raw : NULL;
        kb->s.len = s->len;
        return &kb->s;
    }
    size_t n = fuzzkey_bytes(sp);
    if (n)
        memcpy(kb->u.raw, key, n);
    return kb->u.raw;
}

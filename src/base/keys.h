/*
 * keys.h — what every map checks of a caller's key before it touches it,
 * and the names the library prints for the key kinds.
 */
#ifndef GOMAP_KEYS_H
#define GOMAP_KEYS_H

#include <gomap/map.h>

#include <stdbool.h>

/* The one rule for string keys (GOMAP_KEY_STR) that no map accepts: {NULL,
 * len > 0}, which has no bytes to read, and anything longer than
 * GOMAP_MAX_KEY_SIZE. */
static inline bool gomap__str_key_bad(const gomap_str *s)
{
    return (!s->ptr && s->len) || s->len > GOMAP_MAX_KEY_SIZE;
}

/* A caller's key that a map of this kind accepts: not NULL and, for string
 * keys, not ruled out by gomap__str_key_bad. Every entry point of every map
 * that takes a caller's key applies it (the string shortcuts, whose key is
 * never NULL, gomap__str_key_bad alone) before the key is hashed, compared
 * or copied: writes return -EINVAL, lookups answer "absent" (zero-filled
 * output), deletes false, batch lookups NULL for that key. */
static inline bool gomap__key_ok(int kind, const void *key)
{
    return key && (kind != GOMAP_KEY_STR || !gomap__str_key_bad(key));
}

/* A key kind's name in reports, dumps and diagnostics: its enumerator's
 * suffix in lower case ("u32", "u64", "f64", "str", "bytes", "custom"), or
 * "?" for a value that is none of them. */
static inline const char *gomap__key_kind_name(int kind)
{
    static const char *const names[] = {"u32", "u64", "f64", "str", "bytes", "custom"};
    _Static_assert(sizeof names / sizeof names[0] == GOMAP_KEY_CUSTOM + 1,
                   "a name for every key kind");
    return kind >= 0 && kind <= GOMAP_KEY_CUSTOM ? names[kind] : "?";
}

#endif /* GOMAP_KEYS_H */

/*
 * refmap.c — the reference map used to check gomap (see refmap.h).
 *
 * Deliberately plain: separate chaining with a fixed hash, one heap block per
 * entry, a dense array of entry pointers for indexing, and NaN-keyed entries
 * kept apart in their own array because they can never be found.
 */
#include "refmap.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct refent {
    struct refent *next;  /* hash chain */
    uint64_t hash;
    size_t idx;           /* position in ents[] or nans[] */
    uint8_t start;        /* tracker bits: present since that tracker began */
    uint8_t produced;     /* tracker bits: already produced to that tracker */
    size_t klen;          /* key bytes stored */
    gomap_str str;        /* string maps: the key in gomap form */
    unsigned char *key;   /* klen bytes (aligned for max_align_t) */
    unsigned char *val;   /* val_size bytes (aligned for max_align_t) */
    max_align_t data[];
} refent;

struct refmap {
    gomap_key_kind kind;
    size_t key_size;
    size_t val_size;
    refmap_hash_fn hash;
    refmap_equal_fn equal;
    refent **tab;         /* chains; tab_len is a power of two */
    size_t tab_len;
    refent **ents;        /* findable entries, dense */
    size_t n, cap;
    refent **nans;        /* NaN-keyed entries, dense */
    size_t nn, ncap;
    uint8_t trackers;     /* tracker ids in use (bit set) */
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "refmap: out of memory\n");
        abort();
    }
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "refmap: out of memory\n");
        abort();
    }
    return p;
}

static bool fail(char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return false;
}

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* FNV-1a, then a finaliser so the low bits (the chain index) are mixed. */
static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h ^ n);
}

static double f64_of(const void *key)
{
    double d;
    memcpy(&d, key, sizeof d);
    return d;
}

/* The bytes of a key in gomap form. */
static void key_view(const refmap *r, const void *key, const unsigned char **p, size_t *n)
{
    switch (r->kind) {
    case GOMAP_KEY_STR: {
        const gomap_str *s = key;
        *p = (const unsigned char *)s->ptr;
        *n = s->len;
        return;
    }
    case GOMAP_KEY_U32:
        *n = 4;
        break;
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64:
        *n = 8;
        break;
    default:
        *n = r->key_size;
        break;
    }
    *p = key;
}

bool refmap_key_is_nan(const refmap *r, const void *key)
{
    if (r->kind != GOMAP_KEY_F64)
        return false;
    double d = f64_of(key);
    return d != d;
}

static uint64_t hash_key(const refmap *r, const void *key)
{
    if (r->kind == GOMAP_KEY_F64) {
        double d = f64_of(key);
        if (d == 0)
            d = 0.0; /* -0 and +0 are one key: hash them alike */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix64(bits);
    }
    if (r->kind == GOMAP_KEY_CUSTOM)
        return r->hash(key, 0);
    const unsigned char *p;
    size_t n;
    key_view(r, key, &p, &n);
    return hash_bytes(p, n);
}

static bool key_eq(const refmap *r, const void *key, const refent *e)
{
    if (r->kind == GOMAP_KEY_F64)
        return f64_of(key) == f64_of(e->key);
    if (r->kind == GOMAP_KEY_CUSTOM)
        return r->equal(key, e->key);
    const unsigned char *p;
    size_t n;
    key_view(r, key, &p, &n);
    return n == e->klen && (n == 0 || memcmp(p, e->key, n) == 0);
}

/* The key of an entry in the form gomap takes. */
static const void *ent_key(const refmap *r, const refent *e)
{
    return r->kind == GOMAP_KEY_STR ? (const void *)&e->str : (const void *)e->key;
}

static void set_val(const refmap *r, refent *e, const void *val)
{
    if (r->val_size == 0)
        return;
    if (val)
        memcpy(e->val, val, r->val_size);
    else
        memset(e->val, 0, r->val_size);
}

static refent *new_ent(const refmap *r, const void *key, const void *val, uint64_t hash)
{
    const unsigned char *p;
    size_t n;
    key_view(r, key, &p, &n);
    refent *e = xmalloc(sizeof *e + round16(n) + r->val_size);
    memset(e, 0, sizeof *e);
    e->hash = hash;
    e->klen = n;
    e->key = (unsigned char *)e->data;
    e->val = e->key + round16(n);
    if (n)
        memcpy(e->key, p, n);
    e->str.ptr = (const char *)e->key;
    e->str.len = n;
    set_val(r, e, val);
    return e;
}

static void push(refent ***arr, size_t *len, size_t *cap, refent *e)
{
    if (*len == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        refent **na = realloc(*arr, *cap * sizeof *na);
        if (!na) {
            fprintf(stderr, "refmap: out of memory\n");
            abort();
        }
        *arr = na;
    }
    e->idx = *len;
    (*arr)[(*len)++] = e;
}

static void grow_table(refmap *r)
{
    size_t nl = r->tab_len * 2;
    refent **nt = xcalloc(nl, sizeof *nt);
    for (size_t i = 0; i < r->n; i++) {
        refent *e = r->ents[i];
        size_t b = e->hash & (nl - 1);
        e->next = nt[b];
        nt[b] = e;
    }
    free(r->tab);
    r->tab = nt;
    r->tab_len = nl;
}

static refent *find(const refmap *r, const void *key, uint64_t hash, refent ***link)
{
    refent **pp = &r->tab[hash & (r->tab_len - 1)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->hash == hash && key_eq(r, key, *pp)) {
            if (link)
                *link = pp;
            return *pp;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Life cycle and basic operations                                           */
/* ------------------------------------------------------------------------ */

static refmap *alloc_map(gomap_key_kind kind, size_t key_size, size_t val_size)
{
    refmap *r = xcalloc(1, sizeof *r);
    r->kind = kind;
    r->key_size = key_size;
    r->val_size = val_size;
    r->tab_len = 64;
    r->tab = xcalloc(r->tab_len, sizeof *r->tab);
    return r;
}

refmap *refmap_new(gomap_key_kind kind, size_t key_size, size_t val_size)
{
    if (kind == GOMAP_KEY_CUSTOM) {
        fprintf(stderr, "refmap_new: use refmap_new_custom for custom keys\n");
        abort();
    }
    return alloc_map(kind, key_size, val_size);
}

refmap *refmap_new_custom(size_t key_size, size_t val_size, refmap_hash_fn hash,
                          refmap_equal_fn equal)
{
    refmap *r = alloc_map(GOMAP_KEY_CUSTOM, key_size, val_size);
    r->hash = hash;
    r->equal = equal;
    return r;
}

refmap *refmap_clone(const refmap *r)
{
    refmap *c = alloc_map(r->kind, r->key_size, r->val_size);
    c->hash = r->hash;
    c->equal = r->equal;
    for (size_t i = 0; i < r->n; i++)
        refmap_set(c, ent_key(r, r->ents[i]), r->ents[i]->val);
    for (size_t i = 0; i < r->nn; i++)
        refmap_set(c, ent_key(r, r->nans[i]), r->nans[i]->val);
    return c;
}

void refmap_clear(refmap *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->ents[i]);
    for (size_t i = 0; i < r->nn; i++)
        free(r->nans[i]);
    r->n = 0;
    r->nn = 0;
    memset(r->tab, 0, r->tab_len * sizeof *r->tab);
}

void refmap_free(refmap *r)
{
    if (!r)
        return;
    refmap_clear(r);
    free(r->tab);
    free(r->ents);
    free(r->nans);
    free(r);
}

gomap_key_kind refmap_kind(const refmap *r) { return r->kind; }
size_t refmap_key_size(const refmap *r) { return r->key_size; }
size_t refmap_val_size(const refmap *r) { return r->val_size; }
size_t refmap_len(const refmap *r) { return r->n + r->nn; }
size_t refmap_nan_count(const refmap *r) { return r->nn; }
size_t refmap_findable(const refmap *r) { return r->n; }
const void *refmap_key_at(const refmap *r, size_t i) { return ent_key(r, r->ents[i]); }
const void *refmap_val_at(const refmap *r, size_t i) { return r->ents[i]->val; }

bool refmap_set(refmap *r, const void *key, const void *val)
{
    if (refmap_key_is_nan(r, key)) {
        push(&r->nans, &r->nn, &r->ncap, new_ent(r, key, val, 0));
        return true;
    }
    uint64_t h = hash_key(r, key);
    refent *e = find(r, key, h, NULL);
    if (e) {
        set_val(r, e, val);
        /* Go rewrites a float key on overwrite, so -0 replaces +0. */
        if (r->kind == GOMAP_KEY_F64)
            memcpy(e->key, key, 8);
        return false;
    }
    e = new_ent(r, key, val, h);
    push(&r->ents, &r->n, &r->cap, e);
    size_t b = h & (r->tab_len - 1);
    e->next = r->tab[b];
    r->tab[b] = e;
    if (r->n > r->tab_len)
        grow_table(r);
    return true;
}

const void *refmap_get(const refmap *r, const void *key)
{
    if (refmap_key_is_nan(r, key))
        return NULL;
    refent *e = find(r, key, hash_key(r, key), NULL);
    return e ? e->val : NULL;
}

const void *refmap_stored_key(const refmap *r, const void *key)
{
    if (refmap_key_is_nan(r, key))
        return NULL;
    refent *e = find(r, key, hash_key(r, key), NULL);
    return e ? ent_key(r, e) : NULL;
}

bool refmap_set_value(refmap *r, const void *key, const void *val)
{
    if (refmap_key_is_nan(r, key))
        return false;
    refent *e = find(r, key, hash_key(r, key), NULL);
    if (!e)
        return false;
    set_val(r, e, val);
    return true;
}

bool refmap_delete(refmap *r, const void *key)
{
    if (refmap_key_is_nan(r, key))
        return false;
    refent **link;
    refent *e = find(r, key, hash_key(r, key), &link);
    if (!e)
        return false;
    *link = e->next;
    refent *last = r->ents[--r->n];
    r->ents[e->idx] = last;
    last->idx = e->idx;
    free(e);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

void refmap_format_key(const refmap *r, const void *key, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = 0;
    if (!key) {
        snprintf(buf, len, "(null)");
        return;
    }
    switch (r->kind) {
    case GOMAP_KEY_U32: {
        uint32_t v;
        memcpy(&v, key, 4);
        snprintf(buf, len, "u32 %" PRIu32, v);
        return;
    }
    case GOMAP_KEY_U64: {
        uint64_t v;
        memcpy(&v, key, 8);
        snprintf(buf, len, "u64 0x%" PRIx64, v);
        return;
    }
    case GOMAP_KEY_F64: {
        uint64_t bits;
        memcpy(&bits, key, 8);
        snprintf(buf, len, "f64 %a (bits 0x%016" PRIx64 ")", f64_of(key), bits);
        return;
    }
    default: {
        const unsigned char *p;
        size_t n;
        key_view(r, key, &p, &n);
        size_t o = (size_t)snprintf(buf, len, "%s len %zu [",
                                    r->kind == GOMAP_KEY_STR ? "str" : "bytes", n);
        for (size_t i = 0; i < n && i < 16 && o + 4 < len; i++)
            o += (size_t)snprintf(buf + o, len - o, "%02x", p[i]);
        if (o + 5 < len)
            snprintf(buf + o, len - o, "%s]", n > 16 ? ".." : "");
        return;
    }
    }
}

/* ------------------------------------------------------------------------ */
/* Iteration tracking                                                        */
/* ------------------------------------------------------------------------ */

int refmap_track_begin(refmap *r)
{
    int t = 0;
    while (t < REFMAP_MAX_TRACKERS && (r->trackers & (1u << t)))
        t++;
    if (t == REFMAP_MAX_TRACKERS) {
        fprintf(stderr, "refmap: more than %d trackers\n", REFMAP_MAX_TRACKERS);
        abort();
    }
    uint8_t bit = (uint8_t)(1u << t);
    r->trackers |= bit;
    for (size_t i = 0; i < r->n; i++) {
        r->ents[i]->start |= bit;
        r->ents[i]->produced &= (uint8_t)~bit;
    }
    for (size_t i = 0; i < r->nn; i++) {
        r->nans[i]->start |= bit;
        r->nans[i]->produced &= (uint8_t)~bit;
    }
    return t;
}

static bool val_matches(const refmap *r, const refent *e, const void *val)
{
    return r->val_size == 0 || (val && memcmp(val, e->val, r->val_size) == 0);
}

/* A produced NaN entry is matched with a not-yet-produced reference entry of
 * the same key bits and value, preferring entries present since the start:
 * entries alike in bits and value are interchangeable, and this choice
 * leaves the fewest start entries unmatched. */
static bool produced_nan(refmap *r, uint8_t bit, const void *key, const void *val, char *why,
                         size_t why_len)
{
    refent *best = NULL;
    for (size_t i = 0; i < r->nn; i++) {
        refent *e = r->nans[i];
        if ((e->produced & bit) || memcmp(e->key, key, 8) != 0 || !val_matches(r, e, val))
            continue;
        if (!best || ((e->start & bit) && !(best->start & bit)))
            best = e;
        if (best->start & bit)
            break;
    }
    if (!best) {
        char k[96];
        refmap_format_key(r, key, k, sizeof k);
        return fail(why, why_len,
                    "iteration produced a NaN entry (%s) with no matching unproduced entry "
                    "(wrong key bits or value, or produced twice; %zu NaN entries)",
                    k, r->nn);
    }
    best->produced |= bit;
    return true;
}

bool refmap_track_produced(refmap *r, int t, const void *key, const void *val, char *why,
                           size_t why_len)
{
    uint8_t bit = (uint8_t)(1u << t);
    char k[96];
    if (!key)
        return fail(why, why_len, "iteration produced a NULL key pointer");
    if (refmap_key_is_nan(r, key))
        return produced_nan(r, bit, key, val, why, why_len);
    refent *e = find(r, key, hash_key(r, key), NULL);
    const char *bad = NULL;
    if (!e)
        bad = "iteration produced %s, which is not in the map";
    else if (e->produced & bit)
        bad = "iteration produced %s twice";
    else if (r->kind == GOMAP_KEY_F64 && memcmp(e->key, key, 8) != 0)
        bad = "iteration produced stored key %s; the last key written has other bits";
    else if (!val_matches(r, e, val))
        bad = "iteration produced %s with a wrong value";
    if (bad) {
        refmap_format_key(r, key, k, sizeof k);
        return fail(why, why_len, bad, k);
    }
    e->produced |= bit;
    return true;
}

static bool check_all_produced(const refmap *r, uint8_t bit, refent *const *arr, size_t len,
                               char *why, size_t why_len)
{
    for (size_t i = 0; i < len; i++) {
        const refent *e = arr[i];
        if ((e->start & bit) && !(e->produced & bit)) {
            char k[96];
            refmap_format_key(r, ent_key(r, e), k, sizeof k);
            return fail(why, why_len,
                        "iteration ended without producing %s, present throughout", k);
        }
    }
    return true;
}

bool refmap_track_end(refmap *r, int t, bool exhausted, char *why, size_t why_len)
{
    uint8_t bit = (uint8_t)(1u << t);
    bool ok = true;
    if (exhausted) {
        ok = check_all_produced(r, bit, r->ents, r->n, why, why_len) &&
             check_all_produced(r, bit, r->nans, r->nn, why, why_len);
    }
    for (size_t i = 0; i < r->n; i++) {
        r->ents[i]->start &= (uint8_t)~bit;
        r->ents[i]->produced &= (uint8_t)~bit;
    }
    for (size_t i = 0; i < r->nn; i++) {
        r->nans[i]->start &= (uint8_t)~bit;
        r->nans[i]->produced &= (uint8_t)~bit;
    }
    r->trackers &= (uint8_t)~bit;
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Whole-map comparison                                                      */
/* ------------------------------------------------------------------------ */

static bool compare_iteration(refmap *r, gomap_t *m, char *why, size_t why_len)
{
    size_t want = refmap_len(r);
    int t = refmap_track_begin(r);
    gomap_iter it;
    gomap_iter_init(&it, m);
    size_t seen = 0;
    const void *k;
    void *v;
    while (gomap_iter_next(&it, &k, &v)) {
        if (++seen > want) {
            gomap_iter_done(&it);
            refmap_track_end(r, t, false, NULL, 0);
            return fail(why, why_len, "iteration produced more than the %zu entries", want);
        }
        if (!refmap_track_produced(r, t, k, v, why, why_len)) {
            gomap_iter_done(&it);
            refmap_track_end(r, t, false, NULL, 0);
            return false;
        }
    }
    return refmap_track_end(r, t, true, why, why_len);
}

static bool compare_lookup(const refmap *r, const gomap_t *m, const void *key, const void *want,
                           unsigned char *buf, char *why, size_t why_len)
{
    char k[96];
    const void *p = gomap_get(m, key);
    if (!p) {
        refmap_format_key(r, key, k, sizeof k);
        return fail(why, why_len, "gomap_get missed %s", k);
    }
    if (r->val_size && memcmp(p, want, r->val_size) != 0) {
        refmap_format_key(r, key, k, sizeof k);
        return fail(why, why_len, "gomap_get(%s) gave a wrong value", k);
    }
    if (r->val_size)
        memset(buf, 0x5A, r->val_size);
    if (!gomap_get_copy(m, key, r->val_size ? buf : NULL) ||
        (r->val_size && memcmp(buf, want, r->val_size) != 0)) {
        refmap_format_key(r, key, k, sizeof k);
        return fail(why, why_len, "gomap_get_copy(%s) missed or copied a wrong value", k);
    }
    return true;
}

static bool compare_lookups(const refmap *r, const gomap_t *m, char *why, size_t why_len)
{
    unsigned char *buf = xmalloc(r->val_size);
    bool ok = true;
    for (size_t i = 0; ok && i < r->n; i++) {
        const refent *e = r->ents[i];
        ok = compare_lookup(r, m, ent_key(r, e), e->val, buf, why, why_len);
        if (ok && r->kind == GOMAP_KEY_F64 && f64_of(e->key) == 0) {
            /* The other zero is the same key. */
            double other = -f64_of(e->key);
            ok = compare_lookup(r, m, &other, e->val, buf, why, why_len);
        }
    }
    if (ok && r->kind == GOMAP_KEY_F64) {
        double nan = NAN;
        if (r->val_size)
            memset(buf, 0x5A, r->val_size);
        if (gomap_get(m, &nan) != NULL)
            ok = fail(why, why_len, "gomap_get found a NaN key");
        else if (gomap_get_copy(m, &nan, r->val_size ? buf : NULL))
            ok = fail(why, why_len, "gomap_get_copy found a NaN key");
        for (size_t i = 0; ok && i < r->val_size; i++)
            if (buf[i] != 0)
                ok = fail(why, why_len, "gomap_get_copy of a NaN key did not zero-fill");
    }
    free(buf);
    return ok;
}

bool refmap_compare(refmap *r, gomap_t *m, bool lookups, char *why, size_t why_len)
{
    if (gomap_len(m) != refmap_len(r))
        return fail(why, why_len, "gomap_len %zu, reference has %zu", gomap_len(m),
                    refmap_len(r));
    if (!compare_iteration(r, m, why, why_len))
        return false;
    return !lookups || compare_lookups(r, m, why, why_len);
}

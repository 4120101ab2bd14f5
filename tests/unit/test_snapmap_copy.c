/*
 * test_snapmap_copy.c — the snapshot map's block copies (src/core/map_clone.c):
 * a write copies the current version's arrays and overflow chains as
 * memory and duplicates only what lives out of line.
 *
 * Three layouts, each with keys that crowd a few buckets (long overflow
 * chains):
 *   inline     u64 keys and values under the degenerate hash (every key in
 *              one chain);
 *   outofline  160-byte keys and 200-byte values (both stored out of line),
 *              truncated hash;
 *   strings    string keys of 0 to 40 bytes (the empty one has no blob),
 *              truncated hash.
 *
 *   model      seeded random sets, overwrites and deletes, each a new
 *              version: after every write the map equals the reference
 *              (every key looked up, len, validate), and a view taken
 *              before the write still reads the old contents after it
 *              (the copy shares nothing it could change).
 *   keeps_size deleting 90 % of the entries one by one keeps the version's
 *              bucket count (a block copy keeps the array; gomap_snap_clear
 *              is what gives it back).
 *   oom        at 150 entries, a set of a new key and an overwrite with
 *              their N-th allocation refused, N = 1, 2, ... until they
 *              succeed: -ENOMEM leaves the map as it was and allocates
 *              nothing more; the retry gives the right contents; after
 *              gomap_snap_free the allocator holds no block.
 *
 * Seeds: test_seed() (printed; GOMAP_TEST_SEED reproduces a run).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"
#include "locked_alloc.h"

#include <gomap.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { NKEYS = 400, BIG_KEY = 160, BIG_VAL = 200 };
enum layout { INLINE, OUTOFLINE, STRINGS, LAYOUTS };
static const char *const layout_names[LAYOUTS] = {"inline", "outofline", "strings"};

/* Key i and value v of a layout, written to caller buffers. */
typedef struct {
    unsigned char key[BIG_KEY];
    char str[48];
    gomap_str s;
} keybuf;

static const void *key_of(enum layout l, unsigned i, keybuf *kb)
{
    switch (l) {
    case INLINE:
        memset(kb->key, 0, sizeof kb->key);
        memcpy(kb->key, &(uint64_t){i}, 8);
        return kb->key;
    case OUTOFLINE:
        memset(kb->key, (int)(i & 0xff), sizeof kb->key);
        memcpy(kb->key, &(uint64_t){i}, 8);
        return kb->key;
    default: {
        /* i == 0: the empty string; else i's digits padded to i % 40 bytes. */
        size_t len = i == 0 ? 0 : (size_t)snprintf(kb->str, sizeof kb->str, "%u", i);
        while (i && len < i % 40 && len + 1 < sizeof kb->str)
            kb->str[len++] = '.';
        kb->s = (gomap_str){kb->str, len};
        return &kb->s;
    }
    }
}

static size_t val_size(enum layout l) { return l == OUTOFLINE ? BIG_VAL : 8; }

static void val_of(enum layout l, uint64_t v, unsigned char *out)
{
    memset(out, (int)(v & 0xff), val_size(l));
    memcpy(out, &v, 8);
}

static uint64_t hash_low_bits(const void *key, uint64_t seed)
{
    (void)seed;
    uint64_t k;
    memcpy(&k, key, 8);
    return (k & 7) * 0x9e3779b97f4a7c15ull; /* 8 hashes: 8 crowded buckets */
}

static bool bytes_equal(const void *a, const void *b)
{
    return memcmp(a, b, BIG_KEY) == 0;
}

static gomap_options options_for(enum layout l, const gomap_allocator *alloc)
{
    gomap_options o = {.val_size = val_size(l), .alloc = alloc};
    switch (l) {
    case INLINE:
        hash_variant_keys(&o, HV_DEGENERATE); /* 8-byte custom keys, one chain */
        break;
    case OUTOFLINE:
        o.key_kind = GOMAP_KEY_CUSTOM;
        o.key_size = BIG_KEY;
        o.hash = hash_low_bits;
        o.equal = bytes_equal;
        break;
    default:
        o.key_kind = GOMAP_KEY_STR;
        break;
    }
    return o;
}

/* What the map should hold: present[i] and value[i] per key. */
typedef struct {
    bool present[NKEYS];
    uint64_t value[NKEYS];
    size_t len;
} model;

static void check_against(gomap_snap_t *m, enum layout l, const model *md)
{
    keybuf kb;
    unsigned char want[BIG_VAL], got[BIG_VAL];
    CHECK_EQ(gomap_snap_len(m), md->len);
    for (unsigned i = 0; i < NKEYS; i++) {
        bool found = gomap_snap_get(m, key_of(l, i, &kb), got);
        CHECK_MSG(found == md->present[i], "%s: key %u found %d", layout_names[l], i, found);
        if (found) {
            val_of(l, md->value[i], want);
            CHECK_MSG(memcmp(got, want, val_size(l)) == 0, "%s: key %u value", layout_names[l], i);
        }
    }
    char why[256];
    CHECK_MSG(gomap_snap_validate(m, why, sizeof why) == 0, "%s", why);
}

/* The view's map against a model taken when the view was. */
static void check_view(const gomap_snap_view_t *v, enum layout l, const model *md)
{
    keybuf kb;
    unsigned char want[BIG_VAL], got[BIG_VAL];
    for (unsigned i = 0; i < NKEYS; i++) {
        bool found = gomap_snap_view_get(v, key_of(l, i, &kb), got);
        CHECK_EQ(found, md->present[i]);
        if (found) {
            val_of(l, md->value[i], want);
            CHECK(memcmp(got, want, val_size(l)) == 0);
        }
    }
}

static void set_key(gomap_snap_t *m, enum layout l, model *md, unsigned i, uint64_t v)
{
    keybuf kb;
    unsigned char val[BIG_VAL];
    val_of(l, v, val);
    CHECK_EQ(gomap_snap_set(m, key_of(l, i, &kb), val), 0);
    md->len += !md->present[i];
    md->present[i] = true;
    md->value[i] = v;
}

static void delete_key(gomap_snap_t *m, enum layout l, model *md, unsigned i)
{
    keybuf kb;
    CHECK_EQ(gomap_snap_delete(m, key_of(l, i, &kb)), md->present[i] ? 1 : 0);
    md->len -= md->present[i];
    md->present[i] = false;
}

static void test_model(void)
{
    uint64_t rng = test_seed();
    for (int l = 0; l < LAYOUTS; l++) {
        printf("   %s\n", layout_names[l]);
        gomap_options o = options_for((enum layout)l, NULL);
        gomap_snap_t *m;
        CHECK_EQ(gomap_snap_new(&m, &o), 0);
        static model md, before;
        memset(&md, 0, sizeof md);
        for (int step = 0; step < 1500; step++) {
            unsigned i = (unsigned)test_rand_below(&rng, NKEYS);
            before = md;
            const gomap_snap_view_t *v = step % 7 == 0 ? gomap_snap_acquire(m) : NULL;
            if (test_rand_below(&rng, 4) == 0)
                delete_key(m, (enum layout)l, &md, i);
            else
                set_key(m, (enum layout)l, &md, i, test_rand(&rng));
            if (step % 25 == 0 || v)
                check_against(m, (enum layout)l, &md);
            if (v) {
                check_view(v, (enum layout)l, &before);
                gomap_snap_release(v);
            }
        }
        check_against(m, (enum layout)l, &md);
        gomap_snap_free(m);
    }
}

static size_t current_buckets(gomap_snap_t *m)
{
    const gomap_snap_view_t *v = gomap_snap_acquire(m);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(gomap_snap_view_map(v), &st), 0);
    gomap_snap_release(v);
    return st.buckets;
}

static void test_keeps_size(void)
{
    gomap_options o = options_for(STRINGS, NULL);
    gomap_snap_t *m;
    CHECK_EQ(gomap_snap_new(&m, &o), 0);
    static model md;
    memset(&md, 0, sizeof md);
    for (unsigned i = 0; i < NKEYS; i++)
        set_key(m, STRINGS, &md, i, i);
    size_t full = current_buckets(m);
    CHECK(full >= 32);
    for (unsigned i = 0; i < NKEYS * 9 / 10; i++)
        delete_key(m, STRINGS, &md, i);
    check_against(m, STRINGS, &md);
    CHECK_EQ(current_buckets(m), full);
    CHECK_EQ(gomap_snap_clear(m), 0);
    CHECK_EQ(current_buckets(m), 0u);
    gomap_snap_free(m);
}

/* A write with its n-th allocation refused, for n = 1, 2, ... until it
 * succeeds. */
static void refuse_in_turn(gomap_snap_t *m, locked_alloc *la, enum layout l, model *md,
                           unsigned key, uint64_t v)
{
    keybuf kb;
    unsigned char val[BIG_VAL];
    val_of(l, v, val);
    for (size_t n = 1;; n++) {
        fail_alloc c0 = locked_alloc_counts(la);
        locked_alloc_arm(la, n, false);
        int rc = gomap_snap_set(m, key_of(l, key, &kb), val);
        locked_alloc_arm(la, 0, false);
        if (rc == 0)
            break;
        CHECK_EQ(rc, -ENOMEM);
        fail_alloc c1 = locked_alloc_counts(la);
        CHECK_EQ(c1.failures, c0.failures + 1); /* a real allocation was refused */
        check_against(m, l, md);
        CHECK(n < 100000);
    }
    md->len += !md->present[key];
    md->present[key] = true;
    md->value[key] = v;
    check_against(m, l, md);
}

static void test_oom(void)
{
    for (int l = 0; l < LAYOUTS; l++) {
        printf("   %s\n", layout_names[l]);
        locked_alloc la;
        locked_alloc_init(&la);
        gomap_options o = options_for((enum layout)l, &la.iface);
        gomap_snap_t *m;
        CHECK_EQ(gomap_snap_new(&m, &o), 0);
        static model md;
        memset(&md, 0, sizeof md);
        for (unsigned i = 0; i < 150; i++)
            set_key(m, (enum layout)l, &md, i, i);
        refuse_in_turn(m, &la, (enum layout)l, &md, 151, 7); /* a new key */
        refuse_in_turn(m, &la, (enum layout)l, &md, 3, 8);   /* an overwrite */
        gomap_snap_free(m);
        fail_alloc c = locked_alloc_counts(&la);
        CHECK_EQ(c.live_blocks, 0u);
        CHECK_EQ(c.live_bytes, 0u);
        locked_alloc_destroy(&la);
    }
}

int main(void)
{
    RUN(test_model);
    RUN(test_keeps_size);
    RUN(test_oom);
    puts("ok");
    return 0;
}

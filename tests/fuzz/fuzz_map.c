/*
 * fuzz_map.c — libFuzzer target for the core map.
 *
 * The input is decoded into an operation sequence run on a gomap and on the
 * reference map (tests/support/refmap.h) side by side. The first byte picks
 * the key kind and value size (and whether gomap_new itself is made to fail
 * once); every later operation takes an opcode byte and argument bytes.
 * Keys come from a small space (one byte per key) so collisions, overwrites,
 * deletes of present keys, growth, -0 against +0, NaN and the empty string
 * (as {NULL, 0} and as a non-NULL pointer with length 0) all happen often.
 *
 * Operations: set (generic and typed), assign with a write through the slot,
 * get with a write through the slot, get_copy (zero fill on a miss), delete,
 * bulk insert and bulk delete, clear, shrink (also with a live iterator:
 * -EBUSY), clone (freed, swapped in, or changed to show independence), full
 * iteration, one or two iterators interleaved with changes (checked against
 * Go's iteration contract), and injected allocation failures through
 * fail_alloc (the N-th allocation from now, or every allocation of the next
 * operation).
 *
 * After every operation the map must validate and have the reference's
 * length; it is compared in full (iteration and lookups) every few
 * operations, after every failed call (which must leave it exactly equal to
 * the reference) and at the end. Freeing everything must give every block
 * back to the allocator. Any mismatch aborts.
 */
#include "check.h"
#include "fail_alloc.h"
#include "ckey.h"
#include "fuzzkey.h"
#include "refmap.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------------ */
/* Configurations                                                            */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_key_kind kind;
    size_t key_size;
    size_t val_size;
    refmap_hash_fn hash; /* custom kinds */
} fz_cfg;

static const fz_cfg cfgs[] = {
    {GOMAP_KEY_U32, 0, 8, NULL},
    {GOMAP_KEY_U64, 0, 0, NULL},
    {GOMAP_KEY_U64, 0, 200, NULL},
    {GOMAP_KEY_F64, 0, 8, NULL},
    {GOMAP_KEY_F64, 0, 0, NULL},
    {GOMAP_KEY_STR, 0, 8, NULL},
    {GOMAP_KEY_STR, 0, 129, NULL},
    {GOMAP_KEY_BYTES, 0, 8, NULL},
    {GOMAP_KEY_BYTES, 3, 1, NULL},
    {GOMAP_KEY_BYTES, 200, 8, NULL},
    {GOMAP_KEY_BYTES, 128, 0, NULL},
    {GOMAP_KEY_CUSTOM, sizeof(ckey), 8, ckey_hash_weak},
    {GOMAP_KEY_CUSTOM, sizeof(ckey), 200, ckey_hash},
};
#define NCFGS (sizeof cfgs / sizeof cfgs[0])

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

#define NAN_CAP 64
#define MAX_VAL 256

typedef fuzzkey_buf keybuf;

typedef struct {
    const fz_cfg *c;
    fail_alloc fa;
    gomap_t *m;
    refmap *r;
    const uint8_t *data;
    size_t size, pos;
    uint32_t counter;
    bool fail_all_next;  /* refuse every allocation during the next op */
    keybuf kb, kb2;
    unsigned char val[MAX_VAL], val2[MAX_VAL];
} fz;

static uint8_t next_byte(fz *z)
{
    return z->pos < z->size ? z->data[z->pos++] : 0;
}

static bool more(const fz *z)
{
    return z->pos < z->size;
}

static void compare(gomap_t *m, refmap *r)
{
    char why[256];
    CHECK_VALID(m);
    bool ok = refmap_compare(r, m, true, why, sizeof why);
    CHECK_MSG(ok, "map differs from the reference: %s", why);
}

/* The key for a one-byte id (fuzzkey.h says which ids give what). */
static fuzzkey_space key_space(fz *z)
{
    return (fuzzkey_space){z->c->kind, z->c->key_size, refmap_nan_count(z->r) < NAN_CAP, false,
                           &z->counter};
}

static const void *make_key(fz *z, keybuf *kb, uint8_t id)
{
    fuzzkey_space sp = key_space(z);
    return fuzzkey_make(&sp, kb, id);
}

static const void *copy_key(fz *z, keybuf *kb, const void *key)
{
    fuzzkey_space sp = key_space(z);
    return fuzzkey_copy(&sp, kb, key);
}

static const void *make_val(fz *z, unsigned char *buf)
{
    uint64_t x = mix64(++z->counter);
    for (size_t i = 0; i < z->c->val_size; i++)
        buf[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
    return buf;
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* A write failed with -ENOMEM: an allocation must have been refused during
 * it, and the map must equal the reference (which was not changed). */
static void failed_write(fz *z, size_t failures_before)
{
    CHECK_MSG(z->fa.failures > failures_before, "-ENOMEM without a refused allocation");
    compare(z->m, z->r);
}

/* A write succeeded although an allocation was refused inside it (the
 * library absorbed the failure): the result must still be exactly right. */
static void absorbed(fz *z, size_t failures_before)
{
    if (z->fa.failures != failures_before)
        compare(z->m, z->r);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */
/* ------------------------------------------------------------------------ */

static void op_set(fz *z, uint8_t id, bool typed)
{
    const void *key = make_key(z, &z->kb, id);
    const void *val = make_val(z, z->val);
    size_t f = z->fa.failures;
    int rc;
    if (typed && z->c->kind == GOMAP_KEY_U64)
        rc = gomap_set_u64(z->m, z->kb.u.u64, val);
    else if (typed && z->c->kind == GOMAP_KEY_U32)
        rc = gomap_set_u32(z->m, z->kb.u.u32, val);
    else if (typed && z->c->kind == GOMAP_KEY_STR)
        rc = gomap_set_str(z->m, z->kb.s.ptr, z->kb.s.len, val);
    else
        rc = gomap_set(z->m, key, val);
    if (rc == -ENOMEM) {
        failed_write(z, f);
        return;
    }
    CHECK_MSG(rc == 0, "set returned %d", rc);
    refmap_set(z->r, key, val);
    absorbed(z, f);
    /* The map copied the key: the caller's buffer may change at once. */
    memset(&z->kb.u, 0xEE, sizeof z->kb.u);
}

static void op_assign(fz *z, uint8_t id)
{
    const void *key = make_key(z, &z->kb, id);
    const void *old = refmap_get(z->r, key);
    size_t vs = z->c->val_size;
    bool had = old != NULL;
    if (had && vs)
        memcpy(z->val2, old, vs);
    size_t f = z->fa.failures;
    void *slot = z->val;
    int rc = gomap_assign(z->m, key, &slot);
    if (rc == -ENOMEM) {
        CHECK(slot == NULL);
        failed_write(z, f);
        return;
    }
    CHECK_MSG(rc == (had ? 0 : 1), "assign returned %d, key was %spresent", rc,
              had ? "" : "not ");
    CHECK(slot != NULL);
    if (vs) {
        if (had)
            CHECK_MSG(memcmp(slot, z->val2, vs) == 0, "assign's slot lost the value");
        else
            CHECK_MSG(all_zero(slot, vs), "assign inserted a non-zero value");
        make_val(z, z->val);
        memcpy(slot, z->val, vs);
    }
    /* Like set, assign stores the given key: Go's mapassign rewrites float
     * keys, so -0 assigned to a stored +0 leaves -0. */
    refmap_set(z->r, key, z->val);
    absorbed(z, f);
}

static void op_get(fz *z, uint8_t id, bool write)
{
    const void *key = make_key(z, &z->kb, id);
    const void *want = refmap_get(z->r, key);
    size_t vs = z->c->val_size;
    void *p;
    if (z->c->kind == GOMAP_KEY_U64 && (id & 1))
        p = gomap_get_u64(z->m, z->kb.u.u64);
    else if (z->c->kind == GOMAP_KEY_U32 && (id & 1))
        p = gomap_get_u32(z->m, z->kb.u.u32);
    else if (z->c->kind == GOMAP_KEY_STR && (id & 1))
        p = gomap_get_str(z->m, z->kb.s.ptr, z->kb.s.len);
    else
        p = gomap_get(z->m, key);
    CHECK_MSG((p != NULL) == (want != NULL), "get %s, reference %s", p ? "found" : "missed",
              want ? "has it" : "does not");
    if (p && vs) {
        CHECK(memcmp(p, want, vs) == 0);
        if (write) {
            make_val(z, z->val);
            memcpy(p, z->val, vs);
            CHECK(refmap_set_value(z->r, key, z->val));
        }
    }
}

static void op_get_copy(fz *z, uint8_t id)
{
    const void *key = make_key(z, &z->kb, id);
    const void *want = refmap_get(z->r, key);
    size_t vs = z->c->val_size;
    memset(z->val, 0xCC, sizeof z->val);
    bool ok = gomap_get_copy(z->m, key, z->val);
    CHECK(ok == (want != NULL));
    if (vs)
        CHECK(ok ? memcmp(z->val, want, vs) == 0 : all_zero(z->val, vs));
    CHECK(vs == MAX_VAL || z->val[vs] == 0xCC);
}

static void delete_key(fz *z, const void *key)
{
    bool present = refmap_get(z->r, key) != NULL;
    size_t f = z->fa.failures;
    gomap_stats_t before, after;
    CHECK(gomap_stats(z->m, &before) == 0);
    CHECK(gomap_delete(z->m, key) == present);
    refmap_delete(z->r, key);
    CHECK(gomap_get(z->m, key) == NULL);
    /* Emptying the map re-randomises its seed (golang/go#25237). */
    CHECK(gomap_stats(z->m, &after) == 0);
    if (present && refmap_len(z->r) == 0)
        CHECK_MSG(after.reseeds == before.reseeds + 1, "emptying delete: reseeds %llu -> %llu",
                  (unsigned long long)before.reseeds, (unsigned long long)after.reseeds);
    /* Delete never fails. (Whether it may allocate at all is checked in
     * test_map_oom.) If an allocation was refused inside it, the map must
     * still be exactly right. */
    if (z->fa.failures != f)
        compare(z->m, z->r);
}

static void op_delete(fz *z, uint8_t id)
{
    delete_key(z, make_key(z, &z->kb, id));
}

static void op_clear(fz *z)
{
    gomap_stats_t before, after;
    CHECK(gomap_stats(z->m, &before) == 0);
    gomap_clear(z->m);
    refmap_clear(z->r);
    CHECK(gomap_stats(z->m, &after) == 0);
    CHECK(after.entries == 0 && after.buckets == before.buckets && !after.growing);
}

static void shrink_expect_busy(fz *z)
{
    gomap_stats_t before, after;
    CHECK(gomap_stats(z->m, &before) == 0);
    int rc = gomap_shrink(z->m);
    CHECK_MSG(rc == -EBUSY, "shrink with a live iterator returned %d", rc);
    CHECK(gomap_stats(z->m, &after) == 0);
    CHECK(before.b == after.b && before.buckets == after.buckets &&
          before.entries == after.entries && before.growing == after.growing);
}

static void op_shrink(fz *z, uint8_t arg)
{
    char why[256];
    if ((arg & 1) && refmap_len(z->r) > 0) {
        /* A live iterator (started on a non-empty map) forbids shrinking. */
        int t = refmap_track_begin(z->r);
        gomap_iter it;
        gomap_iter_init(&it, z->m);
        const void *k;
        void *v;
        if (arg & 2) {
            CHECK(gomap_iter_next(&it, &k, &v));
            CHECK_MSG(refmap_track_produced(z->r, t, k, v, why, sizeof why), "%s", why);
        }
        shrink_expect_busy(z);
        gomap_iter_done(&it);
        CHECK_MSG(refmap_track_end(z->r, t, false, why, sizeof why), "%s", why);
    }
    gomap_stats_t before, after;
    CHECK(gomap_stats(z->m, &before) == 0);
    size_t f = z->fa.failures;
    int rc = gomap_shrink(z->m);
    CHECK(gomap_stats(z->m, &after) == 0);
    if (rc == -ENOMEM) {
        CHECK(before.b == after.b && before.buckets == after.buckets);
        failed_write(z, f);
        return;
    }
    CHECK_MSG(rc == 0, "shrink returned %d", rc);
    CHECK_MSG(!after.growing && after.buckets == test_buckets_for(refmap_len(z->r)),
              "shrink of %zu entries left %zu buckets", refmap_len(z->r), after.buckets);
    absorbed(z, f);
}

static void op_clone(fz *z, uint8_t mode)
{
    size_t blocks = z->fa.live_blocks, bytes = z->fa.live_bytes, f = z->fa.failures;
    gomap_t *c = (gomap_t *)(void *)z;
    int rc = gomap_clone(&c, z->m);
    if (rc == -ENOMEM) {
        CHECK(c == NULL);
        CHECK_MSG(z->fa.live_blocks == blocks && z->fa.live_bytes == bytes,
                  "failed clone leaked memory");
        failed_write(z, f);
        return;
    }
    CHECK_MSG(rc == 0 && c != NULL, "clone returned %d", rc);
    compare(c, z->r);
    absorbed(z, f);
    switch (mode % 3) {
    case 0:
        gomap_free(c);
        CHECK(z->fa.live_blocks == blocks && z->fa.live_bytes == bytes);
        break;
    case 1: {
        /* Independence: change the clone, the source must not notice. */
        refmap *rc_ref = refmap_clone(z->r);
        gomap_t *src = z->m;
        refmap *src_ref = z->r;
        z->m = c;
        z->r = rc_ref;
        for (int i = 0; i < 4; i++) {
            uint8_t id = next_byte(z);
            if (id & 1)
                op_set(z, id, false);
            else
                op_delete(z, id ^ 2);
        }
        compare(c, rc_ref);
        z->m = src;
        z->r = src_ref;
        compare(src, src_ref);
        gomap_free(c);
        refmap_free(rc_ref);
        break;
    }
    default:
        gomap_free(z->m);
        z->m = c;
        break;
    }
}

static void op_bulk(fz *z, bool insert)
{
    unsigned count = next_byte(z) % 64;
    uint8_t base = next_byte(z);
    for (unsigned i = 0; i < count; i++) {
        uint8_t id = (uint8_t)(base + i);
        if (insert)
            op_set(z, id, i & 1);
        else
            op_delete(z, id);
    }
}

/* One or two iterators, interleaved with changes read from the input. */
typedef struct {
    gomap_iter it;
    int t;
    bool live;
    bool busy; /* started on a non-empty map: counts as live for shrink */
} fz_iter;

static void op_iterate(fz *z, int k)
{
    char why[256];
    fz_iter its[2];
    for (int i = 0; i < k; i++) {
        its[i].t = refmap_track_begin(z->r);
        its[i].busy = refmap_len(z->r) > 0;
        gomap_iter_init(&its[i].it, z->m);
        its[i].live = true;
    }
    /* Each step with input left consumes input, so the steps are bounded by
     * the input's length plus the entries there can be (a one-byte key
     * space, plus capped NaNs). */
    size_t guard = 0, limit = 2 * z->size + 4 * (refmap_len(z->r) + 600) * (size_t)k;
    while (its[0].live || (k > 1 && its[1].live)) {
        CHECK_MSG(++guard < limit, "iteration does not end");
        int i = (k > 1 && (!its[0].live || (its[1].live && (guard & 1)))) ? 1 : 0;
        const void *kp;
        void *vp;
        if (!gomap_iter_next(&its[i].it, &kp, &vp)) {
            its[i].live = false;
            CHECK_MSG(refmap_track_end(z->r, its[i].t, true, why, sizeof why), "%s", why);
            continue;
        }
        CHECK_MSG(refmap_track_produced(z->r, its[i].t, kp, vp, why, sizeof why), "%s", why);
        const void *saved = copy_key(z, &z->kb2, kp);
        uint8_t b = more(z) ? next_byte(z) : 0;
        /* No input left: run to the end without changes. */
        if (!more(z) && b == 0)
            continue;
        switch (b % 12) {
        case 0:
            gomap_iter_done(&its[i].it);
            its[i].live = false;
            CHECK_MSG(refmap_track_end(z->r, its[i].t, false, why, sizeof why), "%s", why);
            break;
        case 1:
        case 2:
            op_set(z, next_byte(z), false);
            break;
        case 3:
            op_delete(z, next_byte(z));
            break;
        case 4:
            delete_key(z, saved); /* the entry just produced */
            break;
        case 5:
            op_assign(z, next_byte(z));
            break;
        case 6:
            if (z->c->val_size && !refmap_key_is_nan(z->r, kp)) {
                /* The produced slot is writable until the next write. */
                make_val(z, z->val);
                memcpy(vp, z->val, z->c->val_size);
                CHECK(refmap_set_value(z->r, kp, z->val));
            }
            break;
        case 7:
            if ((its[0].live && its[0].busy) || (k > 1 && its[1].live && its[1].busy))
                shrink_expect_busy(z);
            break;
        case 8:
            op_bulk(z, true);
            break;
        case 9:
            if (next_byte(z) < 16) {
                /* A clear stops every iteration in flight. */
                op_clear(z);
                for (int j = 0; j < k; j++) {
                    if (!its[j].live)
                        continue;
                    CHECK_MSG(!gomap_iter_next(&its[j].it, &kp, &vp),
                              "iterator produced an entry after clear");
                    its[j].live = false;
                    CHECK_MSG(refmap_track_end(z->r, its[j].t, false, why, sizeof why), "%s",
                              why);
                }
            }
            break;
        case 10:
            op_get(z, next_byte(z), false);
            break;
        default:
            if (refmap_len(z->r) <= 128)
                compare(z->m, z->r);
            break;
        }
        /* After a change (a plain step is a read), on every change while
         * the map is small and every 8th step otherwise: the validator is
         * linear and this loop may take one step per input byte. */
        if (b % 12 != 0 && b % 12 != 6 && b % 12 != 10 &&
            (refmap_len(z->r) <= 64 || guard % 8 == 0))
            CHECK_VALID(z->m);
    }
}

/* ------------------------------------------------------------------------ */
/* The target                                                                */
/* ------------------------------------------------------------------------ */

static gomap_t *new_map(fz *z, size_t hint)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = z->c->kind;
    o.key_size = z->c->key_size;
    o.val_size = z->c->val_size;
    o.hint = hint;
    o.hash = z->c->hash;
    o.equal = z->c->hash ? ckey_equal : NULL;
    o.alloc = &z->fa.iface;
    gomap_t *m = (gomap_t *)(void *)z;
    int rc = gomap_new(&m, &o);
    if (rc == -ENOMEM) {
        CHECK(m == NULL);
        CHECK(z->fa.live_blocks == 0);
        rc = gomap_new(&m, &o);
    }
    CHECK_MSG(rc == 0 && m != NULL, "gomap_new returned %d", rc);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static fz z;
    memset(&z, 0, sizeof z);
    z.data = data;
    z.size = size;
    uint8_t head = next_byte(&z);
    z.c = &cfgs[(head & 0x3F) % NCFGS];
    fail_alloc_init(&z.fa);
    if (z.c->kind == GOMAP_KEY_CUSTOM)
        z.r = refmap_new_custom(z.c->key_size, z.c->val_size, z.c->hash, ckey_equal);
    else
        z.r = refmap_new(z.c->kind, z.c->key_size, z.c->val_size);
    if (head & 0x40)
        fail_alloc_fail_nth(&z.fa, 1); /* gomap_new's first allocation */
    z.m = new_map(&z, head & 0x80 ? next_byte(&z) : 0);

    size_t ops = 0;
    while (more(&z)) {
        uint8_t op = next_byte(&z);
        if (z.fail_all_next)
            z.fa.fail_all = 1;
        switch (op % 20) {
        case 0: case 1: case 2: case 3:
            op_set(&z, next_byte(&z), false);
            break;
        case 4:
            op_set(&z, next_byte(&z), true);
            break;
        case 5:
            op_assign(&z, next_byte(&z));
            break;
        case 6:
            op_get(&z, next_byte(&z), true);
            break;
        case 7:
            op_get_copy(&z, next_byte(&z));
            break;
        case 8: case 9:
            op_delete(&z, next_byte(&z));
            break;
        case 10:
            if (op < 100)
                op_clear(&z);
            break;
        case 11:
            op_shrink(&z, next_byte(&z));
            break;
        case 12:
            op_clone(&z, next_byte(&z));
            break;
        case 13:
            compare(z.m, z.r);
            break;
        case 14:
            op_iterate(&z, 1);
            break;
        case 15: {
            uint8_t b = next_byte(&z);
            if (b < 192)
                fail_alloc_fail_nth(&z.fa, 1 + b % 24);
            else
                z.fail_all_next = true;
            break;
        }
        case 16:
            op_bulk(&z, true);
            break;
        case 17:
            op_bulk(&z, false);
            break;
        case 18:
            op_iterate(&z, 2);
            break;
        default:
            op_get(&z, next_byte(&z), false);
            break;
        }
        if (z.fa.fail_all) {
            z.fa.fail_all = 0;
            z.fail_all_next = false;
        }
        ops++;
        CHECK_VALID(z.m);
        CHECK_MSG(gomap_len(z.m) == refmap_len(z.r), "gomap_len %zu, reference %zu",
                  gomap_len(z.m), refmap_len(z.r));
        if (refmap_len(z.r) <= 16 || ops % 8 == 0)
            compare(z.m, z.r);
    }
    z.fa.fail_at = 0;
    compare(z.m, z.r);
    gomap_free(z.m);
    CHECK_MSG(z.fa.live_blocks == 0 && z.fa.live_bytes == 0,
              "%zu blocks (%zu bytes) still allocated after gomap_free", z.fa.live_blocks,
              z.fa.live_bytes);
    refmap_free(z.r);
    return 0;
}

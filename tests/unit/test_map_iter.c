/*
 * test_map_iter.c — the iteration contract under writes from the iterating
 * thread (Go's for-range rules, GO_MAP_SPEC.md section 1 "Iteration"):
 *
 *   - every entry present for the whole iteration is produced exactly once;
 *   - an entry deleted before the iterator reaches it is not produced;
 *   - an entry inserted during the iteration may or may not be produced, but
 *     never twice;
 *   - an entry is produced with its current value (also after the map grew
 *     and the iterator found it moved), and its value slot is writable.
 *
 * Seeded random sequences of inserts, deletes (of random keys, of the key just
 * produced, or of every key not yet produced) and overwrites run between
 * iteration steps, against a model of the map, for several key kinds (u32,
 * u64, f64, strings, 300-byte keys with 200-byte values — both out of line),
 * iterations started on a stable map or in the middle of a growth, and one or
 * two iterators in flight. Keys are never re-inserted once deleted, so "not
 * produced after its deletion" is exact. GOMAP_TEST_SEED reproduces a run.
 */
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    MAXK = 1 << 15,  /* key indices are below this */
    BYTES_KEY = 300, /* GOMAP_KEY_BYTES key size: stored out of line */
    MAX_ITERS = 2,
};

enum { K_NONE, K_LIVE, K_GONE };

typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t val_size;        /* 8, or > 128 for out-of-line values */
    size_t n0;              /* keys present when the iteration starts */
    bool start_growing;     /* start the iteration in the middle of a growth */
    bool start_same_size;   /* ... of a same-size growth (GOMAP_KEY_CUSTOM only) */
    int iters;              /* iterators in flight at once */
    unsigned p_ins, p_del, p_upd; /* weights of the random write kinds */
    unsigned p_del_cur;     /* percent of steps that delete the key just produced */
    unsigned p_write_through; /* percent of steps that write through the value pointer */
    unsigned max_ops;       /* random writes per step: 0..max_ops */
    bool mass_delete;       /* at one random step, delete every key not yet produced */
} iter_cfg;

/* Fields left out of a configuration are 0/false; val_size 0 means 8. */

/* The model: what the map must hold. */
typedef struct {
    const iter_cfg *cfg;
    gomap_t *m;
    uint64_t rng;
    uint64_t next;          /* next fresh key index */
    size_t live;
    unsigned char *state;   /* K_NONE / K_LIVE / K_GONE per key index */
    unsigned char *original; /* live when the iteration started */
    unsigned char *produced[MAX_ITERS];
    int64_t *val;
} model;

/* Storage for one key in the form the API takes. */
typedef struct {
    uint32_t u32;
    uint64_t u64;
    double f64;
    gomap_str str;
    char text[64];
    unsigned char bytes[BYTES_KEY];
} keybuf;

static const void *make_key(const model *md, uint64_t i, keybuf *kb)
{
    switch (md->cfg->kind) {
    case GOMAP_KEY_U32:
        kb->u32 = (uint32_t)i;
        return &kb->u32;
    case GOMAP_KEY_F64:
        kb->f64 = (double)i + 0.25;
        return &kb->f64;
    case GOMAP_KEY_STR: {
        /* Mixed lengths, some over 32 bytes. */
        int n = snprintf(kb->text, sizeof kb->text, "key-%llu%s", (unsigned long long)i,
                         i % 3 == 0 ? "-with-a-suffix-that-makes-it-long" : "");
        kb->str.ptr = kb->text;
        kb->str.len = (size_t)n;
        return &kb->str;
    }
    case GOMAP_KEY_BYTES:
        for (size_t j = 0; j < BYTES_KEY; j++)
            kb->bytes[j] = (unsigned char)(j * 7 + i);
        memcpy(kb->bytes + 8, &i, sizeof i);
        return kb->bytes;
    default: /* GOMAP_KEY_U64, GOMAP_KEY_CUSTOM */
        kb->u64 = i;
        return &kb->u64;
    }
}

/* The key index of a stored key handed back by the iterator (checked to be a
 * well-formed key of this test). */
static uint64_t key_index(const model *md, const void *k)
{
    uint64_t i;
    switch (md->cfg->kind) {
    case GOMAP_KEY_U32: {
        uint32_t x;
        memcpy(&x, k, sizeof x);
        return x;
    }
    case GOMAP_KEY_F64: {
        double d;
        memcpy(&d, k, sizeof d);
        CHECK(d >= 0 && d < MAXK && d - floor(d) == 0.25);
        return (uint64_t)d;
    }
    case GOMAP_KEY_STR: {
        gomap_str s;
        memcpy(&s, k, sizeof s);
        CHECK(s.len > 4 && s.len < 64 && memcmp(s.ptr, "key-", 4) == 0);
        char text[64];
        memcpy(text, s.ptr, s.len);
        text[s.len] = 0;
        i = strtoull(text + 4, NULL, 10);
        keybuf kb;
        const gomap_str *want = make_key(md, i, &kb);
        CHECK_MSG(want->len == s.len && memcmp(want->ptr, s.ptr, s.len) == 0,
                  "stored key \"%s\" is corrupt", text);
        return i;
    }
    case GOMAP_KEY_BYTES: {
        memcpy(&i, (const unsigned char *)k + 8, sizeof i);
        CHECK(i < MAXK);
        keybuf kb;
        CHECK_MSG(memcmp(make_key(md, i, &kb), k, BYTES_KEY) == 0, "stored key %llu is corrupt",
                  (unsigned long long)i);
        return i;
    }
    default:
        memcpy(&i, k, sizeof i);
        return i;
    }
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The GOMAP_KEY_CUSTOM keys are uint64_t indices hashed so that 64
 * consecutive indices share their low (bucket) bits and differ only in the
 * top (tophash) byte: each run of 64 fresh keys piles into one bucket's
 * overflow chain. Inserting new runs while deleting old ones strands
 * overflow buckets, which is what starts a same-size growth. */
static uint64_t clustered_hash(const void *key, uint64_t seed)
{
    uint64_t i;
    memcpy(&i, key, sizeof i);
    return (mix64((i / 64) ^ seed) & 0x00ffffffffffffffull) | (mix64(i) & 0xff00000000000000ull);
}

static bool u64_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

/* Values: the first 8 bytes carry the model's value; any further bytes are a
 * pattern derived from the key index. */
static size_t val_size_of(const iter_cfg *c)
{
    return c->val_size ? c->val_size : sizeof(int64_t);
}

static void make_val(const model *md, uint64_t i, int64_t v, unsigned char *buf)
{
    memcpy(buf, &v, sizeof v);
    for (size_t j = 8; j < val_size_of(md->cfg); j++)
        buf[j] = (unsigned char)(i * 31 + j);
}

static void check_val(const model *md, uint64_t i, const void *vp)
{
    const unsigned char *b = vp;
    int64_t v;
    memcpy(&v, b, sizeof v);
    CHECK_MSG(v == md->val[i], "key %llu: value %lld, current value %lld", (unsigned long long)i,
              (long long)v, (long long)md->val[i]);
    for (size_t j = 8; j < val_size_of(md->cfg); j++)
        CHECK(b[j] == (unsigned char)(i * 31 + j));
}

static void model_insert(model *md)
{
    if (md->next >= MAXK)
        return;
    uint64_t i = md->next++;
    keybuf kb;
    unsigned char vb[256];
    int64_t v = (int64_t)(test_rand(&md->rng) >> 1);
    make_val(md, i, v, vb);
    CHECK_EQ(gomap_set(md->m, make_key(md, i, &kb), vb), 0);
    md->state[i] = K_LIVE;
    md->val[i] = v;
    md->live++;
    CHECK_EQ(gomap_len(md->m), md->live);
}

static void model_delete(model *md, uint64_t i)
{
    keybuf kb;
    bool was = md->state[i] == K_LIVE;
    CHECK_MSG(gomap_delete(md->m, make_key(md, i, &kb)) == was, "delete of key %llu: want %d",
              (unsigned long long)i, (int)was);
    if (was) {
        md->state[i] = K_GONE;
        md->live--;
    }
    CHECK_EQ(gomap_len(md->m), md->live);
}

static void model_update(model *md, uint64_t i)
{
    if (md->state[i] != K_LIVE)
        return;
    keybuf kb;
    unsigned char vb[256];
    int64_t v = (int64_t)(test_rand(&md->rng) >> 1);
    make_val(md, i, v, vb);
    CHECK_EQ(gomap_set(md->m, make_key(md, i, &kb), vb), 0);
    md->val[i] = v;
    CHECK_EQ(gomap_len(md->m), md->live);
}

/* A few random writes between two iteration steps. */
static void random_writes(model *md)
{
    const iter_cfg *c = md->cfg;
    unsigned total = c->p_ins + c->p_del + c->p_upd;
    if (total == 0 || c->max_ops == 0)
        return;
    unsigned ops = (unsigned)test_rand_below(&md->rng, c->max_ops + 1);
    for (unsigned j = 0; j < ops; j++) {
        unsigned r = (unsigned)test_rand_below(&md->rng, total);
        if (r < c->p_ins)
            model_insert(md);
        else if (md->next == 0)
            continue;
        else if (r < c->p_ins + c->p_del)
            model_delete(md, test_rand_below(&md->rng, md->next));
        else
            model_update(md, test_rand_below(&md->rng, md->next));
    }
}

/* Every key the model holds is in the map with its value, no other is. */
static void check_map_matches(model *md)
{
    CHECK_VALID(md->m);
    CHECK_EQ(gomap_len(md->m), md->live);
    for (uint64_t i = 0; i < md->next; i++) {
        keybuf kb;
        void *p = gomap_get(md->m, make_key(md, i, &kb));
        if (md->state[i] == K_LIVE) {
            CHECK_MSG(p != NULL, "key %llu lost", (unsigned long long)i);
            check_val(md, i, p);
        } else {
            CHECK_MSG(p == NULL, "deleted key %llu found", (unsigned long long)i);
        }
    }
}

/* One iteration (or two interleaved ones) with random writes between steps,
 * checked against the model. */
static void run_iteration(const iter_cfg *c, uint64_t seed)
{
    model md;
    memset(&md, 0, sizeof md);
    md.cfg = c;
    md.rng = seed;
    md.state = calloc(MAXK, 1);
    md.original = calloc(MAXK, 1);
    md.val = calloc(MAXK, sizeof *md.val);
    CHECK(md.state && md.original && md.val);
    for (int t = 0; t < c->iters; t++)
        CHECK((md.produced[t] = calloc(MAXK, 1)) != NULL);

    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = c->kind;
    o.key_size = c->kind == GOMAP_KEY_BYTES ? BYTES_KEY : sizeof(uint64_t);
    o.val_size = val_size_of(c);
    if (c->kind == GOMAP_KEY_CUSTOM) {
        o.hash = clustered_hash;
        o.equal = u64_equal;
    }
    CHECK_EQ(gomap_new(&md.m, &o), 0);

    for (size_t i = 0; i < c->n0; i++)
        model_insert(&md);
    if (c->start_growing) {
        gomap_stats_t st;
        for (;;) {
            CHECK_EQ(gomap_stats(md.m, &st), 0);
            if (st.growing)
                break;
            CHECK(md.next < MAXK / 2);
            model_insert(&md);
        }
    }
    if (c->start_same_size) {
        /* Churn: insert fresh keys, delete the oldest, keeping n0 live.
         * Every 64 inserts strand about 7 overflow buckets, so a same-size
         * growth must start within a few runs. */
        gomap_stats_t st;
        uint64_t oldest = 0;
        for (;;) {
            CHECK_EQ(gomap_stats(md.m, &st), 0);
            if (st.growing && st.same_size_grow)
                break;
            CHECK_MSG(md.next < 64 * 64, "%s: no same-size growth after %llu inserts", c->name,
                      (unsigned long long)md.next);
            model_insert(&md);
            while (md.live > c->n0) {
                while (md.state[oldest] != K_LIVE)
                    oldest++;
                model_delete(&md, oldest);
            }
        }
        CHECK_VALID(md.m);
    }
    memcpy(md.original, md.state, MAXK);
    /* original[i] is K_LIVE for the keys present at the start */

    size_t mass_step = c->mass_delete ? (size_t)test_rand_below(&md.rng, c->n0 / 2 + 1) : SIZE_MAX;
    gomap_iter its[MAX_ITERS];
    bool running[MAX_ITERS] = {false};
    for (int t = 0; t < c->iters; t++) {
        gomap_iter_init(&its[t], md.m);
        running[t] = true;
    }
    size_t steps = 0;
    for (int active = c->iters; active > 0;) {
        for (int t = 0; t < c->iters; t++) {
            if (!running[t])
                continue;
            const void *kp;
            void *vp;
            if (!gomap_iter_next(&its[t], &kp, &vp)) {
                running[t] = false;
                active--;
                continue;
            }
            uint64_t i = key_index(&md, kp);
            CHECK_MSG(i < md.next, "produced key %llu was never inserted", (unsigned long long)i);
            CHECK_MSG(md.state[i] != K_GONE,
                      "%s: iterator %d produced key %llu after it was deleted",
                      c->name, t, (unsigned long long)i);
            CHECK_MSG(!md.produced[t][i], "%s: iterator %d produced key %llu twice", c->name, t,
                      (unsigned long long)i);
            md.produced[t][i] = 1;
            check_val(&md, i, vp);

            if (test_rand_below(&md.rng, 100) < c->p_write_through) {
                /* The value slot the iterator hands out is the entry's. */
                int64_t v = (int64_t)(test_rand(&md.rng) >> 1);
                memcpy(vp, &v, sizeof v);
                md.val[i] = v;
            }
            if (steps == mass_step) {
                /* Delete everything no iterator has produced yet. */
                for (uint64_t k = 0; k < md.next; k++) {
                    bool seen = false;
                    for (int u = 0; u < c->iters; u++)
                        seen = seen || md.produced[u][k];
                    if (md.state[k] == K_LIVE && !seen)
                        model_delete(&md, k);
                }
            }
            if (test_rand_below(&md.rng, 100) < c->p_del_cur)
                model_delete(&md, i);
            random_writes(&md);
            if (++steps % 128 == 0)
                CHECK_VALID(md.m);
        }
    }

    for (int t = 0; t < c->iters; t++) {
        for (uint64_t i = 0; i < md.next; i++) {
            if (md.original[i] == K_LIVE && md.state[i] == K_LIVE)
                CHECK_MSG(md.produced[t][i],
                          "%s: iterator %d never produced key %llu, present throughout",
                          c->name, t, (unsigned long long)i);
        }
    }
    check_map_matches(&md);

    gomap_free(md.m);
    for (int t = 0; t < c->iters; t++)
        free(md.produced[t]);
    free(md.state);
    free(md.original);
    free(md.val);
}

static void run_config(const iter_cfg *c, int rounds)
{
    /* Each configuration gets its own stream, derived from the run's seed. */
    uint64_t rng = test_seed();
    for (size_t i = 0; c->name[i]; i++)
        rng = (rng ^ (unsigned char)c->name[i]) * 0x100000001b3ull;
    for (int r = 0; r < rounds; r++)
        run_iteration(c, test_rand(&rng));
}

/* Deleting keys the iterator has not reached (random ones, and the key just
 * produced) never makes it produce them; the keys left are produced once. */
static void test_iter_delete_unvisited(void)
{
    static const iter_cfg cfgs[] = {
        {.name = "u64 delete", .kind = GOMAP_KEY_U64, .n0 = 2000, .iters = 1, .p_del = 100,
         .p_del_cur = 20, .max_ops = 3},
        {.name = "u64 delete mid-growth", .kind = GOMAP_KEY_U64, .n0 = 1500, .start_growing = true,
         .iters = 1, .p_del = 100, .p_del_cur = 20, .max_ops = 3},
        {.name = "str delete", .kind = GOMAP_KEY_STR, .n0 = 1000, .iters = 1, .p_del = 100,
         .p_del_cur = 30, .max_ops = 2},
        {.name = "small delete", .kind = GOMAP_KEY_U32, .n0 = 7, .iters = 1, .p_del = 100,
         .p_del_cur = 30, .max_ops = 2},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        run_config(&cfgs[i], 3);
}

/* At one step, every key not yet produced is deleted: the iterator must not
 * produce any of them afterwards (it produces nothing more at all, since
 * nothing is inserted). */
static void test_iter_delete_all_unvisited(void)
{
    static const iter_cfg cfgs[] = {
        {.name = "u64 mass delete", .kind = GOMAP_KEY_U64, .n0 = 1000, .iters = 1,
         .mass_delete = true},
        {.name = "u64 mass delete mid-growth", .kind = GOMAP_KEY_U64, .n0 = 800,
         .start_growing = true, .iters = 1, .mass_delete = true},
        {.name = "str mass delete", .kind = GOMAP_KEY_STR, .n0 = 500, .start_growing = true,
         .iters = 1, .mass_delete = true},
        {.name = "bytes mass delete", .kind = GOMAP_KEY_BYTES, .val_size = 200, .n0 = 300,
         .start_growing = true, .iters = 1, .mass_delete = true},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        run_config(&cfgs[i], 4);
}

/* Inserting during the iteration, enough to grow the map several times, never
 * makes the iterator produce an entry twice, and every original entry is
 * produced once with its value. */
static void test_iter_insert_during(void)
{
    static const iter_cfg cfgs[] = {
        {.name = "u64 insert", .kind = GOMAP_KEY_U64, .n0 = 300, .iters = 1, .p_ins = 100,
         .max_ops = 16},
        {.name = "u64 insert mid-growth", .kind = GOMAP_KEY_U64, .n0 = 200, .start_growing = true,
         .iters = 1, .p_ins = 100, .max_ops = 16},
        {.name = "str insert", .kind = GOMAP_KEY_STR, .n0 = 200, .iters = 1, .p_ins = 100,
         .max_ops = 12},
        {.name = "f64 insert", .kind = GOMAP_KEY_F64, .n0 = 200, .start_growing = true, .iters = 1,
         .p_ins = 100, .max_ops = 12},
        {.name = "small insert", .kind = GOMAP_KEY_U32, .n0 = 3, .iters = 1, .p_ins = 100,
         .max_ops = 6},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        run_config(&cfgs[i], 3);
}

/* Inserts, deletes, overwrites and writes through the iterator's value
 * pointer, mixed, with one or two iterators in flight, for every key kind:
 * the whole contract at once, values always current. */
static void test_iter_mixed_writes(void)
{
    static const iter_cfg cfgs[] = {
        {.name = "u64 mixed", .kind = GOMAP_KEY_U64, .n0 = 1000, .iters = 1, .p_ins = 40,
         .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20, .max_ops = 4},
        {.name = "u64 mixed mid-growth", .kind = GOMAP_KEY_U64, .n0 = 800, .start_growing = true,
         .iters = 1, .p_ins = 40, .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20,
         .max_ops = 4},
        {.name = "u32 mixed", .kind = GOMAP_KEY_U32, .n0 = 600, .start_growing = true, .iters = 1,
         .p_ins = 40, .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20,
         .max_ops = 4},
        {.name = "f64 mixed", .kind = GOMAP_KEY_F64, .n0 = 600, .start_growing = true, .iters = 1,
         .p_ins = 40, .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20,
         .max_ops = 4},
        {.name = "str mixed", .kind = GOMAP_KEY_STR, .n0 = 600, .start_growing = true, .iters = 1,
         .p_ins = 40, .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20,
         .max_ops = 4},
        {.name = "bytes300/val200 mixed", .kind = GOMAP_KEY_BYTES, .val_size = 200, .n0 = 400,
         .start_growing = true, .iters = 1, .p_ins = 40, .p_del = 30, .p_upd = 30, .p_del_cur = 10,
         .p_write_through = 20, .max_ops = 4},
        {.name = "u64 two iterators", .kind = GOMAP_KEY_U64, .n0 = 800, .start_growing = true,
         .iters = 2, .p_ins = 40, .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20,
         .max_ops = 4},
        {.name = "str two iterators", .kind = GOMAP_KEY_STR, .n0 = 500, .iters = 2, .p_ins = 40,
         .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20, .max_ops = 4},
        {.name = "bytes two iterators", .kind = GOMAP_KEY_BYTES, .val_size = 200, .n0 = 300,
         .start_growing = true, .iters = 2, .p_ins = 50, .p_del = 30, .p_upd = 20, .p_del_cur = 10,
         .p_write_through = 20, .max_ops = 4},
        {.name = "clustered mixed", .kind = GOMAP_KEY_CUSTOM, .n0 = 400, .iters = 1, .p_ins = 40,
         .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20, .max_ops = 4},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        run_config(&cfgs[i], 3);
}

/* The same contract for iterations that start in the middle of a same-size
 * growth (the map rehashed into an array of equal size to drop the overflow
 * buckets that deletes stranded), with writes that keep it going. */
static void test_iter_same_size_growth(void)
{
    static const iter_cfg cfgs[] = {
        {.name = "same-size mixed", .kind = GOMAP_KEY_CUSTOM, .n0 = 64, .start_same_size = true,
         .iters = 1, .p_ins = 40, .p_del = 30, .p_upd = 30, .p_del_cur = 10, .p_write_through = 20,
         .max_ops = 4},
        {.name = "same-size two iterators", .kind = GOMAP_KEY_CUSTOM, .n0 = 64,
         .start_same_size = true, .iters = 2, .p_ins = 40, .p_del = 30, .p_upd = 30,
         .p_del_cur = 10, .max_ops = 4},
        {.name = "same-size insert", .kind = GOMAP_KEY_CUSTOM, .n0 = 100, .start_same_size = true,
         .iters = 1, .p_ins = 100, .max_ops = 12},
        {.name = "same-size mass delete", .kind = GOMAP_KEY_CUSTOM, .n0 = 100,
         .start_same_size = true, .iters = 1, .mass_delete = true},
        {.name = "same-size val200", .kind = GOMAP_KEY_CUSTOM, .val_size = 200, .n0 = 64,
         .start_same_size = true, .iters = 1, .p_ins = 40, .p_del = 30, .p_upd = 30,
         .p_del_cur = 10, .p_write_through = 20, .max_ops = 4},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        run_config(&cfgs[i], 3);
}

/* An iterator ended early with gomap_iter_done stops counting as live:
 * while it is live gomap_shrink refuses with -EBUSY (and changes nothing);
 * once it is done (twice is harmless, and it produces nothing more), shrink
 * succeeds and the map holds no more memory than it did during the iteration,
 * when old arrays and deleted keys' bytes were kept for the iterator. */
static void test_iter_done_early(void)
{
    uint64_t rng = test_seed() ^ 0x5eed0fd0e5ull;
    char buf[48];
    for (int round = 0; round < 20; round++) {
        gomap_options o;
        memset(&o, 0, sizeof o);
        o.key_kind = GOMAP_KEY_STR;
        o.val_size = 8;
        gomap_t *m;
        CHECK_EQ(gomap_new(&m, &o), 0);
        uint64_t n = 100 + test_rand_below(&rng, 400), next = 0;
        for (; next < n; next++) {
            int len = snprintf(buf, sizeof buf, "early-%llu", (unsigned long long)next);
            int64_t v = (int64_t)next;
            CHECK_EQ(gomap_set_str(m, buf, (size_t)len, &v), 0);
        }
        gomap_iter it;
        const void *kp;
        void *vp;
        gomap_iter_init(&it, m);
        /* Each step deletes at most one key, so with fewer than n/3 steps
         * there is always an original key left to produce. */
        uint64_t stop = test_rand_below(&rng, n / 3);
        gomap_stats_t st;
        CHECK_EQ(gomap_stats(m, &st), 0);
        size_t held = st.bytes_held;
        for (uint64_t s = 0; s < stop; s++) {
            CHECK(gomap_iter_next(&it, &kp, &vp));
            /* Grow and delete while the iterator is live. */
            for (int j = 0; j < 8; j++, next++) {
                int len = snprintf(buf, sizeof buf, "early-%llu", (unsigned long long)next);
                int64_t v = (int64_t)next;
                CHECK_EQ(gomap_set_str(m, buf, (size_t)len, &v), 0);
            }
            uint64_t d = test_rand_below(&rng, next);
            int len = snprintf(buf, sizeof buf, "early-%llu", (unsigned long long)d);
            (void)gomap_delete_str(m, buf, (size_t)len);
            CHECK_EQ(gomap_stats(m, &st), 0);
            held = st.bytes_held;
        }
        size_t len_before = gomap_len(m);
        CHECK_EQ(gomap_shrink(m), -EBUSY);
        CHECK_EQ(gomap_len(m), len_before);
        gomap_iter_done(&it);
        gomap_iter_done(&it);
#if GOMAP_DEBUG_LEVEL < 1
        /* A release build quietly ends; debug builds report this misuse
         * (tests/misuse/test_iter_misuse.c). */
        CHECK(!gomap_iter_next(&it, &kp, &vp));
#endif
        CHECK_EQ(gomap_shrink(m), 0);
        CHECK_EQ(gomap_len(m), len_before);
        CHECK_EQ(gomap_stats(m, &st), 0);
        CHECK_MSG(st.bytes_held <= held, "bytes held grew from %zu to %zu after shrink", held,
                  st.bytes_held);
        CHECK_VALID(m);
        gomap_free(m);
    }
}

/* Memory kept for live iterators is bounded. An iterator abandoned without
 * gomap_iter_done used to keep every later outgrown array alive (bytes held
 * grew with every round of inserts and deletes, and gomap_shrink answered
 * -EBUSY for ever). Now what is kept never exceeds 4 x the live array (or
 * 1 MiB); past it the map frees it and ends the iterator, after which the
 * count of live iterators is 0 and shrink works. */
static void test_abandoned_iterator_bounded(void)
{
    enum { N = 20000, ROUNDS = 60 };
    gomap_options o = {.key_kind = GOMAP_KEY_STR, .val_size = 8};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    char buf[32];
    for (uint64_t k = 0; k < N; k++) {
        gomap_str s = {buf, (size_t)snprintf(buf, sizeof buf, "k%" PRIu64, k)};
        CHECK_EQ(gomap_set(m, &s, &k), 0);
    }
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL)); /* ... and abandoned */
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.live_iterators, 1);
    size_t held0 = st.bytes_held, max_held = 0;
    uint64_t next = N;
    for (int r = 0; r < ROUNDS; r++, next += N) {
        for (uint64_t i = 0; i < N; i++) {
            uint64_t k = next + i;
            gomap_str s = {buf, (size_t)snprintf(buf, sizeof buf, "k%" PRIu64, k)};
            CHECK_EQ(gomap_set(m, &s, &k), 0);
        }
        for (uint64_t i = 0; i < N; i++) {
            gomap_str s = {buf, (size_t)snprintf(buf, sizeof buf, "k%" PRIu64, next - N + i)};
            CHECK(gomap_delete(m, &s));
        }
        CHECK_EQ(gomap_stats(m, &st), 0);
        size_t live = st.bytes_held - st.retained_bytes;
        CHECK_MSG(st.retained_bytes <= 4 * live + ((size_t)1 << 20),
                  "round %d: %zu bytes kept for iterators, %zu held otherwise", r,
                  st.retained_bytes, live);
        if (st.bytes_held > max_held)
            max_held = st.bytes_held;
    }
    printf("   bytes held %zu at the start, at most %zu over %d rounds; %" PRIu64
           " reclaims\n", held0, max_held, ROUNDS, st.iterator_reclaims);
    CHECK(st.iterator_reclaims >= 1);
    CHECK_EQ(st.live_iterators, 0);
    CHECK_EQ(gomap_shrink(m), 0);
    CHECK_VALID(m);
    gomap_iter_done(&it); /* ending an iterator the map ended is harmless */
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.live_iterators, 0);
    gomap_free(m);
}

/* No false alarm: an iterator that lives across ordinary growth, from one
 * bucket to thousands, keeps less than one live array and is never ended;
 * it produces every original entry. */
static void test_iterator_across_growth_not_ended(void)
{
    enum { N0 = 8, ADD = 200000 };
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    for (uint64_t k = 0; k < N0; k++)
        CHECK_EQ(gomap_set(m, &k, &k), 0);
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *key;
    uint64_t seen = 0, next = N0;
    while (gomap_iter_next(&it, &key, NULL)) {
        if (*(const uint64_t *)key < N0)
            seen |= 1ull << *(const uint64_t *)key;
        for (int i = 0; i < ADD / N0 && next < N0 + ADD; i++, next++)
            CHECK_EQ(gomap_set(m, &next, &next), 0);
    }
    CHECK_EQ(seen, (1ull << N0) - 1);
    gomap_stats_t st;
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.iterator_reclaims, 0);
    CHECK_EQ(st.live_iterators, 0);
    CHECK_EQ(gomap_set(m, &next, &next), 0); /* the first write after the end frees */
    CHECK_EQ(gomap_stats(m, &st), 0);
    CHECK_EQ(st.retained_bytes, 0);
    gomap_free(m);
}

int main(void)
{
    (void)test_seed();
    RUN(test_iter_delete_unvisited);
    RUN(test_iter_delete_all_unvisited);
    RUN(test_iter_insert_during);
    RUN(test_iter_mixed_writes);
    RUN(test_iter_same_size_growth);
    RUN(test_iter_done_early);
    RUN(test_abandoned_iterator_bounded);
    RUN(test_iterator_across_growth_not_ended);
    return 0;
}

/*
 * test_map_budget.c — gomap_options.mem_limit and gomap_set_budget_handler.
 *
 * A map with a memory limit L and thresholds {0.80, 0.92, 0.97} is filled
 * until an insert fails with -ENOMEM. After every write: bytes_held (from
 * gomap_stats) never exceeds L, and the handler has fired exactly for the
 * thresholds that bytes_held has reached at the end of some write so far,
 * once each, in increasing order, each call reporting bytes_held >= t * L
 * (and the same figure gomap_stats gives inside the call, where the map may
 * be read). The failed insert leaves the map unchanged: same length, valid,
 * every acknowledged key present with its value, the refused key absent.
 * Deleting and re-inserting does not fire again; re-installing the handler
 * re-arms every threshold. String keys count their copies against the
 * limit. Bad arguments to gomap_set_budget_handler give -EINVAL and change
 * nothing.
 *
 * The fills use out-of-line values (or long string keys) in a presized
 * array, so memory grows in steps of a few hundred bytes and the refused
 * insert comes within a step of the limit: all three thresholds are reached.
 * A last fill without a hint also runs through the array doublings, and
 * fills without a hint (small values, string keys) use 90 % of the limit
 * or more before the first refusal, inserting above the load factor once a
 * doubling no longer fits; the map grows again when memory frees up.
 */
#include "check.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The handler's log                                                         */
/* ------------------------------------------------------------------------ */

#define MAX_CALLS 64

typedef struct {
    const gomap_t *m;
    size_t limit;
    size_t calls;
    double threshold[MAX_CALLS];
    size_t bytes[MAX_CALLS];
    const void *probe; /* a key present in the map, looked up in the handler */
} budget_log;

static void on_budget(const gomap_t *m, double threshold, size_t bytes_held, size_t mem_limit,
                      void *ctx)
{
    budget_log *log = ctx;
    CHECK(m == log->m);
    CHECK_EQ(mem_limit, log->limit);
    CHECK(log->calls < MAX_CALLS);
    CHECK_MSG((double)bytes_held >= threshold * (double)mem_limit,
              "threshold %.2f fired at %zu of %zu bytes", threshold, bytes_held, mem_limit);
    CHECK(bytes_held <= mem_limit);
    /* The write is over: the map is consistent and may be read. */
    gomap_stats_t s;
    CHECK_EQ(gomap_stats(m, &s), 0);
    CHECK_EQ(s.bytes_held, bytes_held);
    if (log->probe)
        CHECK(gomap_get(m, log->probe) != NULL);
    log->threshold[log->calls] = threshold;
    log->bytes[log->calls] = bytes_held;
    log->calls++;
}

static const double thresholds3[3] = {0.80, 0.92, 0.97};

/* Tracks what the handler must have done: the thresholds reached by
 * bytes_held at the end of some write since (re)installation. */
typedef struct {
    const double *t;   /* increasing */
    size_t n;
    size_t limit;
    size_t base_calls; /* log->calls when the handler was installed */
    size_t reached;    /* thresholds reached so far */
} expect;

static expect expect_of(const double *t, size_t n, size_t limit, const budget_log *log)
{
    expect e = {t, n, limit, log->calls, 0};
    return e;
}

/* After a write: bytes_held within the limit, and the handler has fired
 * exactly for the thresholds reached, in increasing order. */
static size_t after_write(const gomap_t *m, expect *e, const budget_log *log)
{
    gomap_stats_t s;
    CHECK_EQ(gomap_stats(m, &s), 0);
    CHECK_MSG(s.bytes_held <= e->limit, "bytes_held %zu over the limit %zu", s.bytes_held,
              e->limit);
    while (e->reached < e->n && (double)s.bytes_held >= e->t[e->reached] * (double)e->limit)
        e->reached++;
    CHECK_MSG(log->calls == e->base_calls + e->reached,
              "%zu handler calls, expected %zu (bytes_held %zu of %zu)",
              log->calls - e->base_calls, e->reached, s.bytes_held, e->limit);
    for (size_t i = 0; i < e->reached; i++)
        CHECK(log->threshold[e->base_calls + i] == e->t[i]);
    return s.bytes_held;
}

static size_t bytes_of(const gomap_t *m)
{
    gomap_stats_t s;
    CHECK_EQ(gomap_stats(m, &s), 0);
    return s.bytes_held;
}

/* ------------------------------------------------------------------------ */
/* u64 keys, out-of-line values                                              */
/* ------------------------------------------------------------------------ */

enum { VAL = 256, LIMIT = 1 << 20, HINT = 4096 };

static void value_for(uint64_t k, unsigned char v[VAL])
{
    for (size_t i = 0; i < VAL; i++)
        v[i] = (unsigned char)(k * 31 + i);
}

static gomap_t *new_limited(gomap_key_kind kind, size_t val_size, size_t hint, size_t limit)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = kind;
    o.val_size = val_size;
    o.hint = hint;
    o.mem_limit = limit;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    return m;
}

/* Every key below n (except those in [skip_lo, skip_hi)) present with its
 * value. */
static void check_u64_contents(const gomap_t *m, uint64_t n, uint64_t skip_lo, uint64_t skip_hi)
{
    unsigned char want[VAL];
    for (uint64_t k = 0; k < n; k++) {
        if (k >= skip_lo && k < skip_hi)
            continue;
        const unsigned char *v = gomap_get(m, &k);
        CHECK_MSG(v != NULL, "key %" PRIu64 " lost", k);
        value_for(k, want);
        CHECK(memcmp(v, want, VAL) == 0);
    }
}

/* Inserts keys from *next on until one is refused; checks the refusal left
 * the map unchanged. Returns the number of keys inserted. */
static uint64_t fill_u64(gomap_t *m, uint64_t *next, expect *e, budget_log *log)
{
    unsigned char v[VAL];
    uint64_t inserted = 0;
    for (;; (*next)++) {
        size_t len = gomap_len(m);
        value_for(*next, v);
        int rc = gomap_set(m, next, v);
        after_write(m, e, log);
        if (rc == -ENOMEM) {
            CHECK_EQ(gomap_len(m), len);
            CHECK_VALID(m);
            CHECK(gomap_get(m, next) == NULL);
            return inserted;
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(gomap_len(m), len + 1);
        inserted++;
        if (*next % 64 == 0)
            CHECK_VALID(m);
    }
}

static void test_thresholds_u64(void)
{
    gomap_t *m = new_limited(GOMAP_KEY_U64, VAL, HINT, LIMIT);
    size_t created = bytes_of(m);
    budget_log log = {.m = m, .limit = LIMIT};
    static const uint64_t probe = 0;
    CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, on_budget, &log), 0);
    expect e = expect_of(thresholds3, 3, LIMIT, &log);
    CHECK_EQ(log.calls, 0);

    uint64_t next = 0;
    unsigned char v[VAL];
    value_for(0, v);
    CHECK_EQ(gomap_set(m, &probe, v), 0);
    log.probe = &probe;
    next = 1;
    uint64_t n = 1 + fill_u64(m, &next, &e, &log);
    CHECK_EQ(n, next);
    CHECK_EQ(gomap_len(m), n);
    check_u64_contents(m, n, 0, 0);
    /* All three fired, once each, in order; the values count. */
    CHECK_EQ(log.calls, 3);
    for (size_t i = 0; i < 3; i++)
        CHECK(log.threshold[i] == thresholds3[i]);
    CHECK(bytes_of(m) >= created + n * VAL);
    gomap_stats_t s;
    CHECK_EQ(gomap_stats(m, &s), 0);
    CHECK(!s.growing && s.buckets * 13 / 2 > n); /* the hint held: no growth */

    /* Deleting and re-inserting: memory falls and rises again, no call. */
    for (uint64_t k = 1; k < 200; k++) {
        CHECK(gomap_delete(m, &k));
        after_write(m, &e, &log);
    }
    CHECK((double)bytes_of(m) < 0.97 * LIMIT);
    for (uint64_t k = 1; k < 200; k++) {
        value_for(k, v);
        int rc = gomap_set(m, &k, v);
        CHECK(rc == 0 || rc == -ENOMEM);
        after_write(m, &e, &log);
        if (rc)
            CHECK(gomap_get(m, &k) == NULL);
    }
    CHECK_EQ(log.calls, 3);
    CHECK_VALID(m);

    /* Re-installing below every threshold re-arms them: a new fill fires
     * all three again. */
    for (uint64_t k = 1; k < n && (double)bytes_of(m) >= 0.5 * LIMIT; k++)
        gomap_delete(m, &k);
    CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, on_budget, &log), 0);
    CHECK_EQ(log.calls, 3);
    e = expect_of(thresholds3, 3, LIMIT, &log);
    next = n;
    fill_u64(m, &next, &e, &log);
    CHECK_EQ(log.calls, 6);

    /* Re-installing above every threshold: each fires once more, at the
     * end of the installing write or of the next one. */
    CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, on_budget, &log), 0);
    CHECK(log.calls == 6 || log.calls == 9);
    uint64_t last = next - 1; /* the last key the fill acknowledged */
    CHECK(gomap_delete(m, &last)); /* a write that stays above 0.97 */
    CHECK((double)bytes_of(m) >= 0.97 * LIMIT);
    CHECK_EQ(log.calls, 9);
    for (size_t i = 0; i < 3; i++)
        CHECK(log.threshold[6 + i] == thresholds3[i]);
    CHECK_VALID(m);
    gomap_free(m);
}

/* Thresholds given out of order fire in increasing order. */
static void test_thresholds_unsorted(void)
{
    gomap_t *m = new_limited(GOMAP_KEY_U64, VAL, HINT, LIMIT);
    budget_log log = {.m = m, .limit = LIMIT};
    static const double given[3] = {0.97, 0.5, 0.8};
    static const double sorted[3] = {0.5, 0.8, 0.97};
    CHECK_EQ(gomap_set_budget_handler(m, given, 3, on_budget, &log), 0);
    expect e = expect_of(sorted, 3, LIMIT, &log);
    uint64_t next = 0;
    fill_u64(m, &next, &e, &log);
    CHECK_EQ(log.calls, 3);
    for (size_t i = 0; i < 3; i++)
        CHECK(log.threshold[i] == sorted[i]);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* String keys: their copies count                                           */
/* ------------------------------------------------------------------------ */

enum { STR_LIMIT = 512 * 1024, STR_MAX = 400 };

/* Key number i: 100 to 399 bytes, distinct, starting with its number. */
static gomap_str long_key(uint64_t i, char buf[STR_MAX])
{
    size_t len = 100 + (size_t)(i * 7919 % 300);
    int n = snprintf(buf, STR_MAX, "%" PRIu64 ":", i);
    for (size_t j = (size_t)n; j < len; j++)
        buf[j] = (char)('a' + (i + j) % 26);
    return (gomap_str){buf, len};
}

static void test_thresholds_str(void)
{
    gomap_t *m = new_limited(GOMAP_KEY_STR, 8, HINT, STR_LIMIT);
    size_t created = bytes_of(m);
    budget_log log = {.m = m, .limit = STR_LIMIT};
    CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, on_budget, &log), 0);
    expect e = expect_of(thresholds3, 3, STR_LIMIT, &log);
    char buf[STR_MAX];
    size_t key_bytes = 0;
    uint64_t n = 0;
    for (;; n++) {
        gomap_str k = long_key(n, buf);
        size_t before = bytes_of(m);
        int rc = gomap_set(m, &k, &n);
        size_t after = after_write(m, &e, &log);
        if (rc == -ENOMEM) {
            CHECK_EQ(gomap_len(m), n);
            CHECK(gomap_get(m, &k) == NULL);
            CHECK_VALID(m);
            break;
        }
        CHECK_EQ(rc, 0);
        /* The map holds a copy of the key's bytes. */
        CHECK_MSG(after >= before + k.len, "a %zu-byte key added %zu bytes", k.len,
                  after - before);
        key_bytes += k.len;
        if (n == 0) {
            static gomap_str probe;
            static char probe_buf[STR_MAX];
            probe = long_key(0, probe_buf);
            log.probe = &probe;
        }
        if (n % 64 == 0)
            CHECK_VALID(m);
    }
    CHECK(n > 100);
    CHECK(bytes_of(m) >= created + key_bytes);
    CHECK_EQ(log.calls, 3);
    for (uint64_t i = 0; i < n; i++) {
        gomap_str k = long_key(i, buf);
        const uint64_t *v = gomap_get(m, &k);
        CHECK_MSG(v != NULL, "key %" PRIu64 " lost", i);
        CHECK_EQ(*v, i);
    }
    /* The refused key fits once some keys are gone, without a new call. */
    for (uint64_t i = 1; i < 40; i++) {
        gomap_str k = long_key(i, buf);
        CHECK(gomap_delete(m, &k));
        after_write(m, &e, &log);
    }
    gomap_str k = long_key(n, buf);
    CHECK_EQ(gomap_set(m, &k, &n), 0);
    after_write(m, &e, &log);
    CHECK_EQ(log.calls, 3);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Growth under a limit                                                      */
/* ------------------------------------------------------------------------ */

/* Small values, no hint: memory grows by array doublings, the limit refuses
 * one of them (or an overflow bucket). Whatever is reached fires. */
static void test_limit_with_growth(void)
{
    static const double t[3] = {0.25, 0.5, 0.75};
    enum { GLIMIT = 96 * 1024 };
    gomap_t *m = new_limited(GOMAP_KEY_U64, 8, 0, GLIMIT);
    budget_log log = {.m = m, .limit = GLIMIT};
    CHECK_EQ(gomap_set_budget_handler(m, t, 3, on_budget, &log), 0);
    expect e = expect_of(t, 3, GLIMIT, &log);
    uint64_t k = 0;
    bool saw_growing = false;
    for (;; k++) {
        size_t len = gomap_len(m);
        uint64_t v = k * 3;
        int rc = gomap_set(m, &k, &v);
        after_write(m, &e, &log);
        gomap_stats_t s;
        CHECK_EQ(gomap_stats(m, &s), 0);
        saw_growing |= s.growing;
        if (rc == -ENOMEM) {
            CHECK_EQ(gomap_len(m), len);
            CHECK(gomap_get(m, &k) == NULL);
            break;
        }
        CHECK_EQ(rc, 0);
        if (k % 32 == 0)
            CHECK_VALID(m);
    }
    CHECK_VALID(m);
    CHECK(saw_growing);
    CHECK(e.reached >= 1);
    for (uint64_t i = 0; i < k; i++) {
        const uint64_t *v = gomap_get(m, &i);
        CHECK(v != NULL && *v == i * 3);
    }
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* A limit is used before anything is refused                               */
/* ------------------------------------------------------------------------ */

/* A growth needs the old and the new array at once, so a map whose next
 * doubling does not fit used to refuse inserts at 43-65 % of its limit,
 * before any of the usual thresholds fired. Now it inserts above the load
 * factor until the bytes run out: with no hint, small values or string
 * keys, the first refusal comes at 90 % of the limit or more, every
 * threshold below that point has fired, and nothing acknowledged is lost. */
typedef struct {
    gomap_key_kind kind;
    size_t limit;
} fill_case;

static void key_of(gomap_key_kind kind, uint64_t k, char buf[40], gomap_str *s, const void **key)
{
    if (kind == GOMAP_KEY_U64) {
        memcpy(buf, &k, sizeof k);
        *key = buf;
        return;
    }
    int len = snprintf(buf, 40, "a string key number %" PRIu64, k);
    *s = (gomap_str){buf, (size_t)len};
    *key = s;
}

static void test_limit_used_before_refusal(void)
{
    static const fill_case cases[] = {
        {GOMAP_KEY_U64, 1u << 20}, {GOMAP_KEY_U64, 256u << 10}, {GOMAP_KEY_U64, 96u << 10},
        {GOMAP_KEY_STR, 1u << 20}, {GOMAP_KEY_STR, 256u << 10},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gomap_t *m = new_limited(cases[c].kind, 8, 0, cases[c].limit);
        budget_log log = {.m = m, .limit = cases[c].limit};
        CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, on_budget, &log), 0);
        expect e = expect_of(thresholds3, 3, cases[c].limit, &log);
        uint64_t k = 0;
        int rc;
        char buf[40];
        gomap_str s;
        const void *key;
        double max_load = 0;
        for (;; k++) {
            uint64_t v = k * 7;
            key_of(cases[c].kind, k, buf, &s, &key);
            rc = gomap_set(m, key, &v);
            size_t held = after_write(m, &e, &log);
            if (rc != 0) {
                CHECK_EQ(rc, -ENOMEM);
                CHECK_MSG((double)held >= 0.90 * (double)cases[c].limit,
                          "case %zu: refused at %zu of %zu bytes (%.1f %%)", c, held,
                          cases[c].limit, 100.0 * (double)held / (double)cases[c].limit);
                break;
            }
            if (k % 4096 == 0) {
                gomap_stats_t st;
                CHECK_EQ(gomap_stats(m, &st), 0);
                if (st.load_factor > max_load)
                    max_load = st.load_factor;
            }
        }
        printf("   case %zu: %" PRIu64 " entries, refused at %.1f %% of %zu bytes, "
               "load factor up to %.1f\n", c, k,
               100.0 * (double)bytes_of(m) / (double)cases[c].limit, cases[c].limit, max_load);
        CHECK_EQ(e.reached, 3); /* at 90 % or more: 0.80 fired; the rest if reached */
        CHECK_EQ(gomap_len(m), k);
        CHECK_VALID(m);
        for (uint64_t i = 0; i < k; i++) {
            key_of(cases[c].kind, i, buf, &s, &key);
            const uint64_t *v = gomap_get(m, key);
            CHECK_MSG(v && *v == i * 7, "case %zu: key %" PRIu64 " lost", c, i);
        }
        gomap_free(m);
    }
}

/* The map grows later once memory allows: long string keys take most of
 * the limit, short ones then fill the rest above the load factor (the
 * doubling no longer fits); deleting the long keys frees enough for it,
 * and the next insert starts it. */
static int set_str_key(gomap_t *m, uint64_t k, size_t len)
{
    static char buf[1024];
    memset(buf, 'a' + (int)(k % 26), len);
    memcpy(buf, &k, sizeof k);
    gomap_str s = {buf, len};
    return gomap_set(m, &s, &k);
}

static bool delete_str_key(gomap_t *m, uint64_t k, size_t len)
{
    static char buf[1024];
    memset(buf, 'a' + (int)(k % 26), len);
    memcpy(buf, &k, sizeof k);
    gomap_str s = {buf, len};
    return gomap_delete(m, &s);
}

static void test_grows_when_memory_frees(void)
{
    enum { LONG = 1000, SHORT = 8, NLONG = 1500, SLIMIT = 2 << 20 };
    gomap_t *m = new_limited(GOMAP_KEY_STR, 8, 0, SLIMIT);
    uint64_t k = 0;
    for (; k < NLONG; k++)
        CHECK_EQ(set_str_key(m, k, LONG), 0);
    int rc;
    while ((rc = set_str_key(m, k, SHORT)) == 0)
        k++;
    CHECK_EQ(rc, -ENOMEM);
    gomap_stats_t before;
    CHECK_EQ(gomap_stats(m, &before), 0);
    CHECK_MSG(before.load_factor > 6.5, "load factor %.2f: the fill never went above it",
              before.load_factor);
    for (uint64_t i = 0; i < NLONG; i++)
        CHECK(delete_str_key(m, i, LONG));
    gomap_stats_t after;
    CHECK_EQ(gomap_stats(m, &after), 0);
    CHECK_MSG(after.load_factor > 6.5, "load factor %.2f after the deletes", after.load_factor);
    CHECK_EQ(set_str_key(m, k, SHORT), 0);
    CHECK_EQ(gomap_stats(m, &after), 0);
    printf("   %" PRIu64 " keys, load factor %.2f at the refusal; B %u -> %u%s\n", k,
           before.load_factor, before.b, after.b, after.growing ? " (growing)" : "");
    CHECK_MSG(after.growing || after.b > before.b, "no growth: B %u -> %u", before.b, after.b);
    CHECK_VALID(m);
    gomap_free(m);
}

/* ------------------------------------------------------------------------ */
/* Arguments                                                                 */
/* ------------------------------------------------------------------------ */

static void test_handler_arguments(void)
{
    budget_log log;
    memset(&log, 0, sizeof log);
    gomap_t *unlimited = new_limited(GOMAP_KEY_U64, 8, 0, 0);
    CHECK_EQ(gomap_set_budget_handler(unlimited, thresholds3, 3, on_budget, &log), -EINVAL);
    CHECK_EQ(gomap_set_budget_handler(unlimited, NULL, 0, NULL, NULL), -EINVAL);
    gomap_free(unlimited);
    CHECK_EQ(gomap_set_budget_handler(NULL, thresholds3, 3, on_budget, &log), -EINVAL);

    gomap_t *m = new_limited(GOMAP_KEY_U64, VAL, HINT, LIMIT);
    log.m = m;
    log.limit = LIMIT;
    double many[GOMAP_BUDGET_MAX_THRESHOLDS + 1];
    for (size_t i = 0; i <= GOMAP_BUDGET_MAX_THRESHOLDS; i++)
        many[i] = 0.05 + 0.1 * (double)i;
    CHECK_EQ(gomap_set_budget_handler(m, many, GOMAP_BUDGET_MAX_THRESHOLDS + 1, on_budget, &log),
             -EINVAL);
    CHECK_EQ(gomap_set_budget_handler(m, many, GOMAP_BUDGET_MAX_THRESHOLDS, on_budget, &log), 0);

    static const double bad[] = {0.0, -0.5, 1.0000001, 2.0, NAN, -INFINITY, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double ts[2] = {0.5, bad[i]};
        CHECK_MSG(gomap_set_budget_handler(m, ts, 2, on_budget, &log) == -EINVAL,
                  "threshold %g accepted", bad[i]);
        CHECK_MSG(gomap_set_budget_handler(m, &bad[i], 1, on_budget, &log) == -EINVAL,
                  "threshold %g accepted", bad[i]);
    }
    CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, NULL, &log), -EINVAL);
    CHECK_EQ(gomap_set_budget_handler(m, NULL, 0, NULL, NULL), 0); /* no handler */

    /* A threshold of exactly 1 is allowed. Then rejected calls change
     * nothing: the installed handler still fires, for its thresholds. */
    static const double one[2] = {0.5, 1.0};
    CHECK_EQ(gomap_set_budget_handler(m, one, 2, on_budget, &log), 0);
    static const double bad_one = 0;
    CHECK_EQ(gomap_set_budget_handler(m, &bad_one, 1, on_budget, &log), -EINVAL);
    CHECK_EQ(gomap_set_budget_handler(m, many, GOMAP_BUDGET_MAX_THRESHOLDS + 1, on_budget, &log),
             -EINVAL);
    CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, NULL, NULL), -EINVAL);
    expect e = expect_of(one, 2, LIMIT, &log);
    uint64_t next = 0;
    fill_u64(m, &next, &e, &log);
    CHECK(log.calls > e.base_calls && log.threshold[e.base_calls] == 0.5);
    gomap_free(m);

    /* Removing the handler (n = 0) silences it. */
    m = new_limited(GOMAP_KEY_U64, VAL, HINT, LIMIT);
    memset(&log, 0, sizeof log);
    log.m = m;
    log.limit = LIMIT;
    CHECK_EQ(gomap_set_budget_handler(m, thresholds3, 3, on_budget, &log), 0);
    CHECK_EQ(gomap_set_budget_handler(m, NULL, 0, NULL, NULL), 0);
    e = expect_of(thresholds3, 0, LIMIT, &log);
    next = 0;
    fill_u64(m, &next, &e, &log);
    CHECK_EQ(log.calls, 0);
    gomap_free(m);
}

int main(void)
{
    test_seed();
    RUN(test_thresholds_u64);
    RUN(test_thresholds_unsorted);
    RUN(test_thresholds_str);
    RUN(test_limit_with_growth);
    RUN(test_limit_used_before_refusal);
    RUN(test_grows_when_memory_frees);
    RUN(test_handler_arguments);
    return 0;
}

/*
 * test_lincheck.c — the linearizability checker (tests/support/lincheck.h)
 * is itself tested, so that "no violation found" in the concurrent-map tests
 * means something.
 *
 *   - Hand-written histories with a known answer: linearizable ones that
 *     need the checker to reorder overlapping operations, and classic
 *     violations (a load missing a completed store, two readers seeing two
 *     writes in opposite orders, two load_or_stores both storing, a
 *     compare_and_swap creating a key, a load seeing a value from before a
 *     clear, ...). Each is also checked with its operations listed in
 *     reverse: the answer must not depend on the input order.
 *   - Differential: thousands of random small histories (up to 7
 *     operations, some made wrong on purpose) decided both by the checker
 *     and by brute force over every order, with an independent model.
 *   - Shrinking: a violation buried in unrelated operations shrinks to the
 *     operations that show it.
 *   - The driver (lincheck_run) on a mutex-protected map: the correct map
 *     is accepted for thousands of random histories; a map whose
 *     load_or_store (or compare_and_swap) drops the lock between its check
 *     and its write must be rejected within a bounded number of histories.
 *
 * Random parts print their seed (GOMAP_TEST_SEED reproduces the operations;
 * thread interleavings differ from run to run).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "lincheck.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define LEN_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Building histories by hand                                                */
/* ------------------------------------------------------------------------ */

static lc_op mk(unsigned th, uint64_t call, uint64_t ret, lc_kind kind, unsigned key,
                uint64_t arg, uint64_t arg2, bool found, uint64_t out)
{
    return (lc_op){.thread = th, .call = call, .ret = ret, .kind = kind, .key = key,
                   .arg = arg, .arg2 = arg2, .found = found, .out = out};
}

/* One constructor per kind: thread, [call, ret], then the arguments and
 * results in the order the API has them. `found` false means absent. */
static lc_op ld(unsigned th, uint64_t c, uint64_t r, unsigned k, bool found, uint64_t v)
{ return mk(th, c, r, LC_LOAD, k, 0, 0, found, v); }
static lc_op st(unsigned th, uint64_t c, uint64_t r, unsigned k, uint64_t v)
{ return mk(th, c, r, LC_STORE, k, v, 0, false, 0); }
static lc_op swp(unsigned th, uint64_t c, uint64_t r, unsigned k, uint64_t v, bool had, uint64_t prev)
{ return mk(th, c, r, LC_SWAP, k, v, 0, had, prev); }
static lc_op los(unsigned th, uint64_t c, uint64_t r, unsigned k, uint64_t v, bool loaded, uint64_t actual)
{ return mk(th, c, r, LC_LOAD_OR_STORE, k, v, 0, loaded, actual); }
static lc_op lad(unsigned th, uint64_t c, uint64_t r, unsigned k, bool found, uint64_t v)
{ return mk(th, c, r, LC_LOAD_AND_DELETE, k, 0, 0, found, v); }
static lc_op del(unsigned th, uint64_t c, uint64_t r, unsigned k)
{ return mk(th, c, r, LC_DELETE, k, 0, 0, false, 0); }
static lc_op cas(unsigned th, uint64_t c, uint64_t r, unsigned k, uint64_t old, uint64_t nv, bool ok)
{ return mk(th, c, r, LC_COMPARE_AND_SWAP, k, old, nv, ok, 0); }
static lc_op cad(unsigned th, uint64_t c, uint64_t r, unsigned k, uint64_t old, bool ok)
{ return mk(th, c, r, LC_COMPARE_AND_DELETE, k, old, 0, ok, 0); }
static lc_op clr(unsigned th, uint64_t c, uint64_t r)
{ return mk(th, c, r, LC_CLEAR, 0, 0, 0, false, 0); }
static lc_op len(unsigned th, uint64_t c, uint64_t r, uint64_t n)
{ return mk(th, c, r, LC_LEN, 0, 0, 0, false, n); }
static lc_op snap(unsigned th, uint64_t c, uint64_t r, lc_state s)
{ return mk(th, c, r, LC_SNAPSHOT, 0, 0, 0, false, s); }

static const char *verdict_name(lc_verdict v)
{
    return v == LC_OK ? "linearizable" : v == LC_VIOLATION ? "violation" : "invalid";
}

/* Checks ops (and the same ops in reverse order) against the expected verdict. */
static void expect(const char *name, const lc_op *ops, size_t n, lc_verdict want)
{
    lc_op rev[32];
    CHECK(n <= LEN_OF(rev));
    for (size_t i = 0; i < n; i++)
        rev[i] = ops[n - 1 - i];
    lc_verdict got = lincheck_check(ops, n, 0, NULL);
    lc_verdict got_rev = lincheck_check(rev, n, 0, NULL);
    if (got != want || got_rev != want) {
        lincheck_print(stderr, ops, n, 0);
        CHECK_MSG(false, "%s: expected %s, got %s (reversed input: %s)", name,
                  verdict_name(want), verdict_name(got), verdict_name(got_rev));
    }
}

#define EXPECT(want, name, ...) \
    do { const lc_op h_[] = {__VA_ARGS__}; expect(name, h_, LEN_OF(h_), want); } while (0)

/* ------------------------------------------------------------------------ */
/* Hand-written histories                                                    */
/* ------------------------------------------------------------------------ */

static void test_accepts_linearizable(void)
{
    EXPECT(LC_OK, "the map starts empty", ld(0, 1, 2, 0, false, 0));
    EXPECT(LC_OK, "store then load", st(0, 1, 2, 0, 1), ld(1, 3, 4, 0, true, 1));
    EXPECT(LC_OK, "load overlapping a store may miss it",
           st(0, 1, 4, 0, 1), ld(1, 2, 3, 0, false, 0));
    EXPECT(LC_OK, "load overlapping a store may see it",
           st(0, 1, 4, 0, 1), ld(1, 2, 3, 0, true, 1));
    EXPECT(LC_OK, "overlapping stores take effect in the other order",
           st(0, 1, 6, 0, 1), st(1, 2, 7, 0, 2), ld(2, 8, 9, 0, true, 1));
    EXPECT(LC_OK, "a reader sees two overlapping writes in one order",
           st(0, 1, 20, 0, 1), st(1, 1, 20, 0, 2),
           ld(2, 2, 3, 0, true, 2), ld(2, 4, 5, 0, true, 1), ld(3, 6, 7, 0, true, 1));
    EXPECT(LC_OK, "overlapping load_or_stores: one stores, the other loads it",
           los(0, 1, 5, 0, 7, false, 7), los(1, 2, 6, 0, 8, true, 7));
    EXPECT(LC_OK, "load_or_store after a delete stores again",
           los(0, 1, 2, 0, 3, false, 3), del(1, 3, 4, 0), los(0, 5, 6, 0, 4, false, 4));
    EXPECT(LC_OK, "swap chain",
           swp(0, 1, 2, 0, 1, false, 0), swp(1, 3, 4, 0, 2, true, 1),
           lad(0, 5, 6, 0, true, 2), swp(1, 7, 8, 0, 3, false, 0));
    EXPECT(LC_OK, "compare_and_swap and compare_and_delete",
           st(0, 1, 2, 0, 1), cas(1, 3, 4, 0, 2, 3, false), cas(1, 5, 6, 0, 1, 3, true),
           cad(0, 7, 8, 0, 1, false), cad(0, 9, 10, 0, 3, true), ld(1, 11, 12, 0, false, 0));
    EXPECT(LC_OK, "two overlapping CAS from 1: the second fails",
           st(0, 1, 2, 0, 1), cas(1, 3, 8, 0, 1, 2, true), cas(2, 4, 9, 0, 1, 3, false));
    EXPECT(LC_OK, "CAS enabled by an overlapping store",
           cas(0, 1, 9, 0, 5, 6, true), st(1, 2, 3, 0, 5), ld(1, 10, 11, 0, true, 6));
    EXPECT(LC_OK, "clear overlapping a load",
           st(0, 1, 2, 0, 1), st(0, 3, 4, 1, 2), clr(1, 5, 9), ld(0, 6, 7, 1, true, 2),
           ld(0, 10, 11, 0, false, 0));
    EXPECT(LC_OK, "len and snapshot",
           st(0, 1, 2, 0, 1), st(1, 1, 6, 3, 4), len(2, 3, 4, 1),
           snap(2, 7, 8, lc_state_put(lc_state_put(0, 0, 1), 3, 4)), len(0, 9, 10, 2));
    EXPECT(LC_OK, "value 0 is a value, not absence",
           st(0, 1, 2, 0, 0), ld(1, 3, 4, 0, true, 0), lad(1, 5, 6, 0, true, 0),
           ld(0, 7, 8, 0, false, 0));
    EXPECT(LC_OK, "equal stamps count as overlapping",
           st(0, 1, 3, 0, 1), ld(1, 3, 4, 0, false, 0));
}

static void test_rejects_violations(void)
{
    EXPECT(LC_VIOLATION, "a completed store is missed by a later load",
           st(0, 1, 2, 0, 1), ld(1, 3, 4, 0, false, 0));
    EXPECT(LC_VIOLATION, "a load sees a value never stored",
           st(0, 1, 4, 0, 1), ld(1, 2, 3, 0, true, 2));
    EXPECT(LC_VIOLATION, "after both stores ended, loads see 2 then 1",
           st(0, 1, 4, 0, 1), st(1, 2, 5, 0, 2), ld(2, 6, 7, 0, true, 2), ld(3, 8, 9, 0, true, 1));
    EXPECT(LC_VIOLATION, "two readers see two overlapping writes in opposite orders",
           st(0, 1, 20, 0, 1), st(1, 1, 20, 0, 2),
           ld(2, 2, 3, 0, true, 1), ld(2, 4, 5, 0, true, 2),
           ld(3, 6, 7, 0, true, 2), ld(3, 8, 9, 0, true, 1));
    EXPECT(LC_VIOLATION, "two overlapping load_or_stores on an absent key both store",
           los(0, 1, 5, 0, 7, false, 7), los(1, 2, 6, 0, 8, false, 8));
    EXPECT(LC_VIOLATION, "load_or_store loads a value that is not there",
           st(0, 1, 2, 0, 1), los(1, 3, 4, 0, 5, true, 2));
    EXPECT(LC_VIOLATION, "compare_and_swap succeeds on a missing key",
           cas(0, 1, 2, 0, 0, 5, true));
    EXPECT(LC_VIOLATION, "compare_and_swap creates a deleted key",
           st(0, 1, 2, 0, 1), del(1, 3, 4, 0), cas(0, 5, 6, 0, 1, 2, true));
    EXPECT(LC_VIOLATION, "compare_and_swap fails although the value matches",
           st(0, 1, 2, 0, 3), cas(1, 3, 4, 0, 3, 4, false));
    EXPECT(LC_VIOLATION, "two overlapping CAS from 1 both succeed",
           st(0, 1, 2, 0, 1), cas(1, 3, 8, 0, 1, 2, true), cas(2, 4, 9, 0, 1, 3, true));
    EXPECT(LC_VIOLATION, "compare_and_delete succeeds on another value",
           st(0, 1, 2, 0, 3), cad(1, 3, 4, 0, 4, true));
    EXPECT(LC_VIOLATION, "a load after a clear still sees an old value",
           st(0, 1, 2, 0, 1), clr(1, 3, 4), ld(0, 5, 6, 0, true, 1));
    EXPECT(LC_VIOLATION, "two load_and_deletes both take the one value",
           st(0, 1, 2, 0, 1), lad(1, 3, 8, 0, true, 1), lad(2, 4, 9, 0, true, 1));
    EXPECT(LC_VIOLATION, "swap reports a wrong previous value",
           st(0, 1, 2, 0, 1), swp(1, 3, 4, 0, 2, true, 3));
    EXPECT(LC_VIOLATION, "swap reports absent for a present key",
           st(0, 1, 2, 0, 1), swp(1, 3, 4, 0, 2, false, 0));
    EXPECT(LC_VIOLATION, "a deleted key is loaded",
           st(0, 1, 2, 0, 1), del(0, 3, 4, 0), ld(1, 5, 6, 0, true, 1));
    EXPECT(LC_VIOLATION, "len counts a key twice",
           st(0, 1, 2, 0, 1), st(0, 3, 4, 0, 2), len(1, 5, 6, 2));
    EXPECT(LC_VIOLATION, "snapshot tears: one store seen without the one before it",
           st(0, 1, 2, 0, 1), st(0, 3, 4, 1, 1), snap(1, 5, 6, lc_state_put(0, 1, 1)));
    EXPECT(LC_VIOLATION, "keys are independent, but each must be right",
           st(0, 1, 2, 0, 1), st(1, 1, 2, 1, 1), ld(0, 3, 4, 1, true, 1), ld(1, 3, 4, 0, true, 2));
}

static void test_rejects_malformed(void)
{
    EXPECT(LC_INVALID, "returns before its call", st(0, 5, 4, 0, 1));
    EXPECT(LC_INVALID, "key out of range", st(0, 1, 2, LC_MAX_KEYS, 1));
    EXPECT(LC_INVALID, "value out of range", st(0, 1, 2, 0, LC_MAX_VALUE + 1));
}

/* Pending operations (called, never returned) may take effect after
 * their call or never; their results are not known. */
static void test_pending(void)
{
    const uint64_t P = LC_PENDING;
    EXPECT(LC_OK, "a pending store may have happened", st(0, 1, P, 0, 1), ld(1, 2, 3, 0, true, 1));
    EXPECT(LC_OK, "or not", st(0, 1, P, 0, 1), ld(1, 2, 3, 0, false, 0));
    EXPECT(LC_OK, "a pending load_or_store's result is unknown",
           los(0, 1, P, 0, 5, true, 9), ld(1, 2, 3, 0, true, 5));
    EXPECT(LC_VIOLATION, "but happens once: its value cannot vanish",
           st(0, 1, P, 0, 1), ld(1, 2, 3, 0, true, 1), ld(1, 4, 5, 0, false, 0));
    EXPECT(LC_VIOLATION, "and not before its call",
           ld(1, 1, 2, 0, true, 1), st(0, 3, P, 0, 1));
}

/* A history checked from a non-empty initial map. */
static void test_initial_state(void)
{
    lc_op h[] = {ld(0, 1, 2, 3, true, 9), lad(1, 3, 4, 3, true, 9), ld(0, 5, 6, 3, false, 0)};
    lc_state init = lc_state_put(0, 3, 9);
    CHECK_EQ(lincheck_check(h, LEN_OF(h), init, NULL), LC_OK);
    CHECK_EQ(lincheck_check(h, LEN_OF(h), 0, NULL), LC_VIOLATION);
}

/* A violation among unrelated operations shrinks to the operations that
 * show it; a sequential start becomes the initial map. */
static void test_minimize(void)
{
    lc_op h[] = {
        st(0, 1, 10, 1, 4), ld(1, 2, 3, 1, false, 0), st(1, 4, 5, 0, 1), ld(2, 2, 8, 1, true, 4),
        cas(0, 11, 12, 1, 4, 5, true), ld(2, 9, 14, 0, false, 0), ld(1, 6, 7, 2, false, 0),
        swp(1, 13, 15, 1, 2, true, 5),
    };
    lc_state init = 0;
    CHECK_EQ(lincheck_check(h, LEN_OF(h), 0, NULL), LC_VIOLATION);
    size_t m = lincheck_minimize(h, LEN_OF(h), &init);
    lincheck_print(stdout, h, m, init);
    CHECK_EQ(m, 1); /* key 0 alone: store, then load -> absent */
    CHECK_EQ(init, lc_state_put(0, 0, 1));
    CHECK(h[0].kind == LC_LOAD && h[0].key == 0 && !h[0].found);
    CHECK_EQ(lincheck_check(h, m, init, NULL), LC_VIOLATION);

    /* With a clear in it no key can be isolated: the history is cut after
     * the load that shows the violation (the store running then becomes
     * pending, the load of k1 too and is dropped), and the first store is
     * replaced by the state it leaves. */
    lc_op h2[] = {
        st(0, 1, 2, 0, 1), clr(1, 3, 6), st(2, 5, 30, 1, 2), ld(0, 6, 9, 1, true, 2),
        ld(1, 7, 8, 0, true, 1), ld(0, 10, 11, 0, false, 0), swp(1, 12, 13, 0, 2, false, 0),
        st(0, 14, 15, 1, 1),
    };
    init = 0;
    CHECK_EQ(lincheck_check(h2, LEN_OF(h2), 0, NULL), LC_VIOLATION);
    m = lincheck_minimize(h2, LEN_OF(h2), &init);
    lincheck_print(stdout, h2, m, init);
    CHECK_EQ(m, 3);
    CHECK_EQ(init, lc_state_put(0, 0, 1));
    CHECK(h2[0].kind == LC_CLEAR && h2[1].kind == LC_STORE && h2[1].ret == LC_PENDING);
    CHECK(h2[2].kind == LC_LOAD && h2[2].key == 0 && h2[2].found);
    CHECK_EQ(lincheck_check(h2, m, init, NULL), LC_VIOLATION);

    lc_op ok[] = {st(0, 1, 4, 0, 1), ld(1, 2, 3, 0, false, 0)};
    init = 0;
    CHECK_EQ(lincheck_minimize(ok, LEN_OF(ok), &init), LEN_OF(ok));
}

/* ------------------------------------------------------------------------ */
/* Differential test against brute force                                     */
/* ------------------------------------------------------------------------ */

/* An independent sequential map: plain arrays, one function per question. */
typedef struct {
    bool present[LC_MAX_KEYS];
    uint64_t val[LC_MAX_KEYS];
} ref_map;

static unsigned ref_len(const ref_map *m)
{
    unsigned n = 0;
    for (unsigned k = 0; k < LC_MAX_KEYS; k++)
        n += m->present[k];
    return n;
}

static lc_state ref_encode(const ref_map *m)
{
    lc_state s = 0;
    for (unsigned k = 0; k < LC_MAX_KEYS; k++)
        if (m->present[k])
            s = lc_state_put(s, k, m->val[k]);
    return s;
}

/* Performs op on m, writing what a correct map returns into *res (kind,
 * key, arguments copied). */
static void ref_do(ref_map *m, const lc_op *op, lc_op *res)
{
    unsigned k = op->key;
    bool had = m->present[k];
    uint64_t cur = had ? m->val[k] : 0;
    *res = *op;
    res->found = had;
    res->out = cur;
    switch (op->kind) {
    case LC_STORE:
    case LC_SWAP:
        m->present[k] = true, m->val[k] = op->arg;
        break;
    case LC_LOAD_OR_STORE:
        if (!had)
            m->present[k] = true, m->val[k] = res->out = op->arg;
        break;
    case LC_LOAD_AND_DELETE:
    case LC_DELETE:
        m->present[k] = false;
        break;
    case LC_COMPARE_AND_SWAP:
        res->found = had && cur == op->arg;
        if (res->found)
            m->val[k] = op->arg2;
        break;
    case LC_COMPARE_AND_DELETE:
        res->found = had && cur == op->arg;
        if (res->found)
            m->present[k] = false;
        break;
    case LC_CLEAR:
        memset(m, 0, sizeof *m);
        break;
    case LC_LEN:
        res->out = ref_len(m);
        break;
    case LC_SNAPSHOT:
        res->out = ref_encode(m);
        break;
    default:
        break;
    }
}

/* Whether the recorded results of op are what ref_do gives (only the
 * fields the kind reports). */
static bool ref_matches(const lc_op *want, const lc_op *got)
{
    switch (got->kind) {
    case LC_STORE:
    case LC_DELETE:
    case LC_CLEAR:
        return true;
    case LC_COMPARE_AND_SWAP:
    case LC_COMPARE_AND_DELETE:
        return want->found == got->found;
    case LC_LEN:
    case LC_SNAPSHOT:
        return want->out == got->out;
    case LC_LOAD_OR_STORE:
        return want->found == got->found && want->out == got->out;
    default:
        return want->found == got->found && (!got->found || want->out == got->out);
    }
}

/* Tries every order of the unplaced ops that respects real time. */
static bool brute_force(const lc_op *ops, size_t n, unsigned placed, const ref_map *m)
{
    if (placed == (1u << n) - 1)
        return true;
    for (size_t i = 0; i < n; i++) {
        if (placed & (1u << i))
            continue;
        bool minimal = true;
        for (size_t j = 0; j < n && minimal; j++)
            minimal = (placed & (1u << j)) || j == i || ops[j].ret >= ops[i].call;
        ref_map next = *m;
        lc_op res;
        if (!minimal)
            continue;
        ref_do(&next, &ops[i], &res);
        if (ref_matches(&res, &ops[i]) && brute_force(ops, n, placed | (1u << i), &next))
            return true;
    }
    return false;
}

/* A random history: ops performed in sequence on a reference map (so
 * linearizable), each given an interval around its instant; then, half
 * the time, one result corrupted. */
static size_t random_history(uint64_t *rng, lc_op *ops)
{
    size_t n = 1 + test_rand_below(rng, 7);
    ref_map m = {0};
    for (size_t i = 0; i < n; i++) {
        lc_op plan = {
            .kind = (lc_kind)test_rand_below(rng, LC_KIND_COUNT),
            .key = (unsigned)test_rand_below(rng, 2),
            .arg = test_rand_below(rng, 3),
            .arg2 = test_rand_below(rng, 3),
            .thread = (unsigned)i,
        };
        ref_do(&m, &plan, &ops[i]);
        uint64_t at = 60 * (i + 1);
        ops[i].call = at - test_rand_below(rng, 60);
        ops[i].ret = at + test_rand_below(rng, 60);
    }
    if (test_rand_below(rng, 2)) {
        lc_op *op = &ops[test_rand_below(rng, n)];
        if (test_rand_below(rng, 2))
            op->found = !op->found;
        else
            op->out = test_rand_below(rng, 3);
    }
    return n;
}

static void test_matches_brute_force(void)
{
    uint64_t rng = test_seed() ^ 0xB1u;
    size_t verdicts[2] = {0, 0};
    for (int iter = 0; iter < 20000 / WORK_DIV; iter++) {
        lc_op ops[8];
        size_t n = random_history(&rng, ops);
        ref_map empty = {0};
        bool want = brute_force(ops, n, 0, &empty);
        lc_verdict got = lincheck_check(ops, n, 0, NULL);
        if (got != (want ? LC_OK : LC_VIOLATION)) {
            lincheck_print(stderr, ops, n, 0);
            CHECK_MSG(false, "iteration %d: brute force says %s, checker %s", iter,
                      want ? "linearizable" : "violation", verdict_name(got));
        }
        verdicts[want]++;
    }
    printf("  %zu linearizable, %zu violations, all agreeing with brute force\n",
           verdicts[1], verdicts[0]);
    CHECK(verdicts[0] > 1000 / WORK_DIV && verdicts[1] > 1000 / WORK_DIV);
}

/* ------------------------------------------------------------------------ */
/* Recording                                                                 */
/* ------------------------------------------------------------------------ */

static void test_recorder(void)
{
    lincheck_recorder *r = lincheck_recorder_new(2, 4);
    lc_op plan = {.kind = LC_STORE, .key = 1, .arg = 5};
    for (unsigned t = 0; t < 3; t++) {
        lc_op *op = lincheck_begin(r, t == 2 ? LC_THREAD_MAIN : t, &plan);
        lincheck_end(r, op);
    }
    size_t n;
    const lc_op *h = lincheck_history(r, &n);
    CHECK_EQ(n, 3);
    for (size_t i = 0; i < n; i++) {
        CHECK(h[i].call < h[i].ret);
        CHECK(i == 0 || h[i - 1].ret < h[i].call);
        CHECK(h[i].kind == LC_STORE && h[i].key == 1 && h[i].arg == 5);
    }
    CHECK_EQ(h[2].thread, LC_THREAD_MAIN);
    lincheck_recorder_reset(r);
    lincheck_history(r, &n);
    CHECK_EQ(n, 0);
    lincheck_recorder_free(r);
}

/* ------------------------------------------------------------------------ */
/* A mutex-protected map, correct and broken                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    pthread_mutex_t mu;
    bool present[LC_MAX_KEYS];
    uint64_t val[LC_MAX_KEYS];
} locked_map;

static void lm_lock(void *o) { CHECK_EQ(pthread_mutex_lock(&((locked_map *)o)->mu), 0); }
static void lm_unlock(void *o) { CHECK_EQ(pthread_mutex_unlock(&((locked_map *)o)->mu), 0); }

/* Reads key k under the lock: whether present, and the value (0 if not). */
static bool lm_read(locked_map *m, uint64_t k, uint64_t *val)
{
    lm_lock(m);
    bool had = m->present[k];
    *val = had ? m->val[k] : 0;
    lm_unlock(m);
    return had;
}

/* Sets (present) or deletes key k under the lock; returns what was there. */
static bool lm_write(locked_map *m, uint64_t k, bool present, uint64_t val, uint64_t *prev)
{
    lm_lock(m);
    bool had = m->present[k];
    *prev = had ? m->val[k] : 0;
    m->present[k] = present;
    m->val[k] = present ? val : 0;
    lm_unlock(m);
    return had;
}

static bool lm_load(void *o, uint64_t k, uint64_t *v) { return lm_read(o, k, v); }
static void lm_store(void *o, uint64_t k, uint64_t v) { uint64_t p; lm_write(o, k, true, v, &p); }
static bool lm_swap(void *o, uint64_t k, uint64_t v, uint64_t *prev) { return lm_write(o, k, true, v, prev); }
static bool lm_load_and_delete(void *o, uint64_t k, uint64_t *v) { return lm_write(o, k, false, 0, v); }
static void lm_delete(void *o, uint64_t k) { uint64_t p; lm_write(o, k, false, 0, &p); }

static bool lm_load_or_store(void *o, uint64_t k, uint64_t v, uint64_t *actual)
{
    locked_map *m = o;
    lm_lock(m);
    bool had = m->present[k];
    if (!had)
        m->present[k] = true, m->val[k] = v;
    *actual = m->val[k];
    lm_unlock(m);
    return had;
}

/* Replaces (or with del, deletes) k's value if it equals old. */
static bool lm_compare_and(locked_map *m, uint64_t k, uint64_t old, bool del, uint64_t nv)
{
    lm_lock(m);
    bool hit = m->present[k] && m->val[k] == old;
    if (hit)
        m->present[k] = !del, m->val[k] = nv;
    lm_unlock(m);
    return hit;
}

static bool lm_cas(void *o, uint64_t k, uint64_t old, uint64_t nv) { return lm_compare_and(o, k, old, false, nv); }
static bool lm_cad(void *o, uint64_t k, uint64_t old) { return lm_compare_and(o, k, old, true, 0); }

static void lm_clear(void *o)
{
    locked_map *m = o;
    lm_lock(m);
    memset(m->present, 0, sizeof m->present);
    lm_unlock(m);
}

static size_t lm_len(void *o)
{
    locked_map *m = o;
    lm_lock(m);
    size_t n = 0;
    for (unsigned k = 0; k < LC_MAX_KEYS; k++)
        n += m->present[k];
    lm_unlock(m);
    return n;
}

static lc_state lm_snapshot(void *o, unsigned nkeys)
{
    locked_map *m = o;
    lc_state s = 0;
    lm_lock(m);
    for (unsigned k = 0; k < nkeys; k++)
        if (m->present[k])
            s = lc_state_put(s, k, m->val[k]);
    lm_unlock(m);
    return s;
}

/* The broken operations: the check and the write are two critical
 * sections, with a yield between them, so another thread can act in the gap. */
static bool broken_load_or_store(void *o, uint64_t k, uint64_t v, uint64_t *actual)
{
    if (lm_read(o, k, actual))
        return true;
    sched_yield();
    lm_store(o, k, v);
    *actual = v;
    return false;
}

static bool broken_cas(void *o, uint64_t k, uint64_t old, uint64_t nv)
{
    uint64_t cur;
    if (!lm_read(o, k, &cur) || cur != old)
        return false;
    sched_yield();
    lm_store(o, k, nv);
    return true;
}

#define LOCKED_MAP_OPS                                                              \
    .load = lm_load, .store = lm_store, .swap = lm_swap,                           \
    .load_and_delete = lm_load_and_delete, .del = lm_delete,                       \
    .compare_and_delete = lm_cad, .clear = lm_clear, .len = lm_len,                \
    .snapshot = lm_snapshot

static const lc_adapter locked_adapter = {
    .name = "locked map", LOCKED_MAP_OPS,
    .load_or_store = lm_load_or_store, .compare_and_swap = lm_cas,
};
static const lc_adapter broken_los_adapter = {
    .name = "locked map with split load_or_store", LOCKED_MAP_OPS,
    .load_or_store = broken_load_or_store, .compare_and_swap = lm_cas,
};
static const lc_adapter broken_cas_adapter = {
    .name = "locked map with split compare_and_swap", LOCKED_MAP_OPS,
    .load_or_store = lm_load_or_store, .compare_and_swap = broken_cas,
};

/* One history of cfg on a fresh locked map. */
static lc_outcome run_locked(const lc_adapter *a, const lc_config *cfg)
{
    locked_map m = {0};
    CHECK_EQ(pthread_mutex_init(&m.mu, NULL), 0);
    lc_outcome out = lincheck_run(a, &m, cfg);
    CHECK_EQ(pthread_mutex_destroy(&m.mu), 0);
    CHECK(out.verdict != LC_INVALID);
    return out;
}

static lc_config random_config(uint64_t *rng, unsigned max_keys, unsigned ops_lo,
                               unsigned ops_hi)
{
    static const unsigned pauses[] = {0, 30, 100, 300};
    return (lc_config){
        .pause = pauses[test_rand_below(rng, LEN_OF(pauses))],
        .threads = 2 + (unsigned)test_rand_below(rng, 3),
        .nkeys = 1 + (unsigned)test_rand_below(rng, max_keys),
        .ops_per_thread = ops_lo + (unsigned)test_rand_below(rng, ops_hi - ops_lo + 1),
        .nvalues = 3,
        .final_loads = true,
        .seed = test_rand(rng),
    };
}

static void test_correct_map_accepted(void)
{
    uint64_t rng = test_seed() ^ 0xC0u;
    int histories = 3000 / WORK_DIV;
    size_t ops = 0, overlapping = 0, concurrent = 0, configs = 0;
    for (int i = 0; i < histories; i++) {
        lc_config cfg = random_config(&rng, 4, 10, 30);
        cfg.report = stderr;
        lc_outcome out = run_locked(&locked_adapter, &cfg);
        CHECK_MSG(out.verdict == LC_OK, "history %d (seed %" PRIu64 ") rejected", i, cfg.seed);
        CHECK_EQ(out.ops, cfg.threads * cfg.ops_per_thread + cfg.nkeys);
        ops += out.ops, overlapping += out.overlapping, concurrent += out.concurrent;
        configs += out.stats.configs;
    }
    printf("  %d histories, %zu operations, %zu of %zu concurrent ones overlap another "
           "thread's, %zu configurations searched: all linearizable\n",
           histories, ops, overlapping, concurrent, configs);
    CHECK(overlapping > 0);
}

/* The broken map must be caught within `budget` histories racing on 1-2 keys
 * with the operations that expose it. */
static void expect_caught(const lc_adapter *a, const unsigned *weights, uint64_t salt)
{
    uint64_t rng = test_seed() ^ salt;
    const int budget = 300;
    for (int i = 1; i <= budget; i++) {
        lc_config cfg = random_config(&rng, 2, 10, 20);
        cfg.weights = weights;
        cfg.report = stdout;
        lc_outcome out = run_locked(a, &cfg);
        if (out.verdict == LC_VIOLATION) {
            printf("  %s: rejected at history %d of at most %d\n", a->name, i, budget);
            return;
        }
    }
    CHECK_MSG(false, "%s: accepted for %d histories", a->name, budget);
}

static void test_broken_load_or_store_rejected(void)
{
    static const unsigned w[LC_KIND_COUNT] = {
        [LC_LOAD] = 2, [LC_LOAD_OR_STORE] = 6, [LC_DELETE] = 2, [LC_LOAD_AND_DELETE] = 1,
    };
    expect_caught(&broken_los_adapter, w, 0x105u);
}

static void test_broken_cas_rejected(void)
{
    static const unsigned w[LC_KIND_COUNT] = {
        [LC_LOAD] = 2, [LC_STORE] = 2, [LC_COMPARE_AND_SWAP] = 6, [LC_DELETE] = 1,
    };
    expect_caught(&broken_cas_adapter, w, 0xCA5u);
}

int main(void)
{
    test_seed();
    RUN(test_accepts_linearizable);
    RUN(test_rejects_violations);
    RUN(test_rejects_malformed);
    RUN(test_pending);
    RUN(test_initial_state);
    RUN(test_minimize);
    RUN(test_matches_brute_force);
    RUN(test_recorder);
    RUN(test_correct_map_accepted);
    RUN(test_broken_load_or_store_rejected);
    RUN(test_broken_cas_rejected);
    return 0;
}

/*
 * test_deleg_reentrancy.c — a compute callback that calls back into the
 * delegation map it runs on is reported, not hung (gomap/delegmap.h,
 * "Thread-safety"):
 *
 *   fatal error: re-entrant call into a gomap delegation map from its own callback (would deadlock)
 *
 * and freeing the map from inside its own callback with
 *
 *   fatal error: gomap delegation map freed from inside its own callback
 *
 * through the misuse report and the fault handler of gomap/diag.h, then
 * abort(). The callback runs on the server — a worker thread, or in
 * combining mode the calling thread — and the report comes from there.
 * Each case runs in a forked child (child.h) with a hang guard (alarm).
 *
 *   test_reported      a compute callback calling get, set, delete, compute,
 *                      submit, wait, poll, validate and free on its own map;
 *                      combining, 1 worker and 3 workers.
 *   test_not_reported  callbacks using other delegation maps (A's compute
 *                      -> B's compute -> C's get), and len and stats of
 *                      their own map (which post nothing): every answer
 *                      right, exit 0, silent, handler not called.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "child.h"
#include "deathcheck.h"
#include "delegcheck.h"

#include <gomap/diag.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define REENTRY_MSG \
    "re-entrant call into a gomap delegation map from its own callback (would deadlock)"
#define FREE_MSG "gomap delegation map freed from inside its own callback"

enum { ALARM_SECONDS = 20 };

typedef enum {
    IN_GET, IN_SET, IN_DELETE, IN_COMPUTE, IN_SUBMIT, IN_WAIT, IN_POLL, IN_VALIDATE, IN_FREE,
    IN_COUNT
} inner_op;
static const char *const inner_names[] = {"get", "set", "delete", "compute", "submit",
                                          "wait", "poll", "validate", "free"};

typedef struct {
    inner_op inner;
    unsigned workers;
} reentry_case;

typedef struct {
    gomap_deleg_t *m;
    inner_op inner;
} reentry_ctx;

static int noop_compute(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)val;
    (void)present;
    (void)ctx;
    return 0;
}

static int reenter(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)val;
    (void)present;
    reentry_ctx *c = ctx;
    child_info("entered %s\n", inner_names[c->inner]);
    uint64_t k = 3, v = 5, out;
    gomap_deleg_op op = {.kind = GOMAP_DELEG_GET, .key = &k, .val = &out};
    switch (c->inner) {
    case IN_GET: (void)gomap_deleg_get(c->m, &k, &out); break;
    case IN_SET: (void)gomap_deleg_set(c->m, &k, &v); break;
    case IN_DELETE: (void)gomap_deleg_delete(c->m, &k); break;
    case IN_COMPUTE: (void)gomap_deleg_compute(c->m, &k, noop_compute, NULL); break;
    case IN_SUBMIT: (void)gomap_deleg_submit(c->m, &op, 1, 0); break;
    case IN_WAIT: (void)gomap_deleg_wait(c->m, &op, 0); break;
    case IN_POLL: (void)gomap_deleg_poll(c->m, &op, 0); break;
    case IN_VALIDATE: (void)gomap_deleg_validate(c->m, NULL, 0); break;
    case IN_FREE: gomap_deleg_free(c->m); break;
    case IN_COUNT: break;
    }
    child_info("survived\n");
    return 0;
}

static void reentry_body(void *arg)
{
    const reentry_case *rc = arg;
    gomap_set_fault_handler(death_info_handler, death_token());
    gomap_deleg_t *m = delegcheck_new_u64(0, 8, rc->workers, 8);
    for (uint64_t k = 0; k < 32; k++)
        CHECK_EQ(gomap_deleg_set(m, &k, &k), 0);
    reentry_ctx c = {m, rc->inner};
    uint64_t k = 9;
    (void)gomap_deleg_compute(m, &k, reenter, &c);
    child_info("done 1\n");
}

static void test_reported(void)
{
    size_t n = 0;
    for (int w = 0; w < DELEGCHECK_NMODES; w++) {
        for (int i = 0; i < IN_COUNT; i++) {
            reentry_case rc = {(inner_op)i, delegcheck_modes[w]};
            char label[128];
            snprintf(label, sizeof label, "compute callback calls %s, %s", inner_names[i],
                     delegcheck_mode_name(rc.workers));
            child_result r = run_child(reentry_body, &rc, ALARM_SECONDS);
            death_expect_reported(label, &r, i == IN_FREE ? FREE_MSG : REENTRY_MSG,
                                  "the re-entrant call", "the callback");
            child_result_free(&r);
            n++;
        }
    }
    printf("   %zu re-entrant calls, each reported\n", n);
}

/* ------------------------------------------------------------------------ */
/* Calls into other maps                                                     */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_deleg_t *a, *b, *c;
    uint64_t got_c;
} nest;

static int b_compute(const void *key, void *val, bool *present, void *ctx)
{
    nest *n = ctx;
    (void)key;
    uint64_t k = 7;
    CHECK(gomap_deleg_get(n->c, &k, &n->got_c));
    uint64_t v = n->got_c + 1;
    memcpy(val, &v, 8);
    *present = true;
    return 0;
}

static int a_compute(const void *key, void *val, bool *present, void *ctx)
{
    nest *n = ctx;
    (void)key;
    (void)present;
    uint64_t k = 7, v = 0;
    CHECK(gomap_deleg_get(n->b, &k, &v));
    uint64_t nv = v + 1;
    CHECK_EQ(gomap_deleg_set(n->b, &k, &nv), 0);
    uint64_t nk = 1000;
    CHECK_EQ(gomap_deleg_compute(n->b, &nk, b_compute, n), 0);
    CHECK_EQ(gomap_deleg_len(n->a), 32); /* its own map: posts nothing */
    gomap_deleg_stats_t st;
    CHECK_EQ(gomap_deleg_stats(n->a, &st), 0);
    uint64_t out = 42;
    memcpy(val, &out, 8);
    return 0;
}

static gomap_deleg_t *filled(unsigned workers)
{
    gomap_deleg_t *m = delegcheck_new_u64(0, 8, workers, 8);
    for (uint64_t k = 0; k < 32; k++) {
        uint64_t v = k + 3;
        CHECK_EQ(gomap_deleg_set(m, &k, &v), 0);
    }
    return m;
}

static void nested_body(void *arg)
{
    unsigned workers = *(const unsigned *)arg;
    gomap_set_fault_handler(death_info_handler, death_token());
    nest n = {filled(workers), filled(workers), filled(workers ? 0 : 1), 0};
    uint64_t k = 5, v = 0;
    CHECK_EQ(gomap_deleg_compute(n.a, &k, a_compute, &n), 0);
    CHECK(gomap_deleg_get(n.a, &k, &v) && v == 42);
    CHECK(gomap_deleg_get(n.b, &(uint64_t){7}, &v) && v == 11);
    CHECK(gomap_deleg_get(n.b, &(uint64_t){1000}, &v) && v == 11);
    CHECK_EQ(n.got_c, 10);
    CHECK_DELEG_VALID(n.a);
    CHECK_DELEG_VALID(n.b);
    gomap_deleg_free(n.a);
    gomap_deleg_free(n.b);
    gomap_deleg_free(n.c);
    child_info("done 1\n");
}

static void test_not_reported(void)
{
    for (int w = 0; w < DELEGCHECK_NMODES; w++) {
        char label[96];
        snprintf(label, sizeof label, "nested calls into other maps, %s",
                 delegcheck_mode_name(delegcheck_modes[w]));
        child_result r = run_child(nested_body, (void *)&delegcheck_modes[w], ALARM_SECONDS);
        death_expect_clean(label, &r);
        child_result_free(&r);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_seed();
    RUN(test_reported);
    RUN(test_not_reported);
    printf("ok\n");
    return 0;
}

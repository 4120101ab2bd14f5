/*
 * test_cache_loader_self_wait.c — a get_or_load loader that calls
 * get_or_load for its own key would wait for itself; gomap/cache.h says that
 * is reported as misuse:
 *
 *   fatal error: gomap cache loader waits for its own key
 *
 * through the misuse report and the fault handler of gomap/diag.h, then
 * abort(). Each case runs in a forked child (child.h) with a hang guard
 * (alarm): a child that hangs, exits, or dies any other way fails the test.
 *
 *   test_reported      the loader of key k calls get_or_load(k) directly,
 *                      on caches of 1 and 16 shards, with u64 and string
 *                      keys, with the inner call's loader the same or
 *                      another: the child dies of SIGABRT with the line
 *                      above on stderr, the fault handler was called with
 *                      that message and the report stderr shows, and the
 *                      inner call never returned.
 *   test_not_reported  loaders that call get_or_load for other keys (nested
 *                      two deep), set and get their own key, and a second
 *                      thread that waits for a key another thread's loader
 *                      is loading: every answer right, exit 0, silent
 *                      stderr, the handler not called.
 */
#define _POSIX_C_SOURCE 200809L

#include "cachecheck.h"
#include "check.h"
#include "child.h"
#include "deathcheck.h"

#include <gomap/diag.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define SELF_WAIT_MSG "gomap cache loader waits for its own key"

enum { ALARM_SECONDS = 20 };

/* ------------------------------------------------------------------------ */
/* A loader waiting for its own key                                          */
/* ------------------------------------------------------------------------ */

typedef struct {
    bool strings;
    unsigned shards;
    bool other_loader;   /* the inner call passes a different loader */
} self_case;

typedef struct {
    gomap_cache_t *c;
    const self_case *sc;
} self_ctx;

static int plain_loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)key;
    (void)ttl_ns;
    (void)ctx;
    memset(val_out, 0x11, 8);
    return 0;
}

static int self_loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    self_ctx *s = ctx;
    (void)ttl_ns;
    child_info("entered 1\n");
    uint64_t out;
    int rc = gomap_cache_get_or_load(s->c, key, &out,
                                     s->sc->other_loader ? plain_loader : self_loader, s);
    child_info("survived %d\n", rc);
    memset(val_out, 0x22, 8);
    return 0;
}

static void self_body(void *arg)
{
    const self_case *sc = arg;
    gomap_set_fault_handler(death_info_handler, death_token());
    gomap_cache_options o = cachecheck_options(sc->strings ? GOMAP_KEY_STR : GOMAP_KEY_U64, 8,
                                               NULL, NULL);
    o.shards = sc->shards;
    gomap_cache_t *c = cachecheck_new(&o);
    uint64_t out;
    for (uint64_t k = 0; k < 32; k++) {
        char text[16];
        gomap_str s = {text, (size_t)snprintf(text, sizeof text, "k%" PRIu64, k)};
        CHECK_EQ(gomap_cache_set(c, sc->strings ? (const void *)&s : (const void *)&k, &k, 0), 0);
    }
    self_ctx ctx = {c, sc};
    uint64_t k = 1000;
    gomap_str s = {"the key", 7};
    (void)gomap_cache_get_or_load(c, sc->strings ? (const void *)&s : (const void *)&k, &out,
                                  self_loader, &ctx);
    child_info("outer call returned\n");
}

static void test_reported(void)
{
    static const self_case cases[] = {
        {false, 1, false}, {false, 16, false}, {true, 1, false}, {true, 16, true},
        {false, 4, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[128];
        snprintf(label, sizeof label, "loader calls get_or_load for its own key (%s keys, %u "
                 "shards, %s loader)", cases[i].strings ? "string" : "u64", cases[i].shards,
                 cases[i].other_loader ? "another" : "the same");
        child_result r = run_child(self_body, (void *)&cases[i], ALARM_SECONDS);
        death_expect_reported(label, &r, SELF_WAIT_MSG, "the inner get_or_load", "the loader");
        child_result_free(&r);
    }
    printf("   %zu self-waits, each reported\n", sizeof cases / sizeof cases[0]);
}

/* ------------------------------------------------------------------------ */
/* Not misuse                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_cache_t *c;
    int depth;
    atomic_int loading;     /* the slow loader has started */
    atomic_int release;     /* the slow loader may return */
} nest_ctx;

static int nested_loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    nest_ctx *n = ctx;
    (void)ttl_ns;
    uint64_t k, out = 0;
    memcpy(&k, key, 8);
    if (n->depth < 2) {
        n->depth++;
        CHECK_EQ(gomap_cache_get_or_load(n->c, &(uint64_t){k + 1}, &out, nested_loader, n), 0);
        CHECK_EQ(out, (k + 1) * 10);
        n->depth--;
    }
    /* Its own key with set and get (no wait for a load): allowed. */
    CHECK(!gomap_cache_get(n->c, key, &out));
    CHECK_EQ(gomap_cache_set(n->c, key, &(uint64_t){1}, 0), 0);
    CHECK(gomap_cache_get(n->c, key, &out) && out == 1);
    memcpy(val_out, &(uint64_t){k * 10}, 8);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int slow_loader(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    nest_ctx *n = ctx;
    (void)key;
    (void)ttl_ns;
    atomic_store(&n->loading, 1);
    while (!atomic_load(&n->release))
        sleep_ms(1);
    memcpy(val_out, &(uint64_t){77}, 8);
    return 0;
}

static void *slow_thread(void *arg)
{
    nest_ctx *n = arg;
    uint64_t out = 0;
    CHECK_EQ(gomap_cache_get_or_load(n->c, &(uint64_t){500}, &out, slow_loader, n), 0);
    CHECK_EQ(out, 77);
    return NULL;
}

static void not_reported_body(void *arg)
{
    unsigned shards = *(const unsigned *)arg;
    gomap_set_fault_handler(death_info_handler, death_token());
    gomap_cache_options o = cachecheck_options(GOMAP_KEY_U64, 8, NULL, NULL);
    o.shards = shards;
    nest_ctx n;
    memset(&n, 0, sizeof n);
    n.c = cachecheck_new(&o);
    uint64_t out = 0;
    CHECK_EQ(gomap_cache_get_or_load(n.c, &(uint64_t){10}, &out, nested_loader, &n), 0);
    CHECK_EQ(out, 100);
    CHECK(gomap_cache_get(n.c, &(uint64_t){11}, &out) && out == 110);
    CHECK(gomap_cache_get(n.c, &(uint64_t){12}, &out) && out == 120);

    /* Waiting for another thread's load of the same key is no misuse. */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, slow_thread, &n), 0);
    while (!atomic_load(&n.loading))
        sleep_ms(1);
    atomic_store(&n.release, 1);
    CHECK(gomap_cache_get_or_load(n.c, &(uint64_t){500}, &out, plain_loader, NULL) >= 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(gomap_cache_get(n.c, &(uint64_t){500}, &out) && out == 77);
    CHECK_CACHE_VALID(n.c);
    gomap_cache_free(n.c);
    child_info("done 1\n");
}

static void test_not_reported(void)
{
    static const unsigned counts[] = {1, 16};
    for (int i = 0; i < 2; i++) {
        char label[64];
        snprintf(label, sizeof label, "loaders using other keys, %u shards", counts[i]);
        child_result r = run_child(not_reported_body, (void *)&counts[i], ALARM_SECONDS);
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

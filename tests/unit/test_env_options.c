/*
 * test_env_options.c — the environment variables gomap reads:
 * GOMAP_HASH_SEED (fixed hash seeds, for debugging) and GOMAP_CHECK (the
 * misuse-check mode of maps created with GOMAP_CHECK_AUTO).
 *
 * Each case runs in a forked child that sets (or unsets) the variable before
 * its first map is created, and works on a thread of its own (a new thread
 * has not seeded its random generator yet). The parent creates no map, so
 * nothing it did can have read a variable or printed a warning before the
 * fork.
 *
 *   seed_valid          decimal and 0x-hex values (any case, leading zeros,
 *                       0 and 2^64-1): no output, and two children with the
 *                       same value iterate a 1000-entry map in the same
 *                       order; equal numbers written differently agree,
 *                       different numbers do not.
 *   seed_malformed      letters, trailing junk, signs, spaces, an empty
 *                       value, "0x" alone, overflow (decimal and hex): one
 *                       exact line on stderr naming the variable and the
 *                       value, and random seeding (two children differ, and
 *                       differ from seed 0, what "abc" used to mean).
 *   seed_warning_once   several threads creating maps print the warning
 *                       once; a value with control bytes stays on one line.
 *   check_mode_names    off/fast/strict in any case select that mode, with
 *                       no output: a read inside a write (a custom hash
 *                       that looks the map up) is reported naming the mode,
 *                       or not reported at all when off.
 *   check_mode_malformed  other values: one exact line on stderr, and the
 *                       mode the build uses when the variable is unset.
 *   check_warning_once  several threads creating maps print it once.
 *
 * Deterministic: no randomness of the test's own.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "child.h"

#include <gomap.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define CHILD_ALARM 120

/* In a child: sets name to value, or unsets it when value is NULL, and
 * unsets the other variable gomap reads, whatever the test's own
 * environment holds. */
static void set_env(const char *name, const char *value)
{
    CHECK(unsetenv("GOMAP_HASH_SEED") == 0);
    CHECK(unsetenv("GOMAP_CHECK") == 0);
    if (value)
        CHECK(setenv(name, value, 1) == 0);
    else
        CHECK(unsetenv(name) == 0);
}

static void expect_clean_exit(const child_result *r, const char *label)
{
    CHECK_MSG(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
              "%s: child did not exit cleanly (status %#x); stderr:\n%s", label, r->status, r->err);
}

/* Occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The value of "key <value>" in the child's info lines. */
static bool info_get(const char *info, const char *key, char *out, size_t out_len)
{
    size_t kl = strlen(key);
    for (const char *p = info; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t ll = nl ? (size_t)(nl - p) : strlen(p);
        if (ll > kl && !strncmp(p, key, kl) && p[kl] == ' ') {
            size_t vl = ll - kl - 1 < out_len - 1 ? ll - kl - 1 : out_len - 1;
            memcpy(out, p + kl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        p = nl ? nl + 1 : NULL;
    }
    return false;
}

/* Runs body on a new thread and waits for it. */
static void on_new_thread(void *(*body)(void *), void *arg)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, body, arg) == 0);
    CHECK(pthread_join(t, NULL) == 0);
}

/* ------------------------------------------------------------------------ */
/* GOMAP_HASH_SEED                                                           */
/* ------------------------------------------------------------------------ */

#define SEED_WARNING_FMT \
    "gomap: ignoring GOMAP_HASH_SEED=\"%s\": not a decimal or 0x-hexadecimal unsigned " \
    "64-bit number; using a random seed\n"

/* A digest of the order in which a fresh 1000-entry map is iterated. */
static void *iteration_order(void *arg)
{
    uint64_t *digest = arg;
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = 0;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    for (uint64_t k = 0; k < 1000; k++)
        CHECK_EQ(gomap_set(m, &k, NULL), 0);
    gomap_iter it;
    gomap_iter_init(&it, m);
    const void *key;
    uint64_t h = 0xcbf29ce484222325ull, n = 0;
    while (gomap_iter_next(&it, &key, NULL)) {
        h = (h ^ *(const uint64_t *)key) * 0x100000001b3ull;
        n++;
    }
    CHECK_EQ(n, 1000);
    gomap_free(m);
    *digest = h;
    return NULL;
}

static void seed_child(void *arg)
{
    set_env("GOMAP_HASH_SEED", arg);
    uint64_t digest = 0;
    on_new_thread(iteration_order, &digest);
    child_info("order %016llx\n", (unsigned long long)digest);
}

/* The iteration-order digest of a child run with GOMAP_HASH_SEED = value
 * (NULL: unset); its stderr is copied to err (at most err_len bytes). */
static uint64_t seeded_order(const char *value, char *err, size_t err_len)
{
    char label[128];
    snprintf(label, sizeof label, "GOMAP_HASH_SEED=%s", value ? value : "(unset)");
    child_result r = run_child(seed_child, (void *)value, CHILD_ALARM);
    expect_clean_exit(&r, label);
    char hex[32];
    CHECK_MSG(info_get(r.info, "order", hex, sizeof hex), "%s: no order reported", label);
    snprintf(err, err_len, "%s", r.err);
    child_result_free(&r);
    return strtoull(hex, NULL, 16);
}

static void test_seed_valid(void)
{
    /* Groups of spellings of one number. */
    static const char *const same[][4] = {
        {"42", "0x2a", "0X2A", "00042"},
        {"0", "0x0", "000", "0x00000000000000000"},
        {"18446744073709551615", "0xffffffffffffffff", "0xFFFFFFFFFFFFFFFF",
         "0x0000ffffffffffffffff"},
        {"12345678901234567890", "0xab54a98ceb1f0ad2", "0XAB54A98CEB1F0AD2",
         "012345678901234567890"},
    };
    enum { GROUPS = sizeof same / sizeof same[0] };
    uint64_t first[GROUPS];
    char err[224];
    for (size_t g = 0; g < GROUPS; g++) {
        for (size_t i = 0; i < 4; i++) {
            uint64_t d = seeded_order(same[g][i], err, sizeof err);
            CHECK_MSG(err[0] == '\0', "GOMAP_HASH_SEED=%s printed: %s", same[g][i], err);
            if (i == 0)
                first[g] = d;
            else
                CHECK_MSG(d == first[g], "GOMAP_HASH_SEED=%s and =%s iterate differently",
                          same[g][i], same[g][0]);
        }
        /* The same value again: the same order. */
        CHECK(seeded_order(same[g][0], err, sizeof err) == first[g]);
        for (size_t h = 0; h < g; h++)
            CHECK_MSG(first[g] != first[h], "seeds %s and %s iterate alike", same[g][0],
                      same[h][0]);
    }
}

static void test_seed_malformed(void)
{
    static const char *const bad[] = {
        "abc", "42x", "", "0x", "0x1g", "-1", "+5", " 42", "42 ", "4 2", "1e3", "0b101",
        "18446744073709551616",   /* 2^64 */
        "99999999999999999999",
        "0x10000000000000000",    /* 2^64 */
    };
    char err[224], want[224];
    uint64_t zero = seeded_order("0", err, sizeof err);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(want, sizeof want, SEED_WARNING_FMT, bad[i]);
        uint64_t d1 = seeded_order(bad[i], err, sizeof err);
        CHECK_MSG(strcmp(err, want) == 0, "GOMAP_HASH_SEED=\"%s\": stderr is\n%s\nnot\n%s",
                  bad[i], err, want);
        uint64_t d2 = seeded_order(bad[i], err, sizeof err);
        CHECK_MSG(d1 != d2, "GOMAP_HASH_SEED=\"%s\" gives a fixed seed", bad[i]);
        CHECK_MSG(d1 != zero && d2 != zero, "GOMAP_HASH_SEED=\"%s\" means seed 0", bad[i]);
    }
    /* Unset: random, silent. */
    uint64_t u1 = seeded_order(NULL, err, sizeof err);
    CHECK(err[0] == '\0');
    CHECK(u1 != seeded_order(NULL, err, sizeof err));
}

enum { THREADS = 4 };

static void *make_maps(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        gomap_free(check_u64_map(GOMAP_CHECK_AUTO, 0, 50));
    }
    return NULL;
}

/* Sets the variable named by arg[0] to arg[1] and creates maps on several
 * threads at once. */
static void threads_child(void *arg)
{
    const char *const *nv = arg;
    set_env(nv[0], nv[1]);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&t[i], NULL, make_maps, NULL) == 0);
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
}

static void test_seed_warning_once(void)
{
    const char *nv[2] = {"GOMAP_HASH_SEED", "42x"};
    char want[224];
    snprintf(want, sizeof want, SEED_WARNING_FMT, "42x");
    child_result r = run_child(threads_child, nv, CHILD_ALARM);
    expect_clean_exit(&r, "GOMAP_HASH_SEED=42x, threads");
    CHECK_MSG(strcmp(r.err, want) == 0, "stderr is\n%s", r.err);
    child_result_free(&r);

    /* Bytes that would break the line are escaped. */
    nv[1] = "1\n2\"\\";
    snprintf(want, sizeof want, SEED_WARNING_FMT, "1\\x0a2\\\"\\\\");
    r = run_child(threads_child, nv, CHILD_ALARM);
    expect_clean_exit(&r, "GOMAP_HASH_SEED with a newline");
    CHECK_MSG(strcmp(r.err, want) == 0, "stderr is\n%s\nnot\n%s", r.err, want);
    child_result_free(&r);
}

/* ------------------------------------------------------------------------ */
/* GOMAP_CHECK                                                               */
/* ------------------------------------------------------------------------ */

#define CHECK_WARNING_FMT \
    "gomap: ignoring GOMAP_CHECK=\"%s\": expected off, fast or strict (in any case); " \
    "using the default check mode, %s\n"

#define MSG_READ "fatal error: concurrent map read and map write"

static gomap_t *reading_map;

/* A custom hash that looks the map up while a write to it is in progress
 * (gomap_set hashes its key inside the write): a read during a write, which
 * every check mode but off reports. The lookup hashes too: one level only. */
static uint64_t reading_hash(const void *key, uint64_t seed)
{
    static _Thread_local bool inside;
    uint64_t k;
    memcpy(&k, key, sizeof k);
    if (reading_map && !inside) {
        inside = true;
        (void)gomap_get(reading_map, key);
        inside = false;
    }
    return (k ^ seed) * 0x9E3779B97F4A7C15ull;
}

static bool u64_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(uint64_t)) == 0;
}

static void check_child(void *arg)
{
    set_env("GOMAP_CHECK", arg);
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_CUSTOM;
    o.key_size = sizeof(uint64_t);
    o.val_size = sizeof(uint64_t);
    o.hash = reading_hash;
    o.equal = u64_equal;
    o.check = GOMAP_CHECK_AUTO;
    gomap_t *m = NULL;
    CHECK_EQ(gomap_new(&m, &o), 0);
    reading_map = m;
    uint64_t k = 1;
    CHECK_EQ(gomap_set(m, &k, &k), 0);
    reading_map = NULL;
    CHECK(gomap_get(m, &k) != NULL);
    gomap_free(m);
}

/* The mode a child with GOMAP_CHECK = value ran its map in, read from the
 * misuse report ("off" when nothing was reported); its stderr before the
 * report (the warning, if any) is copied to pre. */
static const char *checked_mode(const char *value, char *pre, size_t pre_len)
{
    char label[128];
    snprintf(label, sizeof label, "GOMAP_CHECK=%s", value ? value : "(unset)");
    child_result r = run_child(check_child, (void *)value, CHILD_ALARM);
    const char *mode = "?";
    const char *report = strstr(r.err, MSG_READ);
    if (!report) {
        expect_clean_exit(&r, label);
        mode = "off";
        snprintf(pre, pre_len, "%s", r.err);
    } else {
        CHECK_MSG(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
                  "%s: reported but did not abort", label);
        snprintf(pre, pre_len, "%.*s", (int)(report - r.err), r.err);
        if (count_of(report, ", check mode strict\n") == 1)
            mode = "strict";
        else if (count_of(report, ", check mode fast\n") == 1)
            mode = "fast";
        else
            CHECK_MSG(false, "%s: the report names no check mode:\n%s", label, r.err);
    }
    child_result_free(&r);
    return mode;
}

static void test_check_mode_names(void)
{
    static const struct {
        const char *value, *mode;
    } cases[] = {
        {"off", "off"},       {"OFF", "off"},   {"Off", "off"},
        {"fast", "fast"},     {"FAST", "fast"}, {"fAsT", "fast"},
        {"strict", "strict"}, {"STRICT", "strict"}, {"Strict", "strict"},
    };
    char pre[224];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *mode = checked_mode(cases[i].value, pre, sizeof pre);
        CHECK_MSG(strcmp(mode, cases[i].mode) == 0, "GOMAP_CHECK=%s ran in mode %s, not %s",
                  cases[i].value, mode, cases[i].mode);
        CHECK_MSG(pre[0] == '\0', "GOMAP_CHECK=%s printed: %s", cases[i].value, pre);
    }
}

static void test_check_mode_malformed(void)
{
    static const char *const bad[] = {"bogus", "", "stricter", "strict ", " off", "1", "on",
                                      "fast,strict"};
    char pre[224], want[224];
    const char *dflt = checked_mode(NULL, pre, sizeof pre);
    CHECK(pre[0] == '\0');
    CHECK(strcmp(dflt, "off") != 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *mode = checked_mode(bad[i], pre, sizeof pre);
        CHECK_MSG(strcmp(mode, dflt) == 0, "GOMAP_CHECK=\"%s\" ran in mode %s, not the default %s",
                  bad[i], mode, dflt);
        snprintf(want, sizeof want, CHECK_WARNING_FMT, bad[i], dflt);
        CHECK_MSG(strcmp(pre, want) == 0, "GOMAP_CHECK=\"%s\": stderr is\n%s\nnot\n%s", bad[i],
                  pre, want);
    }
}

static void test_check_warning_once(void)
{
    const char *nv[2] = {"GOMAP_CHECK", "Stricter"};
    char pre[224], want[224];
    const char *dflt = checked_mode(NULL, pre, sizeof pre);
    snprintf(want, sizeof want, CHECK_WARNING_FMT, "Stricter", dflt);
    child_result r = run_child(threads_child, nv, CHILD_ALARM);
    expect_clean_exit(&r, "GOMAP_CHECK=Stricter, threads");
    CHECK_MSG(strcmp(r.err, want) == 0, "stderr is\n%s\nnot\n%s", r.err, want);
    child_result_free(&r);
}

int main(void)
{
    /* Every test forks; no map is created in this process. */
    RUN(test_seed_valid);
    RUN(test_seed_malformed);
    RUN(test_seed_warning_once);
    RUN(test_check_mode_names);
    RUN(test_check_mode_malformed);
    RUN(test_check_warning_once);
    printf("ok\n");
    return 0;
}

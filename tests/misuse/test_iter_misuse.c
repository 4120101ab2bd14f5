/*
 * test_iter_misuse.c — iterator misuse that debug builds report.
 *
 * With GOMAP_DEBUG_LEVEL >= 1 the library checks two mistakes a single
 * thread can make with an iterator, and ends the process with a report:
 *   - stepping an iterator after gomap_iter_done:
 *       "fatal error: gomap iterator used after gomap_iter_done"
 *   - gomap_free of a map that still has a live iterator:
 *       "fatal error: gomap map freed while an iterator is live"
 * Each mistake is made in a forked child; the parent checks that the child
 * was killed by SIGABRT and that its stderr (read through a pipe) starts
 * with the exact line. The child runs under alarm(CHILD_ALARM) as a hang
 * guard.
 *
 * In every build, an iterator left live while the map retired more than the
 * bound it keeps for iterators (4 x the live array) is ended by the map;
 * stepping it again ends the process with
 *       "fatal error: gomap iterator resumed after its map reclaimed the
 *        memory it walks (abandoned without gomap_iter_done?)"
 * and the report says where the iterator was created.
 *
 * In every build, the uses the library allows are checked too, in-process
 * (a false report would end the test): gomap_iter_done twice; freeing the
 * map after the iterator was ended, or after it ran to exhaustion; an
 * iterator over an empty map, which is never live. Release builds
 * (level 0) do not check iterators: there the test shows that
 * gomap_iter_next after gomap_iter_done, or after exhaustion, simply
 * returns false and leaves its out-arguments alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "check.h"
#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GOMAP_DEBUG_LEVEL
#define GOMAP_DEBUG_LEVEL 0
#endif

enum { CHILD_ALARM = 20, FILL = 100 };

/* ------------------------------------------------------------------------ */
/* Allowed uses (every build)                                                */
/* ------------------------------------------------------------------------ */

static void test_done_twice_is_harmless(void)
{
    gomap_t *m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL));
    gomap_iter_done(&it);
    gomap_iter_done(&it);
    CHECK_EQ(gomap_shrink(m), 0); /* not live any more */
    gomap_free(m);
}

static void test_free_after_done_or_exhaustion(void)
{
    gomap_t *m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL));
    gomap_iter_done(&it);
    gomap_free(m);

    m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter_init(&it, m);
    size_t n = 0;
    while (gomap_iter_next(&it, NULL, NULL))
        n++;
    CHECK_EQ(n, FILL);
    gomap_free(m); /* exhausted: ended automatically */

    m = check_u64_map(GOMAP_CHECK_AUTO, 0, 0);
    gomap_iter_init(&it, m); /* empty: exhausted at once, never live */
    CHECK(!gomap_iter_next(&it, NULL, NULL));
    gomap_free(m);

    m = check_u64_map(GOMAP_CHECK_AUTO, 0, 0);
    gomap_iter_init(&it, m);
    gomap_free(m); /* not even stepped: an empty map's iterator is not live */
}

/* The children below take no argument. */
static void call_body(void *fn)
{
    void (*body)(void);
    memcpy(&body, &fn, sizeof body);
    body();
}

static child_result run_body(void (*body)(void))
{
    void *fn;
    memcpy(&fn, &body, sizeof fn);
    return run_child(call_body, fn, CHILD_ALARM);
}

static void expect_death(child_result *r, const char *msg, const char *label)
{
    char want[160];
    snprintf(want, sizeof want, "fatal error: %s\n", msg);
    bool aborted = WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
    /* Debug builds may print "gomap: ..." notes before the report. */
    const char *at = r->err;
    while (!strncmp(at, "gomap: ", 7) && strchr(at, '\n'))
        at = strchr(at, '\n') + 1;
    bool ok = aborted && strncmp(at, want, strlen(want)) == 0;
    if (!ok) {
        fprintf(stderr, "---- child '%s': wait status %#x (%s %d); its stderr:\n%s----\n", label,
                (unsigned)r->status, WIFSIGNALED(r->status) ? "signal" : "exit code",
                WIFSIGNALED(r->status) ? WTERMSIG(r->status) : WEXITSTATUS(r->status), r->err);
        CHECK_MSG(ok, "child '%s': expected SIGABRT and \"fatal error: %s\"", label, msg);
    }
    child_result_free(r);
}


/* ------------------------------------------------------------------------ */
/* Every build: an iterator the map ended is reported when it steps again    */
/* ------------------------------------------------------------------------ */

#define MSG_RECLAIMED \
    "gomap iterator resumed after its map reclaimed the memory it walks (abandoned without gomap_iter_done?)"

/* An iterator is left live while rounds of inserts and deletes make the map
 * retire array after array; once what is kept for it passes the bound the
 * map frees it and ends the iterator. Stepping it then must be reported,
 * never a walk over freed memory (ASan would see one). */
static int set_named(gomap_t *m, uint64_t k)
{
    char buf[32];
    gomap_str s = {buf, (size_t)snprintf(buf, sizeof buf, "k%" PRIu64, k)};
    return gomap_set(m, &s, &k);
}

static bool delete_named(gomap_t *m, uint64_t k)
{
    char buf[32];
    gomap_str s = {buf, (size_t)snprintf(buf, sizeof buf, "k%" PRIu64, k)};
    return gomap_delete(m, &s);
}

static void resume_after_reclaim(void)
{
    enum { N = 20000 };
    gomap_options o = {.key_kind = GOMAP_KEY_STR, .val_size = 8};
    gomap_t *m;
    CHECK_EQ(gomap_new(&m, &o), 0);
    for (uint64_t k = 0; k < N; k++)
        CHECK_EQ(set_named(m, k), 0);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL));
    gomap_stats_t st;
    uint64_t next = N;
    for (int r = 0; r < 1000; r++, next += N) {
        for (uint64_t i = 0; i < N; i++)
            CHECK_EQ(set_named(m, next + i), 0);
        for (uint64_t i = 0; i < N; i++)
            CHECK(delete_named(m, next - N + i));
        CHECK_EQ(gomap_stats(m, &st), 0);
        if (st.iterator_reclaims)
            break;
    }
    CHECK_MSG(st.iterator_reclaims >= 1, "no reclaim: %zu kept, %zu held, %zu live iterators",
              st.retained_bytes, st.bytes_held, st.live_iterators);
    (void)gomap_iter_next(&it, NULL, NULL); /* the mistake */
}

static void test_resume_after_reclaim_reported(void)
{
    child_result r = run_body(resume_after_reclaim);
    bool named = strstr(r.err, "held: an iterator the map ended") != NULL;
    bool where = strstr(r.err, "resume_after_reclaim") != NULL;
#if GOMAP_DEBUG_LEVEL >= 1
    /* Debug builds say so when they reclaim, and where the iterator began. */
    CHECK_MSG(strstr(r.err, "the first of them was created in resume_after_reclaim") != NULL,
              "no debug note naming the iterator's creation site:\n%s", r.err);
#endif
    char *err = strdup(r.err);
    expect_death(&r, MSG_RECLAIMED, "resume after reclaim");
    CHECK_MSG(named, "no 'held: an iterator the map ended' line in:\n%s", err);
    CHECK_MSG(where, "the report does not name where the iterator was created:\n%s", err);
    free(err);
}

/* ------------------------------------------------------------------------ */
/* Debug builds: the mistakes are reported                                   */
/* ------------------------------------------------------------------------ */

#if GOMAP_DEBUG_LEVEL >= 1

static void step_after_done(void)
{
    gomap_t *m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL));
    gomap_iter_done(&it);
    (void)gomap_iter_next(&it, NULL, NULL); /* the mistake */
}

static void step_after_done_twice(void)
{
    gomap_t *m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    gomap_iter_done(&it); /* ended before the first step */
    gomap_iter_done(&it);
    (void)gomap_iter_next(&it, NULL, NULL); /* the mistake */
}

static void free_with_live_iterator(void)
{
    gomap_t *m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL));
    gomap_free(m); /* the mistake */
}

static void free_with_unstepped_iterator(void)
{
    gomap_t *m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter it;
    gomap_iter_init(&it, m); /* live from initialisation on */
    gomap_free(m); /* the mistake */
}

static void test_step_after_done_reported(void)
{
    child_result r = run_body(step_after_done);
    expect_death(&r, "gomap iterator used after gomap_iter_done", "step after done");
    r = run_body(step_after_done_twice);
    expect_death(&r, "gomap iterator used after gomap_iter_done", "step after done twice");
}

static void test_free_with_live_iterator_reported(void)
{
    child_result r = run_body(free_with_live_iterator);
    expect_death(&r, "gomap map freed while an iterator is live", "free with live iterator");
    r = run_body(free_with_unstepped_iterator);
    expect_death(&r, "gomap map freed while an iterator is live",
                 "free with an unstepped iterator");
}

#else /* GOMAP_DEBUG_LEVEL == 0 */

/* Without the debug checks a step after done is just the end. */
static void test_step_after_done_returns_false(void)
{
    gomap_t *m = check_u64_map(GOMAP_CHECK_AUTO, 0, FILL);
    gomap_iter it;
    gomap_iter_init(&it, m);
    CHECK(gomap_iter_next(&it, NULL, NULL));
    gomap_iter_done(&it);
    const void *key = &it;
    void *val = &it;
    for (int i = 0; i < 3; i++) {
        CHECK(!gomap_iter_next(&it, &key, &val));
        CHECK(key == (const void *)&it && val == (void *)&it); /* untouched */
    }
    gomap_iter_init(&it, m);
    while (gomap_iter_next(&it, NULL, NULL))
        ;
    CHECK(!gomap_iter_next(&it, &key, &val)); /* after exhaustion too */
    CHECK(key == (const void *)&it && val == (void *)&it);
    gomap_free(m);
}

#endif

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_done_twice_is_harmless);
    RUN(test_free_after_done_or_exhaustion);
    RUN(test_resume_after_reclaim_reported);
#if GOMAP_DEBUG_LEVEL >= 1
    RUN(test_step_after_done_reported);
    RUN(test_free_with_live_iterator_reported);
#else
    printf("GOMAP_DEBUG_LEVEL=0: iterator misuse checks are debug-only (GOMAP_DEBUG_LEVEL >= 1); "
           "checking that a step after gomap_iter_done returns false\n");
    RUN(test_step_after_done_returns_false);
#endif
    printf("ok\n");
    return 0;
}

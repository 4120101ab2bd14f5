/*
 * test_assert_report.c — a failed assertion (src/base/assert.h) is reported
 * through the misuse report, with no map needed:
 *
 *   fatal error: assertion failed: <condition> (<file>:<line>)
 *
 * then the thread and the backtrace; the fault handler runs with that
 * message and no map, and the process dies of SIGABRT. GOMAP_ASSERT_ALWAYS
 * fails in every build; GOMAP_ASSERT only from GOMAP_DEBUG_LEVEL 1 on (below,
 * its condition is not even evaluated).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "child.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "base/assert.h"

enum { ALARM_SECONDS = 30 };

static void handler(const gomap_fault *f, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "handler: map %s, message \"%s\"\n", f->map ? "set" : "NULL", f->message);
}

static int evaluated;

/* Below level 1 it appears only in GOMAP_ASSERT's unevaluated operand,
 * which clang would report as never emitted. */
__attribute__((unused)) static int count_evaluation(void)
{
    evaluated++;
    return 0;
}

/* Each child sends the line of its assertion first. */
static void always_body(void *arg)
{
    (void)arg;
    gomap_set_fault_handler(handler, NULL);
    child_info("line %d", __LINE__ + 1);
    GOMAP_ASSERT_ALWAYS(1 + 1 == 3);
    fprintf(stderr, "the assertion returned\n");
}

static void debug_body(void *arg)
{
    (void)arg;
    child_info("line %d", __LINE__ + 1);
    GOMAP_ASSERT(count_evaluation() == 1);
    child_info("evaluated %d", evaluated);
}

/* The child died of SIGABRT after the report of `cond` at the line it
 * sent. */
static void check_report(const child_result *r, const char *cond)
{
    int line = 0;
    CHECK_MSG(sscanf(r->info, "line %d", &line) == 1, "info: %s", r->info);
    char first[256], where[64];
    snprintf(first, sizeof first, "fatal error: assertion failed: %s (", cond);
    snprintf(where, sizeof where, "test_assert_report.c:%d)\n", line);
    CHECK_MSG(WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT,
              "status %#x, stderr:\n%s", r->status, r->err);
    CHECK_MSG(strncmp(r->err, first, strlen(first)) == 0, "stderr:\n%s", r->err);
    const char *eol = strchr(r->err, '\n');
    CHECK_MSG(eol && (size_t)(eol + 1 - r->err) > strlen(where) &&
                  strncmp(eol + 1 - strlen(where), where, strlen(where)) == 0,
              "first line does not end in %s:\n%s", where, r->err);
    CHECK_MSG(strstr(r->err, "\nthis thread: ") != NULL, "no thread line:\n%s", r->err);
    CHECK_MSG(!strstr(r->err, "returned"), "the assertion returned:\n%s", r->err);
}

static void test_always(void)
{
    child_result r = run_child(always_body, NULL, ALARM_SECONDS);
    check_report(&r, "1 + 1 == 3");
    char handled[256];
    snprintf(handled, sizeof handled,
             "handler: map NULL, message \"assertion failed: 1 + 1 == 3 (");
    CHECK_MSG(strstr(r.err, handled) != NULL, "handler not run:\n%s", r.err);
    child_result_free(&r);
}

static void test_debug_level(void)
{
    child_result r = run_child(debug_body, NULL, ALARM_SECONDS);
#if GOMAP_DEBUG_LEVEL >= 1
    check_report(&r, "count_evaluation() == 1");
#else
    CHECK_MSG(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %#x, stderr:\n%s",
              r.status, r.err);
    CHECK_MSG(strstr(r.info, "evaluated 0") != NULL, "info: %s", r.info);
#endif
    child_result_free(&r);
}

int main(void)
{
    RUN(test_always);
    RUN(test_debug_level);
    printf("test_assert_report: ok\n");
    return 0;
}

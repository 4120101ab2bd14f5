/* deathcheck.c — the checks of a misuse death test's child (deathcheck.h). */
#define _POSIX_C_SOURCE 200809L

#include "deathcheck.h"
#include "check.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static int token;

void *death_token(void) { return &token; }

static uint64_t checksum(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    while (n--)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

void death_info_handler(const gomap_fault *f, void *ctx)
{
    size_t len = f->report ? strlen(f->report) : 0;
    child_info("fault_message %s\n", f->message ? f->message : "(null)");
    child_info("fault_ctx %d\n", ctx == &token);
    child_info("fault_report %zu %016llx\n", len,
               (unsigned long long)checksum(f->report ? f->report : "", len));
}

const char *death_info_line(const char *info, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ')
            return p + kl + 1;
    return NULL;
}

static void fail_child(const char *label, const child_result *r, const char *why)
{
    char how[80];
    if (WIFSIGNALED(r->status))
        snprintf(how, sizeof how, "killed by signal %d%s", WTERMSIG(r->status),
                 WTERMSIG(r->status) == SIGALRM ? " (the hang guard: it hung)" : "");
    else
        snprintf(how, sizeof how, "exited with %d", WEXITSTATUS(r->status));
    fprintf(stderr, "==== child '%s' %s\n==== stderr:\n%.*s\n==== info:\n%s====\n", label, how,
            (int)(r->err_len > 8000 ? 8000 : r->err_len), r->err, r->info);
    CHECK_MSG(false, "child '%s': %s", label, why);
}

void death_expect_reported(const char *label, const child_result *r, const char *message,
                           const char *what_survived, const char *what_entered)
{
    char fatal_line[256], why[256];
    snprintf(fatal_line, sizeof fatal_line, "fatal error: %s\n", message);
    if (!WIFSIGNALED(r->status) || WTERMSIG(r->status) != SIGABRT)
        fail_child(label, r, "expected death by SIGABRT");
    const char *fatal = strstr(r->err, fatal_line);
    if (!fatal) {
        snprintf(why, sizeof why, "no \"fatal error: %s\" line on stderr", message);
        fail_child(label, r, why);
    }
    if (strstr(r->err, "Sanitizer"))
        fail_child(label, r, "a sanitizer reported something");
    if (death_info_line(r->info, "survived")) {
        snprintf(why, sizeof why, "%s returned", what_survived);
        fail_child(label, r, why);
    }
    if (!death_info_line(r->info, "entered")) {
        snprintf(why, sizeof why, "%s never ran", what_entered);
        fail_child(label, r, why);
    }
    const char *msg = death_info_line(r->info, "fault_message");
    size_t ml = strlen(message);
    if (!msg || strncmp(msg, message, ml) != 0 || msg[ml] != '\n')
        fail_child(label, r, "the fault handler was not called with the message");
    const char *ctx = death_info_line(r->info, "fault_ctx");
    if (!ctx || *ctx != '1')
        fail_child(label, r, "the fault handler did not get its context");
    size_t len = 0;
    unsigned long long sum = 0;
    const char *rep = death_info_line(r->info, "fault_report");
    if (!rep || sscanf(rep, "%zu %llx", &len, &sum) != 2 || len == 0)
        fail_child(label, r, "the fault handler got no report");
    /* The report handed to the handler is the one printed: it starts at
     * the beginning of stderr or at the fatal line. */
    const char *starts[2] = {r->err, fatal};
    bool same = false;
    for (int i = 0; i < 2; i++) {
        if (!starts[i])
            continue;
        size_t at = (size_t)(starts[i] - r->err);
        same |= at + len <= r->err_len && checksum(starts[i], len) == sum;
    }
    if (!same)
        fail_child(label, r, "the handler's report is not the report on stderr");
}

void death_expect_clean(const char *label, const child_result *r)
{
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0)
        fail_child(label, r, "expected exit 0");
    if (r->err_len != 0)
        fail_child(label, r, "expected a silent stderr");
    if (death_info_line(r->info, "fault_message"))
        fail_child(label, r, "the fault handler was called");
    if (!death_info_line(r->info, "done"))
        fail_child(label, r, "the child did not reach its end");
}

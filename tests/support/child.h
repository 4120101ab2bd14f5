/*
 * child.h — run a piece of a test in a forked child and collect how it ended.
 *
 * For death tests: the child runs body(arg) with its stderr going to a pipe
 * and alarm(alarm_seconds) as a hang guard (a body that returns makes the
 * child exit 0). The parent gets the wait status, everything the child wrote
 * to stderr, and the lines it sent with child_info(). The parent must have
 * no other thread running when it forks.
 */
#ifndef GOMAP_TEST_CHILD_H
#define GOMAP_TEST_CHILD_H

#include <stddef.h>

typedef struct {
    int status;     /* from waitpid */
    char *err;      /* the child's stderr, NUL-terminated */
    size_t err_len;
    char *info;     /* lines the child sent with child_info, NUL-terminated */
} child_result;

child_result run_child(void (*body)(void *), void *arg, unsigned alarm_seconds);
void child_result_free(child_result *r);

/* In a child: sends one short line of facts ("key value\n") to the parent. */
void child_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

/*
 * deathcheck.h — what a misuse death test checks of a child (child.h) that
 * should have died of a gomap report, or should have run clean.
 *
 * In the child: install death_info_handler as the fault handler with
 * death_token() as its context (gomap_set_fault_handler); it sends the
 * handler's facts to the parent as info lines. The child's body sends
 * "entered" once the callback under test runs, "survived" if the call that
 * should have been reported returned, and "done" at its end.
 *
 * In the parent: death_expect_reported checks that the child died by
 * SIGABRT with "fatal error: <message>" on stderr, no sanitizer report,
 * the handler called with the message, its context and the report printed
 * on stderr; death_expect_clean that it exited 0, silent, handler not
 * called, end reached. A failed check prints the child's stderr and info
 * and fails the test (CHECK).
 */
#ifndef GOMAP_TEST_DEATHCHECK_H
#define GOMAP_TEST_DEATHCHECK_H

#include <gomap/diag.h>

#include "child.h"

void *death_token(void);
void death_info_handler(const gomap_fault *f, void *ctx);

/* The rest of the info line that starts with `key ` (NULL if none). */
const char *death_info_line(const char *info, const char *key);

/* what_survived: the call that should not have returned ("the re-entrant
 * call"); what_entered: the callback that should have run ("the loader"). */
void death_expect_reported(const char *label, const child_result *r, const char *message,
                           const char *what_survived, const char *what_entered);
void death_expect_clean(const char *label, const child_result *r);

#endif

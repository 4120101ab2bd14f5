/*
 * scope.c — the callbacks running on this thread (scope.h).
 */
#include "base/scope.h"

#include <stdio.h>

#include "base/assert.h"
#include "base/misuse.h"
#include "base/rcu.h"

enum { SCOPE_MAX = 16 };

_Thread_local unsigned gomap__scope_depth __attribute__((tls_model("initial-exec")));
static _Thread_local struct gomap__scope scopes[SCOPE_MAX];

void gomap__scope_enter(const void *owner, const char *what, const void *detail,
                        const void *site)
{
    unsigned d = gomap__scope_depth++;
    if (d < SCOPE_MAX)
        scopes[d] = (struct gomap__scope){owner, what, detail, site};
}

void gomap__scope_leave(void)
{
    GOMAP_ASSERT(gomap__scope_depth > 0); /* left no more often than entered */
    gomap__scope_depth--;
}

const struct gomap__scope *gomap__scope_find(const void *owner)
{
    unsigned n = gomap__scope_depth < SCOPE_MAX ? gomap__scope_depth : SCOPE_MAX;
    for (unsigned i = n; i-- > 0;)
        if (scopes[i].owner == owner)
            return &scopes[i];
    return NULL;
}

bool gomap__must_not_wait(void)
{
    return gomap__in_callback() || gomap__rcu_in_read_section();
}

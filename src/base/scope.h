/*
 * scope.h — what the calling thread is inside of: the callbacks of
 * concurrent maps that are running on this thread right now.
 *
 * Every concurrent map records, for the time a user callback runs, which map
 * (the owner) called it, what the callback holds (a shard, the writers'
 * mutex, a view, a read-side section) and the public call that started it.
 * The record serves two checks:
 *
 *   - misuse: a call into a map that this thread is inside a callback of
 *     (a re-entrant write that would deadlock, freeing the map being
 *     iterated) is reported with the record's description and call site;
 *   - waiting: a call that would wait for an RCU grace period or for the
 *     reclaimer (freeing a sync or snapshot map, freeing a sharded map's
 *     outgrown arrays) must not wait inside a callback, because another
 *     thread may be waiting for what the callback holds inside a read-side
 *     section that the grace period waits for; it defers the work instead
 *     (gomap__must_not_wait).
 *
 * Records nest (a callback may use other maps, whose callbacks may use
 * others): SCOPE_MAX levels are recorded, deeper ones only counted, so the
 * misuse check then looks at the outer SCOPE_MAX levels only. Thread-local;
 * no locks.
 */
#ifndef GOMAP_SCOPE_H
#define GOMAP_SCOPE_H

#include <stdbool.h>

struct gomap__scope {
    const void *owner;   /* the map whose callback is running */
    const char *what;    /* what the callback holds, e.g. "a shard" */
    const void *detail;  /* the held object (a shard, a version), or NULL */
    const void *site;    /* return address of the public call */
};

/* Callbacks running on this thread now (recorded or not). */
extern _Thread_local unsigned gomap__scope_depth __attribute__((tls_model("initial-exec")));

/* Brackets a user callback: enter before calling it, leave after. */
void gomap__scope_enter(const void *owner, const char *what, const void *detail,
                        const void *site);
void gomap__scope_leave(void);

/* The innermost recorded scope of `owner`, or NULL. */
const struct gomap__scope *gomap__scope_find(const void *owner);

/* True while any callback runs on this thread. */
static inline bool gomap__in_callback(void)
{
    return __builtin_expect(gomap__scope_depth != 0, 0);
}

/* True when this thread must not wait for a grace period: it is inside an
 * RCU read-side section or inside a callback of a concurrent map. */
bool gomap__must_not_wait(void);

#endif /* GOMAP_SCOPE_H */

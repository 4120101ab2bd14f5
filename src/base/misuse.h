/*
 * misuse.h — detection of concurrent misuse of a core map (Go's hashWriting
 * check, extended), and the fatal report.
 *
 * A writer sets the map's `writer` mark to its thread record for the
 * duration of the write. A write that meets a mark, a write whose mark was
 * replaced by the time it ends, a lookup or an iterator step that meets a
 * mark, all end the process through gomap__report: report on stderr, fault
 * handler, abort(). In GOMAP_CHECK_FAST mode the mark is a relaxed load and
 * store (best effort, as in Go); in GOMAP_CHECK_STRICT mode it is an atomic
 * exchange on entry and on exit, so two overlapping writers always see each
 * other; GOMAP_CHECK_OFF skips it.
 *
 * The thread record lives in thread-local storage; the mark is a pointer to
 * it, so one store publishes both "writing" and "who".
 */
#ifndef GOMAP_MISUSE_H
#define GOMAP_MISUSE_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "base/atomics.h"

/* The mark a fault leaves on the map, so the writer that holds it notices at
 * the end of its write and stops instead of writing on. */
#define FAULT_MARK ((uintptr_t)1)

/* Who is writing: one per thread. */
struct gomap__thread {
    _Atomic uint64_t tid;             /* Linux thread id; 0 until first use */
    _Atomic(const void *) site;       /* return address of the write entered last */
};

extern _Thread_local struct gomap__thread gomap__self_rec
    __attribute__((tls_model("initial-exec")));

void gomap__thread_init(struct gomap__thread *t);

static inline struct gomap__thread *gomap__self(void)
{
    struct gomap__thread *t = &gomap__self_rec;
    if (__builtin_expect(load_relaxed(&t->tid) == 0, 0))
        gomap__thread_init(t);
    return t;
}

/* The messages (Go's, after "fatal error: "). */
#define MSG_WRITES "concurrent map writes"
#define MSG_READ_WRITE "concurrent map read and map write"
#define MSG_ITER_WRITE "concurrent map iteration and map write"
#define MSG_ITER_AFTER_DONE "gomap iterator used after gomap_iter_done"
#define MSG_ITER_OTHER_MAP "gomap iterator used with a map that was freed or replaced"
#define MSG_FREE_WITH_ITER "gomap map freed while an iterator is live"
#define MSG_ITER_RECLAIMED \
    "gomap iterator resumed after its map reclaimed the memory it walks (abandoned without gomap_iter_done?)"
#define MSG_SHARD_REENTRY "re-entrant call into a locked gomap shard (would deadlock)"
#define MSG_SYNC_FREE_INSIDE "gomap sync map freed from inside its own callback"
#define MSG_SNAP_FREE_INSIDE "gomap snapshot map freed from inside its own callback"
#define MSG_SHARD_FREE_INSIDE "gomap sharded map freed from inside its own callback"
#define MSG_DELEG_REENTRY \
    "re-entrant call into a gomap delegation map from its own callback (would deadlock)"
#define MSG_DELEG_FREE_INSIDE "gomap delegation map freed from inside its own callback"
#define MSG_FROZEN_WRITE                                                                   \
    "write to a published gomap snapshot version (versions are frozen: change the map with " \
    "gomap_snap_set, _delete, _clear or _update, or write a gomap_clone of it)"

#include <gomap/diag.h>

/* What a report says about the structure it concerns, given by the caller
 * (base/ knows no structure: core/map_fault.c makes the core map's). */
struct gomap__fault_subject {
    const gomap_t *map;         /* reported as gomap_fault.map; may be NULL */
    _Atomic uintptr_t *mark;    /* its write mark, set to FAULT_MARK so that
                                   the other writer stops at the end of its
                                   write; may be NULL */
    void (*describe)(FILE *out, const gomap_t *map, gomap_fault *f);
                                /* prints the structure after the first
                                   line and fills f's header fields; may be
                                   NULL */
};

/* Reports misuse and ends the process. `subject` may be NULL (misuse that
 * concerns no structure). `other` is the mark found (a struct gomap__thread
 * *, FAULT_MARK or 0); `site` the detecting call's return address; `held`,
 * if not NULL, adds "held: <held>, taken at <held_site>" (held_site may be
 * NULL) for a thread that holds a lock it is about to wait for again. Only
 * one report is printed per process: a second thread that detects misuse
 * meanwhile waits for the abort. */
_Noreturn void gomap__report(const struct gomap__fault_subject *subject, const char *message,
                             uintptr_t other, const void *site, const char *held,
                             const void *held_site);

/* Prints the function (and file:line when known) of a code address, as the
 * report does. */
void gomap__print_site(FILE *out, const void *site);

/* The check mode for GOMAP_CHECK_AUTO: environment, else build default. */
int gomap__check_mode_default(void);

#endif /* GOMAP_MISUSE_H */

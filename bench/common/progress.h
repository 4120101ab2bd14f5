/*
 * progress.h — the progress of a long gomap-bench run on stderr: on a
 * terminal one line, rewritten in place (\r) as each step starts, with the
 * time elapsed and an estimate of the time left; otherwise (a log, a pipe)
 * one plain line per step, so a log keeps the record without redraws.
 *
 * The estimate assumes the steps left take as long as the steps done, on
 * average. Single-threaded: the caller's main thread only.
 */
#ifndef GOMAP_BENCH_PROGRESS_H
#define GOMAP_BENCH_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    double t0;      /* clock_ns at progress_start */
    size_t total;   /* steps */
    size_t started; /* steps begun so far */
    bool tty;       /* stderr is a terminal */
    bool quiet;     /* print nothing */
    bool drawn;     /* a terminal line is on screen, not yet ended */
} progress;

/* Starts counting `total` steps (quiet: print nothing at all). */
void progress_start(progress *p, size_t total, bool quiet);

/* Step `++started` of total begins; label says what it is. */
void progress_step(progress *p, const char *label);

/* Ends the terminal line, if one is drawn. */
void progress_end(progress *p);

#endif /* GOMAP_BENCH_PROGRESS_H */

/*
 * progress.c — the progress line of a long run (progress.h).
 */
#include "common/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "common/clock.h"

void progress_start(progress *p, size_t total, bool quiet)
{
    *p = (progress){.t0 = clock_ns(), .total = total, .quiet = quiet,
                    .tty = isatty(STDERR_FILENO) == 1};
}

/* "1m05s" or "42s". */
static const char *duration(double s, char *buf, size_t len)
{
    long t = (long)(s + 0.5);
    if (t >= 60)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%lds", t);
    return buf;
}

void progress_step(progress *p, const char *label)
{
    if (p->quiet)
        return;
    size_t done = p->started++;
    double elapsed = (clock_ns() - p->t0) / 1e9;
    char e[32], left[48] = "";
    if (done > 0) {
        char l[32];
        snprintf(left, sizeof left, ", ~%s left",
                 duration(elapsed / (double)done * (double)(p->total - done), l, sizeof l));
    }
    fprintf(stderr, "%sgomap-bench: %s (%zu/%zu) %s elapsed%s%s", p->tty ? "\r" : "", label,
            p->started, p->total, duration(elapsed, e, sizeof e), left,
            p->tty ? "\033[K" : "\n");
    p->drawn = p->tty;
    fflush(stderr);
}

void progress_end(progress *p)
{
    if (p->drawn)
        fputc('\n', stderr);
    p->drawn = false;
}

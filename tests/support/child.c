#include "child.h"
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child: the write end of the info pipe. */
static int info_fd = -1;

void child_info(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n <= 0 || info_fd < 0)
        return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    ssize_t w = write(info_fd, buf, len); /* a short line: one atomic write */
    (void)w;
}

static char *read_all(int fd, size_t *len_out)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    for (;;) {
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf != NULL);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
    if (len_out)
        *len_out = len;
    return buf;
}

child_result run_child(void (*body)(void *), void *arg, unsigned alarm_seconds)
{
    int errp[2], infop[2];
    CHECK(pipe(errp) == 0);
    CHECK(pipe(infop) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(errp[0]);
        close(infop[0]);
        if (dup2(errp[1], STDERR_FILENO) < 0)
            _exit(127);
        close(errp[1]);
        info_fd = infop[1];
        alarm(alarm_seconds);
        body(arg);
        _exit(0);
    }
    close(errp[1]);
    close(infop[1]);
    child_result r;
    memset(&r, 0, sizeof r);
    /* The info lines are far below a pipe's capacity, so the child never
     * blocks on them while the parent drains stderr. */
    r.err = read_all(errp[0], &r.err_len);
    r.info = read_all(infop[0], NULL);
    pid_t w;
    while ((w = waitpid(pid, &r.status, 0)) < 0 && errno == EINTR)
        ;
    CHECK(w == pid);
    return r;
}

void child_result_free(child_result *r)
{
    free(r->err);
    free(r->info);
    r->err = r->info = NULL;
}

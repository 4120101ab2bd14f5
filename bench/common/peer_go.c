/*
 * peer_go.c — starts the Go peer and speaks its line protocol:
 *   <- ready <go version>
 *   -> run <workload> <u64|str> <n> <seed> <min_ops>
 *   <- ok ns=.. ops=.. checksum=.. bytes=.. p50=.. p99=.. p999=.. max=.. n20=.. n100=..
 *      hist=c0,c1,.. (the LAT_BINS bins of latbins.h) or hist=-
 *   -> sync <workload> <threads> <ops>        (--suite sync)
 *   -> prep <contender> <file>                 (--suite strategies)
 *   <- ok
 *   -> strat <contender> <file> <threads> <per-thread ops> <rounds>
 *   <- ok ns=.. ops=.. checksum=.. lat=../../../.. bytes=../.. len=.. gcs=.. pause=..
 */
#include "common/peer_go.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct go_peer {
    pid_t pid;
    FILE *to, *from;
    char version[64];
    char reply[512]; /* the last go_peer_parallel's reply */
};

static bool read_line(go_peer *p, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, p->from))
        return false;
    buf[strcspn(buf, "\n")] = 0;
    return true;
}

go_peer *go_peer_start(const char *path)
{
    int in[2], out[2];
    if (access(path, X_OK) != 0 || pipe(in) != 0)
        return NULL;
    if (pipe(out) != 0) {
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    go_peer *p = calloc(1, sizeof *p);
    if (pid < 0 || !p) {
        close(in[1]);
        close(out[0]);
        free(p);
        return NULL;
    }
    p->pid = pid;
    p->to = fdopen(in[1], "w");
    p->from = fdopen(out[0], "r");
    char line[256];
    if (!p->to || !p->from || !read_line(p, line, sizeof line) ||
        sscanf(line, "ready %63s", p->version) != 1) {
        fprintf(stderr, "gomap-bench: the Go peer %s did not start\n", path);
        go_peer_stop(p);
        return NULL;
    }
    return p;
}

const char *go_peer_version(const go_peer *p) { return p->version; }

/* Sends one command: printf(fmt, ap) and a newline. */
static void vsend(go_peer *p, const char *fmt, va_list ap)
{
    vfprintf(p->to, fmt, ap);
    fputc('\n', p->to);
    fflush(p->to);
}

/* Reads a reply into line; false (with a message) if the peer exited. */
static bool reply(go_peer *p, char *line, size_t len)
{
    if (read_line(p, line, len))
        return true;
    fprintf(stderr, "gomap-bench: the Go peer exited\n");
    return false;
}

/* Sends one command and reads the reply into line. */
static bool vrequest(go_peer *p, char *line, size_t len, const char *fmt, va_list ap)
{
    vsend(p, fmt, ap);
    return reply(p, line, len);
}

void go_peer_send(go_peer *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsend(p, fmt, ap);
    va_end(ap);
}

int go_peer_await(go_peer *p)
{
    char line[512];
    if (!reply(p, line, sizeof line))
        return -1;
    if (strncmp(line, "ok", 2) == 0)
        return 0;
    fprintf(stderr, "gomap-bench: the Go peer said: %s\n", line);
    return -1;
}

static bool request(go_peer *p, char *line, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = vrequest(p, line, len, fmt, ap);
    va_end(ap);
    return ok;
}

/* Reads the reply's "hist=c0,c1,..." into r->hist; "hist=-" leaves it zero.
 * False if the field is missing or malformed. */
static bool parse_hist(const char *line, bench_result *r)
{
    const char *h = strstr(line, " hist=");
    if (!h)
        return false;
    h += 6;
    if (*h == '-')
        return true;
    for (unsigned b = 0; b < LAT_BINS; b++) {
        char *end;
        unsigned long long c = strtoull(h, &end, 10);
        if (end == h || c > UINT32_MAX || (b + 1 < LAT_BINS && *end != ','))
            return false;
        r->hist[b] = (uint32_t)c;
        h = end + 1;
    }
    return true;
}

int go_peer_run(go_peer *p, bench_workload wl, bench_key_type type, size_t n, uint64_t seed,
                size_t min_ops, bench_result *r)
{
    char line[4096];
    if (!request(p, line, sizeof line, "run %s %s %zu %" PRIu64 " %zu",
                 bench_workload_name(wl), bench_keys_name(type), n, seed, min_ops))
        return -1;
    long long ns, bytes;
    unsigned long long ops, sum, n20, n100;
    memset(r, 0, sizeof *r);
    if (sscanf(line,
               "ok ns=%lld ops=%llu checksum=%llu bytes=%lld p50=%lf p99=%lf p999=%lf max=%lf "
               "n20=%llu n100=%llu",
               &ns, &ops, &sum, &bytes, &r->p50, &r->p99, &r->p999, &r->max, &n20, &n100) != 10 ||
        !parse_hist(line, r)) {
        fprintf(stderr, "gomap-bench: the Go peer said: %s\n", line);
        return -1;
    }
    r->ns = (double)ns;
    r->ops = ops;
    r->over20us = n20;
    r->over100us = n100;
    r->checksum = sum;
    r->bytes = bytes > 0 ? bytes : -1;
    return 0;
}

const char *go_peer_reply(const go_peer *p) { return p->reply; }

int go_peer_parallel(go_peer *p, double *ns_out, uint64_t *ops_out, uint64_t *checksum_out,
                     const char *fmt, ...)
{
    char *line = p->reply;
    va_list ap;
    va_start(ap, fmt);
    bool sent = vrequest(p, line, sizeof p->reply, fmt, ap);
    va_end(ap);
    if (!sent)
        return -1;
    long long ns;
    unsigned long long done, sum;
    if (sscanf(line, "ok ns=%lld ops=%llu checksum=%llu", &ns, &done, &sum) != 3) {
        fprintf(stderr, "gomap-bench: the Go peer said: %s\n", line);
        return -1;
    }
    *ns_out = (double)ns;
    *ops_out = done;
    *checksum_out = sum;
    return 0;
}

void go_peer_stop(go_peer *p)
{
    if (!p)
        return;
    if (p->to)
        fclose(p->to); /* EOF: the peer exits */
    if (p->from)
        fclose(p->from);
    int status;
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
        ;
    free(p);
}

/*
 * test_metrics_server.c — the HTTP exporter (gomap_metrics_serve), driven
 * by plain sockets.
 *
 *   bad_input      NULL registry or out, a host name, a port over 65535:
 *                  -EINVAL; a port in use: -EADDRINUSE; stop(NULL), port(NULL).
 *   answers        port 0 gives a real port; GET /metrics is 200 with
 *                  Content-Type text/plain; version=0.0.4, a Content-Length
 *                  that is the body's, and a body promtool and the strict
 *                  reader accept; other paths 404; POST, PUT, DELETE and
 *                  HEAD on /metrics 405 with Allow: GET; ::1 when the
 *                  machine has IPv6.
 *   oversized      a request header of 64 KiB is refused (a 4xx status or
 *                  the connection closed, never 200); the server still
 *                  answers afterwards.
 *   hang_up        clients that read a few bytes of a 2 MB response and
 *                  close (with a reset) or shut down: the server carries on.
 *   slow_clients   a request sent a byte at a time, and a large response
 *                  read a few bytes at a time through a small receive
 *                  buffer, while other clients are served in full meanwhile.
 *   many_scrapes   1000 scrapes in a row, each 200 and well formed; the
 *                  scrape histogram counts them (leaks: ASan's LeakSanitizer
 *                  in that preset).
 *   connection_limit  16 idle connections; a 17th request waits unanswered
 *                  in the listen queue, and is answered once one of them
 *                  closes.
 *   stop           stop with an idle connection open returns; the port
 *                  then refuses connections; 20 serve/stop cycles.
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "promparse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gomap/metrics.h>

/* ------------------------------------------------------------------------ */
/* A client                                                                  */
/* ------------------------------------------------------------------------ */

static int connect_to(unsigned port, int family)
{
    int fd = socket(family, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    int rc;
    if (family == AF_INET6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        a.sin6_addr = in6addr_loopback;
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    CHECK_MSG(rc == 0, "connect to port %u: %s", port, strerror(errno));
    return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        CHECK_MSG(n > 0, "send: %s", strerror(errno));
        buf += n;
        len -= (size_t)n;
    }
}

/* Reads until the server closes (or resets) the connection. */
static char *read_all(int fd, size_t *len_out)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    CHECK(buf != NULL);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf != NULL);
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) {
            CHECK_MSG(n == 0 || errno == ECONNRESET, "recv: %s", strerror(errno));
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

typedef struct {
    int status; /* 0: no status line (closed without an answer) */
    char *raw;  /* the whole answer */
    const char *body;
    size_t body_len;
} http_reply;

static void parse_reply(http_reply *r, char *raw, size_t len)
{
    r->raw = raw;
    r->status = 0;
    r->body = NULL;
    r->body_len = 0;
    if (len >= 12 && strncmp(raw, "HTTP/1.", 7) == 0)
        r->status = atoi(raw + 9);
    char *end = strstr(raw, "\r\n\r\n");
    if (end) {
        r->body = end + 4;
        r->body_len = len - (size_t)(end + 4 - raw);
    }
}

/* Sends `request` on a new connection and reads the whole answer. */
static http_reply http(unsigned port, const char *request)
{
    int fd = connect_to(port, AF_INET);
    send_all(fd, request, strlen(request));
    size_t len;
    char *raw = read_all(fd, &len);
    close(fd);
    http_reply r;
    parse_reply(&r, raw, len);
    return r;
}

/* A header's value (up to the line's end), or NULL. */
static char *header_value(const http_reply *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(r->raw, "\r\n"); p && p < r->body; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            char *out = malloc((size_t)(e - v) + 1);
            CHECK(out != NULL);
            memcpy(out, v, (size_t)(e - v));
            out[e - v] = '\0';
            return out;
        }
    }
    return NULL;
}

#define GET_METRICS "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

/* GET /metrics: 200, the right type and length, a well formed body. */
static void check_scrape(unsigned port, bool promtool)
{
    http_reply r = http(port, GET_METRICS);
    CHECK_MSG(r.status == 200, "GET /metrics: status %d", r.status);
    char *type = header_value(&r, "Content-Type");
    CHECK(type != NULL);
    CHECK_MSG(strncmp(type, "text/plain; version=0.0.4", 25) == 0, "Content-Type: %s", type);
    free(type);
    char *clen = header_value(&r, "Content-Length");
    CHECK(clen != NULL);
    CHECK_EQ(strtoull(clen, NULL, 10), r.body_len);
    free(clen);
    CHECK_EQ(strlen(r.body), r.body_len);
    if (promtool)
        prom_promtool(r.body);
    prom_free(prom_parse(r.body));
    free(r.raw);
}

/* ------------------------------------------------------------------------ */
/* A registry to serve                                                       */
/* ------------------------------------------------------------------------ */

typedef struct {
    gomap_metrics_t *r;
    gomap_shard_t *small;
    gomap_shard_t *big; /* many shards: a response of megabytes */
    gomap_metrics_server_t *s;
    unsigned port;
} served;

static void served_new(served *sv, bool big)
{
    memset(sv, 0, sizeof *sv);
    CHECK_EQ(gomap_metrics_new(&sv->r), 0);
    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map.key_kind = GOMAP_KEY_U64;
    so.map.val_size = 8;
    so.shards = 16;
    CHECK_EQ(gomap_shard_new(&sv->small, &so), 0);
    for (uint64_t k = 0; k < 1000; k++)
        CHECK_EQ(gomap_shard_set(sv->small, &k, &k), 0);
    CHECK_EQ(gomap_metrics_add_shard(sv->r, "small", sv->small), 0);
    if (big) {
        so.shards = 16384;
        CHECK_EQ(gomap_shard_new(&sv->big, &so), 0);
        CHECK_EQ(gomap_metrics_add_shard(sv->r, "big", sv->big), 0);
    }
    CHECK_EQ(gomap_metrics_serve(sv->r, NULL, 0, &sv->s), 0);
    sv->port = gomap_metrics_server_port(sv->s);
    CHECK(sv->port > 0 && sv->port <= 65535);
}

static void served_free(served *sv)
{
    gomap_metrics_server_stop(sv->s);
    gomap_metrics_free(sv->r);
    gomap_shard_free(sv->small);
    gomap_shard_free(sv->big);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_bad_input(void)
{
    served sv;
    served_new(&sv, false);
    gomap_metrics_server_t *s = (gomap_metrics_server_t *)&sv; /* poisoned: must be reset */
    CHECK_EQ(gomap_metrics_serve(NULL, NULL, 0, &s), -EINVAL);
    CHECK(s == NULL);
    CHECK_EQ(gomap_metrics_serve(sv.r, NULL, 0, NULL), -EINVAL);
    CHECK_EQ(gomap_metrics_serve(sv.r, "localhost", 0, &s), -EINVAL);
    CHECK_EQ(gomap_metrics_serve(sv.r, "127.0.0.256", 0, &s), -EINVAL);
    CHECK_EQ(gomap_metrics_serve(sv.r, NULL, 65536, &s), -EINVAL);
    CHECK_EQ(gomap_metrics_serve(sv.r, "127.0.0.1", sv.port, &s), -EADDRINUSE);
    CHECK(s == NULL);
    CHECK_EQ(gomap_metrics_server_port(NULL), 0);
    gomap_metrics_server_stop(NULL);
    served_free(&sv);
}

static void test_answers(void)
{
    served sv;
    served_new(&sv, false);
    check_scrape(sv.port, true);
    /* Other paths: 404; other methods on /metrics: 405 with Allow: GET. */
    static const struct {
        const char *request;
        int status;
    } refused[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404},
        {"GET /metricsx HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404},
        {"GET /metrics/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404},
        {"POST /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 404},
        {"POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
         405},
        {"PUT /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 405},
        {"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405},
        {"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        http_reply r = http(sv.port, refused[i].request);
        CHECK_MSG(r.status == refused[i].status, "request %zu: status %d", i, r.status);
        char *allow = header_value(&r, "Allow");
        if (r.status == 405)
            CHECK_MSG(allow && strcmp(allow, "GET") == 0, "request %zu: Allow %s", i,
                      allow ? allow : "(none)");
        free(allow);
        free(r.raw);
    }
    /* HTTP/1.0 and a query string are fine. */
    http_reply r = http(sv.port, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    CHECK_EQ(r.status, 200);
    free(r.raw);
    check_scrape(sv.port, false);

    gomap_metrics_server_t *s6;
    int rc = gomap_metrics_serve(sv.r, "::1", 0, &s6);
    if (rc == 0) {
        int fd = connect_to(gomap_metrics_server_port(s6), AF_INET6);
        send_all(fd, GET_METRICS, strlen(GET_METRICS));
        size_t len;
        char *raw = read_all(fd, &len);
        close(fd);
        parse_reply(&r, raw, len);
        CHECK_EQ(r.status, 200);
        free(raw);
        gomap_metrics_server_stop(s6);
    } else {
        printf("   no IPv6 loopback here (%s): ::1 not checked\n", gomap_strerror(rc));
        CHECK(rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT || rc == -EIO);
    }
    served_free(&sv);
}

static void test_oversized(void)
{
    served sv;
    served_new(&sv, false);
    size_t big = 64 * 1024;
    char *req = malloc(big + 256);
    CHECK(req != NULL);
    int n = sprintf(req, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: ");
    memset(req + n, 'a', big);
    strcpy(req + n + big, "\r\nConnection: close\r\n\r\n");
    int fd = connect_to(sv.port, AF_INET);
    /* The server may close before it has read everything: a failed send
     * is an answer too. */
    size_t len = strlen(req), off = 0;
    while (off < len) {
        ssize_t k = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    char *raw = read_all(fd, &len);
    close(fd);
    http_reply r;
    parse_reply(&r, raw, len);
    CHECK_MSG(r.status == 0 || (r.status >= 400 && r.status < 500),
              "a 64 KiB request header: status %d", r.status);
    printf("   64 KiB request header: %s %d\n", r.status ? "status" : "closed", r.status);
    free(raw);
    free(req);
    check_scrape(sv.port, false);
    served_free(&sv);
}

static void test_hang_up(void)
{
    served sv;
    served_new(&sv, true);
    for (int i = 0; i < 20; i++) {
        int fd = connect_to(sv.port, AF_INET);
        send_all(fd, GET_METRICS, strlen(GET_METRICS));
        char buf[100];
        CHECK(recv(fd, buf, sizeof buf, MSG_WAITALL) > 0);
        if (i % 2) {
            struct linger lg = {1, 0}; /* close with a reset */
            CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        } else {
            shutdown(fd, SHUT_RDWR);
        }
        close(fd);
    }
    /* A client gone before the answer was even rendered. */
    for (int i = 0; i < 5; i++) {
        int fd = connect_to(sv.port, AF_INET);
        send_all(fd, GET_METRICS, strlen(GET_METRICS));
        close(fd);
    }
    check_scrape(sv.port, false);
    served_free(&sv);
}

/* A request sent a byte at a time (1 ms apart); others are served meanwhile. */
typedef struct {
    unsigned port;
    atomic_int started;
    int status;
} slow_arg;

static void *slow_sender(void *arg)
{
    slow_arg *a = arg;
    int fd = connect_to(a->port, AF_INET);
    const char *req = GET_METRICS;
    struct timespec ms = {0, 1000000};
    for (size_t i = 0; req[i]; i++) {
        send_all(fd, req + i, 1);
        if (i == 0)
            atomic_store(&a->started, 1);
        nanosleep(&ms, NULL);
    }
    size_t len;
    char *raw = read_all(fd, &len);
    close(fd);
    http_reply r;
    parse_reply(&r, raw, len);
    a->status = r.status;
    free(raw);
    return NULL;
}

static void test_slow_clients(void)
{
    served sv;
    served_new(&sv, true);
    slow_arg a = {.port = sv.port};
    atomic_init(&a.started, 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, slow_sender, &a), 0);
    while (!atomic_load(&a.started))
        sched_yield();
    check_scrape(sv.port, false); /* while the slow request trickles in */
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(a.status, 200);

    /* A slow reader of a response of megabytes, through a small buffer. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    int small = 4096;
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sv.port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    send_all(fd, GET_METRICS, strlen(GET_METRICS));
    char chunk[512];
    CHECK(recv(fd, chunk, sizeof chunk, 0) > 0);
    /* The server is blocked on this client only: others are served. */
    for (int i = 0; i < 3; i++)
        check_scrape(sv.port, false);
    size_t total = 0, len;
    struct timespec pause = {0, 200000};
    for (int i = 0; i < 50; i++) { /* a few slow reads, then the rest */
        ssize_t k = recv(fd, chunk, sizeof chunk, 0);
        CHECK(k > 0);
        total += (size_t)k;
        nanosleep(&pause, NULL);
    }
    char *rest = read_all(fd, &len);
    close(fd);
    total += len;
    free(rest);
    CHECK_MSG(total > 1000000, "the slow reader got %zu bytes", total);
    served_free(&sv);
}

static void test_many_scrapes(void)
{
    served sv;
    served_new(&sv, false);
    for (int i = 0; i < 1000; i++)
        check_scrape(sv.port, false);
    http_reply r = http(sv.port, GET_METRICS);
    prom_doc *d = prom_parse(r.body);
    CHECK_EQ(prom_value(d, "gomap_metrics_scrape_duration_seconds_count", ""), 1000);
    prom_free(d);
    free(r.raw);
    served_free(&sv);
}

enum { LIMIT = 16 };

/* With every connection slot taken by idle[], a 17th request waits in
 * the listen queue: no answer within 200 ms (far less than the idle
 * connections' 10 s timeout, so a bound that holds never fails this;
 * only a very slow machine could let a broken bound pass), then an
 * answer once idle[0] closes. */
static void check_no_answer_then_served(served *sv, int *idle)
{
    int fd = connect_to(sv->port, AF_INET);
    send_all(fd, GET_METRICS, strlen(GET_METRICS));
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_MSG(poll(&p, 1, 200) == 0, "a request over the connection limit was answered");
    close(idle[0]);
    size_t len;
    char *raw = read_all(fd, &len);
    close(fd);
    http_reply r;
    parse_reply(&r, raw, len);
    CHECK_EQ(r.status, 200);
    free(raw);
}

static void test_connection_limit(void)
{
    served sv;
    served_new(&sv, false);
    int idle[LIMIT];
    for (int i = 0; i < LIMIT; i++) {
        idle[i] = connect_to(sv.port, AF_INET);
        send_all(idle[i], "GET /metr", 9); /* never finished */
    }
    check_no_answer_then_served(&sv, idle);
    for (int i = 1; i < LIMIT; i++)
        close(idle[i]);
    check_scrape(sv.port, false);
    served_free(&sv);
}

static void test_stop(void)
{
    served sv;
    served_new(&sv, false);
    int fd = connect_to(sv.port, AF_INET);
    send_all(fd, "GET /", 5);
    unsigned port = sv.port;
    gomap_metrics_server_stop(sv.s);
    sv.s = NULL;
    char c;
    CHECK(recv(fd, &c, 1, 0) <= 0); /* the server closed it */
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) != 0);
    close(fd);
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(gomap_metrics_serve(sv.r, NULL, 0, &sv.s), 0);
        if (i % 4 == 0)
            check_scrape(gomap_metrics_server_port(sv.s), false);
        gomap_metrics_server_stop(sv.s);
        sv.s = NULL;
    }
    served_free(&sv);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_bad_input);
    RUN(test_answers);
    RUN(test_oversized);
    RUN(test_hang_up);
    RUN(test_slow_clients);
    RUN(test_many_scrapes);
    RUN(test_connection_limit);
    RUN(test_stop);
    printf("ok\n");
    return 0;
}

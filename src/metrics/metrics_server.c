/*
 * metrics_server.c — the HTTP exporter: libmicrohttpd serving GET /metrics.
 *
 * One internal polling thread of libmicrohttpd serves every connection
 * with non-blocking sockets, so a client that sends or reads slowly holds
 * only its own connection. Each scrape renders the exposition into a
 * memory buffer (open_memstream), which libmicrohttpd sends and frees:
 * the registry's mutex is never held while a client is being written to.
 * The limits (connections, memory per connection, which bounds the request
 * header, and the idle timeout) are libmicrohttpd's options; at the
 * connection limit it stops accepting, so further clients wait in the
 * listen queue until a connection ends (at most the idle timeout).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/alloc.h"
#include "metrics/metrics_internal.h"

/* The limits of gomap/metrics.h (gomap_metrics_serve). */
enum {
    SERVER_CONNECTIONS = 16,
    SERVER_CONNECTION_MEMORY = 16 * 1024,
    SERVER_TIMEOUT_S = 10,
};

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct gomap_metrics_server {
    struct MHD_Daemon *daemon;
    gomap_metrics_t *r;
    unsigned port;
};

/* A response with a short fixed body. */
static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *body,
                                    const char *allow)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Renders the exposition into memory and queues it; 500 if that fails. */
static enum MHD_Result reply_metrics(struct MHD_Connection *c, gomap_metrics_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    int rc = gomap_metrics_write(r, f);
    if (fclose(f) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc != 0) {
        free(buf);
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics could not be written\n",
                            NULL);
    }
    /* libmicrohttpd frees buf with free() once it is sent (or the client
     * went away). */
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(buf);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    enum MHD_Result qrc = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return qrc;
}

/* Called by libmicrohttpd once the request header is in (and again for
 * each piece of a body): answers at once, so a body is never read (the
 * connection is closed after the answer). */
/* NOLINTBEGIN(readability-non-const-parameter): libmicrohttpd's callback type */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
/* NOLINTEND(readability-non-const-parameter) */
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    struct gomap_metrics_server *s = cls;
    if (strcmp(url, "/metrics") != 0)
        return reply_static(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", NULL);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n", "GET");
    return reply_metrics(c, s->r);
}

/* libmicrohttpd's messages (a client that went away, a request too
 * large) are what the limits are for: not worth a line on stderr. */
static void quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

/* addr (NULL = 127.0.0.1) and port as a socket address; false if addr is
 * not a numeric IPv4 or IPv6 address. */
static bool parse_addr(const char *addr, unsigned port, struct sockaddr_storage *sa, bool *v6)
{
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *in4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    *v6 = false;
    if (inet_pton(AF_INET, addr ? addr : "127.0.0.1", &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return true;
    }
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return true;
    }
    return false;
}

int gomap_metrics_serve(gomap_metrics_t *r, const char *addr, unsigned port,
                        gomap_metrics_server_t **out)
{
    if (out)
        *out = NULL;
    struct sockaddr_storage sa;
    bool v6;
    if (!r || !out || port > 65535 || !parse_addr(addr, port, &sa, &v6))
        return -EINVAL;
    struct gomap_metrics_server *s = gomap__alloc(r->alloc, sizeof *s);
    if (!s)
        return -ENOMEM;
    memset(s, 0, sizeof *s);
    s->r = r;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     (v6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)SERVER_CONNECTIONS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                 (size_t)SERVER_CONNECTION_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)SERVER_TIMEOUT_S, MHD_OPTION_EXTERNAL_LOGGER, quiet_log,
                                 NULL, MHD_OPTION_END);
    if (!s->daemon) {
        int err = errno;
        gomap__free(r->alloc, s, sizeof *s);
        return err > 0 ? -err : -EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return 0;
}

unsigned gomap_metrics_server_port(const gomap_metrics_server_t *s)
{
    return s ? s->port : 0;
}

void gomap_metrics_server_stop(gomap_metrics_server_t *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    gomap__free(s->r->alloc, s, sizeof *s);
}

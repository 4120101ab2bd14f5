/*
 * gomap/metrics.h — Prometheus metrics for gomap's structures, and an
 * embedded HTTP exporter.
 *
 * Purpose. A registry holds named structures (sync, sharded and snapshot
 * maps, caches, and core maps through a callback). gomap_metrics_write
 * renders what their stats functions report in the Prometheus text
 * exposition format 0.0.4; gomap_metrics_serve answers GET /metrics with
 * it over HTTP (libmicrohttpd), for a Prometheus server to scrape. Every
 * family, its labels and its meaning: docs/metrics.md.
 *
 * Cost. A scrape reads each structure's stats once: O(shards) for a
 * sharded map or a cache, O(1) for a sync map, O(retired versions) for a
 * snapshot map, whatever its number of entries; it never walks entries
 * (a core map's callback decides its own cost: gomap_stats is
 * O(buckets)). No scrape takes a lock that a get takes (the sync map's
 * mutex is taken only by a miss on an amended map, as in Go).
 *
 * Thread-safety. Every function may be called by any thread at any time,
 * except that gomap_metrics_free must not overlap any other call on the
 * registry and must come after every server of the registry has been
 * stopped. The registry has a mutex of its own, which no map ever takes:
 * add, remove and write take it; write holds it while it reads every
 * structure's stats and while it writes, so a structure removed by
 * gomap_metrics_remove is never read again once remove has returned.
 *
 * Names. Each structure is registered under a name, which becomes the
 * value of its `map` label: 1 to GOMAP_METRICS_NAME_MAX bytes of valid
 * UTF-8 with no control characters (written escaped, as the format
 * requires). Names are unique within a registry.
 *
 * Ownership. The registry copies names and borrows structures: a
 * structure must outlive its registration (remove it, then free it).
 *
 * Errors. Functions returning int return 0 or a negative errno value:
 * -EINVAL for bad arguments (NULL, a name that is empty, too long, not
 * UTF-8 or has a control character), -EEXIST for a name already
 * registered, -ENOENT for one that is not, -ENOMEM when memory runs out
 * (the registry unchanged), -EIO when writing the output failed, and what
 * each call lists besides.
 */
#ifndef GOMAP_METRICS_H
#define GOMAP_METRICS_H

#include <stdio.h>

#include "cache.h"
#include "diag.h"
#include "map.h"
#include "shardmap.h"
#include "snapmap.h"
#include "syncmap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gomap_metrics gomap_metrics_t;
typedef struct gomap_metrics_server gomap_metrics_server_t;

/* Longest name accepted, in bytes. */
#define GOMAP_METRICS_NAME_MAX 128

/* Creates an empty registry. 0, -EINVAL (NULL out) or -ENOMEM (*out NULL).
 * Context: takes no lock; never waits. */
GOMAP_API int gomap_metrics_new(gomap_metrics_t **out);

/* Frees the registry and its copies of the names; the structures
 * registered are not touched. Every server serving it must have been
 * stopped (gomap_metrics_server_stop) and no other call on it may be in
 * flight. NULL is a no-op.
 * Context: takes no lock; never waits. */
GOMAP_API void gomap_metrics_free(gomap_metrics_t *r);

/* Register a structure under `name`. The name is copied; the structure is
 * borrowed until gomap_metrics_remove. 0, -EINVAL (NULL r or structure,
 * bad name), -EEXIST (name taken) or -ENOMEM (nothing registered).
 * Context: the registry's mutex, briefly; takes no lock of the structure
 * and never waits. Must not be called from a gomap_metrics_add_func
 * callback of the same registry (the mutex is held there). */
GOMAP_API int gomap_metrics_add_sync(gomap_metrics_t *r, const char *name, gomap_sync_t *m);
GOMAP_API int gomap_metrics_add_shard(gomap_metrics_t *r, const char *name, gomap_shard_t *m);
GOMAP_API int gomap_metrics_add_snap(gomap_metrics_t *r, const char *name, gomap_snap_t *m);
GOMAP_API int gomap_metrics_add_cache(gomap_metrics_t *r, const char *name, gomap_cache_t *c);

/* Fills *out with the stats of a structure the registry cannot read by
 * itself; returns 0, or nonzero to leave the structure out of this scrape
 * (it is counted in gomap_metrics_func_failures_total). */
typedef int (*gomap_metrics_stats_fn)(gomap_stats_t *out, void *ctx);

/* Registers a core map (or anything that can describe itself as a
 * gomap_stats_t) under `name`, read by calling fn(out, ctx) once per
 * scrape. A core map is not thread-safe, so the registry cannot read it
 * while the program writes it: fn is where the program makes that safe,
 * for example
 *
 *     static int my_map_stats(gomap_stats_t *out, void *ctx) {
 *         struct my_state *s = ctx;
 *         pthread_mutex_lock(&s->lock);     // the lock the program's
 *         int rc = gomap_stats(s->map, out); // writers take
 *         pthread_mutex_unlock(&s->lock);
 *         return rc;
 *     }
 *
 * or by returning a copy the owning thread refreshes (a program that
 * cannot take a lock on a scrape pushes its own snapshots that way).
 * gomap_stats costs O(buckets): a scrape of a large core map walks its
 * buckets (not its entries) inside fn.
 * 0, -EINVAL (NULL r or fn, bad name), -EEXIST or -ENOMEM (nothing
 * registered).
 * Context: as gomap_metrics_add_sync. fn runs in the thread that scrapes
 * (a caller of gomap_metrics_write, or the exporter's thread) with the
 * registry's mutex held, never concurrently with another call of fn of
 * the same registry; it must not call gomap_metrics_* on this registry
 * (that would deadlock). ctx is borrowed as the map is. */
GOMAP_API int gomap_metrics_add_func(gomap_metrics_t *r, const char *name,
                                     gomap_metrics_stats_fn fn, void *ctx);

/* Unregisters `name`: once it returns, no scrape reads the structure
 * (or calls its fn) again, so it may be freed. 0, -EINVAL (NULL r or name)
 * or -ENOENT (no such name).
 * Context: the registry's mutex, which it waits for while a scrape is
 * running (for the scrape's length). Must not be called from a
 * gomap_metrics_add_func callback of the same registry. */
GOMAP_API int gomap_metrics_remove(gomap_metrics_t *r, const char *name);

/* Writes every registered structure's metrics to `out` in the Prometheus
 * text exposition format 0.0.4 (docs/metrics.md): each family's HELP and
 * TYPE once, then its samples, structures in name order; also the
 * registry's own families (scrape duration histogram, callback
 * failures), so the output is never empty. Each structure's stats are
 * read once, before anything is written. 0, -EINVAL (NULL r or out), -EIO
 * (writing to out failed; what was written is not a whole exposition).
 * Context: the registry's mutex, held for the whole call (stats reads and
 * writing to out); each structure's stats function as its header says
 * (sync: the map's mutex briefly; sharded and snapshot maps and caches:
 * no lock the gets take); add_func callbacks.
 * Never waits for a grace period. Must not be called from a
 * gomap_metrics_add_func callback of the same registry. */
GOMAP_API int gomap_metrics_write(gomap_metrics_t *r, FILE *out);

/* Starts an HTTP exporter for the registry on `addr` (a numeric IPv4 or
 * IPv6 address; NULL = 127.0.0.1) and `port` (0 = any free port;
 * gomap_metrics_server_port tells which). It answers GET /metrics with
 * 200 and the output of gomap_metrics_write (Content-Type
 * "text/plain; version=0.0.4; charset=utf-8"), any other path with 404,
 * any other method on /metrics with 405 and "Allow: GET". Limits: 16
 * connections at once (more wait in the listen queue until one ends),
 * 16 KiB per connection for the request (a larger request header is
 * refused with 431), 10 s of inactivity per connection. One thread of its own serves every
 * connection without blocking (a slow client delays no other); each
 * scrape is rendered into memory, then sent. *out is the server, to stop
 * with gomap_metrics_server_stop.
 * 0, -EINVAL (NULL r or out, addr not a numeric address, port over
 * 65535), -ENOMEM, or the error that prevented listening (-EADDRINUSE,
 * -EACCES, ...; -EIO when the HTTP library gives no reason). *out NULL on
 * failure.
 * Context: takes no lock; starts a thread. Scrapes run on that thread and
 * take what gomap_metrics_write takes. */
GOMAP_API int gomap_metrics_serve(gomap_metrics_t *r, const char *addr, unsigned port,
                                  gomap_metrics_server_t **out);

/* The port the server listens on (the one chosen when serve was given 0).
 * 0 for NULL.
 * Context: takes no lock; never waits. */
GOMAP_API unsigned gomap_metrics_server_port(const gomap_metrics_server_t *s);

/* Stops the server: closes its socket and every connection (a response
 * being sent is cut off), joins its thread and frees it. NULL is a
 * no-op. Must not overlap another call on the same server.
 * Context: waits for a scrape in progress to finish (it holds the
 * registry's mutex), so it must not be called with that mutex held (from
 * a gomap_metrics_add_func callback). */
GOMAP_API void gomap_metrics_server_stop(gomap_metrics_server_t *s);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_METRICS_H */

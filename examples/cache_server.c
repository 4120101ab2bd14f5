/*
 * cache_server.c — a cache and a sharded map under a synthetic load, with
 * their metrics served for Prometheus (gomap/metrics.h).
 *
 *   ./build/release/examples/cache_server [PORT [SECONDS [LOAD_SECONDS]]]
 *
 * PORT: where GET /metrics is served, on 127.0.0.1 (0 or none: any free
 * port). SECONDS: how long to run (0 or none: until SIGINT or SIGTERM).
 * LOAD_SECONDS: how long the load runs (none: as long as the program);
 * after it stops, the program keeps serving the counters, which no longer
 * move.
 *
 * Two threads drive the cache "cache" (get_or_load with a loader that
 * fails now and then, sets with short TTLs, so entries expire, and more
 * keys than max_cost, so entries are evicted) and the sharded map "shard"
 * (90 % gets, 9 % sets, 1 % deletes), and lightly a sync map "sessions",
 * a snapshot map "config" and a core map "index". A core map is not
 * thread-safe: the program guards it with its own mutex, and registers
 * it with a callback that takes that mutex to read its stats
 * (gomap_metrics_add_func). The program prints, each on a line of its
 * own and flushed at once:
 *   port: N                       the port it serves on
 *   load stopped: cache_hits=H cache_misses=M shard_hits=S shard_misses=T
 *                                 when the load has stopped: the counters
 *                                 as the structures' own stats give them
 *   done                          when it exits
 * Point Prometheus at 127.0.0.1:N (README.md, "Watching it").
 */
#define _POSIX_C_SOURCE 200809L

#include <gomap.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { THREADS = 2, CACHE_KEYS = 20000, CACHE_COST = 8192, SHARD_KEYS = 50000 };

static gomap_cache_t *cache;
static gomap_shard_t *shard;
static gomap_sync_t *sessions;
static gomap_snap_t *config;
static gomap_t *index_map; /* a core map: every use under index_lock */
static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool load_on = true;
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* xorshift64*: each thread's own stream. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* The loader: the value is derived from the key; one load in 50 fails. */
static int load_value(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx)
{
    (void)ctx;
    uint64_t k = *(const uint64_t *)key;
    if (k % 50 == 7)
        return -EIO;
    *(uint64_t *)val_out = k * 3;
    *ttl_ns = 200000000; /* 200 ms */
    return 0;
}

/* Skewed keys: small ones far more often than large ones. */
static uint64_t skewed_key(uint64_t *s, uint64_t n)
{
    uint64_t a = next_rand(s) % n, b = next_rand(s) % n;
    return a < b ? a : b;
}

static void cache_op(uint64_t *s)
{
    uint64_t k = skewed_key(s, CACHE_KEYS), v;
    unsigned r = (unsigned)(next_rand(s) % 100);
    if (r < 70)
        (void)gomap_cache_get_or_load(cache, &k, &v, load_value, NULL);
    else if (r < 95)
        (void)gomap_cache_set(cache, &k, &k, 50000000 + next_rand(s) % 100000000);
    else
        (void)gomap_cache_delete(cache, &k);
}

static void shard_op(uint64_t *s)
{
    uint64_t k = skewed_key(s, SHARD_KEYS), v;
    unsigned r = (unsigned)(next_rand(s) % 100);
    if (r < 90)
        (void)gomap_shard_get(shard, &k, &v);
    else if (r < 99)
        (void)gomap_shard_set(shard, &k, &k);
    else
        (void)gomap_shard_delete(shard, &k);
}

/* The sync, snapshot and core maps: a few operations now and then. */
static void other_ops(uint64_t *s, unsigned i)
{
    uint64_t k = skewed_key(s, 4096), v;
    if (!gomap_sync_load(sessions, &k, &v))
        (void)gomap_sync_store(sessions, &k, &k);
    if (i % 256 == 0) {
        uint64_t setting = i;
        k %= 64;
        (void)gomap_snap_set(config, &k, &setting);
    }
    if (i % 16 == 0) {
        pthread_mutex_lock(&index_lock);
        if (next_rand(s) % 4 == 0)
            (void)gomap_delete(index_map, &k);
        else
            (void)gomap_set(index_map, &k, &k);
        pthread_mutex_unlock(&index_lock);
    }
}

/* The core map's stats for the registry, under the program's own lock. */
static int index_stats(gomap_stats_t *out, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&index_lock);
    int rc = gomap_stats(index_map, out);
    pthread_mutex_unlock(&index_lock);
    return rc;
}

static void *worker(void *arg)
{
    uint64_t s = 0x9E3779B97F4A7C15ull * ((uint64_t)(uintptr_t)arg + 1);
    struct timespec pause = {0, 20000}; /* 20 us every 64 ops: a steady load, not a flood */
    for (unsigned i = 0; atomic_load(&load_on); i++) {
        cache_op(&s);
        shard_op(&s);
        other_ops(&s, i);
        if (i % 64 == 63)
            nanosleep(&pause, NULL);
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(gomap_metrics_t **reg)
{
    gomap_cache_options co;
    memset(&co, 0, sizeof co);
    co.map.key_kind = GOMAP_KEY_U64;
    co.map.val_size = sizeof(uint64_t);
    co.max_cost = CACHE_COST;
    co.ttl_ns = 1000000000; /* 1 s */
    co.maintenance_thread = true;
    gomap_shard_options so;
    memset(&so, 0, sizeof so);
    so.map.key_kind = GOMAP_KEY_U64;
    so.map.val_size = sizeof(uint64_t);
    so.shards = 16;
    int rc = gomap_cache_new(&cache, &co);
    if (rc == 0)
        rc = gomap_shard_new(&shard, &so);
    if (rc == 0)
        rc = gomap_sync_new(&sessions, &so.map);
    if (rc == 0)
        rc = gomap_snap_new(&config, &so.map);
    if (rc == 0)
        rc = gomap_new(&index_map, &so.map);
    if (rc == 0)
        rc = gomap_metrics_new(reg);
    if (rc == 0)
        rc = gomap_metrics_add_cache(*reg, "cache", cache);
    if (rc == 0)
        rc = gomap_metrics_add_shard(*reg, "shard", shard);
    if (rc == 0)
        rc = gomap_metrics_add_sync(*reg, "sessions", sessions);
    if (rc == 0)
        rc = gomap_metrics_add_snap(*reg, "config", config);
    if (rc == 0)
        rc = gomap_metrics_add_func(*reg, "index", index_stats, NULL);
    return rc;
}

static void print_final(void)
{
    gomap_cache_stats_t cs;
    gomap_shard_stats_t ss;
    gomap_cache_stats(cache, &cs);
    gomap_shard_stats(shard, &ss, NULL, 0);
    printf("load stopped: cache_hits=%llu cache_misses=%llu shard_hits=%llu shard_misses=%llu\n",
           (unsigned long long)cs.hits, (unsigned long long)cs.misses,
           (unsigned long long)ss.total.hits, (unsigned long long)ss.total.misses);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    unsigned port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 0;
    double load_seconds = argc > 3 ? strtod(argv[3], NULL) : -1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    gomap_metrics_t *reg = NULL;
    gomap_metrics_server_t *srv = NULL;
    int rc = setup(&reg);
    if (rc == 0)
        rc = gomap_metrics_serve(reg, NULL, port, &srv);
    if (rc != 0) {
        fprintf(stderr, "cache_server: %s\n", gomap_strerror(rc));
        return 1;
    }
    printf("port: %u\n", gomap_metrics_server_port(srv));
    fflush(stdout);

    pthread_t t[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    double start = now_s();
    bool loading = true;
    struct timespec tick = {0, 50000000}; /* 50 ms */
    while (!stop_requested && (seconds <= 0 || now_s() - start < seconds)) {
        if (loading && load_seconds >= 0 && now_s() - start >= load_seconds) {
            atomic_store(&load_on, false);
            for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
            loading = false;
            print_final();
        }
        nanosleep(&tick, NULL);
    }
    if (loading) {
        atomic_store(&load_on, false);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
    }
    gomap_metrics_server_stop(srv);
    gomap_metrics_free(reg);
    gomap_shard_free(shard);
    gomap_cache_free(cache);
    gomap_sync_free(sessions);
    gomap_snap_free(config);
    gomap_free(index_map);
    printf("done\n");
    return 0;
}

/*
 * test_snapmap_stress.c — readers, writers and views on one snapshot map
 * (gomap/snapmap.h), under any interleaving.
 *
 * Keys 0..K-1 are the batch keys: writers change them only with
 * gomap_snap_update, writing one new generation g to all K of them at once
 * (value g*KMAX + key). Generations are numbered inside the update callback,
 * which runs under the writers' mutex, so they grow with the versions. Each
 * writer also owns keys of its own, which it sets and deletes one at a time
 * and reads back (exactly, except that another writer's clear may remove
 * them); some batches are abandoned; in one configuration writers also
 * clear the map now and then.
 *
 * What must hold:
 *   - No half batches: a view shows all K batch keys with one generation, or
 *     none of them (after a clear), through gomap_snap_view_get and through
 *     gomap_snap_view_range alike.
 *   - Views do not change: a view held while writers go on (readers keep a
 *     few each, for a while) shows the same generation when looked at again,
 *     just before it is released.
 *   - No going back: the generations a reader sees, through gets and views
 *     in program order, never decrease.
 *   - Values belong to their key (nothing torn or misplaced).
 *   - Views are released by another thread too: a releaser thread takes the
 *     views readers hand over, checks and releases them.
 *   - Reclamation: once every thread has stopped and every view is released,
 *     stats.views is 0 and, after a wait, retired_versions and retired_bytes
 *     reach 0 with reclaimed_bytes above 0; validate passes.
 *
 * Writers do a fixed number of writes; readers run until the writers stop.
 * Work is divided by WORK_DIV under ThreadSanitizer. Seed: test_seed()
 * (GOMAP_TEST_SEED reproduces the operation streams; the interleaving is
 * the scheduler's).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"
#include "hashvariant.h"

#include <gomap.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

enum {
    K = 32,              /* batch keys 0..K-1 */
    OWN = 16,            /* keys owned by each writer */
    KMAX = 1 << 16,      /* value = generation * KMAX + key */
    MAX_WRITERS = 4,
    MAX_READERS = 6,
    HELD = 4,            /* views each reader keeps */
    QUEUE = 64,          /* views waiting for the releaser */
};

typedef struct {
    int writers, readers;
    size_t writes;       /* per writer */
    bool with_clear;
} config;

/* ------------------------------------------------------------------------ */
/* Shared state                                                              */
/* ------------------------------------------------------------------------ */

typedef struct {
    const gomap_snap_view_t *view;
    uint64_t gen;        /* the generation it showed when taken */
} held_view;

typedef struct {
    const config *cfg;
    gomap_snap_t *m;
    uint64_t seed;
    _Atomic uint64_t gen;           /* last generation numbered */
    atomic_int writers_left;
    pthread_barrier_t start;
    /* Views handed to the releaser. */
    pthread_mutex_t qmu;
    held_view queue[QUEUE];
    size_t qlen;
    atomic_size_t handed, released_by_other;
} shared;

static uint64_t own_key(int writer, int j)
{
    return K + (uint64_t)writer * OWN + (uint64_t)j;
}

static void check_value(uint64_t key, uint64_t v, const char *what)
{
    CHECK_MSG(v % KMAX == key, "%s: key %" PRIu64 " holds %" PRIu64 " (another key's value)",
              what, key, v);
}

/* ------------------------------------------------------------------------ */
/* Generations as a view shows them                                          */
/* ------------------------------------------------------------------------ */

/* The generation of the batch keys in view, 0 when none is present; fails
 * on half a batch (some present, or two generations). */
static uint64_t view_gen_by_get(const gomap_snap_view_t *view)
{
    uint64_t g = 0;
    int present = 0;
    for (uint64_t k = 0; k < K; k++) {
        uint64_t v;
        if (!gomap_snap_view_get(view, &k, &v))
            continue;
        check_value(k, v, "view_get");
        CHECK_MSG(present == 0 || v / KMAX == g, "a view shows generations %" PRIu64 " and %"
                  PRIu64 " at once", g, v / KMAX);
        g = v / KMAX;
        present++;
    }
    CHECK_MSG(present == 0 || present == K, "a view shows %d of the %d keys of a batch", present,
              K);
    return g;
}

typedef struct {
    uint64_t gen;
    int batch_keys;
    size_t entries;
} range_seen;

static bool range_fn(const void *key, const void *val, void *ctx)
{
    range_seen *r = ctx;
    uint64_t k, v;
    memcpy(&k, key, sizeof k);
    memcpy(&v, val, sizeof v);
    check_value(k, v, "view_range");
    r->entries++;
    if (k < K) {
        CHECK_MSG(r->batch_keys == 0 || v / KMAX == r->gen, "a range shows generations %" PRIu64
                  " and %" PRIu64, r->gen, v / KMAX);
        r->gen = v / KMAX;
        r->batch_keys++;
    }
    return true;
}

static uint64_t view_gen_by_range(const gomap_snap_view_t *view)
{
    range_seen r = {0, 0, 0};
    gomap_snap_view_range(view, range_fn, &r);
    CHECK_MSG(r.batch_keys == 0 || r.batch_keys == K, "a range shows %d of the %d keys of a "
              "batch", r.batch_keys, K);
    CHECK_EQ(r.entries, gomap_len(gomap_snap_view_map(view)));
    return r.gen;
}

/* ------------------------------------------------------------------------ */
/* Writers                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    shared *sh;
    int ret;             /* 0: commit, else abandon */
} batch_ctx;

static int batch_fn(gomap_t *copy, void *ctx)
{
    batch_ctx *b = ctx;
    /* Under the writers' mutex: generations are numbered in publish order. */
    uint64_t g = atomic_fetch_add_explicit(&b->sh->gen, 1, memory_order_relaxed) + 1;
    for (uint64_t k = 0; k < K; k++) {
        uint64_t v = g * KMAX + k;
        CHECK_EQ(gomap_set(copy, &k, &v), 0);
    }
    return b->ret;
}

typedef struct {
    shared *sh;
    int id;
    uint64_t rng;
    bool present[OWN];
    uint64_t val[OWN];
    uint64_t seq;
    size_t batches;
} writer;

/* A set or delete of an owned key, read back at once. Exact, unless
 * another writer's clear may have removed the key meanwhile: then a key may
 * be missing, but never hold a value this writer did not leave there. */
static void owned_write(writer *w)
{
    gomap_snap_t *m = w->sh->m;
    bool clears = w->sh->cfg->with_clear;
    int j = (int)test_rand_below(&w->rng, OWN);
    uint64_t k = own_key(w->id, j), got;
    if (test_rand_below(&w->rng, 3) == 0) {
        int rc = gomap_snap_delete(m, &k);
        CHECK(rc == (w->present[j] ? 1 : 0) || (clears && rc == 0));
        w->present[j] = false;
    } else {
        uint64_t v = ++w->seq * KMAX + k;
        CHECK_EQ(gomap_snap_set(m, &k, &v), 0);
        w->present[j] = true;
        w->val[j] = v;
    }
    bool found = gomap_snap_get(m, &k, &got);
    CHECK_MSG((found == w->present[j] || (clears && !found)) && (!found || got == w->val[j]),
              "writer %d: own key %" PRIu64 " reads back (%d, %" PRIu64 ")", w->id, k, found,
              got);
    if (!found)
        w->present[j] = false;
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    shared *sh = w->sh;
    pthread_barrier_wait(&sh->start);
    for (size_t i = 0; i < sh->cfg->writes; i++) {
        unsigned r = (unsigned)test_rand_below(&w->rng, 100);
        if (r < 45) {
            batch_ctx b = {sh, test_rand_below(&w->rng, 8) == 0};
            CHECK_EQ(gomap_snap_update(sh->m, batch_fn, &b), b.ret);
            w->batches += b.ret == 0;
        } else if (r < 99 || !sh->cfg->with_clear) {
            owned_write(w);
        } else {
            CHECK_EQ(gomap_snap_clear(sh->m), 0);
            memset(w->present, 0, sizeof w->present); /* ours are gone too */
        }
    }
    atomic_fetch_sub_explicit(&sh->writers_left, 1, memory_order_release);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Readers and the releaser                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    shared *sh;
    int id;
    uint64_t rng;
    uint64_t last_gen;    /* highest generation seen so far */
    uint64_t distinct;    /* times it rose */
    size_t ops;
    held_view held[HELD];
} reader;

static void saw_gen(reader *r, uint64_t g, const char *how)
{
    if (g == 0)
        return; /* cleared: no batch keys */
    CHECK_MSG(g >= r->last_gen, "reader %d: %s shows generation %" PRIu64 " after %" PRIu64,
              r->id, how, g, r->last_gen);
    r->distinct += g > r->last_gen;
    r->last_gen = g;
}

/* A view taken earlier, just before it goes: it still shows its generation. */
static void recheck(const held_view *h)
{
    uint64_t g = view_gen_by_get(h->view);
    CHECK_MSG(g == h->gen, "a held view changed from generation %" PRIu64 " to %" PRIu64, h->gen,
              g);
}

static bool hand_over(shared *sh, held_view h)
{
    pthread_mutex_lock(&sh->qmu);
    bool ok = sh->qlen < QUEUE;
    if (ok)
        sh->queue[sh->qlen++] = h;
    pthread_mutex_unlock(&sh->qmu);
    if (ok)
        atomic_fetch_add_explicit(&sh->handed, 1, memory_order_relaxed);
    return ok;
}

static void reader_step(reader *r)
{
    gomap_snap_t *m = r->sh->m;
    unsigned op = (unsigned)test_rand_below(&r->rng, 100);
    if (op < 70) {
        uint64_t k = test_rand_below(&r->rng, K + (uint64_t)MAX_WRITERS * OWN), v;
        if (gomap_snap_get(m, &k, &v)) {
            check_value(k, v, "get");
            if (k < K)
                saw_gen(r, v / KMAX, "a get");
        }
    } else if (op < 95) {
        held_view *h = &r->held[test_rand_below(&r->rng, HELD)];
        if (h->view) {
            recheck(h);
            if (test_rand_below(&r->rng, 2) == 0 || !hand_over(r->sh, *h))
                gomap_snap_release(h->view);
            h->view = NULL;
        }
        h->view = gomap_snap_acquire(m);
        h->gen = view_gen_by_get(h->view);
        saw_gen(r, h->gen, "a view");
        if (test_rand_below(&r->rng, 4) == 0)
            CHECK_EQ(view_gen_by_range(h->view), h->gen);
    } else {
        size_t n = gomap_snap_len(m);
        CHECK_MSG(n <= K + (size_t)MAX_WRITERS * OWN, "len %zu", n);
    }
    r->ops++;
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    pthread_barrier_wait(&r->sh->start);
    while (atomic_load_explicit(&r->sh->writers_left, memory_order_acquire) > 0 ||
           r->ops < 1000 / WORK_DIV)
        reader_step(r);
    for (int i = 0; i < HELD; i++) {
        if (r->held[i].view) {
            recheck(&r->held[i]);
            gomap_snap_release(r->held[i].view);
        }
    }
    return NULL;
}

/* Releases views handed over by readers, until the readers are done and the
 * queue is empty. */
static void *releaser_main(void *arg)
{
    shared *sh = arg;
    struct timespec pause = {0, 100 * 1000};
    for (;;) {
        held_view batch[QUEUE];
        pthread_mutex_lock(&sh->qmu);
        size_t n = sh->qlen;
        memcpy(batch, sh->queue, n * sizeof batch[0]);
        sh->qlen = 0;
        pthread_mutex_unlock(&sh->qmu);
        for (size_t i = 0; i < n; i++) {
            recheck(&batch[i]);
            gomap_snap_release(batch[i].view);
        }
        atomic_fetch_add_explicit(&sh->released_by_other, n, memory_order_relaxed);
        if (n == 0) {
            if (atomic_load_explicit(&sh->writers_left, memory_order_acquire) < 0)
                return NULL; /* readers joined, queue drained */
            nanosleep(&pause, NULL);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* A run                                                                     */
/* ------------------------------------------------------------------------ */

static void wait_reclaimed(gomap_snap_t *m)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    gomap_snap_stats_t s;
    for (int i = 0; i < 2000; i++) {
        CHECK_EQ(gomap_snap_stats(m, &s), 0);
        if (s.retired_versions == 0)
            break;
        nanosleep(&ts, NULL);
    }
    CHECK_MSG(s.retired_versions == 0 && s.retired_bytes == 0,
              "after 10 s, %zu replaced versions (%zu bytes) are still not freed",
              s.retired_versions, s.retired_bytes);
    CHECK(s.reclaimed_bytes > 0 && s.views == 0);
}

static void run(const config *cfg, int variant, uint64_t seed)
{
    printf("   %d writers x %zu writes, %d readers%s [%s hash]", cfg->writers, cfg->writes,
           cfg->readers, cfg->with_clear ? ", with clear" : "", hash_variant_name(variant));
    fflush(stdout);
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, variant);
    o.val_size = sizeof(uint64_t);
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.cfg = cfg;
    sh.seed = seed;
    CHECK_EQ(gomap_snap_new(&sh.m, &o), 0);
    atomic_init(&sh.gen, 0);
    atomic_init(&sh.writers_left, cfg->writers);
    atomic_init(&sh.handed, 0);
    atomic_init(&sh.released_by_other, 0);
    pthread_mutex_init(&sh.qmu, NULL);
    CHECK_EQ(pthread_barrier_init(&sh.start, NULL, (unsigned)(cfg->writers + cfg->readers)), 0);

    writer ws[MAX_WRITERS];
    reader rs[MAX_READERS];
    pthread_t wt[MAX_WRITERS], rt[MAX_READERS], releaser;
    CHECK_EQ(pthread_create(&releaser, NULL, releaser_main, &sh), 0);
    for (int i = 0; i < cfg->writers; i++) {
        ws[i] = (writer){.sh = &sh, .id = i,
                         .rng = seed ^ (0x100u + (unsigned)i) * 0x9E3779B97F4A7C15ull};
        CHECK_EQ(pthread_create(&wt[i], NULL, writer_main, &ws[i]), 0);
    }
    for (int i = 0; i < cfg->readers; i++) {
        rs[i] = (reader){.sh = &sh, .id = i,
                         .rng = seed ^ (0x200u + (unsigned)i) * 0xD1B54A32D192ED03ull};
        CHECK_EQ(pthread_create(&rt[i], NULL, reader_main, &rs[i]), 0);
    }
    size_t batches = 0, ops = 0;
    uint64_t rises = 0;
    for (int i = 0; i < cfg->writers; i++) {
        CHECK_EQ(pthread_join(wt[i], NULL), 0);
        batches += ws[i].batches;
    }
    for (int i = 0; i < cfg->readers; i++) {
        CHECK_EQ(pthread_join(rt[i], NULL), 0);
        ops += rs[i].ops;
        rises += rs[i].distinct;
    }
    atomic_store_explicit(&sh.writers_left, -1, memory_order_release); /* releaser: finish */
    CHECK_EQ(pthread_join(releaser, NULL), 0);
    CHECK_EQ(atomic_load(&sh.handed), atomic_load(&sh.released_by_other));

    /* Final state: the owned keys as their writers left them, one whole
     * batch (or none after a final clear). */
    gomap_snap_t *m = sh.m;
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    uint64_t g = view_gen_by_range(view);
    CHECK(g == view_gen_by_get(view) && g <= atomic_load(&sh.gen));
    gomap_snap_release(view);
    for (int i = 0; i < cfg->writers; i++) {
        for (int j = 0; j < OWN; j++) {
            uint64_t k = own_key(i, j), v;
            bool found = gomap_snap_get(m, &k, &v);
            CHECK((found == ws[i].present[j] || (cfg->with_clear && !found)) &&
                  (!found || v == ws[i].val[j]));
        }
    }
    gomap_snap_stats_t s;
    CHECK_EQ(gomap_snap_stats(m, &s), 0);
    CHECK(s.versions >= batches && s.views == 0);
    char why[256] = "";
    CHECK_MSG(gomap_snap_validate(m, why, sizeof why) == 0, "validate: %s", why);
    wait_reclaimed(m);
    printf(": %zu batches, %" PRIu64 " versions, %zu reader ops, %zu views released by "
           "another thread, %" PRIu64 " generation changes seen\n", batches, s.versions, ops,
           atomic_load(&sh.released_by_other), rises);
    /* The run tested something: readers saw the map move. */
    CHECK(rises > 0);
    pthread_barrier_destroy(&sh.start);
    pthread_mutex_destroy(&sh.qmu);
    gomap_snap_free(m);
}

static void test_stress(void)
{
    uint64_t seed = test_seed();
    const size_t writes = 6000 / WORK_DIV;
    const config cfgs[] = {
        {2, 4, writes, false},
        {1, 6, writes, false},
        {4, 2, writes / 2, true},
    };
    for (int variant = HV_BUILTIN; variant < HV_COUNT; variant++)
        for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
            run(&cfgs[i], variant, seed);
}

int main(void)
{
    RUN(test_stress);
    printf("ok\n");
    return 0;
}

/*
 * test_batch_reads_stress.c — batch reads (gomap_shard_get_many,
 * gomap_sync_load_many) racing writers; under TSan and ASan in those builds.
 *
 * Two writers set, overwrite and delete keys of a shared key space and keep
 * adding new keys (so the core maps inside the shards grow, and the sync
 * map's dirty map is rebuilt and promoted while the readers read); on the
 * sharded map a third thread resizes it back and forth (1 <-> 8 shards),
 * moving every entry while the readers read. Every value a writer stores
 * encodes its key: {id << 20 | version, ~that}. Two readers read random
 * batches (1 to 300 keys, so both the pipeline's window and a read-side
 * chunk are crossed), with and without found_out, and check every answer:
 * a found key's value belongs to it and is not torn, an absent key's value
 * is all zeros, the count is the number of flags set, and a key that no
 * writer ever deletes (the first PINNED ids, set before the threads start)
 * is always found.
 *
 * Work is bounded by operation counts (divided by WORK_DIV under TSan),
 * never by time. Seed: test_seed() (the operation streams; the interleaving
 * is the scheduler's).
 */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <gomap/shardmap.h>
#include <gomap/syncmap.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum {
    PINNED = 64,           /* ids below: set first, never deleted */
    IDS = 1 << 14,         /* the key space */
    MAX_BATCH = 300,
    WRITER_OPS = 60000,
    READER_BATCHES = 3000,
    RESIZES = 40,
};

typedef struct {
    uint64_t w[2];
} val16;

typedef struct {
    bool sync;
    void *m;
    uint64_t seed;
    atomic_int writers_left;
} shared_ctx;

typedef struct {
    shared_ctx *sh;
    unsigned index;
} thread_arg;

static uint64_t key_of(uint64_t id) { return id * 0x9E3779B97F4A7C15ull + 1; }

static val16 val_of(uint64_t id, uint64_t version)
{
    uint64_t w = id << 20 | (version & 0xFFFFF);
    return (val16){{w, ~w}};
}

static void store(shared_ctx *sh, uint64_t id, uint64_t version)
{
    uint64_t k = key_of(id);
    val16 v = val_of(id, version);
    CHECK_EQ(sh->sync ? gomap_sync_store(sh->m, &k, &v) : gomap_shard_set(sh->m, &k, &v), 0);
}

static void *writer(void *argp)
{
    thread_arg *a = argp;
    shared_ctx *sh = a->sh;
    uint64_t rng = sh->seed ^ (0x1000 + a->index);
    uint64_t next_new = PINNED + a->index; /* new ids: this writer's residue */
    for (uint64_t op = 0; op < WRITER_OPS / WORK_DIV; op++) {
        uint64_t r = test_rand_below(&rng, 10);
        uint64_t id = PINNED + test_rand_below(&rng, IDS - PINNED);
        if (r < 3 && next_new < IDS) {
            store(sh, next_new, op);
            next_new += 2;
        } else if (r < 7) {
            store(sh, test_rand_below(&rng, 10) < 3 ? test_rand_below(&rng, PINNED) : id, op);
        } else {
            uint64_t k = key_of(id);
            if (sh->sync)
                gomap_sync_delete(sh->m, &k);
            else
                (void)gomap_shard_delete(sh->m, &k);
        }
    }
    atomic_fetch_sub(&sh->writers_left, 1);
    return NULL;
}

static void *resizer(void *argp)
{
    shared_ctx *sh = argp;
    for (unsigned i = 0; i < RESIZES / WORK_DIV && atomic_load(&sh->writers_left) > 0; i++)
        CHECK_EQ(gomap_shard_resize(sh->m, i % 2 ? 1 : 8), 0);
    return NULL;
}

static void check_answers(const uint64_t *ids, size_t n, const val16 *vals, const bool *found,
                          size_t count)
{
    size_t flags = 0;
    for (size_t i = 0; i < n; i++) {
        if (found && found[i]) {
            flags++;
            CHECK_MSG(vals[i].w[1] == ~vals[i].w[0] && vals[i].w[0] >> 20 == ids[i],
                      "id %llu read {%llx, %llx}", (unsigned long long)ids[i],
                      (unsigned long long)vals[i].w[0], (unsigned long long)vals[i].w[1]);
        } else if (found) {
            CHECK_MSG(vals[i].w[0] == 0 && vals[i].w[1] == 0, "absent id %llu not zeroed",
                      (unsigned long long)ids[i]);
        }
        if (ids[i] < PINNED && found)
            CHECK_MSG(found[i], "pinned id %llu not found", (unsigned long long)ids[i]);
    }
    if (found)
        CHECK_EQ(flags, count);
}

static void *reader(void *argp)
{
    thread_arg *a = argp;
    shared_ctx *sh = a->sh;
    uint64_t rng = sh->seed ^ (0x2000 + a->index);
    static _Thread_local uint64_t ids[MAX_BATCH], keys[MAX_BATCH];
    static _Thread_local val16 vals[MAX_BATCH];
    static _Thread_local bool found[MAX_BATCH];
    for (unsigned b = 0; b < READER_BATCHES / WORK_DIV; b++) {
        size_t n = 1 + (size_t)test_rand_below(&rng, MAX_BATCH);
        for (size_t i = 0; i < n; i++) {
            ids[i] = test_rand_below(&rng, 8) == 0 ? test_rand_below(&rng, PINNED)
                                                   : test_rand_below(&rng, IDS);
            keys[i] = key_of(ids[i]);
        }
        bool *f = b % 4 == 3 ? NULL : found;
        size_t count = sh->sync ? gomap_sync_load_many(sh->m, keys, n, vals, f)
                                : gomap_shard_get_many(sh->m, keys, n, vals, f);
        CHECK(count <= n);
        check_answers(ids, n, vals, f, count);
    }
    return NULL;
}

static void run(bool sync, uint64_t seed)
{
    printf("  %s\n", sync ? "sync" : "shard");
    shared_ctx sh = {.sync = sync, .seed = seed};
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(val16)};
    if (sync) {
        CHECK_EQ(gomap_sync_new((gomap_sync_t **)&sh.m, &o), 0);
    } else {
        gomap_shard_options so = {.map = o, .shards = 4};
        CHECK_EQ(gomap_shard_new((gomap_shard_t **)&sh.m, &so), 0);
    }
    for (uint64_t id = 0; id < PINNED; id++)
        store(&sh, id, 0);
    atomic_init(&sh.writers_left, 2);
    pthread_t th[5];
    thread_arg args[4];
    int nth = 0;
    for (unsigned i = 0; i < 2; i++) {
        args[i] = (thread_arg){&sh, i};
        CHECK_EQ(pthread_create(&th[nth++], NULL, writer, &args[i]), 0);
    }
    for (unsigned i = 2; i < 4; i++) {
        args[i] = (thread_arg){&sh, i};
        CHECK_EQ(pthread_create(&th[nth++], NULL, reader, &args[i]), 0);
    }
    if (!sync)
        CHECK_EQ(pthread_create(&th[nth++], NULL, resizer, &sh), 0);
    for (int i = 0; i < nth; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    char why[256];
    if (sync) {
        CHECK_MSG(gomap_sync_validate(sh.m, why, sizeof why) == 0, "%s", why);
        gomap_sync_free(sh.m);
    } else {
        CHECK_MSG(gomap_shard_validate(sh.m, why, sizeof why) == 0, "%s", why);
        gomap_shard_free(sh.m);
    }
}

int main(void)
{
    uint64_t seed = test_seed();
    run(false, seed);
    run(true, seed);
    printf("ok\n");
    return 0;
}

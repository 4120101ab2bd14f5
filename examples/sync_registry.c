/*
 * sync_registry.c — the sync map's intended use: keys written once, read
 * from many threads.
 *
 * A registry of "sessions" (u64 id -> struct session) is filled by one
 * thread while four readers look sessions up without any lock. After the
 * writers finish, every reader must have found each session it looked up
 * with its full value (never a torn one), and the map holds them all.
 *
 *   ./build/release/examples/sync_registry
 */
#define _POSIX_C_SOURCE 200809L

#include <gomap.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { SESSIONS = 100000, READERS = 4 };

struct session {
    uint64_t id;
    uint64_t user;
    uint64_t check;  /* id ^ user: a torn value would not match */
};

static gomap_sync_t *registry;
static _Atomic uint64_t published;   /* sessions 0..published-1 are stored */

static void *writer(void *arg)
{
    (void)arg;
    for (uint64_t id = 0; id < SESSIONS; id++) {
        struct session s = {id, id * 7 + 1, id ^ (id * 7 + 1)};
        if (gomap_sync_store(registry, &id, &s) != 0)
            abort();
        published = id + 1;
    }
    return NULL;
}

static void *reader(void *arg)
{
    uint64_t *found = arg, seen = 0;
    while (seen < SESSIONS) {
        uint64_t upto = published;
        for (uint64_t id = seen; id < upto; id++) {
            struct session s;
            if (!gomap_sync_load(registry, &id, &s) || s.id != id || s.check != (s.id ^ s.user))
                abort();  /* a stored session must be found, whole */
            ++*found;
        }
        seen = upto;
    }
    return NULL;
}

int main(void)
{
    gomap_options opt = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(struct session)};
    if (gomap_sync_new(&registry, &opt) != 0)
        return 1;
    pthread_t w, r[READERS];
    uint64_t found[READERS] = {0};
    pthread_create(&w, NULL, writer, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_create(&r[i], NULL, reader, &found[i]);
    pthread_join(w, NULL);
    for (int i = 0; i < READERS; i++)
        pthread_join(r[i], NULL);

    gomap_sync_stats_t st;
    gomap_sync_stats(registry, &st);
    printf("sessions %zu, lookups per reader %llu, promotions %llu, dirty copies %llu\n",
           gomap_sync_len(registry), (unsigned long long)found[0],
           (unsigned long long)st.promotions, (unsigned long long)st.dirty_copies);
    int ok = gomap_sync_len(registry) == SESSIONS;
    gomap_sync_free(registry);
    return ok ? 0 : 1;
}

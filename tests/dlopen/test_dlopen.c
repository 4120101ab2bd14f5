/*
 * test_dlopen.c — the shared library loads with dlopen (a plugin that uses
 * gomap): its thread-local variables, and those of the libraries it needs,
 * must fit the static TLS a library loaded late may take, so they use the
 * initial-exec model only where the space is small and known. Loads the
 * library given as the first argument (RTLD_NOW: every symbol resolved at
 * once), then uses a core map, a sync map and a sharded map through
 * function pointers, from the main thread and from a thread started after
 * the load (whose thread-local blocks are made after it). Links nothing of
 * gomap itself.
 */
#include <gomap.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEED(cond, ...)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "test_dlopen: " __VA_ARGS__);                      \
            fputc('\n', stderr);                                               \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static void *lib;

static void *sym(const char *name)
{
    void *p = dlsym(lib, name);
    NEED(p != NULL, "%s not found: %s", name, dlerror());
    return p;
}

/* Sets keys 0-99 to k * 3 in each kind of map and reads them back. */
static void *use_maps(void *arg)
{
    (void)arg;
    int (*map_new)(gomap_t **, const gomap_options *) = sym("gomap_new");
    int (*map_set)(gomap_t *, const void *, const void *) = sym("gomap_set");
    void *(*map_get)(const gomap_t *, const void *) = sym("gomap_get");
    void (*map_free)(gomap_t *) = sym("gomap_free");
    int (*sync_new)(gomap_sync_t **, const gomap_options *) = sym("gomap_sync_new");
    int (*sync_store)(gomap_sync_t *, const void *, const void *) = sym("gomap_sync_store");
    bool (*sync_load)(gomap_sync_t *, const void *, void *) = sym("gomap_sync_load");
    void (*sync_free)(gomap_sync_t *) = sym("gomap_sync_free");
    int (*shard_new)(gomap_shard_t **, const gomap_shard_options *) = sym("gomap_shard_new");
    int (*shard_set)(gomap_shard_t *, const void *, const void *) = sym("gomap_shard_set");
    bool (*shard_get)(gomap_shard_t *, const void *, void *) = sym("gomap_shard_get");
    void (*shard_free)(gomap_shard_t *) = sym("gomap_shard_free");

    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t)};
    gomap_shard_options so = {.map = o};
    gomap_t *m;
    gomap_sync_t *y;
    gomap_shard_t *s;
    NEED(map_new(&m, &o) == 0 && sync_new(&y, &o) == 0 && shard_new(&s, &so) == 0,
         "a map could not be made");
    for (uint64_t k = 0; k < 100; k++) {
        uint64_t v = k * 3;
        NEED(map_set(m, &k, &v) == 0 && sync_store(y, &k, &v) == 0 && shard_set(s, &k, &v) == 0,
             "set %llu failed", (unsigned long long)k);
    }
    for (uint64_t k = 0; k < 101; k++) {
        uint64_t a = 7, b = 7;
        const uint64_t *c = map_get(m, &k);
        bool in_sync = sync_load(y, &k, &a), in_shard = shard_get(s, &k, &b);
        if (k < 100)
            NEED(c && *c == k * 3 && in_sync && a == k * 3 && in_shard && b == k * 3,
                 "key %llu read back wrong", (unsigned long long)k);
        else
            NEED(!c && !in_sync && a == 0 && !in_shard && b == 0, "absent key found");
    }
    map_free(m);
    sync_free(y);
    shard_free(s);
    return NULL;
}

int main(int argc, char **argv)
{
    NEED(argc == 2, "usage: test_dlopen LIBGOMAP.so");
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    NEED(lib != NULL, "dlopen %s: %s", argv[1], dlerror());
    use_maps(NULL);
    pthread_t t;
    NEED(pthread_create(&t, NULL, use_maps, NULL) == 0, "pthread_create failed");
    NEED(pthread_join(t, NULL) == 0, "pthread_join failed");
    printf("ok\n");
    return 0;
}

/*
 * cache_load.c — gomap_cache_get_or_load: one loader call per missing key.
 *
 * A miss looks in its shard's table of loads in flight (a core map from key
 * to struct cache_load, made on the first miss). If a load of the key is
 * running, the thread waits on the load's condition variable (with the
 * shard's mutex, which it releases while it waits) and takes the load's
 * result. Otherwise it enters a load, releases the mutex, calls the loader
 * with no lock held, takes the mutex again, stores the value (or not, on
 * failure), publishes the result to the waiters and wakes them. The last
 * of the loader and its waiters to leave frees the load. Everything about
 * a load is read and written under its shard's mutex.
 *
 * A loader that asks for its own key would wait for itself forever; the
 * load records its loading thread, so that is reported instead.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "base/misuse.h"
#include "cache/cache_internal.h"

#define MSG_LOADER_SELF_WAIT "gomap cache loader waits for its own key"

struct cache_load {
    pthread_cond_t done_cv;
    const struct gomap__thread *loader;
    unsigned refs;   /* the loader and its waiters */
    bool done;
    int result;
    size_t size;     /* bytes of this block */
    _Alignas(16) char val[];
};

static struct cache_load *load_new(gomap_cache_t *c)
{
    size_t size = sizeof(struct cache_load) + c->lay.val_size;
    struct cache_load *l = gomap__alloc(c->alloc, size);
    if (!l)
        return NULL;
    memset(l, 0, size);
    if (pthread_cond_init(&l->done_cv, NULL)) {
        gomap__free(c->alloc, l, size);
        return NULL;
    }
    l->size = size;
    l->refs = 1;
    l->loader = gomap__self();
    return l;
}

static void load_put(gomap_cache_t *c, struct cache_load *l)
{
    if (--l->refs)
        return;
    pthread_cond_destroy(&l->done_cv);
    gomap__free(c->alloc, l, l->size);
}

static int loads_map(gomap_cache_t *c, struct cache_shard *s)
{
    if (s->loads)
        return 0;
    gomap_options o = c->map_opt;
    o.val_size = sizeof(void *);
    o.hint = 0;
    return gomap__new_seeded(&s->loads, &o, c->seed) ? -ENOMEM : 0;
}

static struct cache_load *load_find(struct cache_shard *s, const void *key, uint64_t hash)
{
    slot_ref r = layer_find(s->loads, layer_key_kind(s->loads), key, hash);
    if (!r.b)
        return NULL;
    struct cache_load *l;
    memcpy((void *)&l, layer_value(s->loads, r), sizeof(void *));
    return l;
}

/* Waits (the shard held) for another thread's load of the key. */
static int load_wait(gomap_cache_t *c, struct cache_shard *s, struct cache_load *l,
                     void *val_out)
{
    if (l->loader == gomap__self()) {
        cache_unlock(s);
        gomap__report(NULL, MSG_LOADER_SELF_WAIT, 0, GOMAP_CALLER, NULL, NULL);
    }
    l->refs++;
    cache_count(&s->n.load_waits, 1);
    while (!l->done)
        pthread_cond_wait(&l->done_cv, &s->mu);
    int rc = l->result;
    if (rc == 0 && val_out && c->lay.val_size)
        memcpy(val_out, l->val, c->lay.val_size);
    load_put(c, l);
    return rc;
}

/* Runs the loader (entered with the shard held, returns with it held). */
static int load_run(gomap_cache_t *c, struct cache_shard *s, struct cache_load *l,
                    const void *key, uint64_t hash, gomap_cache_loader load, void *ctx,
                    struct cache_notify *nl)
{
    cache_unlock(s);
    uint64_t ttl = 0, t0 = cache_mono_ns();
    int rc = load(key, l->val, &ttl, ctx);
    uint64_t spent = cache_mono_ns() - t0, now = cache_now(c);
    cache_lock(s);
    gomap__remove_hashed(s->loads, key, hash);
    cache_count(&s->n.load_ns, spent);
    if (rc) {
        cache_count(&s->n.load_failures, 1);
    } else {
        cache_count(&s->n.loads, 1);
        uint64_t deadline = gomap__cache_deadline(c, ttl, now);
        if (deadline) {
            rc = gomap__cache_store(c, s, key, hash, l->val, deadline, 1, now, nl);
        } else {
            rc = -EINVAL;
            fetch_add_relaxed(&c->invalid, 1);
        }
    }
    l->result = rc;
    l->done = true;
    pthread_cond_broadcast(&l->done_cv);
    return rc;
}

int gomap_cache_get_or_load(gomap_cache_t *c, const void *key, void *val_out,
                            gomap_cache_loader load, void *ctx)
{
    size_t vs = c ? c->lay.val_size : 0;
    int rc = -EINVAL;
    if (c && load && gomap__key_ok(c->lay.key_kind, key)) {
        struct cache_op op;
        gomap__cache_op_begin(c, key, &op);
        struct cache_shard *s = op.s;
        if (op.i != CACHE_NONE && entry_live(entry_at(c, s, op.i), op.now)) {
            if (val_out && vs)
                memcpy(val_out, entry_val(c, entry_at(c, s, op.i)), vs);
            gomap__policy_hit(c, s, op.i, op.hash);
            cache_count(&s->n.hits, 1);
            cache_unlock(s);
            return 1;
        }
        cache_count(&s->n.misses, 1);
        gomap__policy_miss(c, s, op.hash);
        rc = loads_map(c, s);
        struct cache_load *l = rc ? NULL : load_find(s, key, op.hash);
        if (l) {
            rc = load_wait(c, s, l, val_out);
        } else if (rc == 0) {
            l = load_new(c);
            if (!l || gomap__upsert_hashed(s->loads, key, op.hash, &l, true, NULL) < 0) {
                if (l)
                    load_put(c, l);
                rc = -ENOMEM;
            } else {
                rc = load_run(c, s, l, key, op.hash, load, ctx, &op.nl);
                if (rc == 0 && val_out && vs)
                    memcpy(val_out, l->val, vs);
                load_put(c, l);
            }
        }
        gomap__cache_unlock_notify(c, &op.nl);
        if (rc == 0) {
            gomap__maint_kick(c);
            return 0;
        }
    }
    if (val_out && vs)
        memset(val_out, 0, vs);
    return rc;
}

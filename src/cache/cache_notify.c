/*
 * cache_notify.c — removing an entry, and on_remove with no lock held.
 *
 * An entry is removed under its shard's lock. Without on_remove its index
 * is freed at once. With on_remove it is detached instead: out of the map,
 * the wheel and the policy, its cost given back, but its memory kept, on
 * the remover's notify list (linked through plink.newer). When the remover
 * is done with the shard it calls gomap__cache_unlock_notify, which releases
 * the lock, calls on_remove for each detached entry — reading it through
 * the chunk table as it was while the lock was held, whose chunks never
 * move or go away while the cache lives — and then frees the indices under
 * the lock. Nothing else touches a detached entry, so the callback may call
 * anything, this cache included.
 */
#include "base/assert.h"
#include "cache/cache_internal.h"

void gomap__cache_entry_remove(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t hash,
                         gomap_cache_cause cause, struct cache_notify *nl)
{
    struct cache_entry *e = entry_at(c, s, i);
    bool removed = gomap__remove_hashed(s->map, entry_key(c, e), hash);
    GOMAP_ASSERT_ALWAYS(removed);
    (void)removed;
    gomap__wheel_cancel(c, s, i);
    gomap__policy_unlink(c, s, i);
    s->cost -= e->cost;
    cache_count(&s->n.removed[cause], 1);
    gomap__cache_entry_detach(c, s, i, cause, nl);
}

void gomap__cache_entry_detach(gomap_cache_t *c, struct cache_shard *s, uint32_t i,
                         gomap_cache_cause cause, struct cache_notify *nl)
{
    if (!c->on_remove) {
        gomap__cache_entry_free(c, s, i);
        return;
    }
    struct cache_entry *e = entry_at(c, s, i);
    e->queue = Q_DETACHED;
    e->cause = (uint8_t)cause;
    e->plink.newer = CACHE_NONE;
    if (nl->tail == CACHE_NONE)
        nl->head = i;
    else
        entry_at(c, s, nl->tail)->plink.newer = i;
    nl->tail = i;
    nl->n++;
}

void gomap__cache_entry_remove_unhashed(gomap_cache_t *c, struct cache_shard *s, uint32_t i,
                                  gomap_cache_cause cause, struct cache_notify *nl)
{
    uint64_t hash = cache_hash(c, entry_key(c, entry_at(c, s, i)));
    gomap__cache_entry_remove(c, s, i, hash, cause, nl);
}

void gomap__cache_unlock_notify(gomap_cache_t *c, struct cache_notify *nl)
{
    struct cache_shard *s = nl->s;
    gomap__cache_publish(s);
    if (nl->n == 0) {
        cache_unlock(s);
        return;
    }
    char **table = entries_table(s);
    cache_unlock(s);
    for (uint32_t i = nl->head; i != CACHE_NONE;) {
        struct cache_entry *e = entry_in(c, table, i);
        c->on_remove(entry_key(c, e), entry_val(c, e), (gomap_cache_cause)e->cause,
                     c->remove_ctx);
        i = e->plink.newer;
    }
    cache_lock(s);
    for (uint32_t i = nl->head; i != CACHE_NONE;) {
        uint32_t next = entry_at(c, s, i)->plink.newer;
        gomap__cache_entry_free(c, s, i);
        i = next;
    }
    gomap__cache_publish(s);
    cache_unlock(s);
    notify_init(nl, s);
}

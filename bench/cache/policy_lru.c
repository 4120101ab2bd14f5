/*
 * policy_lru.c — least recently used: a hit moves the key to the front, a
 * miss inserts at the front and evicts the back.
 */
#include <stdlib.h>

#include "cache/dlist.h"
#include "cache/policy.h"

struct policy {
    qset s;
    size_t cap;
};

static policy *lru_create(const policy_params *p)
{
    policy *c = calloc(1, sizeof *c);
    if (!c || qset_init(&c->s, p->n_keys)) {
        free(c);
        return NULL;
    }
    c->cap = p->capacity;
    return c;
}

static bool lru_access(policy *c, uint32_t k)
{
    if (qset_where(&c->s, k)) {
        dlist_move_front(&c->s.q[0], k);
        return true;
    }
    if (c->s.q[0].len >= c->cap)
        qset_pop_back(&c->s, 0);
    qset_push(&c->s, 0, k);
    return false;
}

static size_t lru_len(const policy *c) { return qset_len(&c->s); }

static void lru_destroy(policy *c)
{
    qset_free(&c->s);
    free(c);
}

const policy_kind policy_lru = {"LRU", "least recently used", lru_create, lru_access, lru_len,
                                lru_destroy};

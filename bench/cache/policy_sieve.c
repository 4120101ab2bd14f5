/*
 * policy_sieve.c — SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi: "SIEVE is
 * Simpler than LRU", NSDI 2024). One FIFO queue and a visited bit per key.
 * A hit only sets the bit (nothing moves). A miss inserts at the front;
 * to evict, the hand walks from where it stopped last (the back at first)
 * towards the front, clearing visited bits, and evicts the first key whose
 * bit is clear; past the front it wraps to the back. The hand then rests on
 * the evicted key's newer neighbour.
 */
#include <stdlib.h>

#include "cache/dlist.h"
#include "cache/policy.h"

struct policy {
    qset s;
    uint8_t *visited;
    uint32_t hand; /* DLIST_NONE: start at the back */
    size_t cap;
};

static policy *sieve_create(const policy_params *p)
{
    policy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->visited = sim_calloc(p->n_keys, 1);
    if (!c->visited || qset_init(&c->s, p->n_keys)) {
        free(c->visited);
        free(c);
        return NULL;
    }
    c->cap = p->capacity;
    c->hand = DLIST_NONE;
    return c;
}

static void sieve_evict(policy *c)
{
    dlist *q = &c->s.q[0];
    uint32_t o = c->hand != DLIST_NONE ? c->hand : dlist_back(q);
    while (c->visited[o]) {
        c->visited[o] = 0;
        o = dlist_newer(q, o);
        if (o == DLIST_NONE)
            o = dlist_back(q);
    }
    c->hand = dlist_newer(q, o);
    qset_unlink(&c->s, o);
}

static bool sieve_access(policy *c, uint32_t k)
{
    if (qset_where(&c->s, k)) {
        c->visited[k] = 1;
        return true;
    }
    if (c->s.q[0].len >= c->cap)
        sieve_evict(c);
    qset_push(&c->s, 0, k);
    c->visited[k] = 0;
    return false;
}

static size_t sieve_len(const policy *c) { return qset_len(&c->s); }

static void sieve_destroy(policy *c)
{
    qset_free(&c->s);
    free(c->visited);
    free(c);
}

const policy_kind policy_sieve = {"SIEVE", "FIFO with a visited bit and a roving hand",
                                  sieve_create, sieve_access, sieve_len, sieve_destroy};

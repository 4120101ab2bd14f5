/*
 * policy_s3fifo.c — S3-FIFO (Yang, Zhang, Qiu, Yue, Rashmi: "FIFO queues
 * are all you need for cache eviction", SOSP 2023, Algorithm 1). Three FIFO
 * queues: small S (10 % of the capacity), main M (the rest) and a ghost G
 * of keys only (as many as M holds). A hit bumps a 2-bit frequency (at most
 * 3); nothing moves. A miss inserts into M if the key is in G, else into S.
 * Eviction takes from S while S holds at least its 10 %: S's oldest key
 * goes to M if it was hit at least twice in S (freq > 1) —
 * evicting from M first if M is full — and otherwise leaves, its key
 * entering G. From M, the oldest key is reinserted at the front with its
 * frequency decremented while it is nonzero (CLOCK-like), else evicted.
 *
 * The ghost is a FIFO of keys kept as insertion stamps: a key is in G while
 * fewer than |M| keys have entered G after it.
 */
#include <stdlib.h>

#include "cache/dlist.h"
#include "cache/policy.h"

enum { SMALL, MAIN };
enum { MOVE_THRESHOLD = 2 }; /* freq >= this moves S -> M: the paper's "freq > 1" */

struct policy {
    qset s;
    uint8_t *freq;
    uint64_t *ghost_stamp; /* 0: never in G; else ghost_clock when it entered */
    uint64_t ghost_clock;
    size_t cap, small_cap, main_cap;
};

static policy *s3_create(const policy_params *p)
{
    policy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->freq = sim_calloc(p->n_keys, 1);
    c->ghost_stamp = sim_calloc(p->n_keys, sizeof *c->ghost_stamp);
    if (!c->freq || !c->ghost_stamp || qset_init(&c->s, p->n_keys)) {
        free(c->freq);
        free(c->ghost_stamp);
        free(c);
        return NULL;
    }
    c->cap = p->capacity;
    c->small_cap = p->capacity / 10 ? p->capacity / 10 : 1;
    c->main_cap = p->capacity > c->small_cap ? p->capacity - c->small_cap : 1;
    return c;
}

static bool in_ghost(const policy *c, uint32_t k)
{
    uint64_t t = c->ghost_stamp[k];
    return t && c->ghost_clock - t < c->main_cap;
}

static void evict_main(policy *c)
{
    for (;;) {
        uint32_t t = dlist_back(&c->s.q[MAIN]);
        if (t == DLIST_NONE)
            return;
        if (c->freq[t] == 0) {
            qset_unlink(&c->s, t);
            return;
        }
        c->freq[t]--;
        dlist_move_front(&c->s.q[MAIN], t);
    }
}

static void evict_small(policy *c)
{
    uint32_t t;
    while ((t = dlist_back(&c->s.q[SMALL])) != DLIST_NONE) {
        if (c->freq[t] >= MOVE_THRESHOLD) {
            if (c->s.q[MAIN].len >= c->main_cap)
                evict_main(c);
            c->freq[t] = 0;
            qset_move(&c->s, MAIN, t);
        } else {
            qset_unlink(&c->s, t);
            c->ghost_stamp[t] = ++c->ghost_clock;
            return;
        }
    }
}

static bool s3_access(policy *c, uint32_t k)
{
    if (qset_where(&c->s, k)) {
        if (c->freq[k] < 3)
            c->freq[k]++;
        return true;
    }
    while (qset_len(&c->s) >= c->cap) {
        if (c->s.q[SMALL].len >= c->small_cap || c->s.q[MAIN].len == 0)
            evict_small(c);
        else
            evict_main(c);
    }
    c->freq[k] = 0;
    if (in_ghost(c, k)) {
        c->ghost_stamp[k] = 0;
        qset_push(&c->s, MAIN, k);
    } else {
        qset_push(&c->s, SMALL, k);
    }
    return false;
}

static size_t s3_len(const policy *c) { return qset_len(&c->s); }

static void s3_destroy(policy *c)
{
    qset_free(&c->s);
    free(c->freq);
    free(c->ghost_stamp);
    free(c);
}

const policy_kind policy_s3fifo = {"S3-FIFO", "small, main and ghost FIFO queues", s3_create,
                                   s3_access, s3_len, s3_destroy};

/*
 * dlist.h — the intrusive doubly linked list every policy of gomap-cachesim
 * keeps its queues in. Keys are dense ids (trace.h), so a node is an index:
 * a policy allocates one link per key plus one sentinel per list, and a key
 * sits in at most one list at a time. The front is the newest end (MRU,
 * FIFO head), the back the oldest (LRU, FIFO tail); `older` points towards
 * the back, `newer` towards the front.
 */
#ifndef GOMAP_CACHESIM_DLIST_H
#define GOMAP_CACHESIM_DLIST_H

#include <stddef.h>
#include <stdint.h>

#define DLIST_NONE UINT32_MAX

typedef struct {
    uint32_t newer, older;
} dlink;

typedef struct {
    dlink *l;       /* the policy's link array, shared by its lists */
    uint32_t head;  /* this list's sentinel, an index past the keys */
    size_t len;
} dlist;

static inline void dlist_init(dlist *d, dlink *links, uint32_t sentinel)
{
    d->l = links;
    d->head = sentinel;
    d->len = 0;
    links[sentinel].newer = links[sentinel].older = sentinel;
}

static inline void dlist_push_front(dlist *d, uint32_t x)
{
    dlink *l = d->l;
    uint32_t first = l[d->head].older;
    l[x].newer = d->head;
    l[x].older = first;
    l[first].newer = x;
    l[d->head].older = x;
    d->len++;
}

static inline void dlist_remove(dlist *d, uint32_t x)
{
    dlink *l = d->l;
    l[l[x].newer].older = l[x].older;
    l[l[x].older].newer = l[x].newer;
    d->len--;
}

static inline void dlist_move_front(dlist *d, uint32_t x)
{
    dlist_remove(d, x);
    dlist_push_front(d, x);
}

/* The oldest key, or DLIST_NONE when the list is empty. */
static inline uint32_t dlist_back(const dlist *d)
{
    uint32_t x = d->l[d->head].newer;
    return x == d->head ? DLIST_NONE : x;
}

/* The key one step towards the front from x, or DLIST_NONE past the front. */
static inline uint32_t dlist_newer(const dlist *d, uint32_t x)
{
    uint32_t y = d->l[x].newer;
    return y == d->head ? DLIST_NONE : y;
}

/* Removes and returns the oldest key; the list must not be empty. */
static inline uint32_t dlist_pop_back(dlist *d)
{
    uint32_t x = dlist_back(d);
    dlist_remove(d, x);
    return x;
}

/* A policy's queues and key table: up to QSET_LISTS lists over one link
 * array, and where[key] = 1 + the list the key is in, or 0 when it is not
 * cached. */
enum { QSET_LISTS = 3 };

typedef struct {
    dlink *links;
    uint8_t *where;
    dlist q[QSET_LISTS];
} qset;

int qset_init(qset *s, uint32_t n_keys); /* 0 or -ENOMEM */
void qset_free(qset *s);

static inline unsigned qset_where(const qset *s, uint32_t k) { return s->where[k]; }

static inline void qset_push(qset *s, unsigned list, uint32_t k)
{
    dlist_push_front(&s->q[list], k);
    s->where[k] = (uint8_t)(list + 1);
}

static inline void qset_unlink(qset *s, uint32_t k)
{
    dlist_remove(&s->q[s->where[k] - 1], k);
    s->where[k] = 0;
}

/* Moves k to the front of `list` (from wherever it is). */
static inline void qset_move(qset *s, unsigned list, uint32_t k)
{
    qset_unlink(s, k);
    qset_push(s, list, k);
}

static inline uint32_t qset_pop_back(qset *s, unsigned list)
{
    uint32_t k = dlist_back(&s->q[list]);
    if (k != DLIST_NONE)
        qset_unlink(s, k);
    return k;
}

static inline size_t qset_len(const qset *s)
{
    size_t n = 0;
    for (unsigned i = 0; i < QSET_LISTS; i++)
        n += s->q[i].len;
    return n;
}

#endif /* GOMAP_CACHESIM_DLIST_H */

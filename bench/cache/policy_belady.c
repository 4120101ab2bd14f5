/*
 * policy_belady.c — Bélády's optimum (L. A. Belady, "A study of replacement
 * algorithms for a virtual-storage computer", IBM Systems Journal 1966):
 * with the whole future known, evict the key whose next use is farthest
 * away. Like the admission policies it may also decline the missed key,
 * when its own next use is the farthest (the optimum of a cache that may
 * bypass, as the simulators of Caffeine and libCacheSim compute it). This
 * is the upper bound every other column is measured against.
 *
 * Before the run, next[i] = the position of the next access to trace[i]'s
 * key (NEVER if none). The cached keys sit in a max-heap by next use with
 * lazy deletion: a hit pushes the key's new next use, and a popped entry
 * counts only if it is still that key's current one. O(n log n) in all.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cache/policy.h"

#define NEVER UINT64_MAX

typedef struct {
    uint64_t next;
    uint32_t key;
} heap_entry;

struct policy {
    const uint32_t *trace;
    size_t trace_len, pos, cap, len;
    uint64_t *next;     /* per access: the next access to its key */
    uint64_t *key_next; /* per key: its current next use; 0 when not cached */
    heap_entry *heap;
    size_t heap_len;
};

static void heap_push(policy *c, uint64_t next, uint32_t key)
{
    size_t i = c->heap_len++;
    while (i && c->heap[(i - 1) / 2].next < next) {
        c->heap[i] = c->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->heap[i] = (heap_entry){next, key};
}

static void heap_pop(policy *c)
{
    heap_entry last = c->heap[--c->heap_len];
    size_t i = 0, n = c->heap_len;
    for (;;) {
        size_t j = 2 * i + 1;
        if (j >= n)
            break;
        if (j + 1 < n && c->heap[j + 1].next > c->heap[j].next)
            j++;
        if (c->heap[j].next <= last.next)
            break;
        c->heap[i] = c->heap[j];
        i = j;
    }
    if (n)
        c->heap[i] = last;
}

/* The cached key used farthest in the future: the heap's top once stale
 * entries are dropped. */
static heap_entry *farthest(policy *c)
{
    while (c->heap_len && c->key_next[c->heap[0].key] != c->heap[0].next)
        heap_pop(c);
    return c->heap_len ? &c->heap[0] : NULL;
}

static policy *belady_create(const policy_params *p)
{
    policy *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    uint64_t *last = sim_calloc(p->n_keys, sizeof *last);
    c->next = sim_calloc(p->trace_len, sizeof *c->next);
    c->key_next = sim_calloc(p->n_keys, sizeof *c->key_next);
    c->heap = sim_calloc(p->trace_len, sizeof *c->heap);
    if (!last || !c->next || !c->key_next || !c->heap) {
        free(last);
        free(c->next);
        free(c->key_next);
        free(c->heap);
        free(c);
        return NULL;
    }
    /* last[k] = 1 + the position of k's access after the current one. */
    for (size_t i = p->trace_len; i-- > 0;) {
        uint32_t k = p->trace[i];
        c->next[i] = last[k] ? last[k] - 1 : NEVER;
        last[k] = i + 1;
    }
    free(last);
    c->trace = p->trace;
    c->trace_len = p->trace_len;
    c->cap = p->capacity;
    return c;
}

static bool belady_access(policy *c, uint32_t k)
{
    if (c->pos >= c->trace_len || c->trace[c->pos] != k) {
        fprintf(stderr, "gomap-cachesim: Belady replayed out of order at %zu\n", c->pos);
        abort();
    }
    uint64_t next = c->next[c->pos++];
    bool hit = c->key_next[k] != 0;
    if (!hit && c->len >= c->cap) {
        heap_entry *top = farthest(c);
        if (!top || top->next <= next)
            return false; /* bypass: k is needed last */
        c->key_next[top->key] = 0;
        heap_pop(c);
        c->len--;
    }
    c->len += !hit;
    /* A key used never again is still cached with NEVER (> any position),
     * so it is the first evicted; key_next 0 means "not cached". */
    c->key_next[k] = next;
    heap_push(c, next, k);
    return hit;
}

static size_t belady_len(const policy *c) { return c->len; }

static void belady_destroy(policy *c)
{
    free(c->next);
    free(c->key_next);
    free(c->heap);
    free(c);
}

const policy_kind policy_belady = {"Belady", "clairvoyant optimum (farthest next use)",
                                   belady_create, belady_access, belady_len, belady_destroy};

/*
 * peer_uthash.c — uthash (Debian uthash-dev), the classic intrusive C hash
 * table: one malloc'd node per entry. String keys are borrowed (the node
 * points at the key set's bytes), as uthash users usually do.
 */
#include "common/bench.h"

#include <stdlib.h>
#include <uthash.h>

typedef struct node {
    UT_hash_handle hh;
    uint64_t key;            /* u64 keys */
    const char *kptr;        /* string keys (borrowed) */
    uint64_t val;
} node;

typedef struct {
    bench_key_type type;
    node *head;
} ut_map;

static void *ut_create(bench_key_type type, size_t hint)
{
    (void)hint; /* uthash has no presizing */
    ut_map *m = calloc(1, sizeof *m);
    if (m)
        m->type = type;
    return m;
}

static void ut_destroy(void *map)
{
    ut_map *m = map;
    node *n, *tmp;
    HASH_ITER(hh, m->head, n, tmp) {
        HASH_DEL(m->head, n);
        free(n);
    }
    free(m);
}

static void ut_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    ut_map *m = map;
    for (size_t i = from; i < to; i++) {
        node *n;
        if (m->type == KEYS_U64)
            HASH_FIND(hh, m->head, &ks->u64[i], sizeof(uint64_t), n);
        else
            HASH_FIND(hh, m->head, ks->str[i].ptr, ks->str[i].len, n);
        if (!n) {
            if (!(n = malloc(sizeof *n)))
                abort();
            if (m->type == KEYS_U64) {
                n->key = ks->u64[i];
                HASH_ADD(hh, m->head, key, sizeof(uint64_t), n);
            } else {
                n->kptr = ks->str[i].ptr;
                HASH_ADD_KEYPTR(hh, m->head, n->kptr, ks->str[i].len, n);
            }
        }
        n->val = bench_value_of(i);
    }
}

static node *ut_find(const ut_map *m, const bench_keyset *q, size_t j)
{
    node *n;
    if (q->type == KEYS_U64)
        HASH_FIND(hh, m->head, &q->u64[j], sizeof(uint64_t), n);
    else
        HASH_FIND(hh, m->head, q->str[j].ptr, q->str[j].len, n);
    return n;
}

static uint64_t ut_lookup(void *map, const bench_keyset *q, size_t from, size_t to)
{
    uint64_t sum = 0;
    for (size_t j = from; j < to; j++) {
        node *n = ut_find(map, q, j);
        if (n)
            sum += n->val;
    }
    return sum;
}

static size_t ut_erase(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    ut_map *m = map;
    size_t found = 0;
    for (size_t i = from; i < to; i++) {
        node *n = ut_find(m, ks, i);
        if (n) {
            HASH_DEL(m->head, n);
            free(n);
            found++;
        }
    }
    return found;
}

static uint64_t ut_iterate(void *map)
{
    ut_map *m = map;
    uint64_t sum = 0;
    for (node *n = m->head; n; n = n->hh.next)
        sum += n->val;
    return sum;
}

static size_t ut_len(void *map) { return HASH_COUNT(((ut_map *)map)->head); }

const bench_impl bench_impl_uthash = {
    .name = "uthash",
    .what = "uthash " GOMAP_BENCH_STR(UTHASH_VERSION) " (Debian uthash-dev; string keys borrowed)",
    .create = ut_create,
    .destroy = ut_destroy,
    .insert = ut_insert,
    .lookup = ut_lookup,
    .erase = ut_erase,
    .iterate = ut_iterate,
    .len = ut_len,
};

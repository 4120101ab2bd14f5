/*
 * syncmap_free.c — freeing a whole sync map's entries, values and tables at
 * once (gomap_sync_free).
 *
 * gomap_sync_free must not overlap any other call on the map, so when it
 * runs no reader can hold anything of the map's current contents (every
 * read-side section that found them has ended with its call). Those need
 * no grace period: they are freed here, directly. Only memory retired
 * earlier (replaced boxes, old read parts, deleted entries) still waits for
 * its grace period, which gomap_sync_free then waits for, once, for all of
 * it.
 *
 * Before, free cleared the map, which retired every entry with its own
 * call_rcu and every box in batches, then waited until liburcu's thread had
 * run a million callbacks: about 1.3 s for 1e6 keys. Here the tables are
 * walked in bucket order and the entries and boxes they point to are freed
 * DRAIN_AHEAD entries behind the walk, their lines prefetched first, so the
 * cache misses of many entries overlap instead of following one another
 * (docs/syncmap.md, "Freeing a map", has the figures).
 */
#include "sync/syncmap_internal.h"

/* Entries in flight; a power of two. The box pointer of an entry is read
 * halfway, when the entry's line has arrived, and the box's line
 * prefetched in turn. */
#define DRAIN_AHEAD 16

struct drain {
    gomap_sync_t *m;
    bool expunged_only;       /* free only EXPUNGED entries (see free_tables) */
    size_t n;                 /* entries seen */
    struct entry *e[DRAIN_AHEAD];
    struct box *p[DRAIN_AHEAD];
};

/* Prefetches the lines free() reads of a block of `bytes` at b: malloc's
 * header just before it and the next block's just after it. */
static inline void prefetch_block(const void *b, size_t bytes)
{
    __builtin_prefetch((const char *)b - 16, 1, 3);
    __builtin_prefetch((const char *)b + bytes, 1, 3);
}

/* The entry seen k entries ago: its value is loaded and prefetched. */
static void drain_load(struct drain *d, size_t k)
{
    size_t i = k & (DRAIN_AHEAD - 1);
    struct box *p = load_relaxed(&d->e[i]->p);
    d->p[i] = p;
    if (has_value(p) && p != PRESENT)
        prefetch_block(p, BOX_HDR + d->m->val_size);
}

/* The entry seen k entries ago is freed, with its value. */
static void drain_free(struct drain *d, size_t k)
{
    size_t i = k & (DRAIN_AHEAD - 1);
    struct box *p = d->p[i];
    if (d->expunged_only && p != EXPUNGED)
        return;
    if (has_value(p))
        gomap__box_free_now(d->m, p);
    gomap__entry_free_now(d->m, d->e[i]);
}

static int drain_entry(const void *key, void *val, void *ctx)
{
    (void)key;
    struct drain *d = ctx;
    struct entry *e = entry_in(val);
    prefetch_block(e, sizeof *e);
    size_t k = d->n++;
    d->e[k & (DRAIN_AHEAD - 1)] = e;
    if (k >= DRAIN_AHEAD / 2)
        drain_load(d, k - DRAIN_AHEAD / 2);
    if (k >= DRAIN_AHEAD - 1)
        drain_free(d, k - (DRAIN_AHEAD - 1));
    return 0;
}

/* Frees every entry of t (only the EXPUNGED ones if expunged_only), with
 * its value. */
static void drain_table(gomap_sync_t *m, struct table *t, bool expunged_only)
{
    struct drain d = {.m = m, .expunged_only = expunged_only};
    gomap__for_each_entry(t->map, drain_entry, &d);
    size_t first = d.n > DRAIN_AHEAD - 1 ? d.n - (DRAIN_AHEAD - 1) : 0;
    size_t loaded = d.n > DRAIN_AHEAD / 2 ? d.n - DRAIN_AHEAD / 2 : 0;
    for (size_t k = loaded; k < d.n; k++)
        drain_load(&d, k);
    for (size_t k = first; k < d.n; k++)
        drain_free(&d, k);
}

void gomap__sync_free_contents(gomap_sync_t *m)
{
    struct table *r = read_table(read_word(m));
    store_relaxed(&m->read, (uintptr_t)0);
    /* Each entry once (I2): with a dirty map, read's EXPUNGED entries are in
     * no other table and every other one is in dirty; without, read holds
     * them all. The EXPUNGED ones are freed first, since freeing dirty's
     * entries frees the rest of read's. */
    if (r && m->dirty)
        drain_table(m, r, true);
    if (m->dirty)
        drain_table(m, m->dirty, false);
    else if (r)
        drain_table(m, r, false);
    if (r)
        gomap__table_free_now(m, r);
    if (m->dirty)
        gomap__table_free_now(m, m->dirty);
    m->dirty = NULL;
}

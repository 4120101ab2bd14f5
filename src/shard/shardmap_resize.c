/*
 * shardmap_resize.c — the sharded map's tables of shards, how a keyed call
 * finds the shard that holds its key while a resize moves entries, the
 * resize itself and its auto mode. docs/shardmap.md, "Resizing", has the
 * design and the argument that every operation stays linearizable.
 *
 * A resize from n to n' shards builds a second table (m->table->next) and
 * moves the entries group by group. With g = min(n, n'), the keys of old
 * shard i go to new shards j with j = i (mod g) and nowhere else, since
 * both pick their shard from the same hash bits: group r is the old shards
 * r, r + g, ... and the new shards r, r + g, ... The mover holds the
 * group's old shards (in index order) while it copies their entries into
 * fresh core maps, installs those as the new shards' maps, and marks the
 * old shards moved (release) before releasing them. A key's authority thus
 * passes from its old shard to its new one at one instant, under the old
 * shard's lock; calls that meet a moved shard go on to the next table. The
 * old maps are left as they are (an optimistic reader may be walking
 * them) until the whole table is freed. Out of memory while copying a
 * group frees the fresh maps: the group stays where it was, the move stays
 * pending, and the next resize resumes it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/rcu.h"
#include "base/scope.h"
#include "shard/shardmap_internal.h"

/* ---- tables -------------------------------------------------------------------------- */

/* Owned counting lanes (shard_count; as many shared ones follow): up to 8,
 * fewer when there are many shards, so that the tallies stay within 65536
 * entries (1 MiB). */
static unsigned lanes_for(unsigned nshards)
{
    unsigned lanes = 8;
    while (lanes > 1 && (size_t)2 * lanes * nshards > 65536)
        lanes /= 2;
    return lanes;
}

static inline uintptr_t align_up(uintptr_t p, uintptr_t a)
{
    return (p + a - 1) & ~(a - 1);
}

/* A shard's tuning window: the map window shared out over n shards, a
 * power of two of at least 64 acquisitions; UINT64_MAX (never) when the
 * auto mode is off. */
static uint64_t win_mask_for(const gomap_shard_t *m, unsigned n)
{
    if (!m->auto_resize)
        return UINT64_MAX;
    uint64_t w = 64;
    while (w * n < m->tune_window)
        w *= 2;
    return w - 1;
}

static void shard_init(gomap_shard_t *m, struct shard_table *t, unsigned i)
{
    struct shard *s = &t->shards[i];
    s->table = t;
    s->index = i;
    s->win_mask = win_mask_for(m, t->nshards);
    atomic_init(&s->seq, 0);
    atomic_init(&s->moved, false);
    atomic_init(&s->acquisitions, 0);
    atomic_init(&s->waits.count, 0);
    atomic_init(&s->waits.ns, 0);
    atomic_init(&s->win_waits, 0);
    atomic_init(&s->entries, 0);
    atomic_init(&s->bytes_held, s->map ? layer_bytes_held(s->map) : 0);
}

/* The core maps of a table's shards: made with the map's seed, and told to
 * keep outgrown arrays for optimistic readers. */
static int shard_map_new(gomap_shard_t *m, size_t hint, gomap_t **out)
{
    gomap_options inner = m->opt;
    inner.hint = hint;
    int rc = gomap__new_seeded(out, &inner, m->seed);
    if (rc == 0 && m->optimistic)
        gomap__keep_retired_arrays(*out);
    return rc;
}

static void table_destroy(gomap_shard_t *m, struct shard_table *t, unsigned built)
{
    for (unsigned i = 0; i < built; i++) {
        gomap__shard_batch_dispose(m, &t->shards[i]);
        gomap_free(t->shards[i].map); /* NULL for a target's unfilled shard,
                                         or handed to the reclaimer */
        shard_lock_destroy(&t->shards[i].lock, m->lock_kind);
    }
    gomap__free(m->opt.alloc, t->block, t->block_size);
}

/* One block: the table header and the shards, each at the next SHARD_ALIGN
 * boundary (allocators promise only malloc's alignment), then the
 * counting lanes, each starting on a line of its own. */
int gomap__shard_table_new(gomap_shard_t *m, unsigned n, bool with_maps, size_t hint,
                           struct shard_table **out)
{
    *out = NULL;
    unsigned nlanes = lanes_for(n);
    unsigned stride = (n + 3) & ~3u; /* 4 tallies = 64 bytes */
    size_t head_bytes = align_up(sizeof(struct shard_table), SHARD_ALIGN);
    size_t shards_bytes = (size_t)n * sizeof(struct shard);
    size_t size = SHARD_ALIGN + head_bytes + shards_bytes +
                  (size_t)2 * nlanes * stride * sizeof(struct shard_tally);
    char *block = gomap__alloc(m->opt.alloc, size);
    if (!block)
        return -ENOMEM;
    memset(block, 0, size);
    uintptr_t first = align_up((uintptr_t)block, SHARD_ALIGN);
    struct shard_table *t = (struct shard_table *)first;
    t->shards = (struct shard *)(first + head_bytes);
    t->tallies = (struct shard_tally *)(first + head_bytes + shards_bytes);
    t->nshards = n;
    t->mask = n - 1;
    t->nlanes = nlanes;
    t->lane_stride = stride;
    t->block = block;
    t->block_size = size;
    atomic_init(&t->next, NULL);
    atomic_init(&t->pins, 0);
    atomic_init(&t->win_acq, 0);
    atomic_init(&t->win_waits, 0);
    atomic_init(&t->hot_streak, 0);
    atomic_init(&t->want_resize, false);

    size_t shard_hint = hint / n + (hint % n != 0);
    for (unsigned i = 0; i < n; i++) {
        struct shard *s = &t->shards[i];
        int rc = with_maps ? shard_map_new(m, shard_hint, &s->map) : 0;
        if (rc == 0 && shard_lock_init(&s->lock, m->lock_kind) != 0) {
            gomap_free(s->map);
            rc = -ENOMEM;
        }
        if (rc != 0) {
            table_destroy(m, t, i);
            return rc;
        }
        shard_init(m, t, i);
    }
    *out = t;
    return 0;
}

void gomap__shard_table_free(gomap_shard_t *m, struct shard_table *t)
{
    table_destroy(m, t, t->nshards);
}

/* ---- finding a key's shard ------------------------------------------------------------ */

/* Inside a read-side section, the table t is alive, and so is every table
 * after it. A try-lock that succeeds keeps the section until the moved
 * mark is read: a shard that is not moved, held, keeps its table alive; a
 * moved one sends us to the next table, still inside the section. When the
 * lock must be waited for, the wait happens outside the section (a thread
 * waiting for a grace period must never wait for a thread that waits for
 * a lock inside a section, shardmap.c), with the table pinned instead;
 * then a moved shard sends us back to the head, found in a new section. */
struct shard *gomap__shard_acquire(gomap_shard_t *m, uint64_t h, bool shared)
{
    gomap__rcu_read_lock();
    /* Acquire: the head's fields as the move that installed it wrote them. */
    struct shard_table *t = load_acquire(&m->table);
    for (;;) {
        struct shard *s = table_shard(t, h);
        bool pinned = false;
        if (__builtin_expect(!shard_lock_try(&s->lock, m->lock_kind, shared), 0)) {
            table_pin(t);
            pinned = true;
            gomap__rcu_read_unlock();
            gomap__shard_lock_wait(&s->lock, m->lock_kind, shared, &s->waits);
        }
        shard_took(m, s, shared);
        /* Written under the lock we hold: relaxed. */
        if (__builtin_expect(!load_relaxed(&s->moved), 1)) {
            if (pinned)
                table_unpin(t);
            else
                gomap__rcu_read_unlock();
            return s;
        }
        if (pinned) {
            gomap__rcu_read_lock();
            shard_unlock(m, s);
            table_unpin(t);
            t = load_acquire(&m->table); /* as above */
        } else {
            struct shard_table *next = load_relaxed(&t->next); /* set before s moved,
                                                                   ordered by s's lock */
            shard_unlock(m, s);
            t = next;
        }
    }
}

/* ---- the auto mode ---------------------------------------------------------------------- */

/* The holder of s ends s's window: it adds the window's acquisitions and
 * the waits s had meanwhile to its table's map window. The thread whose
 * addition fills the map window closes it: a window is hot when at least
 * tune_permille / 1000 of its acquisitions waited; two hot windows in a
 * row ask for a resize (want_resize), which the thread does after its
 * release (shard_release's caller). Relaxed throughout: these are
 * estimates, and a window counted a little off changes nothing. */
void gomap__shard_window_end(gomap_shard_t *m, struct shard *s)
{
    struct shard_table *t = s->table;
    uint64_t waits = load_relaxed(&s->waits.count);
    uint64_t d = waits - exchange_relaxed(&s->win_waits, waits);
    uint64_t acq = fetch_add_relaxed(&t->win_acq, s->win_mask + 1) + s->win_mask + 1;
    fetch_add_relaxed(&t->win_waits, d);
    if (acq < m->tune_window || !cas_strong_relaxed(&t->win_acq, &acq, 0))
        return; /* not full, or another thread added to it and will close it */
    uint64_t waited = exchange_relaxed(&t->win_waits, 0); /* with what came in since */
    bool hot = waited * 1000 >= acq * m->tune_permille;
    if (!hot) {
        store_relaxed(&t->hot_streak, 0);
        return;
    }
    if (fetch_add_relaxed(&t->hot_streak, 1) + 1 >= 2 && t->nshards < m->max_shards)
        store_relaxed(&t->want_resize, true);
}

/* Doubles the shards for the auto mode. Not where waiting could deadlock
 * (a callback, a read-side section), nor when another resize runs (it
 * resolves the contention too); then a later release asks again. */
void gomap__shard_auto_resize(gomap_shard_t *m)
{
    if (gomap__must_not_wait() || pthread_mutex_trylock(&m->resize_mu) != 0)
        return;
    struct shard_table *t = load_relaxed(&m->table); /* stable under resize_mu */
    if (load_relaxed(&t->want_resize)) {
        unsigned target = t->nshards * 2 <= m->max_shards ? t->nshards * 2 : m->max_shards;
        store_relaxed(&t->want_resize, false);
        store_relaxed(&t->hot_streak, 0);
        (void)gomap__shard_resize_locked(m, target); /* -ENOMEM: pending, resumed later */
    }
    pthread_mutex_unlock(&m->resize_mu);
}

void gomap__shard_tune(gomap_shard_t *m, uint64_t window, unsigned permille)
{
    m->tune_window = window ? window : 1;
    m->tune_permille = permille;
    struct shard_table *t = load_relaxed(&m->table);
    for (unsigned i = 0; i < t->nshards; i++)
        t->shards[i].win_mask = win_mask_for(m, t->nshards);
}

/* ---- moving a group ------------------------------------------------------------------- */

typedef struct {
    const struct shard_table *to;
    gomap_t **fresh;          /* the group's new maps, by j >> log2(g) */
    unsigned gbits;           /* log2(g) */
} move_ctx;

static int move_entry(const void *key, void *val, void *arg)
{
    const move_ctx *c = arg;
    gomap_t *any = c->fresh[0];
    uint64_t h = gomap__hash_key(any, key);
    unsigned j = (unsigned)(h >> SHARD_SHIFT) & c->to->mask;
    int rc = gomap__upsert_hashed(c->fresh[j >> c->gbits], key, h, val, true, NULL);
    return rc < 0 ? rc : 0;
}

static unsigned log2u(unsigned n)
{
    unsigned b = 0;
    while ((1u << b) < n)
        b++;
    return b;
}

static void free_fresh(gomap_t **fresh, unsigned k)
{
    for (unsigned q = 0; q < k; q++)
        gomap_free(fresh[q]);
}

/* Copies the entries of the held old shards of group r into k = nto / g
 * fresh maps (fresh[q] for new shard r + q * g). 0 or -ENOMEM (none left). */
static int fill_group(gomap_shard_t *m, const struct shard_table *from,
                      const struct shard_table *to, unsigned r, unsigned g, gomap_t **fresh)
{
    unsigned k = to->nshards / g;
    size_t total = 0;
    for (unsigned i = r; i < from->nshards; i += g)
        total += layer_len(from->shards[i].map);
    size_t hint = total / k + (total % k != 0);
    memset(fresh, 0, k * sizeof(gomap_t *));
    int rc = 0;
    for (unsigned q = 0; q < k && rc == 0; q++)
        rc = shard_map_new(m, hint, &fresh[q]);
    move_ctx c = {to, fresh, log2u(g)};
    for (unsigned i = r; i < from->nshards && rc == 0; i += g)
        rc = gomap__for_each_entry(from->shards[i].map, move_entry, &c);
    if (rc != 0)
        free_fresh(fresh, k);
    return rc < 0 ? rc : (rc ? -ENOMEM : 0);
}

/* Moves group r of `from` into `to`; see the top of the file. The new
 * shards are reached only through a moved old shard of their group, so no
 * one holds or reads them before the release stores below, and they need
 * no lock here. fresh: room for the group's new maps. */
static int move_group(gomap_shard_t *m, struct shard_table *from, struct shard_table *to,
                      unsigned r, unsigned g, gomap_t **fresh)
{
    for (unsigned i = r; i < from->nshards; i += g)
        shard_take(m, &from->shards[i], false);
    int rc = fill_group(m, from, to, r, g, fresh);
    if (rc == 0) {
        for (unsigned j = r, q = 0; j < to->nshards; j += g, q++) {
            struct shard *ns = &to->shards[j];
            ns->map = fresh[q];
            shard_publish(ns);
        }
    }
    for (unsigned i = r; i < from->nshards; i += g) {
        struct shard *os = &from->shards[i];
        /* Release: whoever sees the mark sees the new maps installed above. */
        if (rc == 0)
            store_release(&os->moved, true);
        shard_publish(os);
        shard_unlock(m, os);
    }
    return rc;
}

/* ---- finishing a move --------------------------------------------------------------------- */

static void add_carried(struct shard_carried *c, const struct shard_table *t)
{
    for (unsigned i = 0; i < t->nshards; i++) {
        const struct shard *s = &t->shards[i];
        tally_sum(t, i, &c->hits, &c->misses);
        c->waits += load_relaxed(&s->waits.count);
        c->wait_ns += load_relaxed(&s->waits.ns);
        c->acquisitions += load_relaxed(&s->acquisitions);
    }
}

/* Waits until no thread outside a read-side section still holds t (a
 * whole-map call, a call waiting for one of its locks). Each holds it for
 * one lock wait or one whole-map call: sleep between looks. */
static void wait_unpinned(struct shard_table *t)
{
    /* Acquire: pairs with table_unpin's release; everything the last
     * holder did to t happens before we free it. */
    while (load_acquire(&t->pins) != 0) {
        struct timespec ts = {0, 50000L}; /* 50 us */
        nanosleep(&ts, NULL);
    }
}

/* Every group of `from` moved: makes `to` the head and frees `from` once
 * no reader can use it. */
static void finish_move(gomap_shard_t *m, struct shard_table *from, struct shard_table *to)
{
    to->carried = from->carried;
    add_carried(&to->carried, from);
    /* Release: a thread that loads the new head (acquire) sees its carried
     * counts and filled maps. */
    store_release(&m->table, to);
    gomap__rcu_synchronize(); /* no reader found `from` in a section any more */
    wait_unpinned(from);
    gomap__shard_table_free(m, from);
    fetch_add_relaxed(&m->resizes, 1);
}

/* Moves every group of from that is not moved yet into to. */
static int move_all(gomap_shard_t *m, struct shard_table *from, struct shard_table *to)
{
    unsigned g = from->nshards < to->nshards ? from->nshards : to->nshards;
    unsigned k = to->nshards / g;
    gomap_t *small[8];
    gomap_t **fresh = k > 8 ? gomap__alloc(m->opt.alloc, k * sizeof(gomap_t *)) : small;
    if (!fresh)
        return -ENOMEM;
    int rc = 0;
    for (unsigned r = 0; r < g && rc == 0; r++)
        if (!load_relaxed(&from->shards[r].moved)) /* written only by us */
            rc = move_group(m, from, to, r, g, fresh);
    if (fresh != small)
        gomap__free(m->opt.alloc, fresh, k * sizeof(gomap_t *));
    if (rc == 0)
        finish_move(m, from, to);
    return rc;
}

int gomap__shard_resize_locked(gomap_shard_t *m, unsigned n)
{
    struct shard_table *t = load_relaxed(&m->table); /* changed only under resize_mu */
    struct shard_table *next = load_relaxed(&t->next);
    if (next) {
        int rc = move_all(m, t, next);
        if (rc != 0)
            return rc;
        t = next;
    }
    if (t->nshards == n)
        return 0;
    int rc = gomap__shard_table_new(m, n, false, 0, &next);
    if (rc != 0)
        return rc;
    /* Release: a reader that finds a moved shard of t and follows next
     * (acquire, live_shard) sees the table as made here. */
    store_release(&t->next, next);
    return move_all(m, t, next);
}

int gomap_shard_resize(gomap_shard_t *m, unsigned shards)
{
    if (!m || !shards || shards > GOMAP_SHARDS_MAX || (shards & (shards - 1)) != 0)
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    if (gomap__must_not_wait())
        return -EDEADLK;
    pthread_mutex_lock(&m->resize_mu);
    int rc = gomap__shard_resize_locked(m, shards);
    pthread_mutex_unlock(&m->resize_mu);
    return rc;
}

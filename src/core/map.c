/*
 * map.c — the core map's life cycle and memory: create, free, clear, shrink,
 * clone, bucket arrays, and the graveyard.
 *
 * The graveyard. Go's garbage collector keeps an old bucket array alive while
 * an iterator still walks it, and keeps a deleted string's bytes alive while
 * an old array still points at them. Here the map does it: while any
 * iterator is live, an array that stops being reachable (growth finished) and
 * a deleted out-of-line key that an old array may still point to are put on
 * the graveyard instead of being freed. The next write that finds no live
 * iterator frees the keys and hands the arrays to the release list, which
 * later writes give back a slice at a time (map_release.c), as they do an
 * array outgrown with no iterator live. Both carry their own link (struct
 * array_hdr, struct key_blob), so deferring needs no allocation and
 * deletes never fail.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/layer.h"
#include "core/map_internal.h"
#include "base/rand.h"

/* ---- arrays ----------------------------------------------------------------- */

static size_t array_bytes(const gomap_t *m, size_t nbuckets)
{
    return sizeof(struct array_hdr) + nbuckets * m->bucket_size;
}

/* Arrays at least this big get pages of their own (default allocator). */
#define MAPPED_ARRAY_BYTES ((size_t)1 << 20)
#define HUGE_PAGE ((uintptr_t)2 << 20)

/* A large array is read and written at random places, one or two cache
 * lines at a time: with 4 KiB pages nearly every access also misses the TLB,
 * and on a virtual machine the page walk costs about as much as the access
 * (without huge pages, inserts growing to 1e6 take 1.4 x as long and
 * lookups 1.2 x). Huge pages remove that. Their price: the first write to
 * each 2 MiB page faults it in zeroed, 0.36 ms in the median here and up
 * to 11 ms when the kernel compacts memory for it, against 1.6 us for a
 * 4 KiB page (`gomap-release-choice`, docs/map.md "Growth without a slow
 * insert"). Only on the whole 2 MiB pages of a mapping of our own. It is
 * advice: the kernel may decline, errors are ignored. */
static void advise_huge_pages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    uintptr_t lo = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

/* What a hint costs (map.h): a hinted array is allocated at creation, but
 * with the default allocator a large one is a mapping of its own whose
 * pages hold memory only once written, and free and clear never read or
 * write the pages of such an array that no entry ever touched (the overflow
 * buckets are on a list of their own, clear gives the pages back). */
/* An allocation that failed while outgrown arrays are still being given
 * back (map_release.c) may fail only because of them (a mem_limit counts
 * them): gives them all back, and says whether to try again. */
static bool release_for_retry(gomap_t *m)
{
    if (!m->releasing)
        return false;
    gomap__release_all(m);
    return true;
}

static char *array_alloc_once(gomap_t *m, unsigned b)
{
    if (b > MAX_B)
        return NULL;
    size_t n = (size_t)1 << b;
    if (n > (SIZE_MAX - sizeof(struct array_hdr)) / m->bucket_size)
        return NULL; /* the size does not fit in size_t */
    size_t bytes = array_bytes(m, n);
    struct array_hdr *h;
    if (!m->mem.a && bytes >= MAPPED_ARRAY_BYTES) {
        if (!(h = gomap__mem_map(&m->mem, bytes)))
            return NULL;
        advise_huge_pages(h, bytes);
        h->mapped = bytes;
    } else if (!(h = gomap__mem_alloc_zeroed(&m->mem, bytes))) {
        return NULL;
    }
    h->nbuckets = n;
    return (char *)(h + 1);
}

char *gomap__array_alloc(gomap_t *m, unsigned b)
{
    char *arr = array_alloc_once(m, b);
    if (!arr && release_for_retry(m))
        arr = array_alloc_once(m, b);
    return arr;
}

char *gomap__overflow_new(gomap_t *m)
{
    struct ovf_hdr *h = gomap__mem_alloc_zeroed(&m->mem, ovf_bytes(m));
    if (!h && release_for_retry(m))
        h = gomap__mem_alloc_zeroed(&m->mem, ovf_bytes(m));
    return h ? (char *)(h + 1) : NULL;
}

void gomap__overflow_attach(char *arr, char *b)
{
    struct array_hdr *a = array_hdr_of(arr);
    struct ovf_hdr *h = ovf_hdr_of(b);
    h->next = a->overflow;
    a->overflow = h;
}

size_t gomap__overflow_listed(char *arr)
{
    size_t n = 0;
    for (const struct ovf_hdr *h = array_hdr_of(arr)->overflow; h; h = h->next)
        n++;
    return n;
}

void gomap__overflow_discard(gomap_t *m, char *b)
{
    if (b)
        gomap__mem_free(&m->mem, ovf_hdr_of(b), ovf_bytes(m));
}

/* Frees the overflow buckets chained to arr, from its list. The chains'
 * links in arr are left as they are: callers free or zero arr next. */
static void free_overflow_list(gomap_t *m, char *arr)
{
    struct array_hdr *a = array_hdr_of(arr);
    for (struct ovf_hdr *h = a->overflow; h;) {
        struct ovf_hdr *next = h->next;
        gomap__mem_free(&m->mem, h, ovf_bytes(m));
        h = next;
    }
    a->overflow = NULL;
}

void gomap__array_free(gomap_t *m, char *arr)
{
    if (!arr)
        return;
    free_overflow_list(m, arr);
    struct array_hdr *h = array_hdr_of(arr);
    if (h->mapped)
        gomap__mem_unmap(&m->mem, h, h->mapped);
    else
        gomap__mem_free(&m->mem, h, array_bytes(m, h->nbuckets));
}

/* Empties arr for reuse: no overflow buckets, every bucket zero. A mapped
 * array gives its pages back instead of writing them. */
static void array_reset(gomap_t *m, char *arr)
{
    free_overflow_list(m, arr);
    size_t bytes = array_hdr_of(arr)->nbuckets * m->bucket_size;
    if (array_hdr_of(arr)->mapped)
        gomap__mem_zero_mapped(arr, bytes);
    else
        memset(arr, 0, bytes);
}

static bool iterators_live(const gomap_t *m)
{
    return load_relaxed(&((gomap_t *)(uintptr_t)m)->iterators) != 0;
}

/* ---- the graveyard, bounded ------------------------------------------------------- */

/* Memory kept for live iterators never exceeds RETAIN_FACTOR times the live
 * array, or RETAIN_FLOOR bytes for small maps. An iterator that lives across
 * ordinary growth keeps less than one live array (each outgrown array is
 * half the next); more means many growths or same-size grows during one
 * iteration, in practice an iterator abandoned without gomap_iter_done.
 * Past the bound the map frees what it kept and ends every live iterator:
 * one that steps again is reported (gomap_iter_next), never let loose on
 * freed memory. */
#define RETAIN_FACTOR 4
#define RETAIN_FLOOR ((size_t)1 << 20)

/* Empties the graveyard: arrays freed now (free, clear), or given back
 * over the next writes (gomap__release_array) when a write finds the
 * iterators gone. Key blobs are freed now either way. */
static void graveyard_empty(gomap_t *m, bool now)
{
    while (m->graveyard_arrays) {
        struct array_hdr *h = m->graveyard_arrays;
        m->graveyard_arrays = h->next_retired;
        if (now)
            gomap__array_free(m, (char *)(h + 1));
        else
            gomap__release_array(m, (char *)(h + 1));
    }
    while (m->graveyard_keys) {
        struct key_blob *kb = m->graveyard_keys;
        m->graveyard_keys = kb->next;
        gomap__key_blob_free(&m->mem, kb);
    }
    m->retained_bytes = 0;
}

static size_t live_array_bytes(const gomap_t *m)
{
    return m->buckets ? ((size_t)1 << m->B) * m->bucket_size : 0;
}

/* Ends every live iterator (they step into a report) and frees what they
 * kept. In debug builds, says so on stderr with the place that started the
 * oldest iteration still counted. */
static void reclaim_for_iterators(gomap_t *m)
{
#if GOMAP_DEBUG_LEVEL >= 1
    fprintf(stderr,
            "gomap: map %p: %zu bytes kept for %zu live iterators exceed %d x the live "
            "array; freed, and those iterators ended (abandoned without gomap_iter_done?); "
            "the first of them was created in ",
            (void *)m, m->retained_bytes, load_relaxed(&m->iterators), RETAIN_FACTOR);
    gomap__print_site(stderr, load_relaxed(&m->iter_site));
    fputc('\n', stderr);
#endif
    m->iter_epoch++;
    m->iter_reclaims++;
    store_relaxed(&m->iterators, 0);
    graveyard_empty(m, false);
}

static void retained_check(gomap_t *m)
{
    size_t bound = RETAIN_FACTOR * live_array_bytes(m);
    if (m->retained_bytes > (bound > RETAIN_FLOOR ? bound : RETAIN_FLOOR))
        reclaim_for_iterators(m);
}

void gomap__array_retire(gomap_t *m, char *arr)
{
    if (!iterators_live(m) && !m->keep_retired) {
        gomap__release_array(m, arr);
        return;
    }
    struct array_hdr *h = array_hdr_of(arr);
    h->next_retired = m->graveyard_arrays;
    m->graveyard_arrays = h;
    if (m->keep_retired)
        return; /* the layer takes them (gomap__take_retired_arrays) */
    m->retained_bytes += array_bytes(m, h->nbuckets);
    retained_check(m);
}

void gomap__keep_retired_arrays(gomap_t *m)
{
    m->keep_retired = 1;
}

void gomap__free_retired_arrays(gomap_t *m, struct array_hdr *list)
{
    while (list) {
        struct array_hdr *next = list->next_retired;
        gomap__release_array(m, (char *)(list + 1));
        list = next;
    }
}

struct array_hdr *gomap__take_retired_arrays(gomap_t *m)
{
    struct array_hdr *list = m->graveyard_arrays;
    m->graveyard_arrays = NULL;
    return list;
}

static size_t mapped_of(char *arr)
{
    return arr ? array_hdr_of(arr)->mapped : 0;
}

size_t gomap__mapped_bytes(const gomap_t *m)
{
    size_t n = mapped_of(m->buckets) + mapped_of(m->oldbuckets);
    for (const struct array_hdr *h = m->graveyard_arrays; h; h = h->next_retired)
        n += h->mapped;
    for (const struct array_hdr *h = m->releasing; h; h = h->next_retired)
        n += h->mapped;
    return n;
}

size_t gomap__retired_array_bytes(const gomap_t *m)
{
    size_t n = 0;
    for (const struct array_hdr *h = m->graveyard_arrays; h; h = h->next_retired)
        n += h->nbuckets * m->bucket_size;
    return n;
}

void gomap__graveyard_flush(gomap_t *m)
{
    if (!iterators_live(m) && !m->keep_retired)
        graveyard_empty(m, false);
}

/* ---- slots and key blobs ----------------------------------------------------- */

/* A deleted key blob may still be read through an evacuated slot of an old
 * array, but only by an iterator that is live now: keep it until then. */
static void release_key_blob(gomap_t *m, struct key_blob *kb)
{
    if (iterators_live(m) && (m->oldbuckets || m->graveyard_arrays)) {
        kb->next = m->graveyard_keys;
        m->graveyard_keys = kb;
        m->retained_bytes += sizeof *kb + kb->size;
        retained_check(m);
    } else {
        gomap__key_blob_free(&m->mem, kb);
    }
}

/* The key blob a live slot owns, or NULL. */
static struct key_blob *slot_key_blob(const gomap_t *m, char *ks)
{
    if (m->key_kind == GOMAP_KEY_STR) {
        gomap_str s;
        memcpy(&s, ks, sizeof s);
        return s.len ? key_blob_of(s.ptr) : NULL;
    }
    return m->key_indirect ? key_blob_of(*(void **)(void *)ks) : NULL;
}

/* Releases the out-of-line memory a live slot owns. A deleted key may have to
 * wait on the graveyard for iterators (may_defer); when the map is being
 * freed or emptied no iterator will read it again, and everything goes now. */
static void release_slot_memory(gomap_t *m, char *b, unsigned i, bool may_defer)
{
    struct key_blob *kb = slot_key_blob(m, key_slot_at(m, b, i));
    if (kb && may_defer)
        release_key_blob(m, kb);
    else if (kb)
        gomap__key_blob_free(&m->mem, kb);
    if (m->val_indirect)
        gomap__mem_free(&m->mem, *(void **)(void *)val_slot_at(m, b, i), m->val_size);
}

void gomap__slot_clear(gomap_t *m, char *b, unsigned i)
{
    release_slot_memory(m, b, i, true);
    memset(key_slot_at(m, b, i), 0, m->key_slot);
    memset(val_slot_at(m, b, i), 0, m->val_slot);
}

/* Do the map's slots own memory of their own (string bytes, keys or values
 * stored out of line)? */
static bool slots_own_memory(const gomap_t *m)
{
    return m->key_kind == GOMAP_KEY_STR || m->key_indirect || m->val_indirect;
}

/* gomap__for_each callback: frees what a live slot owns, immediately, and
 * stops once every entry has been seen (*ctx counts down from count). */
static int free_slot_memory(const gomap_t *cm, char *b, unsigned i, void *ctx)
{
    size_t *left = ctx;
    release_slot_memory((gomap_t *)(uintptr_t)cm, b, i, false);
    return --*left == 0;
}

/* Frees what every live slot owns, for free and clear: nothing to do (and
 * no bucket read) unless slots own memory; else the walk ends at the last
 * entry. */
static void release_all_slot_memory(gomap_t *m)
{
    size_t left = m->count;
    if (left && slots_own_memory(m))
        gomap__for_each(m, free_slot_memory, &left);
}

/* ---- whole-map walks ---------------------------------------------------------- */

static int for_each_in_array(const gomap_t *m, char *arr, size_t n, bool skip_evacuated,
                             int (*fn)(const gomap_t *, char *, unsigned, void *), void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        char *head = bucket_at(m, arr, i);
        if (skip_evacuated && is_evacuated_bucket(head))
            continue;
        for (char *b = head; b; b = *overflow_of(m, b)) {
            for (unsigned s = 0; s < BUCKET_SLOTS; s++) {
                if (tophash_of(b)[s] < MIN_TOPHASH)
                    continue;
                int rc = fn(m, b, s, ctx);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

int gomap__for_each(const gomap_t *m,
                    int (*fn)(const gomap_t *m, char *b, unsigned i, void *ctx), void *ctx)
{
    int rc = 0;
    if (m->oldbuckets)
        rc = for_each_in_array(m, m->oldbuckets, old_bucket_count(m), true, fn, ctx);
    if (!rc && m->buckets)
        rc = for_each_in_array(m, m->buckets, (size_t)1 << m->B, false, fn, ctx);
    return rc;
}

/* The (key, value) form for the layers (layer.h). */
struct entry_walk {
    int (*fn)(const void *key, void *val, void *ctx);
    void *ctx;
};

static int walk_entry(const gomap_t *m, char *b, unsigned i, void *ctx)
{
    const struct entry_walk *w = ctx;
    return w->fn(key_of_slot(m, key_slot_at(m, b, i)), val_of_slot(m, val_slot_at(m, b, i)),
                 w->ctx);
}

int gomap__for_each_entry(const gomap_t *m, int (*fn)(const void *key, void *val, void *ctx),
                          void *ctx)
{
    struct entry_walk w = {fn, ctx};
    return gomap__for_each(m, walk_entry, &w);
}

/* ---- seeds, write bracket, fatal errors ----------------------------------------- */

void gomap__reseed(gomap_t *m)
{
    if (m->fixed_seed)
        return;
    map_set_seed(m, gomap__rand64());
    m->reseeds++;
}

/* At assertion level 2 every write ends with a whole-map validation; for
 * maps of 1024 entries or more, every 1024th write does (one per thread), so
 * the suite stays linear enough to run in CI. */
void gomap__write_end_slow(gomap_t *m)
{
#if GOMAP_DEBUG_LEVEL >= 2
    static _Thread_local unsigned writes;
    char why[256];
    if ((m->count < 1024 || (++writes & 1023) == 0) && gomap_validate(m, why, sizeof why) != 0)
        gomap__fatal(m, why);
#else
    (void)m;
#endif
}

_Noreturn void gomap__fatal(const gomap_t *m, const char *what)
{
    fprintf(stderr, "fatal error: gomap: %s (map %p)\n", what, (const void *)m);
    fflush(stderr);
    abort();
}

/* ---- creation ------------------------------------------------------------------- */

/* Natural alignment of an item of this size (its lowest set bit), capped. */
static uint32_t slot_align(size_t size)
{
    if (size == 0)
        return 1;
    size_t a = size & (~size + 1);
    return (uint32_t)(a > 16 ? 16 : a);
}

static uint32_t align_up(uint32_t x, uint32_t a) { return (x + a - 1) & ~(a - 1); }

static void compute_layout(gomap_t *m)
{
    uint32_t ka, va;
    switch (m->key_kind) {
    case GOMAP_KEY_U32: m->key_slot = 4; break;
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: m->key_slot = 8; break;
    case GOMAP_KEY_STR: m->key_slot = sizeof(gomap_str); break;
    default:
        m->key_indirect = m->key_size > GOMAP_INLINE_MAX;
        m->key_slot = m->key_indirect ? sizeof(void *) : (uint32_t)m->key_size;
    }
    m->val_indirect = m->val_size > GOMAP_INLINE_MAX;
    m->val_slot = m->val_indirect ? sizeof(void *) : (uint32_t)m->val_size;
    ka = (m->key_indirect || m->key_kind == GOMAP_KEY_STR) ? 8 : slot_align(m->key_slot);
    va = m->val_indirect ? 8 : slot_align(m->val_slot);
    m->key_off = align_up(BUCKET_SLOTS, ka);
    m->val_off = align_up(m->key_off + BUCKET_SLOTS * m->key_slot, va);
    m->ovf_off = align_up(m->val_off + BUCKET_SLOTS * m->val_slot, sizeof(void *));
    uint32_t a = ka > va ? ka : va;
    m->bucket_size = align_up(m->ovf_off + sizeof(void *), a > 8 ? a : 8);
    /* map_probe.h's kind_key_slot relies on it for the fixed-size kinds. */
    GOMAP_ASSERT(m->key_kind == GOMAP_KEY_BYTES || m->key_kind == GOMAP_KEY_CUSTOM ||
                 m->key_off == BUCKET_SLOTS);
    uint32_t vs = m->val_slot;
    bool shaped = fixed_key_slot(m->key_kind) && !m->val_indirect && (vs == 8 || vs == 16) &&
                  m->val_off == shape_val_off(m->key_kind, vs) &&
                  m->ovf_off == shape_ovf_off(m->key_kind, vs) &&
                  m->bucket_size == shape_bucket_size(m->key_kind, vs);
    m->shape = shaped ? shape_code(m->key_kind, vs) : SHAPE_NONE;
}

static bool options_valid(const gomap_options *o)
{
    switch (o->key_kind) {
    case GOMAP_KEY_U32:
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64:
    case GOMAP_KEY_STR:
        break;
    case GOMAP_KEY_CUSTOM:
        if (!o->hash || !o->equal)
            return false;
        /* fall through */
    case GOMAP_KEY_BYTES:
        if (o->key_size > GOMAP_MAX_KEY_SIZE)
            return false;
        break;
    default:
        return false;
    }
    if (o->val_size > GOMAP_MAX_VAL_SIZE || (unsigned)o->check > GOMAP_CHECK_STRICT)
        return false;
    return !o->alloc || (o->alloc->alloc && o->alloc->free);
}

int gomap__options_check(const gomap_options *opt)
{
    return opt && options_valid(opt) ? 0 : -EINVAL;
}

/* The B a hint asks for (Go's makemap), or 0 if the hint would need more
 * memory than the machine has: such a hint is ignored, as Go ignores bogus
 * hints. */
static unsigned b_for_hint(const gomap_t *m, size_t hint)
{
    unsigned b = 0;
    while (b < MAX_B && over_load_factor(hint, b))
        b++;
    if (b == 0 || b >= MAX_B)
        return 0;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double phys = (pages > 0 && page > 0) ? (double)pages * (double)page : 1e12;
    double bytes = (double)((size_t)1 << b) * (double)m->bucket_size;
    return bytes > phys ? 0 : b;
}

int gomap_new(gomap_t **out, const gomap_options *opt)
{
    if (out)
        *out = NULL;
    if (!out || !opt || !options_valid(opt))
        return -EINVAL;
    static _Atomic uint64_t next_id = 1;
    gomap_mem mem = {opt->alloc, 0, opt->mem_limit};
    gomap_t *m = gomap__mem_alloc(&mem, sizeof *m);
    if (!m)
        return -ENOMEM;
    memset(m, 0, sizeof *m);
    m->mem = mem;
    atomic_init(&m->writer, 0);
    m->check = (uint8_t)(opt->check == GOMAP_CHECK_AUTO ? gomap__check_mode_default() : (int)opt->check);
    m->id = fetch_add_relaxed(&next_id, 1);
    m->key_kind = (uint8_t)opt->key_kind;
    const gomap__hasher h = gomap__hasher_for(opt, gomap__rand64());
    map_set_seed(m, h.seed);
    m->key_size = h.key_size;
    m->hash = h.hash;
    m->val_size = opt->val_size;
    m->equal = opt->equal;
    atomic_init(&m->iterators, 0);
    compute_layout(m);

    /* As in Go, a small map allocates its one bucket on first insert. A
     * hinted array that cannot be allocated is a hint not honoured. */
    unsigned b = b_for_hint(m, opt->hint);
    if (b > 0 && (m->buckets = gomap__array_alloc(m, b)) != NULL)
        m->B = (uint8_t)b;
    lookup_refresh(m);
    *out = m;
    return 0;
}

int gomap__new_seeded(gomap_t **out, const gomap_options *opt, uint64_t seed)
{
    int rc = gomap_new(out, opt);
    if (rc == 0) {
        map_set_seed(*out, seed);
        (*out)->fixed_seed = 1;
    }
    return rc;
}

void gomap_free(gomap_t *m)
{
    if (!m)
        return;
    gomap__frozen_check(m, GOMAP_CALLER);
#if GOMAP_DEBUG_LEVEL >= 1
    if (iterators_live(m))
        gomap__fault(m, MSG_FREE_WITH_ITER, 0, GOMAP_CALLER);
#endif
    release_all_slot_memory(m);
    gomap__array_free(m, m->oldbuckets);
    gomap__array_free(m, m->buckets);
    graveyard_empty(m, true);
    gomap__release_all(m);
    gomap_mem mem = m->mem;
    gomap__mem_free(&mem, m, sizeof *m);
}

size_t gomap_len(const gomap_t *m)
{
    return m ? m->count : 0;
}

/* ---- clear ------------------------------------------------------------------------ */

void gomap_clear(gomap_t *m)
{
    if (!m)
        return;
    if (m->count == 0) {
        gomap__frozen_check(m, GOMAP_CALLER);
        return; /* as Go's mapclear: nothing to do, no reseed */
    }
    gomap__write_begin(m, GOMAP_CALLER);
    /* Iterators stop at their next step without touching memory (clear_seq),
     * so everything can be freed now. */
    m->clear_seq++;
    release_all_slot_memory(m);
    gomap__array_free(m, m->oldbuckets);
    m->oldbuckets = NULL;
    lookup_refresh(m);
    graveyard_empty(m, true);
    /* Keep the array (Go keeps capacity); drop overflow buckets. */
    if (m->buckets)
        array_reset(m, m->buckets);
    m->count = 0;
    m->noverflow = 0;
    m->nevacuate = 0;
    m->flags = 0;
    gomap__reseed(m);
    gomap__write_end(m);
}

/* ---- shrink ------------------------------------------------------------------------ */

typedef struct {
    char *arr;
    unsigned b;
    size_t noverflow;
} rebuild_ctx;

/* Appends one live entry to the array being rebuilt. The new array only ever
 * receives appends, so each chain is full slots followed by EMPTY_REST. */
static int rebuild_one(const gomap_t *cm, char *b, unsigned i, void *vctx)
{
    gomap_t *m = (gomap_t *)(uintptr_t)cm;
    rebuild_ctx *ctx = vctx;
    const void *key = key_of_slot(m, key_slot_at(m, b, i));
    uint64_t hash = gomap__hash_key(m, key);
    char *d = bucket_at(m, ctx->arr, hash & bucket_mask(ctx->b));
    unsigned s = 0;
    for (;;) {
        while (s < BUCKET_SLOTS && tophash_of(d)[s] != EMPTY_REST)
            s++;
        if (s < BUCKET_SLOTS)
            break;
        char *next = *overflow_of(m, d);
        if (!next) {
            if (!(next = gomap__overflow_new(m)))
                return -ENOMEM;
            gomap__overflow_attach(ctx->arr, next);
            *overflow_of(m, d) = next;
            ctx->noverflow++;
        }
        d = next;
        s = 0;
    }
    memcpy(key_slot_at(m, d, s), key_slot_at(m, b, i), m->key_slot);
    memcpy(val_slot_at(m, d, s), val_slot_at(m, b, i), m->val_slot);
    tophash_of(d)[s] = (uint8_t)tophash_from(hash);
    return 0;
}

int gomap_shrink(gomap_t *m)
{
    if (!m)
        return -EINVAL;
    gomap__frozen_check(m, GOMAP_CALLER); /* before -EBUSY: views iterate */
    if (iterators_live(m))
        return -EBUSY;
    gomap__write_begin(m, GOMAP_CALLER);
    int rc = 0;
    rebuild_ctx ctx = {NULL, 0, 0};
    if (m->count > 0) {
        while (over_load_factor(m->count, ctx.b))
            ctx.b++;
        if (!is_growing(m) && ctx.b == m->B && m->noverflow == 0)
            goto out; /* already the smallest array, nothing to give back */
        if (!(ctx.arr = gomap__array_alloc(m, ctx.b))) {
            rc = -ENOMEM;
            goto out;
        }
        /* Entries are copied, not moved: until the commit below the old
         * arrays still own everything, so a failure just drops the copy. */
        if ((rc = gomap__for_each(m, rebuild_one, &ctx)) != 0) {
            gomap__array_free(m, ctx.arr);
            goto out;
        }
    }
    gomap__array_free(m, m->oldbuckets);
    gomap__array_free(m, m->buckets);
    m->oldbuckets = NULL;
    m->buckets = ctx.arr;
    m->B = (uint8_t)ctx.b;
    lookup_refresh(m);
    m->noverflow = ctx.noverflow;
    m->nevacuate = 0;
    m->flags = 0;
out:
    gomap__write_end(m);
    return rc;
}

/* ---- clone ------------------------------------------------------------------------- */

static int clone_one(const gomap_t *m, char *b, unsigned i, void *ctx)
{
    gomap_t *c = ctx;
    const void *key = key_of_slot(m, key_slot_at(m, b, i));
    const void *val = val_of_slot(m, val_slot_at(m, b, i));
    int rc = gomap__upsert_hashed(c, key, gomap__hash_key(c, key), val, true, NULL);
    return rc < 0 ? rc : 0;
}

int gomap_clone(gomap_t **out, const gomap_t *m)
{
    if (out)
        *out = NULL;
    if (!out || !m)
        return -EINVAL;
    gomap__read_check(m, MSG_READ_WRITE, GOMAP_CALLER);
    gomap_options o = {
        .key_kind = (gomap_key_kind)m->key_kind,
        .key_size = m->key_size,
        .val_size = m->val_size,
        .hint = m->count,
        .hash = m->hash,
        .equal = m->equal,
        .alloc = m->mem.a,
        .check = (gomap_check_mode)m->check,
        .mem_limit = m->mem.limit,
    };
    gomap_t *c;
    int rc = gomap_new(&c, &o);
    if (rc)
        return rc;
    if ((rc = gomap__for_each(m, clone_one, c)) != 0) {
        gomap_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

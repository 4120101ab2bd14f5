/*
 * map_release.c — giving outgrown bucket arrays back in slices.
 *
 * When growth ends, the old array is unreachable. Freeing it in the insert
 * that ends the growth would cost that insert the release of every page
 * (munmap of a 256 MiB array of 4 KiB pages: 17 ms here) and of every
 * overflow bucket still chained to it. Instead the array joins the map's
 * `releasing` list, and each later insert or delete (gomap__release_some,
 * public or through a layer) gives back one bounded slice: RELEASE_OVERFLOW
 * overflow buckets, or the last RELEASE_SLICE bytes of a mapped array
 * (munmap of 256 KiB: 15 us in the median, `gomap-release-choice`), or a
 * whole array that is not mapped (one allocator call). A 256 MiB array is
 * gone after about a thousand writes, plus one per 32 of its overflow
 * buckets; in the meantime its bytes count in bytes_held and mapped_bytes.
 *
 * Ownership: an array on the list belongs to the list alone: no iterator,
 * lookup or layer reader can reach it (callers guarantee it: the map's
 * graveyard keeps arrays for live iterators, and a layer with lock-free
 * readers hands arrays over only after a grace period). gomap_free frees
 * what is left at once (gomap__release_all).
 */
#include <unistd.h>

#include "core/map_internal.h"

/* Overflow buckets freed by one write: each free touches a bucket header
 * that is rarely in cache, so about 200 ns apiece. */
#define RELEASE_OVERFLOW 32
/* Bytes of a mapping unmapped by one write. */
#define RELEASE_SLICE ((size_t)256 << 10)

void gomap__release_array(gomap_t *m, char *arr)
{
    struct array_hdr *h = array_hdr_of(arr);
    if (!h->mapped && !h->overflow) {
        gomap__array_free(m, arr);
        return;
    }
    h->next_retired = m->releasing;
    m->releasing = h;
}

/* Frees up to RELEASE_OVERFLOW overflow buckets of h; true if none is left. */
static bool release_overflow(gomap_t *m, struct array_hdr *h)
{
    for (unsigned n = 0; h->overflow && n < RELEASE_OVERFLOW; n++) {
        struct ovf_hdr *o = h->overflow;
        h->overflow = o->next;
        gomap__mem_free(&m->mem, o, ovf_bytes(m));
    }
    return h->overflow == NULL;
}

/* Unmaps the last RELEASE_SLICE bytes (page-aligned) of h's mapping; true
 * if only the first slice, the one holding h, is left. */
static bool release_tail(gomap_t *m, struct array_hdr *h)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (h->mapped <= RELEASE_SLICE + page)
        return true;
    size_t cut = (h->mapped - RELEASE_SLICE) & ~(page - 1);
    gomap__mem_unmap(&m->mem, (char *)h + cut, h->mapped - cut);
    h->mapped = cut;
    return false;
}

void gomap__release_step(gomap_t *m)
{
    struct array_hdr *h = m->releasing;
    if (!release_overflow(m, h))
        return;
    if (h->mapped && !release_tail(m, h))
        return;
    m->releasing = h->next_retired;
    gomap__array_free(m, (char *)(h + 1)); /* what is left: one slice, or
                                              an array of the allocator */
}

void gomap__release_all(gomap_t *m)
{
    while (m->releasing) {
        struct array_hdr *h = m->releasing;
        m->releasing = h->next_retired;
        gomap__array_free(m, (char *)(h + 1));
    }
}

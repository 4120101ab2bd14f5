/*
 * map_fault.c — what a misuse report says about a core map, and the
 * entry points that report misuse of one (map_internal.h).
 *
 * base/misuse.c prints the report; this file gives it the map as its
 * subject: the map's write mark (so that the other writer stops at the end
 * of its write), and a description read while that writer may still be
 * running: the header fields and the compact heatmap, which reads tophash
 * bytes and overflow pointers only and bounds every chain walk.
 */
#include <stdio.h>
#include <stdlib.h>

#include "base/keys.h"
#include "base/scope.h"
#include "core/map_heatmap.h"
#include "core/map_internal.h"

static const char *mode_name(int mode)
{
    return mode == GOMAP_CHECK_STRICT ? "strict" : mode == GOMAP_CHECK_FAST ? "fast" : "off";
}

static void describe_map(FILE *out, const gomap_t *m, gomap_fault *f)
{
    fprintf(out, "map %p: %s keys", (const void *)m, gomap__key_kind_name(m->key_kind));
    if (m->key_kind == GOMAP_KEY_BYTES || m->key_kind == GOMAP_KEY_CUSTOM)
        fprintf(out, " of %zu bytes", m->key_size);
    fprintf(out, ", %zu-byte values, check mode %s\n", m->val_size, mode_name(m->check));
    f->count = m->count;
    f->b = m->B;
    f->growing = m->oldbuckets != NULL;
    f->overflow_buckets = m->noverflow;
    fprintf(out, "header: count=%zu B=%u buckets=%zu overflow=%zu", m->count, m->B,
            m->buckets ? (size_t)1 << m->B : 0, m->noverflow);
    if (m->oldbuckets)
        fprintf(out, " growing=%s (old buckets %zu, evacuated below %zu)",
                (m->flags & FLAG_SAME_SIZE_GROW) ? "same-size" : "doubling",
                old_bucket_count(m), m->nevacuate);
    else
        fputs(" growing=no", out);
    fprintf(out, " live-iterators=%zu retained-for-iterators=%zu bytes-held=%zu\n",
            load_relaxed(&((gomap_t *)(uintptr_t)m)->iterators), m->retained_bytes,
            m->mem.bytes_held);
    if (m->buckets)
        gomap__heatmap_text(m, out, 4);
}

static struct gomap__fault_subject subject_of(const gomap_t *m)
{
    gomap_t *mm = (gomap_t *)(uintptr_t)m; /* only the mark is written */
    return (struct gomap__fault_subject){m, mm ? &mm->writer : NULL, mm ? describe_map : NULL};
}

_Noreturn void gomap__fault(const gomap_t *m, const char *message, uintptr_t other,
                            const void *site)
{
    struct gomap__fault_subject s = subject_of(m);
    gomap__report(&s, message, other, site, NULL, NULL);
}

_Noreturn void gomap__fault_held(const gomap_t *m, const char *message, const void *site,
                                 const char *held, const void *held_site)
{
    struct gomap__fault_subject s = subject_of(m);
    gomap__report(&s, message, 0, site, held, held_site);
}

_Noreturn void gomap__scope_fault(const struct gomap__scope *s, const gomap_t *map,
                                  const char *message, const void *site)
{
    char held[160];
    snprintf(held, sizeof held, "%s of %p, by this thread (inside its callback)", s->what,
             s->owner);
    gomap__fault_held(map, message, site, held, s->site);
}

/*
 * map_dump.c — gomap_dump: every bucket of a map, for a person.
 *
 * The dump walks every chain of the current array and, while growing, of
 * the old one. It reads a slot's key and value only while the slot's tophash
 * is live (>= MIN_TOPHASH): an evacuated slot's out-of-line key belongs to
 * the new slot and may already be freed, so only its marker is printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "base/render.h"
#include "core/map_internal.h"


/* ======================================================================== */
/* Dump                                                                      */
/* ======================================================================== */

#define DUMP_HEX_MAX 32  /* bytes of a key or value shown in hex */
#define DUMP_STR_MAX 64  /* string keys longer than this are shortened ... */
#define DUMP_STR_HEAD 48 /* ... to their first DUMP_STR_HEAD bytes */

/* Go's name of a marker tophash, or NULL for a live one. */
static const char *marker_name(uint8_t top)
{
    static const char *const names[MIN_TOPHASH] = {"emptyRest", "emptyOne", "evacX",
                                                   "evacY", "evacEmpty"};
    return top < MIN_TOPHASH ? names[top] : NULL;
}

/* n bytes in hex (memory order); past DUMP_HEX_MAX bytes, "..." and the
 * length. */
static void put_hex(FILE *out, const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t shown = n < DUMP_HEX_MAX ? n : DUMP_HEX_MAX;
    for (size_t i = 0; i < shown; i++)
        fprintf(out, "%02x", c[i]);
    if (shown < n)
        fprintf(out, "... (%zu bytes)", n);
    else if (n == 0)
        fputs("(0 bytes)", out);
}

/* A string key, double-quoted, with C escapes for quotes, backslashes and
 * every byte outside printable ASCII; a long one is cut to DUMP_STR_HEAD
 * bytes followed by "..." and its length. */
static void put_str(FILE *out, const gomap_str *s)
{
    size_t shown = s->len <= DUMP_STR_MAX ? s->len : DUMP_STR_HEAD;
    putc('"', out);
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s->ptr[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            putc(c, out);
    }
    putc('"', out);
    if (shown < s->len)
        fprintf(out, "... (%zu bytes)", s->len);
}

/* A double in the shortest %g form that reads back as the same value;
 * "-0" and "nan" spelled out (a NaN's sign and payload carry no meaning). */
static void put_f64(FILE *out, double d)
{
    if (isnan(d)) {
        fputs("nan", out);
        return;
    }
    if (d == 0) {
        fputs(signbit(d) ? "-0" : "0", out);
        return;
    }
    char buf[40];
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    fputs(buf, out);
}

/* The key of live slot i of bucket b, rendered by kind. */
static void put_key(const gomap_t *m, FILE *out, char *b, unsigned i)
{
    const void *k = key_of_slot(m, key_slot_at(m, b, i));
    switch (m->key_kind) {
    case GOMAP_KEY_U32: {
        uint32_t v;
        memcpy(&v, k, sizeof v);
        fprintf(out, "%" PRIu32, v);
        break;
    }
    case GOMAP_KEY_U64: {
        uint64_t v;
        memcpy(&v, k, sizeof v);
        fprintf(out, "%" PRIu64, v);
        break;
    }
    case GOMAP_KEY_F64: {
        double v;
        memcpy(&v, k, sizeof v);
        put_f64(out, v);
        break;
    }
    case GOMAP_KEY_STR: {
        gomap_str s;
        memcpy(&s, k, sizeof s);
        put_str(out, &s);
        break;
    }
    default:
        put_hex(out, k, m->key_size);
        break;
    }
}

/* One bucket: its eight tophash bytes (markers by name), then a line per
 * live slot. Slots with a marker are not read any further. */
static void dump_slots(const gomap_t *m, FILE *out, char *b)
{
    fputs("  tophash:", out);
    for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
        const char *name = marker_name(tophash_of(b)[i]);
        if (name)
            fprintf(out, " %s", name);
        else
            fprintf(out, " %02x", tophash_of(b)[i]);
    }
    putc('\n', out);
    for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
        if (tophash_of(b)[i] < MIN_TOPHASH)
            continue;
        fprintf(out, "  [%u] %02x key=", i, tophash_of(b)[i]);
        put_key(m, out, b, i);
        if (m->val_size) {
            fputs(" val=", out);
            put_hex(out, val_of_slot(m, val_slot_at(m, b, i)), m->val_size);
        }
        putc('\n', out);
    }
}

/* A chain: its head bucket, then each overflow bucket, numbered from 1. A
 * chain that is one bucket of emptyRest is printed as one line. */
static void dump_chain(const gomap_t *m, FILE *out, const char *what, size_t idx, char *head)
{
    static const uint8_t all_rest[BUCKET_SLOTS]; /* EMPTY_REST == 0 */
    if (!*overflow_of(m, head) && !memcmp(tophash_of(head), all_rest, BUCKET_SLOTS)) {
        fprintf(out, "%s %zu: empty\n", what, idx);
        return;
    }
    size_t n = 0;
    for (char *b = head; b; b = *overflow_of(m, b), n++) {
        if (n == 0)
            fprintf(out, "%s %zu:\n", what, idx);
        else
            fprintf(out, "%s %zu overflow %zu:\n", what, idx, n);
        dump_slots(m, out, b);
    }
}

static void dump_header(const gomap_t *m, FILE *out)
{
    fprintf(out, "gomap %p: %s keys", (const void *)m, gomap__key_kind_name(m->key_kind));
    if (m->key_kind == GOMAP_KEY_BYTES || m->key_kind == GOMAP_KEY_CUSTOM)
        fprintf(out, " of %zu bytes", m->key_size);
    fprintf(out, ", %zu-byte values\n", m->val_size);
    fprintf(out, "count=%zu B=%u buckets=%zu flags=0x%x%s overflow=%zu", m->count,
            (unsigned)m->B, m->buckets ? (size_t)1 << m->B : 0, (unsigned)m->flags,
            (m->flags & FLAG_SAME_SIZE_GROW) ? " (sameSizeGrow)" : "", m->noverflow);
    if (is_growing(m))
        fprintf(out, " growing=%s oldbuckets=%zu nevacuate=%zu",
                (m->flags & FLAG_SAME_SIZE_GROW) ? "same-size" : "doubling",
                old_bucket_count(m), m->nevacuate);
    else
        fputs(" growing=no", out);
    fprintf(out, " bytes_held=%zu\n", m->mem.bytes_held);
}

int gomap_dump(const gomap_t *m, FILE *out)
{
    if (!m || !out)
        return -EINVAL;
    dump_header(m, out);
    if (!m->buckets)
        fputs("no bucket array\n", out);
    if (m->buckets) {
        size_t n = (size_t)1 << m->B;
        fprintf(out, "current array: %zu bucket%s\n", n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++)
            dump_chain(m, out, "bucket", i, bucket_at(m, m->buckets, i));
    }
    if (is_growing(m)) {
        size_t n = old_bucket_count(m);
        fprintf(out, "old array: %zu buckets, evacuated below %zu\n", n, m->nevacuate);
        for (size_t i = 0; i < n; i++)
            dump_chain(m, out, "old bucket", i, bucket_at(m, m->oldbuckets, i));
    }
    return gomap__out_finish(out);
}

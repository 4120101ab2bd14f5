/*
 * batch.h — what the concurrent maps' batch reads (gomap_shard_get_many,
 * gomap_sync_load_many) share: where the caller's keys lie, the arguments
 * every one of them checks first, and the chunks a batch is served in.
 */
#ifndef GOMAP_BATCH_H
#define GOMAP_BATCH_H

#include <gomap/map.h>

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Keys of a batch served inside one RCU read-side section (and, for the
 * sync map, with one load of its read part): short enough not to hold up
 * the grace periods writers wait for. */
#define GOMAP_BATCH_CHUNK 256

/* The distance between two keys of a caller's array of keys of this kind
 * (key_size: the declared size of bytes and custom keys). */
static inline size_t gomap__key_stride(int kind, size_t key_size)
{
    switch (kind) {
    case GOMAP_KEY_U32: return sizeof(uint32_t);
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: return sizeof(uint64_t);
    case GOMAP_KEY_STR: return sizeof(gomap_str);
    default: return key_size;
    }
}

/* The contract every batch read applies to its arguments before it reads a
 * key: n == 0 does nothing; found_out (if any) starts all false; no map
 * (have_map false) leaves the values alone, their size being unknown; NULL
 * keys read every key as absent (val_size zero bytes each). True when there
 * are keys to read. */
static inline bool gomap__batch_begin(bool have_map, size_t val_size, const void *keys,
                                      size_t n, void *vals_out, bool *found_out)
{
    if (n == 0)
        return false;
    if (found_out)
        memset(found_out, 0, n * sizeof *found_out);
    if (!have_map)
        return false;
    if (!keys) {
        if (vals_out)
            memset(vals_out, 0, n * val_size);
        return false;
    }
    return true;
}

/* The length of the chunk starting at key `from` of n. */
static inline size_t gomap__batch_chunk(size_t n, size_t from)
{
    return n - from < GOMAP_BATCH_CHUNK ? n - from : GOMAP_BATCH_CHUNK;
}

#endif /* GOMAP_BATCH_H */

/*
 * peer_glib.c — GLib's GHashTable (Debian libglib2.0-dev), the hash table
 * most C programs on Linux already link. Idiomatic use: u64 keys and the
 * values are stored in the pointers themselves (g_direct_hash); string keys
 * point at the key set's gomap_str (borrowed) with a length-aware version of
 * g_str_hash's djb hash.
 */
#include "common/bench.h"

#include <glib.h>
#include <string.h>

#define U2P(x) ((gpointer)(uintptr_t)(x))
#define P2U(p) ((uint64_t)(uintptr_t)(p))

static guint str_hash(gconstpointer p)
{
    const gomap_str *s = p;
    guint32 h = 5381;
    for (size_t i = 0; i < s->len; i++)
        h = (h << 5) + h + (unsigned char)s->ptr[i];
    return h;
}

static gboolean str_equal(gconstpointer a, gconstpointer b)
{
    const gomap_str *x = a, *y = b;
    return x->len == y->len && memcmp(x->ptr, y->ptr, x->len) == 0;
}

typedef struct {
    bench_key_type type;
    GHashTable *t;
} gl_map;

static void *gl_create(bench_key_type type, size_t hint)
{
    (void)hint; /* GHashTable has no presizing */
    gl_map *m = g_new(gl_map, 1);
    m->type = type;
    m->t = type == KEYS_U64 ? g_hash_table_new(g_direct_hash, g_direct_equal)
                            : g_hash_table_new(str_hash, str_equal);
    return m;
}

static void gl_destroy(void *map)
{
    gl_map *m = map;
    g_hash_table_destroy(m->t);
    g_free(m);
}

static gconstpointer key_ptr(const bench_keyset *ks, size_t i)
{
    return ks->type == KEYS_U64 ? U2P(ks->u64[i]) : (gconstpointer)&ks->str[i];
}

static void gl_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    gl_map *m = map;
    for (size_t i = from; i < to; i++)
        g_hash_table_insert(m->t, (gpointer)key_ptr(ks, i), U2P(bench_value_of(i)));
}

static uint64_t gl_lookup(void *map, const bench_keyset *q, size_t from, size_t to)
{
    gl_map *m = map;
    uint64_t sum = 0;
    for (size_t j = from; j < to; j++)
        sum += P2U(g_hash_table_lookup(m->t, key_ptr(q, j))); /* absent: NULL = 0 */
    return sum;
}

static size_t gl_erase(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    gl_map *m = map;
    size_t found = 0;
    for (size_t i = from; i < to; i++)
        found += g_hash_table_remove(m->t, key_ptr(ks, i));
    return found;
}

static uint64_t gl_iterate(void *map)
{
    gl_map *m = map;
    GHashTableIter it;
    gpointer k, v;
    uint64_t sum = 0;
    g_hash_table_iter_init(&it, m->t);
    while (g_hash_table_iter_next(&it, &k, &v))
        sum += P2U(v);
    return sum;
}

static size_t gl_len(void *map) { return g_hash_table_size(((gl_map *)map)->t); }

const bench_impl bench_impl_glib = {
    .name = "glib",
    .what = "GLib GHashTable " GOMAP_BENCH_STR(GLIB_MAJOR_VERSION) "." GOMAP_BENCH_STR(
        GLIB_MINOR_VERSION) "." GOMAP_BENCH_STR(GLIB_MICRO_VERSION) " (string keys borrowed)",
    .create = gl_create,
    .destroy = gl_destroy,
    .insert = gl_insert,
    .lookup = gl_lookup,
    .erase = gl_erase,
    .iterate = gl_iterate,
    .len = gl_len,
};

/*
 * lookup_instr — the instructions of one in-cache u64 hit, gomap against
 * absl::flat_hash_map (docs/bench.md, "In cache (1e4 entries)").
 *
 * Builds a u64 -> u64 map of KEYS keys (gomap_set_u64 / insert_or_assign,
 * presized) and makes LOOKUPS hit lookups of keys picked at random from the
 * set, in lookup_loop_gomap (gomap_get_u64 through libgomap.so, as a user
 * calls it) and lookup_loop_absl (absl's inlined find). Each loop is one
 * function, so callgrind counts just the lookups, the loop included:
 *
 *   valgrind --tool=callgrind --toggle-collect='lookup_loop_*' \
 *       --callgrind-out-file=/tmp/x.cg build/release/bench/gomap-lookup-instr
 *   callgrind_annotate /tmp/x.cg    # Ir / LOOKUPS = instructions per hit
 *
 * usage: gomap-lookup-instr [CASE]   (default: gomap, then absl)
 * CASE: gomap, absl, or a variant of gomap's (the loops are in the same
 * function, lookup_loop_gomap, unless named): gomap-v16 (16-byte values),
 * gomap-small (a one-bucket map of 4 keys, queried for keys 0-3),
 * gomap-u32 (u32 keys, gomap_get_u32 in lookup_loop_u32), gomap-get (the
 * generic gomap_get, in lookup_loop_get). Prints each loop's checksum
 * (gomap's and absl's agree when both found every key).
 */
#include <gomap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keystream.h"
#include "core/lookup_instr.h"

/* One loop per lookup call; each reads q[j] and adds the value found. */
#define LOOKUP_LOOP(name, LOOKUP)                                                        \
    __attribute__((noinline)) static uint64_t name(const gomap_t *m, const uint64_t *q,  \
                                                   size_t n)                             \
    {                                                                                    \
        uint64_t sum = 0;                                                                \
        for (size_t j = 0; j < n; j++) {                                                 \
            const uint64_t *v = LOOKUP;                                                  \
            if (v)                                                                       \
                sum += *v;                                                               \
        }                                                                                \
        return sum;                                                                      \
    }
LOOKUP_LOOP(lookup_loop_gomap, gomap_get_u64(m, q[j]))
LOOKUP_LOOP(lookup_loop_u32, gomap_get_u32(m, (uint32_t)q[j]))
LOOKUP_LOOP(lookup_loop_get, gomap_get(m, &q[j]))
#undef LOOKUP_LOOP

/* A gomap case: the map (key kind, value size, keys) and the loop. */
typedef struct {
    const char *name;
    gomap_key_kind kind;
    size_t val_size, keys;
    uint64_t (*loop)(const gomap_t *m, const uint64_t *q, size_t n);
} gomap_case;

static const gomap_case cases[] = {
    {"gomap", GOMAP_KEY_U64, 8, LOOKUP_INSTR_KEYS, lookup_loop_gomap},
    {"gomap-v16", GOMAP_KEY_U64, 16, LOOKUP_INSTR_KEYS, lookup_loop_gomap},
    {"gomap-small", GOMAP_KEY_U64, 8, 4, lookup_loop_gomap},
    {"gomap-u32", GOMAP_KEY_U32, 8, LOOKUP_INSTR_KEYS, lookup_loop_u32},
    {"gomap-get", GOMAP_KEY_U64, 8, LOOKUP_INSTR_KEYS, lookup_loop_get},
};

/* Keys of a u32 map are the low halves of the u64 keys; the small map's
 * are 0-3, and its queries q[j] % 4. */
static int run_gomap(const gomap_case *c, const uint64_t *keys, uint64_t *q)
{
    gomap_t *m;
    gomap_options o = {.key_kind = c->kind, .val_size = c->val_size, .hint = c->keys};
    if (gomap_new(&m, &o) != 0)
        return 1;
    for (uint64_t i = 0; i < c->keys; i++) {
        uint64_t v[2] = {i + 1, 0}, k = c->keys < LOOKUP_INSTR_KEYS ? i : keys[i];
        if (c->kind == GOMAP_KEY_U32 ? gomap_set_u32(m, (uint32_t)k, v) : gomap_set_u64(m, k, v))
            return 1;
    }
    for (size_t j = 0; c->keys < LOOKUP_INSTR_KEYS && j < LOOKUP_INSTR_LOOKUPS; j++)
        q[j] %= c->keys;
    printf("%s checksum %llu\n", c->name,
           (unsigned long long)c->loop(m, q, LOOKUP_INSTR_LOOKUPS));
    gomap_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";
    uint64_t *keys = malloc(LOOKUP_INSTR_KEYS * sizeof *keys);
    uint64_t *q = malloc(LOOKUP_INSTR_LOOKUPS * sizeof *q);
    if (!keys || !q)
        return 1;
    for (uint64_t i = 0; i < LOOKUP_INSTR_KEYS; i++)
        keys[i] = ks_key(1, STREAM_SET, i) & (argc > 1 && !strcmp(argv[1], "gomap-u32")
                                                  ? 0xffffffffu : ~(uint64_t)0);
    for (uint64_t j = 0; j < LOOKUP_INSTR_LOOKUPS; j++)
        q[j] = keys[ks_key(1, STREAM_PICK, j) % LOOKUP_INSTR_KEYS];
    int rc = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if ((!*which && i == 0) || !strcmp(which, cases[i].name))
            rc |= run_gomap(&cases[i], keys, q);
    if (!*which || !strcmp(which, "absl"))
        rc |= lookup_instr_absl(keys, q);
    free(keys);
    free(q);
    return rc;
}

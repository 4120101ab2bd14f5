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
 * usage: gomap-lookup-instr [gomap|absl]   (default: both, gomap first)
 * Prints each loop's checksum (equal when both found every key).
 */
#include <gomap.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keystream.h"
#include "core/lookup_instr.h"

__attribute__((noinline)) static uint64_t lookup_loop_gomap(const gomap_t *m, const uint64_t *q,
                                                            size_t n)
{
    uint64_t sum = 0;
    for (size_t j = 0; j < n; j++) {
        const uint64_t *v = gomap_get_u64(m, q[j]);
        if (v)
            sum += *v;
    }
    return sum;
}

static int run_gomap(const uint64_t *keys, const uint64_t *q)
{
    gomap_t *m;
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = 8, .hint = LOOKUP_INSTR_KEYS};
    if (gomap_new(&m, &o) != 0)
        return 1;
    for (uint64_t i = 0; i < LOOKUP_INSTR_KEYS; i++) {
        uint64_t v = i + 1;
        if (gomap_set_u64(m, keys[i], &v) != 0)
            return 1;
    }
    printf("gomap checksum %llu\n",
           (unsigned long long)lookup_loop_gomap(m, q, LOOKUP_INSTR_LOOKUPS));
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
        keys[i] = ks_key(1, STREAM_SET, i);
    for (uint64_t j = 0; j < LOOKUP_INSTR_LOOKUPS; j++)
        q[j] = keys[ks_key(1, STREAM_PICK, j) % LOOKUP_INSTR_KEYS];
    int rc = 0;
    if (!*which || !strcmp(which, "gomap"))
        rc |= run_gomap(keys, q);
    if (!*which || !strcmp(which, "absl"))
        rc |= lookup_instr_absl(keys, q);
    free(keys);
    free(q);
    return rc;
}

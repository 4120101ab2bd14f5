/* sim.c — one replay of a trace through a policy (sim.h). */
#include <stdio.h>

#include "cache/sim.h"

int64_t sim_run(const policy_kind *kind, const uint32_t *keys, size_t n, uint32_t n_keys,
                size_t capacity, uint64_t seed)
{
    policy_params p = {capacity, n_keys, seed, keys, n};
    policy *c = kind->create(&p);
    if (!c) {
        fprintf(stderr, "gomap-cachesim: %s: out of memory\n", kind->name);
        return -1;
    }
    int64_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        hits += kind->access(c, keys[i]);
        if (kind->len(c) > capacity) {
            fprintf(stderr, "gomap-cachesim: %s holds %zu keys, over its capacity %zu, at access %zu\n",
                    kind->name, kind->len(c), capacity, i);
            hits = -1;
            break;
        }
    }
    kind->destroy(c);
    return hits;
}

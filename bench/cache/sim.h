/* sim.h — one replay of a trace through a policy, and the self-test. */
#ifndef GOMAP_CACHESIM_SIM_H
#define GOMAP_CACHESIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "cache/policy.h"

/* Replays keys[0..n) (dense ids below n_keys) through a new `kind` cache
 * of `capacity` entries: the number of hits, or -1 when the policy could
 * not be created or once held more than `capacity` keys (a message says
 * which). */
int64_t sim_run(const policy_kind *kind, const uint32_t *keys, size_t n, uint32_t n_keys,
                size_t capacity, uint64_t seed);

/* The self-test (--self-test): synthetic traces with known answers.
 * `trace_dir` (may be NULL) adds checks against the reference figures of
 * traces/README.md. Returns the number of failed checks. */
int sim_self_test(uint64_t seed, const char *trace_dir);

#endif /* GOMAP_CACHESIM_SIM_H */

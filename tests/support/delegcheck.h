/*
 * delegcheck.h — helpers shared by the delegation map's tests
 * (tests/unit/test_delegmap*.c, tests/stress/test_delegmap*.c,
 * tests/misuse/test_deleg_reentrancy.c).
 *
 *   CHECK_DELEG_VALID     gomap_deleg_validate must pass (else the reason).
 *   delegcheck_new*       a delegation map that must be created.
 *   delegcheck_stats      gomap_deleg_stats that must succeed.
 *   delegcheck_compute    gomap_deleg_compute with shardcheck.h's described
 *                         callback (put, delete, keep, abandon, CAS, CAD).
 *   delegcheck_compare    every key of a reference map looked up (value
 *                         included) and gomap_deleg_len equal to its length.
 *   delegcheck_modes      the worker counts every test runs: 0 (combining),
 *                         1 and 3.
 */
#ifndef GOMAP_TEST_DELEGCHECK_H
#define GOMAP_TEST_DELEGCHECK_H

#include "check.h"
#include "refmap.h"
#include "shardcheck.h"

#include <gomap/delegmap.h>

#include <stdbool.h>
#include <stddef.h>

#define CHECK_DELEG_VALID(m) \
    do { char why_[256] = ""; int rc_ = gomap_deleg_validate((m), why_, sizeof why_); \
         if (rc_ != 0) \
             check_fail(__FILE__, __LINE__, "gomap_deleg_validate(" #m ")", why_); } while (0)

enum { DELEGCHECK_NMODES = 3 };
extern const unsigned delegcheck_modes[DELEGCHECK_NMODES];

/* "combining" or "N workers" (a static buffer per call site is not needed:
 * the strings live as long as the program). */
const char *delegcheck_mode_name(unsigned workers);

/* gomap_deleg_new with these core-map options, workers and queue depth;
 * fails the test unless it returns 0 and a map. */
gomap_deleg_t *delegcheck_new(const gomap_options *map_opt, unsigned workers, unsigned depth);

/* A map of uint64_t keys under a hash variant of hashvariant.h. */
gomap_deleg_t *delegcheck_new_u64(int variant, size_t val_size, unsigned workers,
                                  unsigned depth);

gomap_deleg_stats_t delegcheck_stats(gomap_deleg_t *m);

/* gomap_deleg_compute(m, key, <callback doing op->mode>, op). */
int delegcheck_compute(gomap_deleg_t *m, const void *key, shard_cop *op);

/* Every findable key of r has its value in m, and gomap_deleg_len(m) is
 * refmap_len(r). Returns false with a reason. */
bool delegcheck_compare(gomap_deleg_t *m, refmap *r, char *why, size_t why_len);

#endif /* GOMAP_TEST_DELEGCHECK_H */

/*
 * reclaim_probe.h — the strategies matrix's reclamation columns: grace
 * periods waited and the longest pause of a writer, for the contenders that
 * defer frees through liburcu (the sync, snapshot and sharded maps,
 * cds_lfht).
 *
 * How: gomap-bench defines urcu_memb_synchronize_rcu itself, and the
 * dynamic linker resolves every call to it there, gomap's, liburcu's
 * reclaimer thread's (call_rcu waits for one grace period per batch of
 * callbacks) and cds_lfht's resizes included; the definition counts the
 * call, times it, and calls liburcu's (found with dlsym(RTLD_NEXT)). A
 * grace period is counted whoever waited for it; a pause is the time a
 * thread marked as a writer (reclaim_probe_writer: the matrix's worker
 * threads) spent in one, i.e. an operation that stopped to wait for
 * readers. Nothing else of liburcu is wrapped.
 *
 * Threads: the counters are atomics; read them while no timed run is
 * under way (between reclaim_probe_start and reclaim_probe_read, nothing
 * but the run's threads and liburcu's may wait for grace periods).
 */
#ifndef GOMAP_BENCH_RECLAIM_PROBE_H
#define GOMAP_BENCH_RECLAIM_PROBE_H

#include <stdbool.h>
#include <stdint.h>

/* Whether the wrapper is in the path: false if gomap-bench's definition
 * lost to liburcu's (then both figures read -1). */
bool reclaim_probe_active(void);

/* Marks the calling thread as one of a run's writers (a pause it spends
 * in a grace period counts) for the rest of its life. */
void reclaim_probe_writer(void);

/* Zeroes the counts at the start of a run. */
void reclaim_probe_start(void);

/* Grace periods waited since reclaim_probe_start, and the longest pause
 * (ns) a writer spent in one; both -1 if the probe is not active. */
void reclaim_probe_read(int64_t *grace_periods, double *pause_ns);

#endif /* GOMAP_BENCH_RECLAIM_PROBE_H */

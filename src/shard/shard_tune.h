/*
 * shard_tune.h — the sharded map's test hook for its auto mode, on its own
 * so that tests can include it without the map's layout
 * (tests/unit/test_shardmap_resize.c, tests/stress/test_shardmap_resize.c).
 */
#ifndef GOMAP_SHARD_TUNE_H
#define GOMAP_SHARD_TUNE_H

#include <stdint.h>

#include <gomap/shardmap.h>

/* Sets the auto mode's window (acquisitions per map window, at least 1;
 * each shard's share is rounded up to a power of two of at least 64) and
 * threshold (a window is hot when at least permille / 1000 of its
 * acquisitions waited; 0: every window is hot) of a map made with
 * auto_resize, so that tests can make the trigger deterministic. Call
 * before any other thread uses the map; a resize's new shards take the
 * setting over. */
void gomap__shard_tune(gomap_shard_t *m, uint64_t window, unsigned permille);

#endif /* GOMAP_SHARD_TUNE_H */

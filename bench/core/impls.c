/*
 * impls.c — the in-process implementations this build has: gomap always
 * (and, when asked for, its sharded map and cache, and the machine's
 * floor), each peer when its Debian package was found at configure time.
 */
#include "common/bench.h"

const bench_impl *const bench_impls[] = {
    &bench_impl_gomap,
    &bench_impl_gomap_shard,
    &bench_impl_gomap_cache,
    &bench_impl_floor,
    &bench_impl_floor_mem,
#ifdef GOMAP_BENCH_HAVE_ABSL
    &bench_impl_absl,
#endif
#ifdef GOMAP_BENCH_HAVE_GLIB
    &bench_impl_glib,
#endif
#ifdef GOMAP_BENCH_HAVE_UTHASH
    &bench_impl_uthash,
#endif
    NULL,
};

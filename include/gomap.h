/*
 * gomap.h — umbrella header: includes every public gomap module.
 * include/gomap/map.h: the core map; gomap/diag.h: its diagnostics;
 * gomap/syncmap.h: the sync map; gomap/shardmap.h: the sharded map;
 * gomap/snapmap.h: the copy-on-write snapshot map; gomap/delegmap.h: the
 * delegation map (owner threads or a combiner); gomap/reclaim.h: waiting
 * for deferred reclamation; gomap/cache.h: the TTL cache; gomap/metrics.h:
 * Prometheus metrics and their HTTP exporter; gomap/version.h:
 * the version.
 */
#ifndef GOMAP_H
#define GOMAP_H

#include "gomap/map.h"
#include "gomap/diag.h"
#include "gomap/syncmap.h"
#include "gomap/shardmap.h"
#include "gomap/snapmap.h"
#include "gomap/delegmap.h"
#include "gomap/reclaim.h"
#include "gomap/cache.h"
#include "gomap/metrics.h"
#include "gomap/version.h"

#endif /* GOMAP_H */

/*
 * gomap.h — umbrella header: includes every public gomap module.
 * See include/gomap/map.h for the core map, include/gomap/syncmap.h for
 * the sync map.
 */
#ifndef GOMAP_H
#define GOMAP_H

#include "gomap/map.h"
#include "gomap/diag.h"
#include "gomap/syncmap.h"

#endif /* GOMAP_H */

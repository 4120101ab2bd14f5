/*
 * gomap.h — umbrella header: includes every public gomap module.
 * See include/gomap/map.h for the core map.
 */
#ifndef GOMAP_H
#define GOMAP_H

#include "gomap/map.h"
#include "gomap/diag.h"

#endif /* GOMAP_H */

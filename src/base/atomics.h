/*
 * atomics.h — every atomic operation of the library goes through here, and
 * each name says its memory order.
 *
 * The core map uses relaxed atomics only: the misuse mark and the live
 * iterator count are read and written by threads the caller is supposed to
 * have ordered already (a correct program never lets a write overlap another
 * access). The atomics make the detector itself free of data races, so a
 * correct program stays quiet under ThreadSanitizer; they order nothing.
 */
#ifndef GOMAP_ATOMICS_H
#define GOMAP_ATOMICS_H

#include <stdatomic.h>

#define load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define exchange_relaxed(p, v) atomic_exchange_explicit((p), (v), memory_order_relaxed)
#define fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define fetch_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)

#endif /* GOMAP_ATOMICS_H */

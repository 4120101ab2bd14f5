/*
 * atomics.h — every atomic operation of the library goes through here, and
 * each name says its memory order. tests/check_low_level.sh fails the suite
 * on a C11 atomic function or a compiler atomic builtin called anywhere else
 * in src/.
 *
 * The operations are macros over C11's _explicit functions, so they take
 * any atomic type, as those do, and cost exactly what those cost.
 *
 *   load_<o>(p)                 o: relaxed, acquire, seq_cst
 *   store_<o>(p, v)             o: relaxed, release, seq_cst
 *   exchange_<o>(p, v)          o: relaxed, acquire, release, acq_rel
 *   fetch_add_<o>(p, v)         o: relaxed, release, acq_rel, seq_cst
 *   fetch_sub_<o>(p, v)         o: relaxed, release, acq_rel
 *   cas_weak_<o>(p, e, v)       o: relaxed, acquire, release, acq_rel
 *   cas_strong_<o>(p, e, v)     o: relaxed, acquire, release, acq_rel
 *   fence_<o>()                 o: acquire, release, seq_cst
 *   cpu_relax()                 a spin-wait hint, no ordering
 *
 * A compare-and-swap (cas_*) stores v in *p if *p equals *e and returns
 * true; otherwise it loads *p into *e and returns false. The weak form may
 * fail spuriously (use it in a loop). The order in the name is the one of
 * a success; a failure, which only loads, has that order without its
 * release half (acq_rel -> acquire, release -> relaxed), C++'s rule for a
 * compare-exchange given one order.
 *
 * Every acquire or release says, where it is used, what the other side
 * sees. The core map uses relaxed atomics only: the misuse mark and the
 * live iterator count are read and written by threads the caller is
 * supposed to have ordered already (a correct program never lets a write
 * overlap another access). The atomics make the detector itself free of
 * data races, so a correct program stays quiet under ThreadSanitizer; they
 * order nothing.
 *
 * Fences: gcc refuses to compile atomic_thread_fence under
 * -fsanitize=thread (-Wtsan, an error with -Werror). Code that a
 * ThreadSanitizer build compiles must leave its fences out there; the only
 * fences, those of the sharded map's optimistic reads, never run in such a
 * build (shardmap_internal.h, SEQ_FENCE).
 *
 * atomic_init is not an atomic operation (it initialises an object no
 * other thread can see yet) and is used as it is.
 */
#ifndef GOMAP_ATOMICS_H
#define GOMAP_ATOMICS_H

#include <stdatomic.h>

/* ---- loads and stores ------------------------------------------------------ */

#define load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define load_seq_cst(p) atomic_load_explicit((p), memory_order_seq_cst)

#define store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)
#define store_seq_cst(p, v) atomic_store_explicit((p), (v), memory_order_seq_cst)

/* ---- read-modify-write ------------------------------------------------------- */

#define exchange_relaxed(p, v) atomic_exchange_explicit((p), (v), memory_order_relaxed)
#define exchange_acquire(p, v) atomic_exchange_explicit((p), (v), memory_order_acquire)
#define exchange_release(p, v) atomic_exchange_explicit((p), (v), memory_order_release)
#define exchange_acq_rel(p, v) atomic_exchange_explicit((p), (v), memory_order_acq_rel)

#define fetch_add_relaxed(p, v) atomic_fetch_add_explicit((p), (v), memory_order_relaxed)
#define fetch_add_release(p, v) atomic_fetch_add_explicit((p), (v), memory_order_release)
#define fetch_add_acq_rel(p, v) atomic_fetch_add_explicit((p), (v), memory_order_acq_rel)
#define fetch_add_seq_cst(p, v) atomic_fetch_add_explicit((p), (v), memory_order_seq_cst)

#define fetch_sub_relaxed(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_relaxed)
#define fetch_sub_release(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_release)
#define fetch_sub_acq_rel(p, v) atomic_fetch_sub_explicit((p), (v), memory_order_acq_rel)

#define fetch_and_release(p, v) atomic_fetch_and_explicit((p), (v), memory_order_release)

/* ---- compare-and-swap (success order in the name; see the top) ----------------- */

#define cas_weak_relaxed(p, e, v) \
    atomic_compare_exchange_weak_explicit((p), (e), (v), memory_order_relaxed, \
                                          memory_order_relaxed)
#define cas_weak_acquire(p, e, v) \
    atomic_compare_exchange_weak_explicit((p), (e), (v), memory_order_acquire, \
                                          memory_order_acquire)
#define cas_weak_release(p, e, v) \
    atomic_compare_exchange_weak_explicit((p), (e), (v), memory_order_release, \
                                          memory_order_relaxed)
#define cas_weak_acq_rel(p, e, v) \
    atomic_compare_exchange_weak_explicit((p), (e), (v), memory_order_acq_rel, \
                                          memory_order_acquire)

#define cas_strong_relaxed(p, e, v) \
    atomic_compare_exchange_strong_explicit((p), (e), (v), memory_order_relaxed, \
                                            memory_order_relaxed)
#define cas_strong_acquire(p, e, v) \
    atomic_compare_exchange_strong_explicit((p), (e), (v), memory_order_acquire, \
                                            memory_order_acquire)
#define cas_strong_release(p, e, v) \
    atomic_compare_exchange_strong_explicit((p), (e), (v), memory_order_release, \
                                            memory_order_relaxed)
#define cas_strong_acq_rel(p, e, v) \
    atomic_compare_exchange_strong_explicit((p), (e), (v), memory_order_acq_rel, \
                                            memory_order_acquire)

/* ---- fences (not in ThreadSanitizer builds: see the top) ------------------------- */

#define fence_acquire() atomic_thread_fence(memory_order_acquire)
#define fence_release() atomic_thread_fence(memory_order_release)
#define fence_seq_cst() atomic_thread_fence(memory_order_seq_cst)

/* ---- spinning -------------------------------------------------------------------- */

/* In the body of a spin-wait loop: tells the CPU the thread is spinning
 * (x86 `pause`, AArch64 `yield`: less power, no memory-order violation
 * flush when the awaited store lands, and the sibling hyperthread runs);
 * elsewhere only a compiler barrier, so that the loop's loads are
 * repeated. Orders nothing for other threads. */
#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#endif /* GOMAP_ATOMICS_H */

/*
 * impl_floor.c — the machine's own floor for the insert-latency workload
 * (opt-in: --impls floor,floor-mem). Each "insert" spins FLOOR_NS on the
 * tick counter, so the runner times calls whose work never varies:
 *
 *   floor      touches no memory. What it records above FLOOR_NS (above
 *              100 us in particular) is preemption, interrupts and the
 *              hypervisor, not a map.
 *   floor-mem  also writes the next FRESH_BYTES of a mapping no one has
 *              touched, advised for huge pages as the maps' large arrays
 *              are: the price the machine charges for first touches of
 *              the memory a growing map needs. A u64 map growing to n
 *              entries writes about that much fresh memory per insert
 *              (its final array is about 30 bytes per entry, and the
 *              arrays it outgrew add as much again).
 *
 * Run beside the maps, over about the wall time of their own runs, they
 * tell which of the maps' slow inserts a map can be blamed for. Every
 * other workload refuses them.
 */
#include "common/bench.h"
#include "common/clock.h"

#include <stdlib.h>
#include <sys/mman.h>

/* About one insert into a u64 map of 1e7 keys, so a floor's run lasts
 * about as long as the maps' runs at that size. */
#define FLOOR_NS 200.0
#define FRESH_BYTES 64
/* The fresh mapping: enough for 2^24 inserts; later inserts wrap around
 * and write memory already touched. */
#define FRESH_SPAN ((size_t)FRESH_BYTES << 24)

typedef struct {
    uint64_t spin_ticks;
    size_t calls;
    char *fresh; /* NULL for floor */
} floor_state;

static floor_state *floor_new(bool touch)
{
    floor_state *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->spin_ticks = (uint64_t)(FLOOR_NS / clock_ns_per_tick());
    if (touch) {
        void *p = mmap(NULL, FRESH_SPAN, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            free(f);
            return NULL;
        }
#ifdef MADV_HUGEPAGE
        (void)madvise(p, FRESH_SPAN, MADV_HUGEPAGE);
#endif
        f->fresh = p;
    }
    return f;
}

static void *fl_create(bench_key_type type, size_t hint)
{
    (void)type, (void)hint;
    return floor_new(false);
}

static void *flm_create(bench_key_type type, size_t hint)
{
    (void)type, (void)hint;
    return floor_new(true);
}

static void fl_destroy(void *map)
{
    floor_state *f = map;
    if (f->fresh)
        munmap(f->fresh, FRESH_SPAN);
    free(f);
}

static void fl_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    (void)ks;
    floor_state *f = map;
    for (size_t i = from; i < to; i++) {
        uint64_t until = clock_ticks() + f->spin_ticks;
        if (f->fresh)
            *(volatile uint64_t *)(f->fresh + f->calls % (FRESH_SPAN / FRESH_BYTES) * FRESH_BYTES) =
                i;
        while (clock_ticks() < until)
            ;
        f->calls++;
    }
}

static size_t fl_len(void *map)
{
    return ((floor_state *)map)->calls;
}

const bench_impl bench_impl_floor = {
    .name = "floor",
    .what = "no map: each insert spins " GOMAP_BENCH_STR(
        FLOOR_NS) " ns and touches no memory "
                  "(the machine's own delays; insert-latency only)",
    .opt_in = true,
    .latency_only = true,
    .create = fl_create,
    .destroy = fl_destroy,
    .insert = fl_insert,
    .len = fl_len,
};

const bench_impl bench_impl_floor_mem = {
    .name = "floor-mem",
    .what = "no map: each insert spins " GOMAP_BENCH_STR(
        FLOOR_NS) " ns and writes the next " GOMAP_BENCH_STR(FRESH_BYTES) " bytes of a fresh "
                                                                          "huge-page mapping "
                                                                          "(first-touch cost; "
                                                                          "insert-latency only)",
    .opt_in = true,
    .latency_only = true,
    .create = flm_create,
    .destroy = fl_destroy,
    .insert = fl_insert,
    .len = fl_len,
};

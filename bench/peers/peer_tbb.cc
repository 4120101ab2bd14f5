// peer_tbb.cc — tbb::concurrent_hash_map<uint64_t, uint64_t> (oneTBB,
// Debian libtbb-dev) as a contender of gomap-bench's strategies matrix,
// exposed to the C harness as `strat_impl_tbb` (strat_bench.h).
//
// The operations are the ones a TBB user writes: find with a
// const_accessor (a shared lock on the element) for get; insert with an
// accessor (an exclusive lock on the element) and an assignment for set;
// erase by key for delete; and insert-then-increment under the accessor for
// update (insert value-initialises a new element to 0). A prefilled table
// is created with n buckets, as the other contenders are presized. The table keeps its
// default hash (tbb_hash_compare: std::hash, the identity for integers),
// which the mixed keys of the benchmark make uniform. The loop is
// strat_workloads.h's, instantiated here so the timed loop calls the table
// directly.
#include <cerrno>
#include <memory>
#include <new>
#include <utility>

#include <tbb/concurrent_hash_map.h>
#include <tbb/version.h>

#include "common/memcount.h"
#include "strategies/strat_workloads.h"

namespace {

#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1 // clang's spelling of gcc's macro
#endif
#endif

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer cannot see tbb_allocator free and reuse memory inside the
// uninstrumented libtbbmalloc, and reports the next node built at a reused
// address as racing with the last unlock of the old one. Under TSan the
// table allocates with malloc, which TSan intercepts; every other build
// keeps TBB's default allocator, as a TBB user would.
template <typename T> using base_allocator = std::allocator<T>;
#else
template <typename T> using base_allocator = tbb::tbb_allocator<T>;
#endif

// The table's allocator: base_allocator (TBB's own, as a TBB user has it),
// with every block's bytes reported to the matrix's gomap_allocator-style
// counter (memcount.h) when there is one. Stateful: copies share the
// counter, and compare equal when they do.
template <typename T> struct counting_allocator {
    using value_type = T;
    const gomap_allocator *count = nullptr; // nullptr: nothing counted

    counting_allocator() = default;
    explicit counting_allocator(const gomap_allocator *c) : count(c) {}
    template <typename U>
    counting_allocator(const counting_allocator<U> &o) noexcept : count(o.count) {}

    T *allocate(std::size_t n)
    {
        T *p = base_allocator<T>().allocate(n);
        if (count)
            memcount_add(static_cast<memcount *>(count->ctx), int64_t(n * sizeof(T)));
        return p;
    }
    void deallocate(T *p, std::size_t n)
    {
        if (count)
            memcount_add(static_cast<memcount *>(count->ctx), -int64_t(n * sizeof(T)));
        base_allocator<T>().deallocate(p, n);
    }
    template <typename U> bool operator==(const counting_allocator<U> &o) const
    {
        return count == o.count;
    }
    template <typename U> bool operator!=(const counting_allocator<U> &o) const
    {
        return count != o.count;
    }
};

using table = tbb::concurrent_hash_map<uint64_t, uint64_t, tbb::tbb_hash_compare<uint64_t>,
                                       counting_allocator<std::pair<const uint64_t, uint64_t>>>;

table *as_table(void *m) { return static_cast<table *>(m); }

// alloc, when not null, is the matrix's counting allocator (memcount.h):
// only its counter is used; the blocks come from base_allocator.
void *tb_create(size_t hint, const gomap_allocator *alloc)
{
    try {
        return new table(hint, table::allocator_type(alloc));
    } catch (const std::bad_alloc &) {
        return nullptr;
    }
}

void tb_destroy(void *m) { delete as_table(m); }

size_t tb_len(void *m) { return as_table(m)->size(); }

bool tb_get(void *m, uint64_t key, uint64_t *val)
{
    table::const_accessor a;
    bool found = as_table(m)->find(a, key);
    *val = found ? a->second : 0;
    return found;
}

int tb_set(void *m, uint64_t key, uint64_t val)
{
    try {
        table::accessor a;
        as_table(m)->insert(a, key);
        a->second = val;
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
}

void tb_del(void *m, uint64_t key) { as_table(m)->erase(key); }

int tb_update(void *m, uint64_t key)
{
    try {
        table::accessor a;
        as_table(m)->insert(a, key);
        a->second++;
        return 0;
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
}

const strat_ops tb_ops = {tb_get, tb_set, tb_del, tb_update};
STRAT_INSTANTIATE(tb, tb_ops)

} // namespace

extern "C" const strat_impl strat_impl_tbb = {
    "tbb",
    "tbb::concurrent_hash_map<uint64_t, uint64_t>, oneTBB " TBB_VERSION_STRING
    " (accessor / const_accessor)",
    false,
    false,
    false,
    tb_create,
    tb_destroy,
    tb_prefill,
    tb_body,
    tb_len,
    nullptr,
};

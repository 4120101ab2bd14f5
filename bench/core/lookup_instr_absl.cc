// lookup_instr_absl.cc — gomap-lookup-instr's absl half (lookup_instr.c).
#include "core/lookup_instr.h"

#include <cstdio>

#ifdef GOMAP_BENCH_HAVE_ABSL
#include <absl/container/flat_hash_map.h>

using U64Map = absl::flat_hash_map<uint64_t, uint64_t>;

__attribute__((noinline)) static uint64_t lookup_loop_absl(const U64Map &m, const uint64_t *q,
                                                           size_t n)
{
    uint64_t sum = 0;
    for (size_t j = 0; j < n; j++) {
        auto it = m.find(q[j]);
        if (it != m.end())
            sum += it->second;
    }
    return sum;
}

int lookup_instr_absl(const uint64_t *keys, const uint64_t *q)
{
    U64Map m;
    m.reserve(LOOKUP_INSTR_KEYS);
    for (uint64_t i = 0; i < LOOKUP_INSTR_KEYS; i++)
        m.insert_or_assign(keys[i], i + 1);
    std::printf("absl checksum %llu\n",
                (unsigned long long)lookup_loop_absl(m, q, LOOKUP_INSTR_LOOKUPS));
    return 0;
}
#else
int lookup_instr_absl(const uint64_t *, const uint64_t *)
{
    std::printf("absl not in this build\n");
    return 0;
}
#endif

// peer_absl.cc — absl::flat_hash_map (Debian libabsl-dev), the Swiss table:
// the fastest widely used open-addressing table, the bar for "close to the
// best". String keys are std::string (owned, like gomap's); lookups use
// string_view (absl's transparent hashing), so no query allocates.
#include "common/bench.h"

#include <absl/base/config.h>
#include <absl/container/flat_hash_map.h>

#include <string>

namespace {

using U64Map = absl::flat_hash_map<uint64_t, uint64_t>;
using StrMap = absl::flat_hash_map<std::string, uint64_t>;

struct Map {
    bench_key_type type;
    U64Map u;
    StrMap s;
};

absl::string_view view(const bench_keyset *ks, size_t i)
{
    return absl::string_view(ks->str[i].ptr, ks->str[i].len);
}

void *ab_create(bench_key_type type, size_t hint)
{
    Map *m = new Map;
    m->type = type;
    if (hint)
        type == KEYS_U64 ? m->u.reserve(hint) : m->s.reserve(hint);
    return m;
}

void ab_destroy(void *map) { delete static_cast<Map *>(map); }

void ab_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    Map *m = static_cast<Map *>(map);
    if (m->type == KEYS_U64) {
        for (size_t i = from; i < to; i++)
            m->u.insert_or_assign(ks->u64[i], bench_value_of(i));
    } else {
        for (size_t i = from; i < to; i++)
            m->s.try_emplace(view(ks, i)).first->second = bench_value_of(i);
    }
}

uint64_t ab_lookup(void *map, const bench_keyset *q, size_t from, size_t to)
{
    const Map *m = static_cast<Map *>(map);
    uint64_t sum = 0;
    if (m->type == KEYS_U64) {
        for (size_t j = from; j < to; j++) {
            auto it = m->u.find(q->u64[j]);
            if (it != m->u.end())
                sum += it->second;
        }
    } else {
        for (size_t j = from; j < to; j++) {
            auto it = m->s.find(view(q, j));
            if (it != m->s.end())
                sum += it->second;
        }
    }
    return sum;
}

size_t ab_erase(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    Map *m = static_cast<Map *>(map);
    size_t found = 0;
    for (size_t i = from; i < to; i++)
        found += m->type == KEYS_U64 ? m->u.erase(ks->u64[i]) : m->s.erase(view(ks, i));
    return found;
}

uint64_t ab_iterate(void *map)
{
    const Map *m = static_cast<Map *>(map);
    uint64_t sum = 0;
    if (m->type == KEYS_U64)
        for (const auto &kv : m->u)
            sum += kv.second;
    else
        for (const auto &kv : m->s)
            sum += kv.second;
    return sum;
}

size_t ab_len(void *map)
{
    const Map *m = static_cast<Map *>(map);
    return m->type == KEYS_U64 ? m->u.size() : m->s.size();
}

bench_impl make_impl()
{
    bench_impl i = {};
    i.name = "absl";
    i.what = "absl::flat_hash_map " GOMAP_BENCH_STR(ABSL_LTS_RELEASE_VERSION) " (Debian libabsl-dev)";
    i.copies_keys = true;
    i.create = ab_create;
    i.destroy = ab_destroy;
    i.insert = ab_insert;
    i.lookup = ab_lookup;
    i.erase = ab_erase;
    i.iterate = ab_iterate;
    i.len = ab_len;
    return i;
}

} // namespace

extern "C" const bench_impl bench_impl_absl = make_impl();

#include "shardcheck.h"
#include "hashvariant.h"

#include <stdlib.h>
#include <string.h>

gomap_shard_t *shardcheck_new(const gomap_options *map_opt, unsigned shards)
{
    gomap_shard_options o;
    memset(&o, 0, sizeof o);
    o.map = *map_opt;
    o.shards = shards;
    gomap_shard_t *m = NULL;
    int rc = gomap_shard_new(&m, &o);
    CHECK_MSG(rc == 0 && m != NULL, "gomap_shard_new(%u shards): %d", shards, rc);
    return m;
}

gomap_shard_t *shardcheck_new_u64(int variant, size_t val_size, unsigned shards)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    hash_variant_keys(&o, variant);
    o.val_size = val_size;
    return shardcheck_new(&o, shards);
}

gomap_shard_t *shardcheck_new_auto(size_t val_size, unsigned shards, unsigned max_shards)
{
    gomap_shard_options o;
    memset(&o, 0, sizeof o);
    o.map = shardcheck_u64_options(val_size);
    o.shards = shards;
    o.auto_resize = true;
    o.max_shards = max_shards;
    gomap_shard_t *m = NULL;
    int rc = gomap_shard_new(&m, &o);
    CHECK_MSG(rc == 0 && m != NULL, "gomap_shard_new(%u shards, auto up to %u): %d", shards,
              max_shards, rc);
    return m;
}

gomap_shard_stats_t shardcheck_stats(gomap_shard_t *m, gomap_shard_counters *per_shard, size_t n)
{
    gomap_shard_stats_t s;
    memset(&s, 0xEE, sizeof s);
    int rc = gomap_shard_stats(m, &s, per_shard, n);
    CHECK_MSG(rc == 0, "gomap_shard_stats: %d", rc);
    return s;
}

unsigned shardcheck_shard_of(gomap_shard_t *m, const void *key)
{
    unsigned n = gomap_shard_count(m);
    CHECK(n > 0);
    gomap_shard_counters *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    CHECK(a != NULL && b != NULL);
    shardcheck_stats(m, a, n);
    (void)gomap_shard_get(m, key, NULL);
    shardcheck_stats(m, b, n);
    unsigned found = n, changed = 0;
    for (unsigned i = 0; i < n; i++) {
        if (b[i].ops != a[i].ops) {
            CHECK_MSG(b[i].ops == a[i].ops + 1, "one get raised shard %u's ops by %llu", i,
                      (unsigned long long)(b[i].ops - a[i].ops));
            found = i;
            changed++;
        }
    }
    CHECK_MSG(changed == 1, "one get changed the ops of %u shards", changed);
    free(a);
    free(b);
    return found;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

int shardcheck_cop_fn(const void *key, void *val, bool *present, void *ctx)
{
    shard_cop *op = ctx;
    (void)key;
    op->calls++;
    op->was_present = *present;
    op->zeroed = all_zero(val, op->val_size);
    if (op->seen && op->val_size)
        memcpy(op->seen, val, op->val_size);
    cop_mode mode = op->mode;
    if (mode == COP_CAS || mode == COP_CAD) {
        op->matched = *present && (op->val_size == 0 || memcmp(val, op->expect, op->val_size) == 0);
        if (op->matched)
            mode = op->mode == COP_CAS ? COP_PUT : COP_DELETE;
        else
            mode = op->abandon_rc ? COP_ABANDON : COP_KEEP;
    }
    switch (mode) {
    case COP_PUT:
        if (op->val_size)
            memcpy(val, op->val, op->val_size);
        *present = true;
        return 0;
    case COP_DELETE:
        *present = false;
        return 0;
    case COP_ABANDON:
        if (op->scribble) {
            memset(val, 0x5C, op->val_size);
            *present = !*present;
        }
        return op->abandon_rc;
    default:
        return 0;
    }
}

int shardcheck_compute(gomap_shard_t *m, const void *key, shard_cop *op)
{
    op->calls = 0;
    return gomap_shard_compute(m, key, shardcheck_cop_fn, op);
}

bool shardcheck_compare(gomap_shard_t *m, refmap *r, char *why, size_t why_len)
{
    gomap_t *snap = NULL;
    int rc = gomap_shard_snapshot(m, &snap);
    CHECK_MSG(rc == 0 && snap != NULL, "gomap_shard_snapshot: %d", rc);
    bool ok = refmap_compare(r, snap, true, why, why_len);
    gomap_free(snap);
    size_t len = gomap_shard_len(m);
    if (ok && len != refmap_len(r)) {
        snprintf(why, why_len, "gomap_shard_len %zu, reference has %zu", len, refmap_len(r));
        ok = false;
    }
    return ok;
}

typedef struct {
    refmap *ref;
    refmap *seen;
    size_t calls;
    size_t stop_after;
    bool bad;
    char why[160];
} range_ctx;

static bool range_fn(const void *key, const void *val, void *arg)
{
    range_ctx *c = arg;
    c->calls++;
    const void *want = refmap_get(c->ref, key);
    bool twice = refmap_get(c->seen, key) != NULL;
    if (!c->bad && (!want || twice || memcmp(want, val, refmap_val_size(c->ref)) != 0)) {
        c->bad = true;
        refmap_format_key(c->ref, key, c->why, sizeof c->why);
        size_t n = strlen(c->why);
        snprintf(c->why + n, sizeof c->why - n, "%s",
                 !want ? ": not in the map" : twice ? ": twice" : ": wrong value");
    }
    refmap_set(c->seen, key, val);
    return c->stop_after == 0 || c->calls < c->stop_after;
}

bool shardcheck_range(gomap_shard_t *m, refmap *r, size_t stop_after, char *why, size_t why_len)
{
    range_ctx c = {r, refmap_clone(r), 0, stop_after, false, ""};
    refmap_clear(c.seen);
    gomap_shard_range(m, range_fn, &c);
    size_t want = stop_after && stop_after < refmap_len(r) ? stop_after : refmap_len(r);
    refmap_free(c.seen);
    if (c.bad) {
        snprintf(why, why_len, "range produced %s", c.why);
        return false;
    }
    if (c.calls != want) {
        snprintf(why, why_len, "range called fn %zu times, expected %zu (stop after %zu)",
                 c.calls, want, stop_after);
        return false;
    }
    return true;
}

size_t shardcheck_each(gomap_shard_t *m, void (*fn)(const void *key, const void *val, void *ctx),
                       void *ctx)
{
    gomap_t *snap = NULL;
    int rc = gomap_shard_snapshot(m, &snap);
    CHECK_MSG(rc == 0 && snap != NULL, "gomap_shard_snapshot: %d", rc);
    gomap_iter it;
    const void *k;
    void *v;
    size_t n = 0;
    gomap_iter_init(&it, snap);
    while (gomap_iter_next(&it, &k, &v)) {
        fn(k, v, ctx);
        n++;
    }
    CHECK_EQ(n, gomap_len(snap));
    gomap_free(snap);
    return n;
}

void shardcheck_count_visit(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)val;
    ++*(int *)ctx;
}

bool shardcheck_count_range(const void *key, const void *val, void *ctx)
{
    (void)key;
    (void)val;
    ++*(int *)ctx;
    return true;
}

gomap_options shardcheck_u64_options(size_t val_size)
{
    gomap_options o;
    memset(&o, 0, sizeof o);
    o.key_kind = GOMAP_KEY_U64;
    o.val_size = val_size;
    return o;
}

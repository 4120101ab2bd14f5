/*
 * delegcheck.c — helpers of the delegation map's tests (delegcheck.h).
 */
#include "delegcheck.h"

#include "hashvariant.h"

#include <stdlib.h>
#include <string.h>

const unsigned delegcheck_modes[DELEGCHECK_NMODES] = {0, 1, 3};

const char *delegcheck_mode_name(unsigned workers)
{
    static const char *const names[] = {"combining", "1 worker", "2 workers", "3 workers"};
    return workers < 4 ? names[workers] : "many workers";
}

gomap_deleg_t *delegcheck_new(const gomap_options *map_opt, unsigned workers, unsigned depth)
{
    gomap_deleg_options o;
    memset(&o, 0, sizeof o);
    o.map = *map_opt;
    o.workers = workers;
    o.queue_depth = depth;
    gomap_deleg_t *m = NULL;
    int rc = gomap_deleg_new(&m, &o);
    CHECK_MSG(rc == 0 && m != NULL, "gomap_deleg_new(%u workers, depth %u): %s", workers, depth,
              gomap_strerror(rc));
    return m;
}

gomap_deleg_t *delegcheck_new_u64(int variant, size_t val_size, unsigned workers,
                                  unsigned depth)
{
    gomap_options o = shardcheck_u64_options(val_size);
    hash_variant_keys(&o, variant);
    return delegcheck_new(&o, workers, depth);
}

gomap_deleg_stats_t delegcheck_stats(gomap_deleg_t *m)
{
    gomap_deleg_stats_t st;
    memset(&st, 0xFF, sizeof st);
    CHECK_EQ(gomap_deleg_stats(m, &st), 0);
    return st;
}

int delegcheck_compute(gomap_deleg_t *m, const void *key, shard_cop *op)
{
    op->calls = 0;
    return gomap_deleg_compute(m, key, shardcheck_cop_fn, op);
}

bool delegcheck_compare(gomap_deleg_t *m, refmap *r, char *why, size_t why_len)
{
    size_t vs = refmap_val_size(r);
    unsigned char *got = malloc(vs ? vs : 1);
    CHECK(got != NULL);
    bool ok = true;
    for (size_t i = 0; ok && i < refmap_findable(r); i++) {
        const void *k = refmap_key_at(r, i);
        memset(got, 0xA5, vs);
        if (!gomap_deleg_get(m, k, got)) {
            char kb[64];
            refmap_format_key(r, k, kb, sizeof kb);
            snprintf(why, why_len, "key %s missing", kb);
            ok = false;
        } else if (vs && memcmp(got, refmap_val_at(r, i), vs) != 0) {
            char kb[64];
            refmap_format_key(r, k, kb, sizeof kb);
            snprintf(why, why_len, "key %s: value differs", kb);
            ok = false;
        }
    }
    free(got);
    size_t len = gomap_deleg_len(m);
    if (ok && len != refmap_len(r)) {
        snprintf(why, why_len, "gomap_deleg_len %zu, reference has %zu", len, refmap_len(r));
        ok = false;
    }
    return ok;
}

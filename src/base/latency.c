/*
 * latency.c — recording and reading sampled latencies (latency.h).
 */
#include "base/latency.h"

#include "base/atomics.h"

_Thread_local unsigned gomap__lat_tick __attribute__((tls_model("initial-exec")));

/* The stripe a thread writes: threads are dealt stripes in turn, the first
 * time they record a sample. */
static _Atomic unsigned next_stripe;
static _Thread_local unsigned my_stripe __attribute__((tls_model("initial-exec")));

unsigned gomap__lat_bucket(uint64_t d)
{
    if (d <= GOMAP_LATENCY_MIN_NS)
        return 0;
    /* The first i with d <= MIN << i: ceil(log2(d)) - log2(MIN). */
    unsigned i = (unsigned)(64 - __builtin_clzll(d - 1)) - (unsigned)__builtin_ctz(GOMAP_LATENCY_MIN_NS);
    return i < GOMAP_LATENCY_BUCKETS - 1 ? i : GOMAP_LATENCY_BUCKETS - 1;
}

void gomap__lat_add(struct lat_hist *h, uint64_t d)
{
    if (!my_stripe)
        my_stripe = fetch_add_relaxed(&next_stripe, 1) % LAT_STRIPES + 1;
    struct lat_stripe *s = &h->stripe[my_stripe - 1];
    fetch_add_relaxed(&s->buckets[gomap__lat_bucket(d)], 1);
    fetch_add_relaxed(&s->sum_ns, d);
}

void gomap__lat_read(const struct lat_hist *h, gomap_latency_t *out)
{
    *out = (gomap_latency_t){0};
    for (unsigned s = 0; s < LAT_STRIPES; s++) {
        const struct lat_stripe *st = &h->stripe[s];
        for (unsigned i = 0; i < GOMAP_LATENCY_BUCKETS; i++) {
            uint64_t n = load_relaxed(&st->buckets[i]);
            out->buckets[i] += n;
            out->samples += n;
        }
        out->sum_ns += load_relaxed(&st->sum_ns);
    }
}

/*
 * tinylfu.h — W-TinyLFU (policy_tinylfu.c) as a building block: the
 * policies of the table wrap it, and ours (policy_ours.c) runs one as the
 * cache, its window set by the library's tuner (src/cache/cache_tuner.h).
 */
#ifndef GOMAP_CACHESIM_TINYLFU_H
#define GOMAP_CACHESIM_TINYLFU_H

#include "cache/policy.h"

typedef struct {
    double window;  /* initial window share of the capacity */
    bool adaptive;  /* hill climber on */
    double sample;  /* climber sample, in multiples of the capacity */
    double step;    /* initial step, share of the capacity */
    double decay;   /* step decay per sample */
    double restart; /* a hit-ratio change >= this restarts the step */
} tlfu_config;

typedef struct tlfu tlfu;

tlfu *tlfu_new(const policy_params *p, const tlfu_config *cfg); /* NULL: out of memory */
bool tlfu_access(tlfu *c, uint32_t key);                        /* true on a hit */
/* Resizes the window to `share` of the capacity, moving keys between the
 * window and the main part (nothing is evicted). */
void tlfu_set_window(tlfu *c, double share);
size_t tlfu_len(const tlfu *c);
void tlfu_free(tlfu *c);

#endif /* GOMAP_CACHESIM_TINYLFU_H */

/*
 * rcu_choice.c — measures the liburcu flavours the sync map could use, on
 * this machine, for docs/syncmap.md.
 *
 * The sync map's loads pay for one read-side section (lock + unlock) each,
 * and its writes pay for one deferred free per replaced value. Users must not
 * have to register threads, so the candidates are:
 *   bp          urcu-bp, the "bulletproof" flavour: registers a thread on its
 *               first section by itself (what gomap uses);
 *   memb-lazy   urcu-memb (membarrier) with the registration gomap would have
 *               to add: a thread-local flag tested on every section, and a
 *               thread-exit destructor that unregisters;
 *   memb        urcu-memb with the thread registered up front: the floor,
 *               not usable without asking users to register.
 * For each: ns per read-side section (a pair with a trivial body), with 1
 * and 2 threads running at once, and ns per call_rcu of a malloc'd block
 * (enqueue cost seen by the writer; the frees run on liburcu's thread).
 * Median of several runs; the runs of the flavours are interleaved.
 *
 * Usage: gomap-rcu-choice [runs]   (default 5)
 */
#define _LGPL_SOURCE
#include <urcu/urcu-bp.h>
#include <urcu/urcu-memb.h>
#include <urcu/call-rcu.h>

/* Each flavour's call_rcu and barrier (liburcu's headers name them through
 * one flavour's macros per file; both are wanted here). */
void urcu_bp_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));
void urcu_bp_barrier(void);
void urcu_memb_call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *head));
void urcu_memb_barrier(void);

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"

enum { SECTIONS = 20000000, RETIRES = 500000, MAX_RUNS = 15 };
enum { BP, MEMB_LAZY, MEMB, NFLAVOURS };
static const char *const names[NFLAVOURS] = {"bp", "memb-lazy", "memb"};

/* memb-lazy: what gomap would need to hide registration. */
static _Thread_local int memb_registered;
static pthread_key_t memb_key;
static pthread_once_t memb_once = PTHREAD_ONCE_INIT;

static void memb_unregister(void *unused)
{
    (void)unused;
    urcu_memb_unregister_thread();
}

static void memb_make_key(void)
{
    pthread_key_create(&memb_key, memb_unregister);
}

static __attribute__((noinline)) void memb_register_lazily(void)
{
    pthread_once(&memb_once, memb_make_key);
    urcu_memb_register_thread();
    pthread_setspecific(memb_key, &memb_registered);
    memb_registered = 1;
}

struct block {
    struct rcu_head head;
    long payload;
};

static void free_block(struct rcu_head *h)
{
    free(h);
}

struct job {
    int flavour;
    double section_ns, retire_ns;
};

static _Thread_local volatile long sink;

static void *run(void *arg)
{
    struct job *j = arg;
    if (j->flavour == MEMB)
        urcu_memb_register_thread();
    double t0 = clock_ns();
    for (long i = 0; i < SECTIONS; i++) {
        switch (j->flavour) {
        case BP:
            urcu_bp_read_lock();
            sink = i;
            urcu_bp_read_unlock();
            break;
        case MEMB_LAZY:
            if (__builtin_expect(!memb_registered, 0))
                memb_register_lazily();
            /* fallthrough */
        default:
            urcu_memb_read_lock();
            sink = i;
            urcu_memb_read_unlock();
            break;
        }
    }
    double t1 = clock_ns();
    for (long i = 0; i < RETIRES; i++) {
        struct block *b = malloc(sizeof *b);
        if (!b)
            abort();
        if (j->flavour == BP)
            urcu_bp_call_rcu(&b->head, free_block);
        else
            urcu_memb_call_rcu(&b->head, free_block);
    }
    double t2 = clock_ns();
    j->section_ns = (t1 - t0) / SECTIONS;
    j->retire_ns = (t2 - t1) / RETIRES;
    if (j->flavour == MEMB)
        urcu_memb_unregister_thread();
    return NULL;
}

/* One run of a flavour with `threads` threads; the mean of their figures. */
static void measure(int flavour, int threads, double *section_ns, double *retire_ns)
{
    pthread_t t[2];
    struct job j[2] = {{flavour, 0, 0}, {flavour, 0, 0}};
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, run, &j[i]);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    *section_ns = *retire_ns = 0;
    for (int i = 0; i < threads; i++) {
        *section_ns += j[i].section_ns / threads;
        *retire_ns += j[i].retire_ns / threads;
    }
    if (flavour == BP)
        urcu_bp_barrier();
    else
        urcu_memb_barrier();
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: gomap-rcu-choice [runs 1..%d]\n", MAX_RUNS);
        return 2;
    }
    printf("%-10s %8s %18s %18s\n", "flavour", "threads", "ns/section (med)", "ns/call_rcu (med)");
    for (int threads = 1; threads <= 2; threads++) {
        double sec[NFLAVOURS][MAX_RUNS], ret[NFLAVOURS][MAX_RUNS];
        for (int r = 0; r < runs; r++)
            for (int k = 0; k < NFLAVOURS; k++) {
                int f = (k + r) % NFLAVOURS; /* rotate the starting flavour */
                measure(f, threads, &sec[f][r], &ret[f][r]);
            }
        for (int f = 0; f < NFLAVOURS; f++)
            printf("%-10s %8d %18.2f %18.1f\n", names[f], threads, median(sec[f], runs),
                   median(ret[f], runs));
    }
    return 0;
}

/*
 * race_report.c — what gomap prints when two threads write one map at once.
 *
 * Like Go's map, a gomap map is not thread-safe, and a write that overlaps
 * another access is a fatal error rather than silent corruption. This
 * program breaks the rule on purpose: it fills a map, then starts two
 * threads, named "writer-a" and "writer-b" (pthread_setname_np), that both
 * insert into it with no lock. The map is in strict check mode
 * (GOMAP_CHECK_STRICT: the write mark is taken with an atomic exchange), so
 * the first time the two writes overlap the process stops with Go's message
 * and gomap's report on stderr:
 *
 *   fatal error: concurrent map writes
 *
 * followed by the map (address, kinds, check mode, header, an occupancy
 * heatmap), the thread that noticed (id, name, symbolized backtrace) and the
 * other thread, which held the write mark (id, name, and where it entered
 * its write). The fault handler installed below then prints one line of its
 * own, and the process aborts (SIGABRT; a shell reports exit status 134).
 *
 * docs/race-report.txt holds the stderr of one run. Build with -g to get
 * function names and file:line in the report.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <gomap.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { PREFILL = 3000, KEYS = 6000 };

typedef struct {
    gomap_t *m;
    const char *name;
    uint64_t first_key; /* each writer inserts its own keys: the map still
                           is not safe to write from two threads at once */
    pthread_barrier_t *start;
} writer_arg;

/* Inserts keys first_key, first_key + 2, ... round and round, with no lock. */
static void *writer_thread(void *p)
{
    writer_arg *a = p;
    pthread_setname_np(pthread_self(), a->name);
    pthread_barrier_wait(a->start);
    for (uint64_t i = 0;; i++) {
        uint64_t key = PREFILL + (a->first_key + 2 * i) % KEYS, val = i;
        gomap_set(a->m, &key, &val);
    }
    return NULL;
}

/* Runs after the report is printed, on a thread of its own, just before the
 * process aborts: a place to flush logs or record the facts elsewhere. */
static void on_fault(const gomap_fault *f, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "fault handler: \"%s\" on map %p between thread %llu (%s) and thread %llu (%s)\n",
            f->message, (const void *)f->map, (unsigned long long)f->thread_id, f->thread_name,
            (unsigned long long)f->other_thread_id, f->other_thread_name);
}

int main(void)
{
    gomap_options opt;
    memset(&opt, 0, sizeof opt);
    opt.key_kind = GOMAP_KEY_U64;
    opt.val_size = sizeof(uint64_t);
    opt.hint = PREFILL + KEYS; /* no growth: the race is the only event */
    opt.check = GOMAP_CHECK_STRICT;
    gomap_t *m = NULL;
    int rc = gomap_new(&m, &opt);
    if (rc != 0) {
        fprintf(stderr, "gomap_new: %s\n", gomap_strerror(rc));
        return 1;
    }
    for (uint64_t k = 0; k < PREFILL; k++) {
        if ((rc = gomap_set(m, &k, &k)) != 0) {
            fprintf(stderr, "gomap_set: %s\n", gomap_strerror(rc));
            return 1;
        }
    }
    gomap_set_fault_handler(on_fault, NULL);

    printf("two threads now write map %p without a lock; expect a fatal error\n", (void *)m);
    fflush(stdout);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    writer_arg args[2] = {{m, "writer-a", 0, &start}, {m, "writer-b", 1, &start}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&threads[i], NULL, writer_thread, &args[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    fprintf(stderr, "unexpected: the writers stopped without a report\n");
    return 1;
}

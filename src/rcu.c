/*
 * rcu.c — deferred frees through liburcu's call_rcu (see rcu.h).
 */
#include "rcu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

_Thread_local int gomap__rcu_registered __attribute__((tls_model("initial-exec")));

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_err;

static void unregister_at_exit(void *unused)
{
    (void)unused;
    urcu_memb_unregister_thread();
    gomap__rcu_registered = 0; /* a later destructor may use a map again */
}

static void make_exit_key(void)
{
    exit_key_err = pthread_key_create(&exit_key, unregister_at_exit);
}

void gomap__rcu_register(void)
{
    pthread_once(&exit_key_once, make_exit_key);
    if (exit_key_err) {
        /* Without a destructor the thread would stay registered after it
         * exits and grace periods would read its freed counter. */
        fprintf(stderr, "gomap: cannot create the thread-exit key that unregisters "
                        "threads from RCU (error %d)\n", exit_key_err);
        abort();
    }
    urcu_memb_register_thread();
    gomap__rcu_registered = 1;
    /* Any non-NULL value makes the destructor run at thread exit. */
    pthread_setspecific(exit_key, &gomap__rcu_registered);
}

#if defined(GOMAP_TSAN)
/* The token every read-side section releases and every deferred free
 * acquires (rcu.h). Its value is never used; only its address. */
char gomap__rcu_readers_done;
#endif

static void run_free(struct rcu_head *head)
{
    struct gomap_retired *r = caa_container_of(head, struct gomap_retired, head);
#if defined(GOMAP_TSAN)
    __tsan_acquire(&gomap__rcu_readers_done);
    __tsan_acquire(r);
#endif
    r->free_fn(r);
}

void gomap__rcu_retire(struct gomap_retired *r, void (*free_fn)(struct gomap_retired *r))
{
    r->free_fn = free_fn;
#if defined(GOMAP_TSAN)
    __tsan_release(r);
#endif
    gomap__rcu_ensure_registered(); /* call_rcu wants a registered caller */
    urcu_memb_call_rcu(&r->head, run_free);
}

void gomap__rcu_wait_a_little(void)
{
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}

/* pingpong.h: the round-by-round hand-shake shared by the weak-reference
 * race reproducers in stress/repro/.
 *
 * Purpose: each round, the main thread makes an object and a weak
 * reference, publishes the weak reference, drops the object at a moment
 * that varies from round to round, and waits until a getter thread has
 * answered the round; the getter races its gets against that drop.
 *
 * Use: include once in a reproducer; give start_getter the number of
 * rounds and what the getter does with each weak reference; each round,
 * weak_round (or drop_round); at the end join_getter. The hand-shake's atomics are
 * seq_cst (the default): a simple ping-pong, not what is tested.
 */
#ifndef REPRO_PINGPONG_H
#define REPRO_PINGPONG_H

#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>

static _Atomic(rcgc_weakref *) current;
static _Atomic long published, answered;

/* What the getter does with each round's weak reference. */
typedef void (*answer_fn)(rcgc_weakref *wr);

struct getter_args {
    long rounds;
    answer_fn answer;
};

static void *getter_main(void *arg)
{
    const struct getter_args *g = arg;
    rcgc_thread_attach();
    for (long i = 0; i < g->rounds; i++) {
        while (atomic_load(&published) == i)
            rcgc_safepoint();
        g->answer(atomic_load(&current));
        atomic_store(&answered, i + 1);
    }
    rcgc_thread_detach();
    return NULL;
}

/* Main thread: initialises rcgc, attaches, starts the getter for `rounds`
 * rounds (g must outlive it). */
static inline pthread_t start_getter(struct getter_args *g)
{
    rcgc_init(NULL);
    rcgc_thread_attach();
    pthread_t t;
    pthread_create(&t, NULL, getter_main, g);
    return t;
}

/* Main thread: publishes round i's weak reference, spins a little (longer
 * each round, so that the drop meets the gets at every moment), drops
 * the only reference to obj, and waits in a blocking region until the
 * getter has answered the round. */
static inline void drop_round(long i, rcgc_weakref *wr, void *obj)
{
    atomic_store(&current, wr);
    atomic_store(&published, i + 1);
    for (volatile int k = 0; k < (int)(i % 128); k++)
        ;
    rcgc_decref(obj);
    rcgc_blocking_begin();
    while (atomic_load(&answered) <= i)
        ;
    rcgc_blocking_end();
}

/* Main thread: a round on obj (the caller's only reference, dropped
 * here) and a new weak reference to it, which is returned (the caller
 * frees it). */
static inline rcgc_weakref *weak_round(long i, void *obj)
{
    rcgc_weakref *wr = rcgc_weakref_new(obj, NULL, NULL);
    drop_round(i, wr, obj);
    return wr;
}

/* Main thread: joins the getter and shuts rcgc down. */
static inline void join_getter(pthread_t t)
{
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_shutdown();
}

#endif /* REPRO_PINGPONG_H */

/* rcgc_bench.h: what pause_heap.c and bg_slowdown.c share on rcgc's
 * side: heap_shapes.h's operations (then heap_shapes.h itself) and a thread
 * that keeps the background collector busy.
 *
 * Purpose and use, shapes: both programs build their live heaps (and
 * their own small structures) from 32-byte rcgc objects of one type,
 * `shape_type`, whose traverse reports both reference fields. Links are
 * written with rcgc_store, as the contract requires; the root array of the
 * "rings" shape is plain malloc'd memory holding counted references (the
 * caller releases each and frees the array).
 *
 * The pusher: bench_pusher_start(&p) starts an attached thread that calls
 * rcgc_collect(2) back to back, so the background collector examines the
 * whole heap continuously; bench_pusher_request_stop(&p) (any thread) makes
 * it stop after its current collection; bench_pusher_join(&p) waits for it
 * in a blocking region (the caller must be attached) and returns how many
 * full collections it completed.
 *
 * Include it once, from the .c file.
 */
#ifndef RCGC_BENCH_RCGC_BENCH_H
#define RCGC_BENCH_RCGC_BENCH_H

#include <rcgc.h>

#include "bench_util.h"

#include <pthread.h>
#include <stdatomic.h>

static void shape_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    void **fields = o; /* shape_node_t: a, b first */
    visit(&fields[0], ctx);
    visit(&fields[1], ctx);
}

static const rcgc_type shape_type = {"bench.shape_node", shape_traverse, NULL, NULL};

static void *shape_node(void)
{
    void *n = rcgc_alloc(&shape_type, 32);
    if (n == NULL)
        bench_die("bench", "rcgc_alloc failed");
    return n;
}

static void shape_link(void *from, int field, void *to)
{
    rcgc_store(from, &((void **)from)[field ? 1 : 0], to);
    rcgc_decref(to);
}

static void shape_close_ring(void *last, void *first)
{
    rcgc_store(last, &((void **)last)[0], first);
}

static void **shape_roots(size_t n)
{
    void **r = calloc(n ? n : 1, sizeof *r);
    if (r == NULL)
        bench_die("bench", "out of memory");
    return r;
}

#include "heap_shapes.h"

typedef struct bench_pusher {
    pthread_t thread;
    atomic_int stop;
    long collections; /* written by the pusher, read after the join */
} bench_pusher;

static void *bench_pusher_main(void *arg)
{
    bench_pusher *p = arg;
    rcgc_thread_attach();
    /* Relaxed: a stop flag; nothing else is published through it, and the
     * join orders the collection count. */
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        rcgc_collect(2);
        p->collections++;
    }
    rcgc_thread_detach();
    return NULL;
}

static void bench_pusher_start(bench_pusher *p)
{
    /* Relaxed: the thread does not exist yet; pthread_create orders it. */
    atomic_store_explicit(&p->stop, 0, memory_order_relaxed);
    p->collections = 0;
    if (pthread_create(&p->thread, NULL, bench_pusher_main, p) != 0)
        bench_die("bench", "pthread_create failed");
}

static void bench_pusher_request_stop(bench_pusher *p)
{
    /* Relaxed: see bench_pusher_main. */
    atomic_store_explicit(&p->stop, 1, memory_order_relaxed);
}

static long bench_pusher_join(bench_pusher *p)
{
    rcgc_blocking_begin(); /* never delay a pause while waiting */
    pthread_join(p->thread, NULL);
    rcgc_blocking_end();
    return p->collections;
}

#endif /* RCGC_BENCH_RCGC_BENCH_H */

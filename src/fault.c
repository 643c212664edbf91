/* fault.c: fault injection (built only with -Dfault_injection=true).
 *
 * Purpose: every allocation the library makes (malloc, calloc, realloc,
 * aligned_alloc, and the object itself in rcgc_alloc) is a numbered point,
 * and every thread it creates is one too; a test asks for the n-th point
 * (or thread creation) from now to fail, runs a workload, and checks that
 * the failure was reported to the caller and the heap stayed consistent
 * (tests/test_fault.c, docs/design/objects.md O9). internal.h renames the
 * calls in every library source to the functions below in this build
 * only; in every other build the library calls the C library directly and
 * this file is not compiled.
 *
 * Points are counted on every thread, the background collector's too, so
 * with more than one thread the n-th point is not always the same call:
 * the sweep over n covers the sites either way. A thread can also fail
 * its own n-th point (rcgc_fault_set_local), for the sites one thread
 * reaches while another may be allocating (a second thread's attach).
 */
#define RCGC_FAULT_SOURCE 1 /* the real calls here: no renaming */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* All relaxed: a counter and a target; the test sets the target before
 * the workload on the thread that runs it, and other threads only need to
 * see each point counted exactly once (fetch_add), not in any order with
 * other memory. */
static _Atomic uint64_t points, target;
static _Atomic uint64_t threads, thread_target;
static _Atomic uint64_t injected;
/* The calling thread's own points (rcgc_fault_set_local): plain
 * thread-local counters, nobody else reads them. */
static _Thread_local uint64_t local_points, local_target;

void rcgc_fault_set(uint64_t nth_alloc, uint64_t nth_thread)
{
    atomic_store_explicit(&points, 0, memory_order_relaxed);
    atomic_store_explicit(&threads, 0, memory_order_relaxed);
    atomic_store_explicit(&injected, 0, memory_order_relaxed);
    atomic_store_explicit(&target, nth_alloc, memory_order_relaxed);
    atomic_store_explicit(&thread_target, nth_thread, memory_order_relaxed);
}

/* Points are still counted globally; this adds a target counted on the
 * calling thread alone, so a test can fail one thread's n-th point
 * whatever the other threads (the collector's) do meanwhile. */
void rcgc_fault_set_local(uint64_t nth_alloc)
{
    local_points = 0;
    local_target = nth_alloc;
}

uint64_t rcgc_fault_points(void)
{
    return atomic_load_explicit(&points, memory_order_relaxed);
}

uint64_t rcgc_fault_injected(void)
{
    return atomic_load_explicit(&injected, memory_order_relaxed);
}

/* Counts one point of `counter`; true when it is the one to fail. */
static bool hit(_Atomic uint64_t *counter, _Atomic uint64_t *nth)
{
    /* Relaxed: see above. */
    uint64_t k = atomic_fetch_add_explicit(counter, 1, memory_order_relaxed) + 1;
    if (k != atomic_load_explicit(nth, memory_order_relaxed))
        return false;
    atomic_fetch_add_explicit(&injected, 1, memory_order_relaxed);
    return true;
}

bool rcgc_fault_fail(void)
{
    bool fail = hit(&points, &target);
    if (local_target != 0 && ++local_points == local_target && !fail) {
        /* Relaxed: as in hit. */
        atomic_fetch_add_explicit(&injected, 1, memory_order_relaxed);
        fail = true;
    }
    return fail;
}

void *rcgc_fault_malloc(size_t n)
{
    if (rcgc_fault_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(n);
}

void *rcgc_fault_calloc(size_t n, size_t size)
{
    if (rcgc_fault_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return calloc(n, size);
}

void *rcgc_fault_realloc(void *p, size_t n)
{
    if (rcgc_fault_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n);
}

void *rcgc_fault_aligned_alloc(size_t align, size_t n)
{
    if (rcgc_fault_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned_alloc(align, n);
}

int rcgc_fault_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    if (hit(&threads, &thread_target))
        return EAGAIN;
    return pthread_create(t, attr, fn, arg);
}

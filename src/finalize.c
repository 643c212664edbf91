/* finalize.c: where finalizers and weak-reference callbacks run.
 *
 * Purpose: one queue of owed user code, and the two policies that drain
 * it (docs/design/weakref-finalize.md, W7 and W8).
 *
 *  - RCGC_FINALIZE_BACKGROUND (the default): the finalizers of cyclic
 *    garbage and the callbacks of weak references cleared in a collector
 *    pause run on the background collector thread, which is attached like
 *    any mutator. A young collection on a mutator thread hands its
 *    finalizable garbage to the collector through this queue and wakes it.
 *    Deaths by count finalize and run callbacks on the thread that dropped
 *    the last reference, as CPython does (the object is owned by the
 *    program's own thread at that moment, and the program expects a
 *    resource to go when its last reference goes).
 *  - RCGC_FINALIZE_ON_DEMAND: every finalizer and every weak-reference
 *    callback is queued; the notifier of the config is told when the queue
 *    becomes non-empty, and the runtime drains it with rcgc_run_finalizers()
 *    on a thread of its choosing (bdwgc's finalize_on_demand, the Memory
 *    Pool System's message queue).
 *
 * An entry is an object to finalize, whose finalization the queuer has
 * claimed (FINALIZED set), pinned by one strong reference the queue holds (so the object and whatever it reaches stay alive until its
 * finalizer has run: W7), or a chain of cleared weak references whose
 * callbacks are owed. Entries run in the order queued, so callbacks of a
 * garbage set run before its finalizers (PEP 442, W5). The queue is a
 * growable array under a mutex: entries are rare next to allocations and
 * each runs user code, so a lock-free queue would buy nothing measurable.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

/* An entry: a header pointer, or a weak-reference chain with the low bit
 * set (both are at least 8-byte aligned). */
typedef uintptr_t finq_entry;

static struct finq {
    pthread_mutex_t mu;
    finq_entry *a;               /* a ring: head .. head+n, mod cap */
    size_t head, n, cap;
    /* Entries queued and not yet taken. Relaxed reads: a hint for the
     * collector's wait and for rcgc_pending_finalizers (a snapshot). */
    atomic_size_t pending;
} finq = {.mu = PTHREAD_MUTEX_INITIALIZER};

bool rcgc_finalize_on_demand(void)
{
    return rcgc_world.config.finalize_mode == RCGC_FINALIZE_ON_DEMAND;
}

/* Under finq.mu: room for k more entries. */
static bool reserve(size_t k)
{
    if (finq.n + k <= finq.cap)
        return true;
    size_t cap = finq.cap ? finq.cap : 64;
    while (cap < finq.n + k)
        cap *= 2;
    finq_entry *a = malloc(cap * sizeof *a);
    if (a == NULL)
        return false;
    for (size_t i = 0; i < finq.n; i++)
        a[i] = finq.a[(finq.head + i) % finq.cap];
    free(finq.a);
    finq.a = a;
    finq.cap = cap;
    finq.head = 0;
    return true;
}

/* Under finq.mu, after reserve. */
static void put(finq_entry e)
{
    finq.a[(finq.head + finq.n) % finq.cap] = e;
    finq.n++;
    /* Relaxed: a hint (see the field); the mutex orders the entry. */
    atomic_fetch_add_explicit(&finq.pending, 1, memory_order_relaxed);
}

/* After unlocking: somebody must come and drain (W8). `was_empty`: the
 * queue went from empty to non-empty with this push. */
static void announce(bool was_empty)
{
    if (rcgc_finalize_on_demand()) {
        if (was_empty && rcgc_world.config.finalize_notify != NULL)
            rcgc_world.config.finalize_notify(rcgc_world.config.finalize_notify_arg);
    } else {
        rcgc_collector_wake();
    }
}

/* ==================================================================== */
/* Queueing                                                              */
/* ==================================================================== */

int rcgc_finq_objects(rcgc__header **g, uint32_t m)
{
    pthread_mutex_lock(&finq.mu);
    if (!reserve(m)) {
        pthread_mutex_unlock(&finq.mu);
        return ENOMEM;
    }
    bool was_empty = finq.n == 0;
    for (uint32_t i = 0; i < m; i++)
        put((finq_entry)g[i]);
    pthread_mutex_unlock(&finq.mu);
    announce(was_empty);
    return 0;
}

void rcgc_finq_callbacks(rcgc_weakref *chain)
{
    if (chain == NULL)
        return;
    if (rcgc_finalize_on_demand()) {
        pthread_mutex_lock(&finq.mu);
        if (reserve(1)) {
            bool was_empty = finq.n == 0;
            put((finq_entry)chain | 1u);
            pthread_mutex_unlock(&finq.mu);
            announce(was_empty);
            return;
        }
        pthread_mutex_unlock(&finq.mu);
        /* No memory for the entry: the callbacks run now, on this thread,
         * rather than never (documented in rcgc.h at finalize_mode). */
    }
    rcgc_weakref_run_callbacks(chain);
}

/* ==================================================================== */
/* Running                                                               */
/* ==================================================================== */

/* Runs one object entry: whoever queued it claimed its finalization by
 * setting FINALIZED (O3, W7), so the finalizer runs here exactly once;
 * then the queue's pin is dropped through the normal paths (a member
 * nobody references any more dies by count here, and is not finalized
 * again). */
static void run_object(rcgc__heap *self, rcgc__header *h)
{
    rcgc_stat_add(&self->stats.finalized, 1);
    rcgc_type_get(h)->finalize(rcgc_payload(h));
    rcgc_decref(rcgc_payload(h));
}

size_t rcgc_finq_run(rcgc__heap *self, size_t *objects)
{
    size_t ran = 0, objs = 0;
    for (;;) {
        pthread_mutex_lock(&finq.mu);
        if (finq.n == 0) {
            pthread_mutex_unlock(&finq.mu);
            break;
        }
        finq_entry e = finq.a[finq.head];
        finq.head = (finq.head + 1) % finq.cap;
        finq.n--;
        /* Relaxed: a hint (see the field). */
        atomic_fetch_sub_explicit(&finq.pending, 1, memory_order_relaxed);
        pthread_mutex_unlock(&finq.mu);
        if (e & 1u) {
            rcgc_weakref_run_callbacks((rcgc_weakref *)(e & ~(finq_entry)1u));
        } else {
            run_object(self, (rcgc__header *)e);
            objs++;
        }
        ran++;
    }
    if (objects != NULL)
        *objects = objs;
    return ran;
}

size_t rcgc_finq_pending(void)
{
    /* Relaxed: a snapshot. */
    return atomic_load_explicit(&finq.pending, memory_order_relaxed);
}

/* Frees the queue's own memory (rcgc_shutdown, after draining it). */
void rcgc_finq_release(void)
{
    pthread_mutex_lock(&finq.mu);
    free(finq.a);
    finq.a = NULL;
    finq.head = finq.n = finq.cap = 0;
    pthread_mutex_unlock(&finq.mu);
}

/* ==================================================================== */
/* The API                                                               */
/* ==================================================================== */

size_t rcgc_run_finalizers(void)
{
    rcgc__heap *self = rcgc_require_attached("rcgc_run_finalizers", NULL);
    if (self == NULL) {
        errno = EPERM;
        return 0;
    }
    return rcgc_finq_run(self, NULL);
}

size_t rcgc_pending_finalizers(void)
{
    return rcgc_finq_pending();
}

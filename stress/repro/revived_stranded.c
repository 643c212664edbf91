/* revived_stranded.c: reproducer of a library bug found by rcgc-stress
 * (seed 7, `--threads 4 --seconds 20`, one run in three on a loaded
 * machine: "FINDING not-freed" for an fleaf with a weak reference, still
 * alive after more full collections; the leaked object's header: merged,
 * count 1, FINALIZED claimed, its finalizer never called).
 *
 * Cause (src/refcount.c, drain_for_absent_owner; src/objects.c,
 * rcgc_dead_link and the `revived` list): a non-owner's decref that takes
 * the shared count below zero queues the object to its owner; when the
 * owner is blocked or gone, the decrementing thread drains the queue for
 * it. The merge finds the object dead; it has weak references and a
 * finalizer not yet run, so rcgc_weakref_dying claims the finalization and
 * revives it onto the *draining* thread's `revived` list, to be finalized
 * by that thread's next dealloc loop. But drain_for_absent_owner runs
 * rcgc_dealloc_list only `if (dead != NULL)`: nothing died outright, so no
 * dealloc loop runs, and the finalizer waits for whatever next dies on that
 * thread. If the thread detaches first, the entry stays with its heap in
 * the pool: the object is never finalized nor freed, and rcgc_collect(2)
 * (whose gather runs the dealloc loop of the caller's heap only) does not
 * help. (queue_push's out-of-memory path has the same `if`.) A fix: call
 * rcgc_dealloc_list(self, dead) whenever the drain revived something (or
 * always: an empty dealloc loop is cheap), and run a heap's revived list
 * before it goes to the pool at detach.
 *
 * The scenario: thread A allocates an object with a finalizer and a weak
 * reference and hands its only reference to thread B, then blocks; B drops
 * it (a non-owner decref below zero: queued to A, drained by B for the
 * absent A) and detaches; the main thread then runs rcgc_collect(2).
 *
 * Use: built by stress/meson.build as <build>/stress/revived_stranded;
 * status 0 and "finalized 1, destroyed 1" once fixed; status 1 while the
 * bug is there.
 */
#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic int finalized, destroyed;

static void finalize(void *o)
{
    (void)o;
    atomic_fetch_add(&finalized, 1);
}

static void destroy(void *o)
{
    (void)o;
    atomic_fetch_add(&destroyed, 1);
}

static const rcgc_type fleaf_type = {"fleaf", NULL, finalize, destroy};

/* The hand-over (seq_cst, the default: a simple hand-shake). */
static _Atomic(void *) handed;
static _Atomic int b_done;

static void *owner_thread(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    void *x = rcgc_alloc(&fleaf_type, 16);
    rcgc_weakref *wr = rcgc_weakref_new(x, NULL, NULL);
    atomic_store(&handed, x);   /* our only reference goes to B */
    rcgc_blocking_begin();      /* absent: B drains our queue for us */
    while (!atomic_load(&b_done))
        ;
    rcgc_blocking_end();
    rcgc_weakref_free(wr);
    rcgc_thread_detach();
    return NULL;
}

static void *dropper_thread(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    void *x;
    while ((x = atomic_load(&handed)) == NULL)
        ;
    rcgc_decref(x);   /* a non-owner's decref below zero: queued, drained here */
    printf("after the drop: finalized %d (expected 1: a death by count finalizes at once)\n",
           atomic_load(&finalized));
    rcgc_thread_detach();
    atomic_store(&b_done, 1);
    return NULL;
}

int main(void)
{
    rcgc_init(NULL);
    rcgc_thread_attach();
    pthread_t a, b;
    rcgc_blocking_begin();
    pthread_create(&a, NULL, owner_thread, NULL);
    pthread_create(&b, NULL, dropper_thread, NULL);
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    int f = atomic_load(&finalized), d = atomic_load(&destroyed);
    printf("after rcgc_collect(2): finalized %d, destroyed %d (expected 1, 1)\n", f, d);
    rcgc_shutdown();
    return f == 1 && d == 1 ? 0 : 1;
}

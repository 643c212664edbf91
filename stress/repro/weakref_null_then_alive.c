/* weakref_null_then_alive.c: reproducer of a library bug found by
 * rcgc-stress (seed 899459294501, about two minutes in: "FINDING
 * weak-null-while-live: object 22699468 (fleaf): in finalize"): a weak
 * reference answers NULL for an object dying by count whose finalizer has
 * not run yet; the finalizer then resurrects it, and the same weak
 * reference answers the object again. rcgc.h promises NULL "from then on"
 * once a referent is found dead, and docs/design/weakref-finalize.md (W3)
 * that for a death by count the weak references are cleared only when the
 * object really dies, after its finalizer.
 *
 * Cause (src/objects.c, src/weakref.c): rcgc_dead_link sets DYING the
 * moment the count reaches zero; a get that sees DYING answers NULL (W2).
 * But an object with a finalizer still to run is not really dead: the
 * deallocation loop clears DYING again and revives it for the finalizer
 * (O3), and gets succeed from then on.
 *
 * The scenario: one thread drops the only reference to an object whose
 * finalizer resurrects it, while another gets its weak reference; a round
 * fails when a get answered NULL and, afterwards, the object lives and the
 * weak reference answers it.
 *
 * Use: built by stress/meson.build as stress/repro/weakref_null_then_alive;
 * status 0 and "ok" once fixed; while the bug is there it usually stops
 * within a second with status 1 (or, sometimes, in the use after free of
 * stress/repro/weakref_get_race.c, whose window is next to this one).
 */
#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

enum { ROUNDS = 1000000 };

typedef struct leaf {
    int unused;
} leaf;

/* Hand-shake of each round (seq_cst, the default: a simple ping-pong). */
static _Atomic(void *) resurrected;
static _Atomic(rcgc_weakref *) current;
static _Atomic long published, answered;
static _Atomic int got_null;

static void finalize(void *o)
{
    rcgc_incref(o);
    atomic_store(&resurrected, o);
}

static const rcgc_type fleaf_type = {"fleaf", NULL, finalize, NULL};

static void *getter(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    for (long i = 0; i < ROUNDS; i++) {
        while (atomic_load(&published) == i)
            rcgc_safepoint();
        rcgc_weakref *wr = atomic_load(&current);
        int null = 0;
        for (int k = 0; k < 8 && !null; k++) {
            void *p = rcgc_weakref_get(wr);
            null = p == NULL;
            rcgc_decref(p);
        }
        atomic_store(&got_null, null);
        atomic_store(&answered, i + 1);
    }
    rcgc_thread_detach();
    return NULL;
}

int main(void)
{
    rcgc_init(NULL);
    rcgc_thread_attach();
    pthread_t t;
    pthread_create(&t, NULL, getter, NULL);
    int bad = 0;
    for (long i = 0; i < ROUNDS && !bad; i++) {
        leaf *x = rcgc_alloc(&fleaf_type, sizeof *x);
        rcgc_weakref *wr = rcgc_weakref_new(x, NULL, NULL);
        atomic_store(&current, wr);
        atomic_store(&published, i + 1);
        for (volatile int k = 0; k < (int)(i % 128); k++)
            ;   /* vary the moment of the drop against the gets */
        rcgc_decref(x);   /* finalized here; the finalizer resurrects it */
        rcgc_blocking_begin();
        while (atomic_load(&answered) <= i)
            ;
        rcgc_blocking_end();
        void *alive = atomic_exchange(&resurrected, NULL);
        void *again = rcgc_weakref_get(wr);
        if (atomic_load(&got_null) && alive != NULL && again != NULL) {
            printf("round %ld: the weak reference answered NULL, then the object, resurrected "
                   "by its finalizer, and the weak reference answers it again\n", i);
            bad = 1;
        }
        rcgc_decref(again);
        rcgc_decref(alive);   /* dies for good now, without a second finalization */
        rcgc_weakref_free(wr);
    }
    if (bad) {
        fflush(stdout);
        return 1;   /* the getter thread is still attached: no shutdown */
    }
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_shutdown();
    puts("ok");
    return 0;
}

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
 * Use: built by stress/meson.build as <build>/stress/weakref_null_then_alive;
 * status 0 and "ok" once fixed; while the bug is there it usually stops
 * within a second with status 1 (or, sometimes, in the use after free of
 * stress/repro/weakref_get_race.c, whose window is next to this one).
 */
#include "pingpong.h"

#include <stdio.h>

enum { ROUNDS = 1000000 };

typedef struct leaf {
    int unused;
} leaf;

/* seq_cst (the default): written and read around the hand-shake. */
static _Atomic(void *) resurrected;
static _Atomic int got_null;

static void finalize(void *o)
{
    rcgc_incref(o);
    atomic_store(&resurrected, o);
}

static const rcgc_type fleaf_type = {"fleaf", NULL, finalize, NULL};

static void answer(rcgc_weakref *wr)
{
    int null = 0;
    for (int k = 0; k < 8 && !null; k++) {
        void *p = rcgc_weakref_get(wr);
        null = p == NULL;
        rcgc_decref(p);
    }
    atomic_store(&got_null, null);
}

int main(void)
{
    struct getter_args g = {ROUNDS, answer};
    pthread_t t = start_getter(&g);
    for (long i = 0; i < ROUNDS; i++) {
        /* finalized in the round; the finalizer resurrects it */
        rcgc_weakref *wr = weak_round(i, rcgc_alloc(&fleaf_type, sizeof(leaf)));
        void *alive = atomic_exchange(&resurrected, NULL);
        void *again = rcgc_weakref_get(wr);
        if (atomic_load(&got_null) && alive != NULL && again != NULL) {
            printf("round %ld: the weak reference answered NULL, then the object, resurrected "
                   "by its finalizer, and the weak reference answers it again\n", i);
            fflush(stdout);
            return 1;   /* the getter is still attached: no shutdown */
        }
        rcgc_decref(again);
        rcgc_decref(alive);   /* dies for good now, without a second finalization */
        rcgc_weakref_free(wr);
    }
    join_getter(t);
    puts("ok");
    return 0;
}

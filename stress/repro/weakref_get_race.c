/* weakref_get_race.c: reproducer of a library bug: a weak-reference get
 * that races the referent's last decref can return a reference to an
 * object that is then destroyed and freed (a use after free).
 *
 * Cause (src/objects.c, src/weakref.c; docs/design/weakref-finalize.md W2,
 * W3): the last decref finds the count zero; a get on another thread, under
 * the weak stripe lock, sees DYING not yet set and counts the object on its
 * `shared` word (W2); W3 step 1 is meant to see that count and cancel the
 * death, but in between rcgc_dead_link has stored the dead-list link into
 * that same `shared` word, erasing the get's increment. With the link NULL
 * (the object dies alone) the re-read count is zero, the death goes on, and
 * the getter holds a freed object. (With a non-NULL link the count is the
 * pointer instead: stress/repro/weakref_dead_link.c.)
 *
 * Use: built by stress/meson.build as <build>/stress/weakref_get_race; run
 * it: status 0 once fixed ("saw a destroyed object 0"); while the bug is
 * there it usually ends within seconds in rcgc's own "use of a dead object"
 * abort, a crash, or status 1.
 */
#include "pingpong.h"

#include <stdint.h>
#include <stdio.h>

enum { ROUNDS = 2000000 };
#define LIVE_MAGIC UINT64_C(0x1eaf1eaf1eaf1eaf)

typedef struct leaf {
    _Atomic uint64_t magic;
} leaf;

static void destroy(void *o)
{
    /* Relaxed: read by the getter only to notice that destroy ran. */
    atomic_store_explicit(&((leaf *)o)->magic, 0, memory_order_relaxed);
}

static const rcgc_type leaf_type = {"leaf", NULL, NULL, destroy};

static long hits, saw_destroyed;

static void answer(rcgc_weakref *wr)
{
    leaf *p = rcgc_weakref_get(wr);
    if (p == NULL)
        return;
    hits++;
    for (int k = 0; k < 50; k++)
        /* Relaxed: see destroy. */
        if (atomic_load_explicit(&p->magic, memory_order_relaxed) != LIVE_MAGIC) {
            saw_destroyed++;
            break;
        }
    rcgc_decref(p);
}

int main(void)
{
    struct getter_args g = {ROUNDS, answer};
    pthread_t t = start_getter(&g);
    for (long i = 0; i < ROUNDS; i++) {
        leaf *x = rcgc_alloc(&leaf_type, sizeof *x);
        /* Relaxed: published by the hand-shake's seq_cst store. */
        atomic_store_explicit(&x->magic, LIVE_MAGIC, memory_order_relaxed);
        rcgc_weakref_free(weak_round(i, x));
    }
    join_getter(t);
    printf("rounds %d, gets that answered %ld, saw a destroyed object %ld\n", ROUNDS, hits,
           saw_destroyed);
    return saw_destroyed != 0;
}

/* merge_lost_death.c: reproducer of a library bug found by rcgc-stress
 * (weak references off; seeds 105 and 108 of `--threads 4 --seconds 120
 * --verify 1 --mix weak=0,wget=0,wfree=0`: "FINDING not-freed" for one leaf
 * or fleaf, still alive after more full collections): an object whose
 * owner drops its last local reference while another thread drops the last
 * shared one is never freed.
 *
 * Cause (src/refcount.c, rcgc__local_zero): the owner's count reaches zero;
 * it loads `shared` (count 1: the other thread's reference, not zero, so
 * not dead yet), clears `owner` and loops on a compare-and-swap to set
 * MERGED. Meanwhile the other thread's rcgc__decref_slow takes the shared
 * count from 1 to exactly 0: not below zero, so it queues nothing, and the
 * object is not MERGED yet, so it is not dead for it either. The owner's
 * CAS then fails, reloads 0, and sets MERGED on a count of zero with no
 * QUEUED bit: the comment says "If the count is zero here, QUEUED is set
 * and the queue entry frees it (R6)", but no entry exists. The object stays
 * MERGED with count 0 forever (the stress suite's dump of the leaked
 * object: owner 0, local 0, shared 2 = MERGED | count 0, gc_bits live).
 * A fix: after the loop, if the value the CAS replaced was 0 (count zero,
 * no QUEUED), the object is dead and the owner frees it
 * (rcgc_object_died); nobody else holds a reference.
 *
 * The scenario: each round the main thread makes an object and gives a
 * second, counted reference to a helper thread; both drop theirs at the
 * same moment (a spin rendezvous).
 *
 * Use: built by stress/meson.build as <build>/stress/merge_lost_death;
 * status 0 and "lost 0" once fixed; while the bug is there status 1 and
 * "lost N" with N > 0 (usually within a second).
 */
#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

enum { ROUNDS = 1000000 };

static _Atomic long destroyed;

static void destroy(void *o)
{
    (void)o;
    atomic_fetch_add(&destroyed, 1);
}

static const rcgc_type leaf_type = {"leaf", NULL, NULL, destroy};

/* The rendezvous of each round (seq_cst, the default: a simple ping-pong,
 * not what is tested). */
static _Atomic(void *) handed;
static _Atomic long ready, dropped;

static void *helper(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    for (long i = 0; i < ROUNDS; i++) {
        void *x;
        while ((x = atomic_load(&handed)) == NULL)
            rcgc_safepoint();
        atomic_store(&handed, NULL);
        rcgc_incref(x);   /* a non-owner reference: on the shared count */
        atomic_store(&ready, i + 1);
        while (atomic_load(&ready) != -(i + 1))
            ;   /* go */
        rcgc_decref(x);
        atomic_store(&dropped, i + 1);
    }
    rcgc_thread_detach();
    return NULL;
}

int main(void)
{
    rcgc_init(NULL);
    rcgc_thread_attach();
    pthread_t t;
    pthread_create(&t, NULL, helper, NULL);
    for (long i = 0; i < ROUNDS; i++) {
        void *x = rcgc_alloc(&leaf_type, 16);
        rcgc_incref(x);   /* a second local reference for the hand-over */
        atomic_store(&handed, x);
        while (atomic_load(&ready) != i + 1)
            ;
        rcgc_decref(x);   /* the hand-over's reference: local 1 again */
        atomic_store(&ready, -(i + 1));
        rcgc_decref(x);   /* the last local reference, racing the helper's */
        while (atomic_load(&dropped) != i + 1)
            ;
    }
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    long lost = ROUNDS - atomic_load(&destroyed);
    printf("rounds %d, destroyed %ld, lost %ld\n", ROUNDS, (long)atomic_load(&destroyed), lost);
    rcgc_shutdown();
    return lost != 0;
}

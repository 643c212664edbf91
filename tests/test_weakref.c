/* Weak references (weakref.c): cleared at death by count and, for cyclic
 * garbage, in the pause that decided it; callbacks once, after clearing;
 * none for a weak reference freed first; never a dead object from a get,
 * even with two threads getting while collections run. Exact counts. */
#include "common.h"

#include <errno.h>

static _Atomic long callbacks;
static void *cb_saw;

static void on_clear(rcgc_weakref *wr, void *arg)
{
    (void)arg;
    atomic_fetch_add(&callbacks, 1);
    cb_saw = rcgc_weakref_get(wr); /* must be NULL already */
}

static void on_clear_and_free(rcgc_weakref *wr, void *arg)
{
    (void)arg;
    atomic_fetch_add(&callbacks, 1);
    rcgc_weakref_free(wr); /* freeing from its own callback */
}

static void test_death_by_count(void)
{
    long before = destroyed;
    callbacks = 0;
    node *n = node_new(7);
    rcgc_weakref *wr = rcgc_weakref_new(n, on_clear, NULL);
    CHECK(wr != NULL);
    node *got = rcgc_weakref_get(wr);
    CHECK(got == n && got->id == 7);
    rcgc_decref(got);
    CHECK_EQ(destroyed - before, 0);
    cb_saw = (void *)1;
    rcgc_decref(n);
    CHECK_EQ(destroyed - before, 1);
    CHECK_EQ(callbacks, 1);
    CHECK(cb_saw == NULL);
    CHECK(rcgc_weakref_get(wr) == NULL);
    rcgc_weakref_free(wr);

    /* Freed before the referent dies: no callback. */
    callbacks = 0;
    n = node_new(8);
    wr = rcgc_weakref_new(n, on_clear, NULL);
    rcgc_weakref_free(wr);
    rcgc_decref(n);
    CHECK_EQ(callbacks, 0);

    /* Freed by its own callback. */
    n = node_new(9);
    rcgc_weakref_new(n, on_clear_and_free, NULL);
    rcgc_decref(n);
    CHECK_EQ(callbacks, 1);

    errno = 0;
    CHECK(rcgc_weakref_new(NULL, NULL, NULL) == NULL && errno == EINVAL);
    CHECK(rcgc_weakref_get(NULL) == NULL);
    rcgc_weakref_free(NULL);
}

static void test_cycle(void)
{
    rcgc_collect(2);
    long before = destroyed;
    callbacks = 0;
    node *a = node_new(1), *b = node_new(2);
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_weakref *wa = rcgc_weakref_new(a, on_clear, NULL);
    rcgc_weakref *wb = rcgc_weakref_new(b, on_clear, NULL);
    rcgc_decref(b);
    rcgc_decref(a);
    /* Young objects with weak references wait for the background
     * collector's pause to be cleared: a young collection keeps them. */
    rcgc_collect(0);
    CHECK_EQ(destroyed - before, 0);
    node *ga = rcgc_weakref_get(wa);
    CHECK(ga == a);
    rcgc_decref(ga);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 2);
    CHECK_EQ(callbacks, 2);
    CHECK(rcgc_weakref_get(wa) == NULL && rcgc_weakref_get(wb) == NULL);
    rcgc_weakref_free(wa);
    rcgc_weakref_free(wb);
}

/* A finalizer that makes a weak reference to its own object. */
static rcgc_weakref *self_wr;
static void fin_self_weak(void *obj)
{
    self_wr = rcgc_weakref_new(obj, NULL, NULL);
}
static const rcgc_type self_weak = {"self_weak", node_traverse, fin_self_weak, node_destroy};

static void test_weakref_from_finalizer(void)
{
    long before = destroyed;
    node *n = rcgc_alloc(&self_weak, sizeof(node));
    rcgc_decref(n);
    CHECK_EQ(destroyed - before, 1);
    CHECK(self_wr != NULL && rcgc_weakref_get(self_wr) == NULL);
    rcgc_weakref_free(self_wr);
    /* In a cycle, finalized by the collector. */
    self_wr = NULL;
    node *a = rcgc_alloc(&self_weak, sizeof(node)), *b = node_new(2);
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_decref(b);
    rcgc_decref(a);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 3);
    CHECK(self_wr != NULL && rcgc_weakref_get(self_wr) == NULL);
    rcgc_weakref_free(self_wr);
}

/* Two threads get through weak references to 20000 garbage cycles while
 * collections run: a get never answers a dead object. */
enum { CYCLES = 20000 };
static rcgc_weakref *wrs[CYCLES];
static _Atomic int race_stop;
static _Atomic long gets_alive, gets_dead_seen;

static void *getter(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    uint64_t seed = 12345 + (uint64_t)(uintptr_t)&arg;
    while (!atomic_load(&race_stop)) {
        for (int k = 0; k < 256; k++) {
            node *n = rcgc_weakref_get(wrs[rng_next(&seed) % CYCLES]);
            if (n != NULL) {
                /* A live object: its id is intact and destroy has not run. */
                if (n->id < 0 || n->id >= CYCLES)
                    atomic_fetch_add(&gets_dead_seen, 1);
                atomic_fetch_add(&gets_alive, 1);
                rcgc_decref(n);
            }
        }
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static void poison_destroy(void *obj)
{
    ((node *)obj)->id = -1;
    atomic_fetch_add(&destroyed, 1);
}
static const rcgc_type poisoned = {"poisoned", node_traverse, NULL, poison_destroy};

static void test_get_race(void)
{
    rcgc_collect(2);
    long before = destroyed;
    test_seed();
    for (int i = 0; i < CYCLES; i++) {
        node *a = rcgc_alloc(&poisoned, sizeof(node)), *b = rcgc_alloc(&poisoned, sizeof(node));
        a->id = b->id = i;
        rcgc_store(a, &a->a, b);
        rcgc_store(b, &b->a, a);
        wrs[i] = rcgc_weakref_new(i % 2 ? a : b, NULL, NULL);
        rcgc_decref(a);
        rcgc_decref(b);
    }
    atomic_store(&race_stop, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, getter, NULL);
    for (int r = 0; r < 5; r++)
        rcgc_collect(2);
    atomic_store(&race_stop, 1);
    rcgc_blocking_begin();
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    CHECK_EQ(gets_dead_seen, 0);
    CHECK_EQ(destroyed - before, 2 * CYCLES);
    long cleared = 0;
    for (int i = 0; i < CYCLES; i++) {
        cleared += rcgc_weakref_get(wrs[i]) == NULL;
        rcgc_weakref_free(wrs[i]);
    }
    CHECK_EQ(cleared, CYCLES);
    printf("# gets that found a live object during the race: %ld\n", atomic_load(&gets_alive));
}

/* W2a: a get never waits at a safepoint and never drains a queue. The
 * referent is left merged with a count of zero and its merge-queue entry
 * still outstanding (the state rcgc__local_zero leaves when the owner's
 * count reaches zero while a non-owner's entry is queued): the entry pins
 * it and no death is being decided, so a get counts it at once, with no
 * drain and so no finalizer run inside it. Built deterministically: thread B releases a
 * reference the owner counted (the shared count goes below zero: QUEUED,
 * an entry on the owner's queue), thread C counts one on the shared word
 * (back to zero), then the owner drops its two; the owner reaches no
 * safepoint meanwhile (collections off, joins outside blocking regions),
 * so the entry stays in its queue. */
static _Atomic long fin_runs;
static void fin_node(void *obj)
{
    (void)obj;
    atomic_fetch_add(&fin_runs, 1);
}
static const rcgc_type fin_node_type = {"fin_node", node_traverse, fin_node, node_destroy};
static void *queued_x;

/* Thread B (arg NULL) releases one reference to queued_x, thread C
 * (arg non-NULL) counts one. */
static void *count_on_other_thread(void *arg)
{
    rcgc_thread_attach();
    if (arg != NULL)
        rcgc_incref(queued_x);
    else
        rcgc_decref(queued_x);
    rcgc_thread_detach();
    return NULL;
}

static void test_get_queued_zero(void)
{
    rcgc_disable();
    long before = destroyed, fin_before = fin_runs;
    callbacks = 0;
    node *x = rcgc_alloc(&fin_node_type, sizeof(node));
    queued_x = x;
    rcgc_weakref *wr = rcgc_weakref_new(x, on_clear, NULL);
    rcgc_incref(x); /* the owner counts the reference thread B releases */
    pthread_t t;
    pthread_create(&t, NULL, count_on_other_thread, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, count_on_other_thread, &fin_runs);
    pthread_join(t, NULL);
    rcgc_decref(x); /* C's reference, released by the owner */
    rcgc_decref(x); /* the owner's own: local zero, merged, still queued */
    int32_t v = __atomic_load_n(&rcgc__hdr(x)->shared, __ATOMIC_RELAXED);
    CHECK_EQ(v, RCGC__SHARED_MERGED | RCGC__SHARED_QUEUED);
    node *got = rcgc_weakref_get(wr);
    CHECK(got == x);
    CHECK_EQ(fin_runs - fin_before, 0);  /* no drain, no decision inside the get */
    CHECK_EQ(destroyed - before, 0);
    v = __atomic_load_n(&rcgc__hdr(x)->shared, __ATOMIC_RELAXED);
    CHECK_EQ(v, RCGC__SHARED_ONE | RCGC__SHARED_MERGED | RCGC__SHARED_QUEUED);
    rcgc_decref(got); /* count zero again, the entry still pins it */
    CHECK_EQ(destroyed - before, 0);
    /* The owner's safepoint processes the entry: the death is decided
     * there, the object revived for its finalizer (W3), then freed. */
    rcgc_safepoint();
    CHECK_EQ(fin_runs - fin_before, 1);
    CHECK_EQ(destroyed - before, 1);
    CHECK_EQ(callbacks, 1);
    CHECK(rcgc_weakref_get(wr) == NULL);
    rcgc_weakref_free(wr);
    rcgc_enable();
}

int main(void)
{
    test_init();
    test_death_by_count();
    test_cycle();
    test_weakref_from_finalizer();
    test_get_race();
    test_get_queued_zero();
    rcgc_collect(2);
    CHECK_EQ(live_objects(), 0);
    rcgc_shutdown();
    return check_done();
}

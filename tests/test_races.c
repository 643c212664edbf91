/* Deterministic race tests of cycle collection (cycles.md, C6, C4, C8).
 * A test-only hook stops the collector at a phase boundary while a racer
 * thread performs the racing mutation, then lets it go on. Each test
 * asserts exact outcomes: nothing reachable freed, the garbage freed. */
#include "common.h"
#include "../src/internal.h"

#include <string.h>

/* ---------------------------------------------------------------- */
/* The racer: runs one action when a hook fires, on its own thread.  */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void (*actions[16])(void); /* per hook phase, run once */
static void (*action)(void);      /* the one the racer runs now */
static int fired, done, quit, nfired;

static void hook(int phase, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    if (actions[phase] != NULL) {
        action = actions[phase];
        actions[phase] = NULL;
        fired = 1;
        done = 0;
        pthread_cond_broadcast(&cv);
        while (!done)
            pthread_cond_wait(&cv, &mu);
        fired = 0;
        nfired++;
    }
    pthread_mutex_unlock(&mu);
}

static void *racer(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    for (;;) {
        rcgc_blocking_begin();
        pthread_mutex_lock(&mu);
        while (!quit && !(fired && !done))
            pthread_cond_wait(&cv, &mu);
        int q = quit;
        pthread_mutex_unlock(&mu);
        rcgc_blocking_end();
        if (q)
            break;
        action();
        pthread_mutex_lock(&mu);
        done = 1;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    rcgc_thread_detach();
    return NULL;
}

static void arm(int phase, void (*fn)(void))
{
    pthread_mutex_lock(&mu);
    actions[phase] = fn;
    pthread_mutex_unlock(&mu);
}

/* Number of armed actions that ran since the last call; disarms the rest. */
static int fired_count(void)
{
    pthread_mutex_lock(&mu);
    int n = nfired;
    nfired = 0;
    memset(actions, 0, sizeof actions);
    pthread_mutex_unlock(&mu);
    return n;
}

static int fired_once(void)
{
    return fired_count() == 1;
}

/* ---------------------------------------------------------------- */

static node *X, *H, *A, *taken;

/* Race 1: while the owner's young collection runs (after it subtracted
 * internal references, before it marks), another thread moves a young
 * object out of a slot onto its stack: incref, then clear the slot. */
static void pop_from_X(void)
{
    taken = rcgc_load(&X->a);
    rcgc_incref(taken);
    rcgc_store(X, &X->a, NULL);
}

static void test_young_pop(void)
{
    rcgc_collect(2);
    long before = destroyed;
    X = node_new(1);
    node *y = node_new(2);
    rcgc_store(X, &X->a, y);
    rcgc_decref(y);
    /* The racer's reference to X is ours, handed over: X stays a root. */
    arm(RCGC_HOOK_YOUNG_COUNTED, pop_from_X);
    rcgc_collect(0);
    CHECK(fired_once());
    CHECK_EQ(destroyed - before, 0);
    CHECK(taken == y && taken->id == 2);
    rcgc_decref(taken);
    rcgc_decref(X);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 2);
}

/* Race 2: a young object of ours is published by another thread into a
 * global while our young collection runs; the only path to it from our
 * young objects is cut at the same time. */
static void *published;
static node *W;

static void publish_from_W(void)
{
    void *x = rcgc_load(&W->a);
    rcgc_incref(x);
    rcgc_store(W, &W->a, NULL);
    published = x; /* our reference moves to the global */
}

static void test_young_publish(void)
{
    long before = destroyed;
    W = node_new(1);
    node *x = node_new(2), *z = node_new(3);
    rcgc_store(W, &W->a, x);
    rcgc_store(x, &x->a, z); /* and what it reaches */
    rcgc_decref(x);
    rcgc_decref(z);
    rcgc_incref(W); /* one reference for the racer, W stays a root */
    arm(RCGC_HOOK_YOUNG_COUNTED, publish_from_W);
    rcgc_collect(0);
    CHECK(fired_once());
    CHECK_EQ(destroyed - before, 0);
    node *p = published;
    CHECK(p != NULL && p->id == 2 && ((node *)rcgc_load(&p->a))->id == 3);
    rcgc_decref(published);
    rcgc_decref(W);
    rcgc_decref(W);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 3);
}

/* Races 3 and 4, in the older generations: a ring A <-> B held through a
 * slot of H. During detection (after subtraction, before marking), the
 * racer pops A onto its stack (a non-owner incref of what becomes a
 * candidate); after marking, before the confirming pause, it stores into a
 * candidate and stores a candidate back into H, then drops its own
 * reference. The pause must keep everything. */
static node *fresh;

static void pop_from_H(void)
{
    taken = rcgc_load(&H->a);
    rcgc_incref(taken);
    rcgc_store(H, &H->a, NULL);
}

static void store_back(void)
{
    node *b = rcgc_load(&taken->a);
    fresh = node_new(99);
    rcgc_store(b, &b->b, fresh); /* a store into a candidate */
    rcgc_decref(fresh);
    rcgc_store(H, &H->a, taken); /* a candidate stored into a live object */
    rcgc_decref(taken);
}

static void test_old_pop_and_store(void)
{
    rcgc_collect(2);
    long before = destroyed;
    H = node_new(0);
    A = node_new(1);
    node *b = node_new(2);
    rcgc_store(A, &A->a, b);
    rcgc_store(b, &b->a, A);
    rcgc_store(H, &H->a, A);
    rcgc_decref(b);
    rcgc_decref(A);
    rcgc_collect(0); /* all old now */
    arm(RCGC_HOOK_OLD_COUNTED, pop_from_H);
    rcgc_collect(1);
    CHECK(fired_once());
    CHECK_EQ(destroyed - before, 0);
    rcgc_store(H, &H->a, taken); /* put it back */
    rcgc_decref(taken);
    rcgc_collect(2);             /* all in generation 2 now */
    CHECK_EQ(destroyed - before, 0);
    /* Again in one full collection: the pop after subtraction, then the
     * stores before the pause. */
    arm(RCGC_HOOK_OLD_COUNTED, pop_from_H);
    arm(RCGC_HOOK_OLD_MARKED, store_back);
    rcgc_collect(2);
    CHECK_EQ(fired_count(), 2);
    CHECK_EQ(destroyed - before, 0);
    node *a = rcgc_load(&H->a);
    node *bb = rcgc_load(&a->a);
    CHECK(a->id == 1 && bb->id == 2 && rcgc_load(&bb->a) == a);
    CHECK(((node *)rcgc_load(&bb->b))->id == 99);
    rcgc_decref(H);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 4);
}

/* Race 5: a thread that made the objects exits (without detaching) while
 * the collector is between detection and confirmation. */
static pthread_t exiter;
static node *E_ring;
static pthread_mutex_t emu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ecv = PTHREAD_COND_INITIALIZER;
static int estage;

/* Sets the stage to `set` (if not 0), then waits, counted as stopped, until
 * it reaches `until`. */
static void stage_announce_and_wait(int set, int until)
{
    rcgc_blocking_begin();
    pthread_mutex_lock(&emu);
    if (set) {
        estage = set;
        pthread_cond_broadcast(&ecv);
    }
    while (estage < until)
        pthread_cond_wait(&ecv, &emu);
    pthread_mutex_unlock(&emu);
    rcgc_blocking_end();
}

static void *exiting_owner(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    node *a = node_ring2(5, 6);
    E_ring = a; /* handed to main: a reference counted by this thread */
    rcgc_collect(0);
    rcgc_decref(node_ring2(7, 8)); /* a garbage ring, old after the collect */
    rcgc_collect(0);
    stage_announce_and_wait(1, 2);
    return NULL; /* exits attached */
}

static void let_exiter_go(void)
{
    pthread_mutex_lock(&emu);
    estage = 2;
    pthread_cond_broadcast(&ecv);
    pthread_mutex_unlock(&emu);
    pthread_join(exiter, NULL);
}

static void test_owner_exits_mid_collection(void)
{
    rcgc_collect(2);
    long before = destroyed;
    estage = 0;
    pthread_create(&exiter, NULL, exiting_owner, NULL);
    stage_announce_and_wait(0, 1);
    arm(RCGC_HOOK_OLD_MARKED, let_exiter_go);
    rcgc_collect(2);
    CHECK(fired_once());
    /* The garbage ring is gone; the ring we hold is intact. */
    CHECK_EQ(destroyed - before, 2);
    node *b = rcgc_load(&E_ring->a);
    CHECK(E_ring->id == 5 && b->id == 6 && rcgc_load(&b->a) == E_ring);
    rcgc_decref(E_ring);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 4);
}

/* Race 6: an object's merge is still queued (its owner has not drained)
 * while detection runs: the object is a root until merged, and the ring
 * is freed once the owner has drained. */
static _Atomic int spin_stop;
static node *Q_ring;
static _Atomic int q_ready;

static void *slow_owner(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    node *a = node_ring2(1, 2);
    rcgc_collect(0); /* old, still owned by this thread */
    Q_ring = a;      /* our reference goes to main */
    atomic_store(&q_ready, 1);
    while (!atomic_load(&spin_stop))
        rcgc_safepoint();
    rcgc_thread_detach();
    return NULL;
}

static int saw_queued;

static void check_queued(void)
{
    /* Relaxed read, test only: the entry is still in the owner's queue. */
    saw_queued = (__atomic_load_n(&rcgc__hdr(Q_ring)->shared, __ATOMIC_RELAXED) &
                  RCGC__SHARED_QUEUED) != 0;
}

static void test_queued_merge(void)
{
    rcgc_collect(2);
    long before = destroyed;
    atomic_store(&spin_stop, 0);
    atomic_store(&q_ready, 0);
    pthread_t t;
    pthread_create(&t, NULL, slow_owner, NULL);
    while (!atomic_load(&q_ready))
        rcgc_safepoint();
    /* The owner spins on polls, so it drains at its next one; the hook
     * reads the word right after detection counted. */
    arm(RCGC_HOOK_OLD_START, check_queued);
    rcgc_decref(Q_ring); /* below zero: queued to the owner */
    rcgc_collect(1);
    CHECK(fired_once());
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 2);
    atomic_store(&spin_stop, 1);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    printf("# queued entry seen during detection: %s\n", saw_queued ? "yes" : "no (drained first)");
}

/* Race 7: a thread sits in a blocking region for the whole collection; its
 * garbage is collected, its live objects kept, and nothing waits for it. */
static node *K_live;

static void *blocked_all_along(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    node *g = node_ring2(1, 2);
    rcgc_decref(g);
    K_live = node_new(3);
    rcgc_store(K_live, &K_live->a, K_live);
    stage_announce_and_wait(1, 2);
    rcgc_decref(K_live);
    rcgc_collect(0);
    rcgc_thread_detach();
    return NULL;
}

static void test_blocked_whole_collection(void)
{
    rcgc_collect(2);
    long before = destroyed;
    estage = 0;
    pthread_t t;
    pthread_create(&t, NULL, blocked_all_along, NULL);
    stage_announce_and_wait(0, 1);
    rcgc_collect(2); /* must not wait for the blocked thread */
    CHECK_EQ(destroyed - before, 2);
    CHECK(K_live->id == 3 && rcgc_load(&K_live->a) == K_live);
    pthread_mutex_lock(&emu);
    estage = 2;
    pthread_cond_broadcast(&ecv);
    pthread_mutex_unlock(&emu);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 3);
}

/* Race 7 (weakref-finalize.md W2a): the owner's merge of a queue entry
 * finds a total of zero and takes the object out of its young table; a
 * weak reference's get counts the still unmerged word up before the
 * merge's CAS. The object lives on, merged: it must have been promoted,
 * or no collector ever examines it and a cycle through it leaks. */
static rcgc_weakref *WR;
static node *got;

static void get_through_weak(void)
{
    got = rcgc_weakref_get(WR);
}

static void *drop_as_non_owner(void *arg)
{
    rcgc_thread_attach();
    rcgc_decref(arg); /* below zero on the shared word: queued to the owner */
    rcgc_thread_detach();
    return NULL;
}

static void test_merge_meets_weak_get(void)
{
    rcgc_collect(2);
    long before = destroyed;
    node *x = node_new(7);
    WR = rcgc_weakref_new(x, NULL, NULL);
    CHECK(WR != NULL);
    arm(RCGC_HOOK_MERGE_REMOVED, get_through_weak);
    /* Our only reference goes to another thread, which drops it. */
    pthread_t t;
    pthread_create(&t, NULL, drop_as_non_owner, x);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_safepoint(); /* the merge, by the dropper (we were away) or here */
    CHECK(fired_once());
    CHECK(got == x);
    CHECK_EQ(destroyed - before, 0);
    /* A cycle through it, then garbage: a full collection must free it. */
    rcgc_store(got, &got->a, got);
    rcgc_decref(got);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 1);
    CHECK(rcgc_weakref_get(WR) == NULL);
    rcgc_weakref_free(WR);
}

int main(void)
{
    test_init();
    pthread_t r;
    pthread_create(&r, NULL, racer, NULL);
    rcgc_set_test_hook(hook);
    test_young_pop();
    test_young_publish();
    test_old_pop_and_store();
    test_owner_exits_mid_collection();
    test_queued_merge();
    test_blocked_whole_collection();
    test_merge_meets_weak_get();
    rcgc_set_test_hook(NULL);
    pthread_mutex_lock(&mu);
    quit = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    rcgc_blocking_begin();
    pthread_join(r, NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    CHECK_EQ(live_objects(), 0);
    rcgc_shutdown();
    return check_done();
}

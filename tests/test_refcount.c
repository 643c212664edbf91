/* Multithreaded tests of biased reference counting (refcount.c):
 * a non-owner dropping the last reference; the owner's count and the shared
 * count merged in every order; one object counted by four threads at once;
 * merges while the owner sits in a blocking region; a producer handing
 * 200k two-node structures to a consumer and exiting without detaching.
 * Every assertion is an exact count. */
#include "common.h"

#include <string.h>

/* ---------------------------------------------------------------- */

static chan ch;

static void *consumer_drop_all(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    void *p;
    while (chan_recv(&ch, &p))
        rcgc_decref(p);
    rcgc_thread_detach();
    return NULL;
}

/* The owner hands objects to a non-owner, which drops the last reference.
 * The owner keeps polling until every object is gone. */
static void test_nonowner_drops_last(void)
{
    const long n = 50000;
    long before = destroyed;
    chan_init(&ch, 256);
    pthread_t t;
    pthread_create(&t, NULL, consumer_drop_all, NULL);
    for (long i = 0; i < n; i++)
        chan_send(&ch, node_new(i));
    chan_close(&ch);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_collect(0);
    CHECK_EQ(destroyed - before, n);
    CHECK_EQ(live_objects(), 0);
    chan_destroy(&ch);
}

/* ---------------------------------------------------------------- */

static chan back;

static void *nonowner_incref_and_return(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    void *p;
    while (chan_recv(&ch, &p)) {
        rcgc_incref(p);        /* shared count +1 */
        chan_send(&back, p);   /* gives one reference back */
        rcgc_decref(p);        /* shared count back to 0, or queued */
    }
    rcgc_thread_detach();
    return NULL;
}

/* The owner and a non-owner each drop references in interleavings that
 * exercise every branch of the merge: owner first, non-owner first. */
static void test_merge_orders(void)
{
    const long n = 20000;
    long before = destroyed;
    chan_init(&ch, 64);
    chan_init(&back, 64);
    pthread_t t;
    pthread_create(&t, NULL, nonowner_incref_and_return, NULL);
    long mismatches = 0;
    for (long i = 0; i < n; i++) {
        node *x = node_new(i);
        rcgc_incref(x);
        chan_send(&ch, x);     /* the non-owner holds one of our two */
        void *y = NULL;
        chan_recv(&back, &y);
        mismatches += y != x;
        if (i % 2)
            rcgc_decref(x);    /* owner drops first */
        rcgc_safepoint();
        rcgc_decref(y);
        if (!(i % 2))
            rcgc_decref(x);
    }
    chan_close(&ch);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    CHECK_EQ(mismatches, 0);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, n);
    chan_destroy(&ch);
    chan_destroy(&back);
}

/* ---------------------------------------------------------------- */

static void *hammer_obj;
static int hammer_own_ref; /* each hammer thread drops one reference at the end */
static pthread_barrier_t hammer_go;

static void *hammer(void *arg)
{
    long iters = (long)(intptr_t)arg;
    rcgc_thread_attach();
    rcgc_blocking_begin();
    pthread_barrier_wait(&hammer_go);
    rcgc_blocking_end();
    for (long i = 0; i < iters; i++) {
        rcgc_incref(hammer_obj);
        rcgc_incref(hammer_obj);
        rcgc_decref(hammer_obj);
        rcgc_decref(hammer_obj);
        if ((i & 1023) == 0)
            rcgc_safepoint();
    }
    if (hammer_own_ref)
        rcgc_decref(hammer_obj);
    rcgc_thread_detach();
    return NULL;
}

/* Four threads (three non-owners and the owner) count one object at once. */
static void test_four_threads_one_object(void)
{
    const long iters = 1000000;
    long before = destroyed;
    hammer_obj = node_new(1);
    pthread_barrier_init(&hammer_go, NULL, 4);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)iters);
    rcgc_blocking_begin();
    pthread_barrier_wait(&hammer_go);
    rcgc_blocking_end();
    for (long i = 0; i < iters; i++) {
        rcgc_incref(hammer_obj);
        rcgc_decref(hammer_obj);
    }
    rcgc_blocking_begin();
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    rcgc_blocking_end();
    CHECK_EQ(destroyed - before, 0);
    CHECK(((node *)hammer_obj)->id == 1);
    rcgc_decref(hammer_obj);
    CHECK_EQ(destroyed - before, 1);
    pthread_barrier_destroy(&hammer_go);

    /* Again, but each thread holds a reference of its own (counted by the
     * owner, handed over) and drops it when done, while the owner drops its
     * own reference early and goes into a blocking region: the last
     * non-owner decref frees the object, on that thread. */
    before = destroyed;
    hammer_obj = node_new(2);
    for (int i = 0; i < 3; i++)
        rcgc_incref(hammer_obj);
    hammer_own_ref = 1;
    pthread_barrier_init(&hammer_go, NULL, 4);
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)(iters / 4));
    rcgc_blocking_begin();
    pthread_barrier_wait(&hammer_go);
    rcgc_blocking_end();
    rcgc_decref(hammer_obj);
    rcgc_blocking_begin();
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    rcgc_blocking_end();
    CHECK_EQ(destroyed - before, 1);
    hammer_own_ref = 0;
    pthread_barrier_destroy(&hammer_go);
}

/* ---------------------------------------------------------------- */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_stage;

static void gate_set(int s)
{
    pthread_mutex_lock(&gate_mu);
    gate_stage = s;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static void gate_wait(int s)
{
    pthread_mutex_lock(&gate_mu);
    while (gate_stage < s)
        pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void *blocked_owner_objs[1000];
static long blocked_destroyed_while_blocked;

static void *blocked_owner(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    for (int i = 0; i < 1000; i++) {
        node *a = node_new(i), *b = node_new(-i);
        rcgc_store(a, &a->a, b);
        rcgc_decref(b);
        blocked_owner_objs[i] = a;
    }
    rcgc_blocking_begin();
    gate_set(1);           /* objects handed over, owner is blocked */
    gate_wait(2);          /* the other thread dropped everything */
    blocked_destroyed_while_blocked = destroyed;
    rcgc_blocking_end();
    rcgc_thread_detach();
    return NULL;
}

/* The owner sits in a blocking region; a non-owner drops every reference
 * the owner counted. Nothing may wait for the owner: the objects are freed
 * before it comes back (no memory held hostage). */
static void test_merge_while_owner_blocked(void)
{
    long before = destroyed;
    gate_stage = 0;
    pthread_t t;
    pthread_create(&t, NULL, blocked_owner, NULL);
    rcgc_blocking_begin();
    gate_wait(1);
    rcgc_blocking_end();
    for (int i = 0; i < 1000; i++)
        rcgc_decref(blocked_owner_objs[i]);
    CHECK_EQ(destroyed - before, 2000);
    gate_set(2);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    CHECK_EQ(blocked_destroyed_while_blocked - before, 2000);
}

/* ---------------------------------------------------------------- */

static void **kept;
static long nkept;

static void *producer_no_detach(void *arg)
{
    long n = (long)(intptr_t)arg;
    rcgc_thread_attach();
    for (long i = 0; i < n; i++) {
        node *a = node_new(i), *b = node_new(i);
        rcgc_store(a, &a->b, b);
        rcgc_decref(b);
        chan_send(&ch, a);
    }
    chan_close(&ch);
    return NULL; /* exits attached: detached automatically */
}

/* The acceptance scenario of issue 2: a producer hands 200k two-node
 * structures to a consumer and exits without detaching while the consumer
 * still holds some; every object is destroyed exactly once. */
static void test_producer_exits_attached(void)
{
    const long n = 200000;
    long before = destroyed;
    kept = calloc((size_t)n, sizeof(void *));
    nkept = 0;
    chan_init(&ch, 1024);
    pthread_t t;
    pthread_create(&t, NULL, producer_no_detach, (void *)(intptr_t)n);
    void *p;
    long i = 0;
    while (chan_recv(&ch, &p)) {
        if (i++ % 3 == 0)
            kept[nkept++] = p;
        else
            rcgc_decref(p);
    }
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    CHECK_EQ(s.threads_attached, 1);
    /* The producer is gone; what we kept is intact and fully usable. */
    int intact = 1;
    for (long k = 0; k < nkept; k++) {
        node *a = kept[k];
        node *b = rcgc_load(&a->b);
        intact &= b != NULL && b->id == a->id;
        rcgc_incref(b);
        rcgc_store(a, &a->b, NULL);
        rcgc_store(a, &a->a, b); /* move the child to the other slot */
        rcgc_decref(b);
    }
    CHECK(intact);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 2 * (n - nkept));
    for (long k = 0; k < nkept; k++)
        rcgc_decref(kept[k]);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 2 * n);
    free(kept);
    chan_destroy(&ch);
}

/* ---------------------------------------------------------------- */

static void *adopter(void *arg)
{
    node **objs = arg;
    rcgc_thread_attach();
    /* This thread may have adopted the exited producer's heap: counting
     * on the adopted objects must work whichever way it went. */
    for (int i = 0; i < 100; i++) {
        rcgc_incref(objs[i]);
        rcgc_decref(objs[i]);
        rcgc_decref(objs[i]);
    }
    rcgc_thread_detach();
    return NULL;
}

static void *make_objs(void *arg)
{
    node **objs = arg;
    rcgc_thread_attach();
    for (int i = 0; i < 100; i++)
        objs[i] = node_new(i);
    rcgc_thread_detach();
    return NULL;
}

/* A heap left by a detached thread is adopted by the next one to attach,
 * with its objects' counts intact. */
static void test_adoption(void)
{
    node *objs[100];
    long before = destroyed;
    pthread_t t;
    rcgc_blocking_begin();
    pthread_create(&t, NULL, make_objs, objs);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, adopter, objs);
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 100);
}

/* ---------------------------------------------------------------- */
/* objects.md O14: the owner stores into an object with a load and a
 * store only while its own reference is the only one and no slot ever
 * held it; every other store is the exchange. */

static node *shared_obj;
static _Atomic int go;

static void *store_many(void *arg)
{
    long n = (long)(intptr_t)arg;
    rcgc_thread_attach();
    while (!atomic_load(&go))
        rcgc_safepoint();
    for (long i = 0; i < n; i++) {
        node *v = node_new(i);
        rcgc_store(shared_obj, &shared_obj->a, v);
        rcgc_decref(v);
    }
    rcgc_decref(shared_obj); /* the reference handed to us */
    rcgc_thread_detach();
    return NULL;
}

static void test_private_stores(void)
{
    long before = destroyed;
    /* Which objects qualify, exactly. */
    node *x = node_new(1), *y = node_new(2);
    CHECK(rcgc__private_store(rcgc__hdr(x)));
    rcgc_incref(x); /* a second reference somewhere */
    CHECK(!rcgc__private_store(rcgc__hdr(x)));
    rcgc_decref(x);
    CHECK(rcgc__private_store(rcgc__hdr(x)));
    rcgc_store(y, &y->a, x); /* x in a slot: never again */
    CHECK(!rcgc__private_store(rcgc__hdr(x)));
    rcgc_store(y, &y->a, NULL);
    CHECK(!rcgc__private_store(rcgc__hdr(x)));
    CHECK(rcgc__private_store(rcgc__hdr(y)));
    rcgc_weakref *wr = rcgc_weakref_new(y, NULL, NULL);
    CHECK(!rcgc__private_store(rcgc__hdr(y)));
    rcgc_weakref_free(wr);
    rcgc_decref(x);
    rcgc_decref(y);
    CHECK_EQ(destroyed - before, 2);

    /* The owner and another thread store into one slot at once, 200,000
     * fresh objects each: the owner's second reference (handed over) keeps
     * it off the private path, every value replaced is released exactly
     * once, and every object dies exactly once. */
    const long n = 200000;
    before = destroyed;
    shared_obj = node_new(3);
    CHECK(rcgc__private_store(rcgc__hdr(shared_obj)));
    rcgc_incref(shared_obj);
    atomic_store(&go, 0);
    pthread_t t;
    pthread_create(&t, NULL, store_many, (void *)(intptr_t)n);
    atomic_store(&go, 1);
    for (long i = 0; i < n; i++) {
        node *v = node_new(i);
        rcgc_store(shared_obj, &shared_obj->a, v);
        rcgc_decref(v);
    }
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_safepoint();
    CHECK_EQ(destroyed - before, 2 * n - 1); /* all but the last value */
    rcgc_decref(shared_obj);
    rcgc_collect(0);
    CHECK_EQ(destroyed - before, 2 * n + 1);
}

int main(void)
{
    test_init();
    test_private_stores();
    test_nonowner_drops_last();
    test_merge_orders();
    test_four_threads_one_object();
    test_merge_while_owner_blocked();
    test_producer_exits_attached();
    test_adoption();
    CHECK_EQ(live_objects(), 0);
    rcgc_shutdown();
    return check_done();
}

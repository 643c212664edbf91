/* test_finalize.c: where and how finalizers and weak-reference callbacks
 * run (docs/design/weakref-finalize.md, W7 and W8).
 *
 * Part 1, the default background mode: finalizers of cyclic garbage run on
 * the collector thread, never on the thread that collected; finalizers
 * that allocate, create new cycles, create new finalizable cycles; a
 * 100000-object finalizable ring, each member finalized exactly once.
 * Part 2, on-demand mode (a second rcgc_init): nothing runs until the
 * runtime calls rcgc_run_finalizers; the notifier fires once per empty to
 * non-empty transition; callbacks before finalizers; resurrection;
 * rcgc_collect(2) queues instead of waiting; rcgc_shutdown runs leftovers.
 */
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

static pthread_t main_thread;
static _Atomic long finalized, fin_on_main, fin_elsewhere;
static _Atomic int fin_action;          /* what the finalizer does */
static void *_Atomic resurrect_slot;    /* a root, written by finalizers */

enum { ACT_NONE, ACT_ALLOC, ACT_CYCLE, ACT_FIN_CYCLE, ACT_RESURRECT };

static const rcgc_type fin_type;

/* Relaxed atomics throughout: the counters are read after rcgc_collect or
 * rcgc_run_finalizers returned, which orders them (a mutex handshake with
 * the collector, or the same thread). */
static void fin_common(void *obj)
{
    node *n = obj;
    atomic_fetch_add(&finalized, 1);
    if (pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&fin_on_main, 1);
    else
        atomic_fetch_add(&fin_elsewhere, 1);
    switch (atomic_load(&fin_action)) {
    case ACT_ALLOC: {
        /* A new object, stored into the dying object: garbage with it. */
        node *k = node_new(1000 + n->id);
        rcgc_store(n, &n->b, k);
        rcgc_decref(k);
        break;
    }
    case ACT_CYCLE:
        /* A new garbage cycle of plain nodes, dropped at once. */
        rcgc_decref(node_ring2(2000, 2001));
        break;
    case ACT_FIN_CYCLE:
        /* A new finalizable cycle, three generations deep (ids count down). */
        if (n->id > 1) {
            node *a = rcgc_alloc(&fin_type, sizeof(node));
            node *b = rcgc_alloc(&fin_type, sizeof(node));
            a->id = b->id = n->id - 1;
            rcgc_store(a, &a->a, b);
            rcgc_store(b, &b->a, a);
            rcgc_decref(b);
            rcgc_decref(a);
        }
        break;
    case ACT_RESURRECT: {
        void *expected = NULL;
        if (atomic_compare_exchange_strong(&resurrect_slot, &expected, obj))
            rcgc_incref(obj);
        break;
    }
    default:
        break;
    }
}

static const rcgc_type fin_type = {"fin", node_traverse, fin_common, node_destroy};

static node *fin_ring2(long id)
{
    node *a = rcgc_alloc(&fin_type, sizeof(node)), *b = rcgc_alloc(&fin_type, sizeof(node));
    a->id = b->id = id;
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_decref(b);
    return a;
}

static void reset(int action)
{
    rcgc_collect(2);
    atomic_store(&finalized, 0);
    atomic_store(&fin_on_main, 0);
    atomic_store(&fin_elsewhere, 0);
    atomic_store(&destroyed, 0);
    atomic_store(&fin_action, action);
}

/* ==================================================================== */
/* Part 1: background mode                                               */
/* ==================================================================== */

static void test_background_thread(void)
{
    reset(ACT_NONE);
    /* Old cyclic garbage: finalized on the collector thread. */
    rcgc_decref(fin_ring2(1));
    CHECK_EQ(rcgc_collect(2), 2);
    CHECK_EQ(finalized, 2);
    CHECK_EQ(fin_elsewhere, 2);
    CHECK_EQ(destroyed, 2);

    /* Young cyclic garbage: a young collection hands the set to the
     * collector and frees nothing yet; collect(2) waits for it. */
    reset(ACT_NONE);
    rcgc_decref(fin_ring2(1));
    CHECK_EQ(rcgc_collect(0), 0);
    CHECK_EQ(destroyed, 0);
    rcgc_collect(2);
    CHECK_EQ(finalized, 2);
    CHECK_EQ(fin_elsewhere, 2);
    CHECK_EQ(destroyed, 2);

    /* A death by count finalizes on the thread that dropped it. */
    reset(ACT_NONE);
    rcgc_decref(rcgc_alloc(&fin_type, sizeof(node)));
    CHECK_EQ(finalized, 1);
    CHECK_EQ(fin_on_main, 1);
    CHECK_EQ(destroyed, 1);
}

static void test_background_user_code(void)
{
    /* Finalizers that allocate: each stores a new object into its own,
     * dying object; the next round frees both. */
    reset(ACT_ALLOC);
    rcgc_decref(fin_ring2(1));
    rcgc_collect(2);
    CHECK_EQ(finalized, 2);
    CHECK_EQ(destroyed, 4);

    /* Finalizers that create (and drop) a new cycle each. */
    reset(ACT_CYCLE);
    rcgc_decref(fin_ring2(1));
    rcgc_collect(2);
    CHECK_EQ(finalized, 2);
    CHECK_EQ(destroyed, 6);

    /* Finalizers that create new finalizable cycles: 3 generations of
     * rings, 2 + 4 + 8 finalizable objects, all finalized and freed by
     * one rcgc_collect(2) (it repeats while finalizers ran). */
    reset(ACT_FIN_CYCLE);
    rcgc_decref(fin_ring2(3));
    rcgc_collect(2);
    CHECK_EQ(finalized, 14);
    CHECK_EQ(destroyed, 14);
}

/* 100000 finalizable objects in one ring: every one finalized exactly
 * once, then all freed. */
enum { BIG = 100000 };
static _Atomic unsigned char big_seen[BIG];

static void big_finalize(void *obj)
{
    node *n = obj;
    atomic_fetch_add(&big_seen[n->id], 1);
    atomic_fetch_add(&finalized, 1);
}
static const rcgc_type big_type = {"big", node_traverse, big_finalize, node_destroy};

static void test_big_ring(void)
{
    reset(ACT_NONE);
    node *first = rcgc_alloc(&big_type, sizeof(node)), *prev = first;
    for (long i = 1; i < BIG; i++) {
        node *n = rcgc_alloc(&big_type, sizeof(node));
        n->id = i;
        rcgc_store(prev, &prev->a, n);
        if (prev != first)
            rcgc_decref(prev);
        prev = n;
    }
    rcgc_store(prev, &prev->a, first);
    rcgc_decref(prev);
    rcgc_decref(first);
    CHECK_EQ(rcgc_collect(2), BIG);
    CHECK_EQ(finalized, BIG);
    CHECK_EQ(destroyed, BIG);
    long once = 0;
    for (long i = 0; i < BIG; i++)
        once += atomic_load(&big_seen[i]) == 1;
    CHECK_EQ(once, BIG);
}

/* ==================================================================== */
/* Part 2: on-demand mode                                                */
/* ==================================================================== */

static _Atomic long notified;
static void on_notify(void *arg)
{
    CHECK(arg == &notified);
    atomic_fetch_add(&notified, 1);
}

/* Callbacks and finalizers append to one log, to check their order. */
static _Atomic int order_log[16];
static _Atomic int order_n;
static void log_event(int what)
{
    int i = atomic_fetch_add(&order_n, 1);
    if (i < 16)
        atomic_store(&order_log[i], what);
}
static _Atomic long callbacks;
static void on_clear(rcgc_weakref *wr, void *arg)
{
    (void)wr;
    (void)arg;
    atomic_fetch_add(&callbacks, 1);
    log_event(1);
}
static void fin_logged(void *obj)
{
    log_event(2);
    fin_common(obj);
}
static const rcgc_type logged_type = {"logged", node_traverse, fin_logged, node_destroy};

static void test_on_demand_count_death(void)
{
    reset(ACT_NONE);
    atomic_store(&notified, 0);
    node *n = rcgc_alloc(&fin_type, sizeof(node));
    rcgc_weakref *wr = rcgc_weakref_new(n, on_clear, NULL);
    rcgc_decref(n);
    /* Queued, alive (pinned by the queue), still answered by its weak
     * reference; the notifier fired once. */
    CHECK_EQ(finalized, 0);
    CHECK_EQ(destroyed, 0);
    CHECK_EQ(rcgc_pending_finalizers(), 1);
    CHECK_EQ(notified, 1);
    node *g = rcgc_weakref_get(wr);
    CHECK(g == n);
    rcgc_decref(g);
    /* Running it: finalized here, then it dies by count and its weak
     * reference is cleared; its callback is queued in turn. */
    callbacks = 0;
    CHECK_EQ(rcgc_run_finalizers(), 2);
    CHECK_EQ(finalized, 1);
    CHECK_EQ(fin_on_main, 1);
    CHECK_EQ(destroyed, 1);
    CHECK_EQ(callbacks, 1);
    CHECK(rcgc_weakref_get(wr) == NULL);
    CHECK_EQ(rcgc_pending_finalizers(), 0);
    CHECK_EQ(notified, 2);
    rcgc_weakref_free(wr);
}

static void test_on_demand_cycle(void)
{
    reset(ACT_NONE);
    atomic_store(&order_n, 0);
    callbacks = 0;
    node *a = rcgc_alloc(&logged_type, sizeof(node)), *b = rcgc_alloc(&logged_type, sizeof(node));
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_weakref *wa = rcgc_weakref_new(a, on_clear, NULL);
    rcgc_weakref *wb = rcgc_weakref_new(b, on_clear, NULL);
    rcgc_decref(b);
    rcgc_decref(a);
    /* collect(2) decides the garbage, clears its weak references and
     * queues the callbacks and finalizers; it does not wait for them. */
    CHECK_EQ(rcgc_collect(2), 0);
    CHECK(rcgc_weakref_get(wa) == NULL && rcgc_weakref_get(wb) == NULL);
    CHECK_EQ(callbacks, 0);
    CHECK_EQ(finalized, 0);
    CHECK_EQ(rcgc_pending_finalizers(), 3); /* one callback chain, two objects */
    CHECK_EQ(rcgc_run_finalizers(), 3);
    CHECK_EQ(callbacks, 2);
    CHECK_EQ(finalized, 2);
    CHECK_EQ(fin_on_main, 2);
    /* PEP 442 order: both callbacks, then both finalizers. */
    CHECK_EQ(order_n, 4);
    CHECK(order_log[0] == 1 && order_log[1] == 1 && order_log[2] == 2 && order_log[3] == 2);
    CHECK_EQ(destroyed, 0);
    CHECK_EQ(rcgc_collect(2), 2);
    CHECK_EQ(destroyed, 2);
    CHECK_EQ(finalized, 2);
    rcgc_weakref_free(wa);
    rcgc_weakref_free(wb);
}

static void test_on_demand_resurrect(void)
{
    reset(ACT_RESURRECT);
    atomic_store(&resurrect_slot, NULL);
    rcgc_decref(fin_ring2(5));
    CHECK_EQ(rcgc_collect(2), 0);
    CHECK_EQ(rcgc_run_finalizers(), 2);
    /* One member stored itself in the root: both survive, intact. */
    CHECK_EQ(rcgc_collect(2), 0);
    node *r = atomic_load(&resurrect_slot);
    CHECK(r != NULL && r->id == 5);
    node *other = rcgc_load(&r->a);
    CHECK(other != NULL && other->id == 5 && rcgc_load(&other->a) == r);
    CHECK_EQ(destroyed, 0);
    /* Dropped again: freed, not finalized a second time. */
    atomic_store(&resurrect_slot, NULL);
    rcgc_decref(r);
    CHECK_EQ(rcgc_collect(2), 2);
    CHECK_EQ(rcgc_pending_finalizers(), 0);
    CHECK_EQ(finalized, 2);
    CHECK_EQ(destroyed, 2);
}

int main(void)
{
    main_thread = pthread_self();
    test_init();
    test_background_thread();
    test_background_user_code();
    test_big_ring();
    CHECK_EQ(rcgc_pending_finalizers(), 0);
    CHECK_EQ(rcgc_run_finalizers(), 0);
    rcgc_shutdown();

    rcgc_config c;
    rcgc_config_init(&c);
    c.finalize_mode = RCGC_FINALIZE_ON_DEMAND;
    c.finalize_notify = on_notify;
    c.finalize_notify_arg = &notified;
    CHECK_EQ(rcgc_init(&c), 0);
    CHECK_EQ(rcgc_thread_attach(), 0);
    test_on_demand_count_death();
    test_on_demand_cycle();
    test_on_demand_resurrect();
    /* Left in the queue at shutdown: run by rcgc_shutdown. */
    reset(ACT_NONE);
    rcgc_decref(rcgc_alloc(&fin_type, sizeof(node)));
    CHECK_EQ(rcgc_pending_finalizers(), 1);
    rcgc_shutdown();
    CHECK_EQ(finalized, 1);
    CHECK_EQ(destroyed, 1);

    c.finalize_mode = 7;
    CHECK_EQ(rcgc_init(&c), EINVAL);
    return check_done();
}

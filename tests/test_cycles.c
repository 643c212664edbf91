/* Tests of cycle collection (young.c, cycles.c): garbage rings, doubly
 * linked lists and self-loops freed exactly, live rings kept, promotion
 * through the generations, rings that span threads, finalizers in cycles,
 * and the control API (enable/disable, thresholds, counts, freeze,
 * callbacks, is_tracked). Exact counts everywhere. */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

/* A ring of n nodes through slot a; returns a new reference to one node. */
static node *ring(long n, long id)
{
    node *first = node_new(id), *prev = first;
    for (long i = 1; i < n; i++) {
        node *x = node_new(id);
        rcgc_store(prev, &prev->a, x);
        rcgc_decref(x);
        prev = x;
    }
    rcgc_store(prev, &prev->a, first);
    return first;
}

/* A doubly linked list of n nodes (a: next, b: prev). */
static node *dlist(long n, long id)
{
    node *first = node_new(id), *prev = first;
    for (long i = 1; i < n; i++) {
        node *x = node_new(id);
        rcgc_store(prev, &prev->a, x);
        rcgc_store(x, &x->b, prev);
        rcgc_decref(x);
        prev = x;
    }
    return first;
}

static node *selfloop(long id)
{
    node *x = node_new(id);
    rcgc_store(x, &x->a, x);
    return x;
}

static void test_young_garbage(void)
{
    rcgc_collect(2);
    long before = destroyed;
    rcgc_decref(ring(10, 1));
    rcgc_decref(dlist(7, 2));
    rcgc_decref(selfloop(3));
    CHECK_EQ(destroyed - before, 0);
    node *keep = ring(5, 4); /* live: we hold it */
    size_t freed = rcgc_collect(0);
    CHECK_EQ(freed, 18);
    CHECK_EQ(destroyed - before, 18);
    CHECK_EQ(rcgc_get_count(0), 0);  /* survivors promoted */
    CHECK(rcgc_get_count(1) >= 5);
    /* The live ring, now old, is intact and still collectable. */
    node *x = keep;
    long len = 0;
    do {
        len++;
        x = rcgc_load(&x->a);
    } while (x != keep && len < 100);
    CHECK_EQ(len, 5);
    rcgc_decref(keep);
    CHECK_EQ(destroyed - before, 18);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 23);
    CHECK_EQ(live_objects(), 0);
}

/* C3, own pages: with the page allocator a young collection finds its
 * members through their headers, and members outside the heap's pages
 * (here objects too large for a page class, from malloc) through the map:
 * a ring that alternates both kinds is freed whole, a live one kept. */
typedef struct big_node {
    node n;
    char pad[2048];
} big_node;
static const rcgc_type big_node_type = {"big_node", node_traverse, NULL, node_destroy};

static node *mixed_ring(int n)
{
    node *first = node_new(1), *prev = first;
    for (int i = 1; i < n; i++) {
        node *x = i % 2 ? rcgc_alloc(&big_node_type, sizeof(big_node)) : node_new(1);
        rcgc_store(prev, &prev->a, x);
        rcgc_store(x, &x->b, prev);
        rcgc_decref(x);
        prev = x;
    }
    rcgc_store(prev, &prev->a, first);
    return first;
}

static void test_young_large_members(void)
{
    rcgc_collect(2);
    long before = destroyed;
    rcgc_decref(mixed_ring(7));
    node *keep = mixed_ring(4);
    CHECK_EQ(rcgc_collect(0), 7);
    CHECK_EQ(destroyed - before, 7);
    rcgc_decref(keep);
    CHECK_EQ(rcgc_collect(2), 4);
    CHECK_EQ(destroyed - before, 11);
}

/* C3 for the collector: its members found through their gc_index (pages)
 * and through its map (large objects from malloc) in one set; a
 * generation-1 collection takes no generation-2 object for a member, and
 * a full one takes both. */
static void test_old_large_members(void)
{
    rcgc_collect(2);
    long before = destroyed;
    node *g = mixed_ring(6);
    node *keep = mixed_ring(5);
    rcgc_collect(0); /* promoted to generation 1 */
    rcgc_collect(1); /* and on to 2 */
    node *g1 = mixed_ring(3);
    rcgc_collect(0);
    CHECK_EQ(rcgc_get_count(0), 0);
    CHECK_EQ(rcgc_get_count(1), 3);
    /* Garbage of generation 1 pointing into live generation 2. */
    rcgc_store(g1, &g1->b, keep);
    rcgc_decref(g);
    rcgc_decref(g1);
    rcgc_collect(1);
    CHECK_EQ(destroyed - before, 3);
    CHECK_EQ(rcgc_collect(2), 6);
    CHECK_EQ(destroyed - before, 9);
    rcgc_decref(keep);
    CHECK_EQ(rcgc_collect(2), 5);
    CHECK_EQ(destroyed - before, 14);
}

static void test_old_garbage(void)
{
    long before = destroyed;
    node *r[20];
    for (int i = 0; i < 20; i++)
        r[i] = ring(3 + i, i);
    rcgc_collect(0); /* promote all of them */
    rcgc_collect(1); /* and on to generation 2 */
    CHECK_EQ(rcgc_get_count(0), 0);
    long expect = 0;
    for (int i = 0; i < 20; i += 2) {
        rcgc_decref(r[i]);
        expect += 3 + i;
    }
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, expect);
    for (int i = 1; i < 20; i += 2) {
        rcgc_decref(r[i]);
        expect += 3 + i;
    }
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, expect);
    CHECK_EQ(live_objects(), 0);
}

/* A structure that mixes young and old: an old ring pointing at a young
 * ring pointing back. */
static void test_mixed_generations(void)
{
    long before = destroyed;
    node *old = ring(4, 1);
    rcgc_collect(0);
    node *young = ring(4, 2);
    rcgc_store(old, &old->b, young);
    rcgc_store(young, &young->b, old);
    rcgc_decref(young);
    rcgc_collect(0); /* the young ring is referenced from old: kept */
    CHECK_EQ(destroyed - before, 0);
    rcgc_decref(old);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 8);
}

/* ---------------------------------------------------------------- */
/* Four threads: rings, lists, self-loops, rings that span threads.  */

enum { THREADS = 4, ROUNDS = 300 };
static node *shared_half[THREADS][ROUNDS];
static node *live_rings[THREADS][8];
static _Atomic long made_garbage;
static pthread_barrier_t bar;

static void *maker(void *arg)
{
    int me = (int)(intptr_t)arg;
    rcgc_thread_attach();
    for (int r = 0; r < ROUNDS; r++) {
        long n = 2 + (r % 9);
        rcgc_decref(ring(n, me));
        rcgc_decref(dlist(n, me));
        rcgc_decref(selfloop(me));
        atomic_fetch_add(&made_garbage, 2 * n + 1);
        /* Half of a ring that will span threads: published for the next
         * thread, which closes it with its own half. */
        node *h = node_new(me);
        shared_half[me][r] = h; /* our reference moves to the array */
        if (r < 8)
            live_rings[me][r] = ring(3, me);
    }
    rcgc_blocking_begin();
    pthread_barrier_wait(&bar);
    rcgc_blocking_end();
    /* Close cross-thread rings: ours -> neighbour's -> ours. */
    int nb = (me + 1) % THREADS;
    for (int r = 0; r < ROUNDS; r++) {
        node *mine = shared_half[me][r], *theirs = shared_half[nb][r];
        node *mid = node_new(me);
        rcgc_store(mine, &mine->b, mid);
        rcgc_store(mid, &mid->a, theirs);
        rcgc_decref(mid);
    }
    rcgc_blocking_begin();
    pthread_barrier_wait(&bar);
    rcgc_blocking_end();
    /* Each half is now referenced by the previous thread's mid node;
     * drop our own reference. Every half and mid is garbage now. */
    for (int r = 0; r < ROUNDS; r++)
        rcgc_decref(shared_half[me][r]);
    atomic_fetch_add(&made_garbage, 2 * ROUNDS);
    rcgc_collect(0);
    rcgc_thread_detach();
    return NULL;
}

static void test_four_threads(void)
{
    rcgc_collect(2);
    long before = destroyed;
    made_garbage = 0;
    pthread_barrier_init(&bar, NULL, THREADS);
    pthread_t t[THREADS];
    rcgc_blocking_begin();
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, maker, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    rcgc_blocking_end();
    pthread_barrier_destroy(&bar);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, made_garbage);
    /* The live rings survived, intact. */
    int intact = 1;
    for (int i = 0; i < THREADS; i++)
        for (int r = 0; r < 8; r++) {
            node *x = live_rings[i][r], *y = rcgc_load(&x->a), *z = rcgc_load(&y->a);
            intact &= rcgc_load(&z->a) == x && x->id == i;
        }
    CHECK(intact);
    for (int i = 0; i < THREADS; i++)
        for (int r = 0; r < 8; r++)
            rcgc_decref(live_rings[i][r]);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, made_garbage + THREADS * 8 * 3);
    CHECK_EQ(live_objects(), 0);
}

/* ---------------------------------------------------------------- */
/* Finalizers in cycles.                                             */

static _Atomic long fin_calls;
static void *resurrected;

static void fin_count(void *obj)
{
    (void)obj;
    atomic_fetch_add(&fin_calls, 1);
}

static void fin_resurrect(void *obj)
{
    atomic_fetch_add(&fin_calls, 1);
    rcgc_incref(obj);
    resurrected = obj;
}

static const rcgc_type fin_node = {"fin_node", node_traverse, fin_count, node_destroy};
static const rcgc_type res_node = {"res_node", node_traverse, fin_resurrect, node_destroy};

static void test_cycle_finalizers(void)
{
    long before = destroyed;
    fin_calls = 0;
    /* A ring of three finalizable nodes. */
    node *a = rcgc_alloc(&fin_node, sizeof(node)), *b = rcgc_alloc(&fin_node, sizeof(node)),
         *c = rcgc_alloc(&fin_node, sizeof(node));
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, c);
    rcgc_store(c, &c->a, a);
    rcgc_decref(b);
    rcgc_decref(c);
    rcgc_decref(a);
    rcgc_collect(2);
    CHECK_EQ(fin_calls, 3);
    CHECK_EQ(destroyed - before, 3);

    /* A 2-cycle whose member resurrects itself: both survive, intact;
     * dropped again, both are freed and nothing is finalized twice. */
    before = destroyed;
    fin_calls = 0;
    node *r = rcgc_alloc(&res_node, sizeof(node)), *o = node_new(77);
    rcgc_store(r, &r->a, o);
    rcgc_store(o, &o->a, r);
    rcgc_decref(o);
    rcgc_decref(r);
    rcgc_collect(2);
    CHECK_EQ(fin_calls, 1);
    CHECK_EQ(destroyed - before, 0);
    CHECK(resurrected == r);
    node *back = rcgc_load(&((node *)resurrected)->a);
    CHECK(back->id == 77 && rcgc_load(&back->a) == resurrected);
    void *again = resurrected;
    resurrected = NULL;
    rcgc_decref(again);
    rcgc_collect(2);
    CHECK_EQ(fin_calls, 1);
    CHECK_EQ(destroyed - before, 2);
}

/* ---------------------------------------------------------------- */
/* Control.                                                          */

static _Atomic long cb_start, cb_end, cb_gen2;

static void on_gc(const rcgc_gc_info *info, void *arg)
{
    (void)arg;
    if (info->phase == RCGC_GC_START)
        atomic_fetch_add(&cb_start, 1);
    else
        atomic_fetch_add(&cb_end, 1);
    if (info->phase == RCGC_GC_END && info->generation == 2)
        atomic_fetch_add(&cb_gen2, 1);
}

static void test_control(void)
{
    rcgc_collect(2);
    long before = destroyed;
    /* Disabled: no automatic young collection however much we allocate. */
    CHECK(rcgc_is_enabled());
    rcgc_disable();
    CHECK(!rcgc_is_enabled());
    uint32_t t0 = rcgc_get_threshold(0);
    CHECK_EQ(t0, 2000);
    for (int i = 0; i < 3000; i++)
        rcgc_decref(selfloop(i));
    CHECK_EQ(rcgc_get_count(0), 3000);
    CHECK_EQ(destroyed - before, 0);
    rcgc_enable();
    CHECK_EQ(rcgc_set_threshold(0, 100), 0);
    CHECK_EQ(rcgc_get_threshold(0), 100);
    CHECK_EQ(rcgc_set_threshold(0, 0), EINVAL);
    CHECK_EQ(rcgc_set_threshold(5, 1), EINVAL);
    rcgc_decref(selfloop(-1)); /* allocation triggers the young collection */
    CHECK_EQ(destroyed - before, 3000);
    CHECK(rcgc_get_count(0) <= 100);
    rcgc_set_threshold(0, t0);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 3001);

    /* is_tracked. */
    static const rcgc_type leaf = {"leaf", NULL, NULL, NULL};
    void *l = rcgc_alloc(&leaf, 8);
    node *n = node_new(0);
    CHECK(!rcgc_is_tracked(l) && rcgc_is_tracked(n));
    rcgc_decref(l);
    rcgc_decref(n);

    /* Callbacks. */
    cb_start = cb_end = cb_gen2 = 0;
    CHECK_EQ(rcgc_gc_callback_add(on_gc, NULL), 0);
    rcgc_decref(ring(3, 0));
    rcgc_collect(0);
    rcgc_collect(2);
    CHECK(cb_start >= 2 && cb_start == cb_end);
    CHECK_EQ(cb_gen2, 1);
    CHECK_EQ(rcgc_gc_callback_remove(on_gc, NULL), 0);
    CHECK_EQ(rcgc_gc_callback_remove(on_gc, NULL), ENOENT);

    /* Freeze: frozen garbage is not collected until unfrozen. */
    before = destroyed;
    node *fr = ring(4, 9);
    CHECK_EQ(rcgc_freeze(), 0);
    CHECK_EQ(rcgc_get_count(0), 0);
    CHECK(rcgc_get_count(3) >= 4);
    rcgc_decref(fr);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 0);
    CHECK_EQ(rcgc_unfreeze(), 0);
    CHECK_EQ(rcgc_get_count(3), 0);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 4);

    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    CHECK(s.gen[0].collections > 0 && s.gen[2].collections > 0);
    CHECK(s.gen[2].freed > 0 && s.gen[0].freed > 0);
}


/* ---------------------------------------------------------------- */
/* Regressions: user code that mutates a garbage set while it is      */
/* reclaimed, or the young table while it is collected.              */

static void fin_cut(void *obj)
{
    atomic_fetch_add(&fin_calls, 1);
    node *n = obj;
    rcgc_store(n, &n->a, NULL); /* cuts the cycle from inside */
}

static void destroy_cut(void *obj)
{
    node *n = obj;
    rcgc_store(n, &n->a, NULL); /* a destroy that releases a member */
    atomic_fetch_add(&destroyed, 1);
}

static const rcgc_type cut_fin = {"cut_fin", node_traverse, fin_cut, node_destroy};
static const rcgc_type cut_destroy = {"cut_destroy", node_traverse, NULL, destroy_cut};

static node *pair_of(const rcgc_type *t)
{
    node *a = rcgc_alloc(t, sizeof(node)), *b = rcgc_alloc(t, sizeof(node));
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_decref(b);
    return a;
}

static _Atomic long cb_allocs;

static void allocating_callback(const rcgc_gc_info *info, void *arg)
{
    (void)arg;
    if (info->phase == RCGC_GC_START && info->generation == 0) {
        rcgc_decref(node_new(-1)); /* allocates and frees inside the callback */
        atomic_fetch_add(&cb_allocs, 1);
    }
}

static void *make_garbage_and_exit(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    for (int i = 0; i < 100; i++)
        rcgc_decref(ring(3, i));
    return NULL; /* exits attached, its young garbage uncollected */
}

static void test_regressions(void)
{
    rcgc_collect(2);
    long before = destroyed;
    fin_calls = 0;
    /* Young and old: finalizers that cut the cycle they are part of. */
    rcgc_decref(pair_of(&cut_fin));
    rcgc_collect(0);
    /* The young collection hands the set to the collector thread, which
     * finalizes it (weakref-finalize.md, W7); a full collection waits. */
    rcgc_collect(2);
    CHECK_EQ(fin_calls, 2);
    node *old = pair_of(&cut_fin);
    rcgc_collect(0);
    rcgc_decref(old);
    rcgc_collect(2);
    CHECK_EQ(fin_calls, 4);
    CHECK_EQ(destroyed - before, 4);

    /* Young and old: destroy functions that store into the set. */
    before = destroyed;
    rcgc_decref(pair_of(&cut_destroy));
    rcgc_collect(0);
    CHECK_EQ(destroyed - before, 2);
    old = pair_of(&cut_destroy);
    rcgc_collect(0);
    rcgc_decref(old);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, 4);

    /* A callback that allocates when a young collection starts. */
    before = destroyed;
    cb_allocs = 0;
    rcgc_gc_callback_add(allocating_callback, NULL);
    rcgc_decref(ring(5, 0));
    rcgc_collect(0);
    rcgc_gc_callback_remove(allocating_callback, NULL);
    CHECK_EQ(cb_allocs, 1);
    CHECK_EQ(destroyed - before, 6);

    /* A thread's young garbage is not stranded when it exits: it goes to
     * the background collector, and a generation-1 collection finds it. */
    before = destroyed;
    pthread_t t;
    pthread_create(&t, NULL, make_garbage_and_exit, NULL);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    rcgc_collect(1);
    CHECK_EQ(destroyed - before, 300);
}

/* A list of n nodes, each new node holding the previous one: every store
 * goes into the latest allocation (docs/design/cycles.md, C13). */
static node *chain(long n)
{
    node *head = NULL;
    for (long i = 0; i < n; i++) {
        node *x = node_new(i);
        if (head != NULL) {
            rcgc_store(x, &x->a, head);
            rcgc_decref(head);
        }
        head = x;
    }
    return head;
}

/* A complete binary tree built bottom-up (2^(d+1) - 1 nodes). */
static node *tree(int d)
{
    node *x;
    if (d == 0)
        return node_new(0);
    node *l = tree(d - 1), *r = tree(d - 1);
    x = node_new(d);
    rcgc_store(x, &x->a, l);
    rcgc_decref(l);
    rcgc_store(x, &x->b, r);
    rcgc_decref(r);
    return x;
}

static rcgc_stats stats_now(void)
{
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    return s;
}

/* C12 and C13: survivors of a young collection age in the young table;
 * automatic young collections are skipped while no store could have closed
 * a cycle; a store into an older object, or of an object into itself, makes
 * the next one run; explicit collections always examine everything. */
static void test_young_aging(void)
{
    uint32_t t0 = rcgc_get_threshold(0);
    rcgc_collect(2);
    rcgc_collect(0); /* nothing young: the edge flags are clear */
    CHECK_EQ(rcgc_get_count(0), 0);
    CHECK_EQ(rcgc_set_threshold(0, 64), 0);
    long before = destroyed;
    rcgc_stats s0 = stats_now();

    /* Built bottom-up: only edges from newer to older objects. Every
     * automatic young collection is skipped; all 8191 stay young. */
    node *t = tree(12);
    rcgc_stats s1 = stats_now();
    CHECK_EQ(s1.gen[0].collections - s0.gen[0].collections, 0);
    CHECK_EQ(s1.gen[0].examined - s0.gen[0].examined, 0);
    CHECK(s1.young_skipped > s0.young_skipped);
    CHECK_EQ(rcgc_get_count(0), 8191);
    rcgc_decref(t);
    CHECK_EQ(destroyed - before, 8191);
    CHECK_EQ(rcgc_get_count(0), 0);

    /* A ring stores into older nodes: the next automatic young collection
     * (at 64 << 4 new objects at most) runs and frees it. */
    before = destroyed;
    rcgc_decref(ring(3, 0));
    node *c1 = chain(64 << 4);
    CHECK_EQ(destroyed - before, 3);
    /* Into itself, in the latest allocation: a cycle too. */
    node *self = node_new(0);
    rcgc_store(self, &self->a, self);
    rcgc_decref(self);
    node *c2 = chain(64 << 4);
    CHECK_EQ(destroyed - before, 4);

    rcgc_decref(c1);
    rcgc_decref(c2);
    CHECK_EQ(destroyed - before, 4 + 2 * (64 << 4));
    CHECK_EQ(rcgc_get_count(0), 0);

    /* A live ring survives an automatic collection and ages; dropped, it
     * is garbage among aged objects, which the next automatic (minor)
     * collections do not examine, and an explicit one does. (Fewer than
     * threshold0 << 5 aged objects throughout: no full collection.) */
    before = destroyed;
    node *r = ring(3, 1);
    node *c3 = chain(64 << 4);
    CHECK_EQ(destroyed - before, 0);
    rcgc_decref(r);
    s0 = stats_now();
    node *c4 = chain(64 << 4); /* downward only: skipped */
    s1 = stats_now();
    CHECK_EQ(destroyed - before, 0);
    CHECK_EQ(s1.gen[0].examined - s0.gen[0].examined, 0);
    uint32_t young = rcgc_get_count(0);
    CHECK_EQ(rcgc_collect(0), 3);
    CHECK_EQ(destroyed - before, 3);
    CHECK_EQ(rcgc_get_count(0), 0); /* the explicit one promoted the rest */
    CHECK_EQ(young, 3 + 2 * (64 << 4));

    /* Without trial deletion, aged objects stay young until threshold0 <<
     * 13 of them, then are promoted (C13), a few thousand at a time. */
    before = destroyed;
    node *big = chain((64 << 13) + 4096);
    CHECK(rcgc_get_count(0) < (64 << 13));
    rcgc_decref(big);
    rcgc_decref(c3);
    rcgc_decref(c4);
    rcgc_collect(2);
    CHECK_EQ(destroyed - before, (64 << 13) + 4096 + 2 * (64 << 4));
    CHECK_EQ(rcgc_set_threshold(0, t0), 0);
}

/* Fills x's subtree top-down, d levels deep, as GCBench does: both
 * children are allocated, then stored into their (older) parent, as a
 * runtime fills a container it has just made. Every store is of one of
 * the thread's latest two allocations: edges from older objects to newer
 * ones only (C13). */
static void populate(node *x, int d)
{
    if (d == 0)
        return;
    node *l = node_new(d), *r = node_new(d);
    rcgc_store(x, &x->a, l);
    rcgc_store(x, &x->b, r);
    rcgc_decref(l);
    rcgc_decref(r);
    populate(l, d - 1); /* both held by x */
    populate(r, d - 1);
}

/* C13, both directions: a structure built top-down alone is never
 * examined by an automatic young collection, as one built bottom-up; an
 * edge of each direction together (here a 2-cycle) makes the next one
 * run, and it frees the cycle with what hangs from it. */
/* The young generation emptied and its edge bits cleared, threshold0 at
 * 64; returns the threshold to restore. */
static uint32_t young_fresh(void)
{
    uint32_t t0 = rcgc_get_threshold(0);
    rcgc_collect(2);
    rcgc_collect(0);
    CHECK_EQ(rcgc_set_threshold(0, 64), 0);
    return t0;
}

static void test_young_topdown(void)
{
    uint32_t t0 = young_fresh();
    long before = destroyed;
    rcgc_stats s0 = stats_now();
    node *root = node_new(0);
    populate(root, 12);
    rcgc_stats s1 = stats_now();
    CHECK_EQ(s1.gen[0].examined - s0.gen[0].examined, 0);
    CHECK(s1.young_skipped > s0.young_skipped);
    CHECK_EQ(rcgc_get_count(0), 8191);
    rcgc_decref(root);
    CHECK_EQ(destroyed - before, 8191);

    /* p -> c (populated below), p -> z and z -> p: an upward and a
     * downward edge. */
    node *p = node_new(0), *c = node_new(1);
    rcgc_store(p, &p->a, c);
    rcgc_decref(c);
    populate(c, 6);
    node *z = node_new(2);
    rcgc_store(z, &z->a, p); /* into the latest allocation: downward */
    rcgc_store(p, &p->b, z); /* of the latest allocation: upward */
    rcgc_decref(p);
    rcgc_decref(z);
    CHECK_EQ(destroyed - before, 8191);
    node *c1 = chain(64 << 4); /* the next automatic collection runs */
    CHECK_EQ(destroyed - before, 8191 + 1 + 127 + 1);
    rcgc_decref(c1);
    CHECK_EQ(destroyed - before, 8191 + 129 + (64 << 4));
    CHECK_EQ(rcgc_set_threshold(0, t0), 0);
}

/* C13, C15: a tree built depth first with each node made before its
 * children (so that a child stored into its parent is neither of the
 * latest two allocations once it has children of its own) is ordered by
 * the objects' places in the young window: every edge is upward and no
 * automatic young collection examines anything. Edges between window
 * objects are classified exactly; a 2-cycle among them makes the next
 * automatic collection run and free it. */
static node *topdown(int d)
{
    node *x = node_new(d);
    if (d > 0) {
        node *l = topdown(d - 1);
        rcgc_store(x, &x->a, l);
        rcgc_decref(l);
        node *r = topdown(d - 1);
        rcgc_store(x, &x->b, r);
        rcgc_decref(r);
    }
    return x;
}

static void test_young_window_order(void)
{
    uint32_t t0 = young_fresh();
    long before = destroyed;
    rcgc_stats s0 = stats_now();
    node *root = topdown(12);
    rcgc_stats s1 = stats_now();
    /* Builds whose objects come from malloc (the sanitizer builds) have
     * no window: the order is then the latest two allocations', and the
     * collections run; the tree is freed exactly either way. */
    int window = rcgc__hdr(root)->gc_index >= RCGC__WINDOW_BASE &&
                  rcgc__hdr(root)->gc_index != UINT32_MAX;
    node *a = node_new(1), *b = node_new(2), *c = node_new(3);
    if (window) {
        CHECK_EQ(s1.gen[0].examined - s0.gen[0].examined, 0);
        CHECK(s1.young_skipped > s0.young_skipped);
        CHECK_EQ(rcgc_get_count(0), 8191 + 3);
        CHECK_EQ(rcgc__edge(a, c), RCGC__EDGE_UP);
        CHECK_EQ(rcgc__edge(c, a), RCGC__EDGE_DOWN);
        CHECK_EQ(rcgc__edge(root, c), RCGC__EDGE_UP);
    } else {
        printf("# no young window in this build (objects from malloc)\n");
    }
    CHECK_EQ(rcgc__edge(b, b), RCGC__EDGE_ANY);
    rcgc_decref(root);
    CHECK_EQ(destroyed - before, 8191);
    rcgc_store(a, &a->a, c);
    rcgc_store(c, &c->a, a);
    rcgc_decref(a);
    rcgc_decref(c);
    rcgc_decref(b);
    CHECK_EQ(destroyed - before, 8191 + 1);
    node *c1 = chain(64 << 4); /* the next automatic collection runs */
    CHECK_EQ(destroyed - before, 8191 + 3);
    rcgc_decref(c1);
    CHECK_EQ(destroyed - before, 8191 + 3 + (64 << 4));
    CHECK_EQ(rcgc_set_threshold(0, t0), 0);
}

/* O13a: the inline allocation path adds a tracked object only below the
 * young table's limit, which follows every change of what decides when a
 * young collection is due: the automatic collection (here skipped and
 * aged, C13, as no store made an edge) happens at exactly the allocation
 * where young_due becomes true, after threshold0 is lowered and after
 * rcgc_disable/rcgc_enable as before them. */
static uint64_t young_activity(void)
{
    rcgc_stats s = stats_now();
    return s.gen[0].collections + s.young_skipped;
}

static void test_young_limit(void)
{
    enum { N = 161 };
    static node *keep[N];
    uint32_t t0 = rcgc_get_threshold(0);
    rcgc_collect(2);
    rcgc_collect(0); /* nothing young, nothing aged, no edges */
    CHECK_EQ(rcgc_get_count(0), 0);
    CHECK_EQ(rcgc_set_threshold(0, 100), 0);
    long before = destroyed;
    uint64_t a0 = young_activity();
    int k = 0; /* keep[0 .. k) made so far */
    while (k < 100)
        keep[k] = node_new(k), k++;
    CHECK_EQ(young_activity(), a0);
    keep[k] = node_new(k), k++; /* 100 young before it: due */
    CHECK_EQ(young_activity(), a0 + 1);
    /* 101 young, 100 of them aged: due again at 110 with threshold 10. */
    CHECK_EQ(rcgc_set_threshold(0, 10), 0);
    while (k < 110)
        keep[k] = node_new(k), k++;
    CHECK_EQ(young_activity(), a0 + 1);
    keep[k] = node_new(k), k++;
    CHECK_EQ(young_activity(), a0 + 2);
    /* Off: nothing runs however far past the threshold; on again: the
     * very next allocation collects. */
    rcgc_disable();
    while (k < N - 1)
        keep[k] = node_new(k), k++;
    CHECK_EQ(young_activity(), a0 + 2);
    rcgc_enable();
    keep[k] = node_new(k), k++;
    CHECK_EQ(young_activity(), a0 + 3);
    CHECK_EQ(k, N);
    CHECK_EQ(rcgc_get_count(0), N);
    for (int i = 0; i < N; i++)
        rcgc_decref(keep[i]);
    CHECK_EQ(destroyed - before, N);
    CHECK_EQ(rcgc_set_threshold(0, t0), 0);
}

/* C14: old garbage in many small components is confirmed in slices of at
 * most 4096 objects, one pause each; a component larger than that in a
 * slice of its own. Every object is freed exactly once. */
static void test_sliced_confirm(void)
{
    enum { RINGS = 3000, BIG = 10000 };
    static node *r[RINGS];
    rcgc_collect(2);
    long before = destroyed;
    for (int i = 0; i < RINGS; i++)
        r[i] = ring(3, i);
    node *big = ring(BIG, 0);
    rcgc_collect(2); /* all old now, and alive */
    CHECK_EQ(destroyed - before, 0);
    rcgc_stats s0 = stats_now();
    for (int i = 0; i < RINGS; i++)
        rcgc_decref(r[i]);
    rcgc_decref(big);
    CHECK_EQ(destroyed - before, 0);
    CHECK_EQ(rcgc_collect(2), 3 * RINGS + BIG);
    rcgc_stats s1 = stats_now();
    CHECK_EQ(destroyed - before, 3 * RINGS + BIG);
    /* The gather, then 9000 ring members in three slices and the big ring
     * in a fourth. */
    CHECK(s1.pauses - s0.pauses >= 5);
    printf("# sliced confirmation: %llu pauses\n",
           (unsigned long long)(s1.pauses - s0.pauses));
}

/* The background collector names its thread (for top, perf, gdb): after
 * a full collection, which it answered, exactly one thread of the process
 * is called "rcgc-collector". */
static void test_collector_named(void)
{
    rcgc_collect(2);
    int named = 0;
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[32] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            if (fgets(comm, sizeof comm, f) != NULL && strcmp(comm, "rcgc-collector\n") == 0)
                named++;
            fclose(f);
        }
    }
    if (d != NULL)
        closedir(d);
    CHECK_EQ(named, 1);
}

int main(void)
{
    test_init();
    test_collector_named();
    test_young_garbage();
    test_young_large_members();
    test_old_large_members();
    test_old_garbage();
    test_mixed_generations();
    test_four_threads();
    test_cycle_finalizers();
    test_control();
    test_regressions();
    test_young_aging();
    test_young_topdown();
    test_young_limit(); /* before any collection that backs off (C11) */
    test_young_window_order();
    test_sliced_confirm();
    rcgc_collect(2);
    CHECK_EQ(live_objects(), 0);
    rcgc_shutdown();
    return check_done();
}

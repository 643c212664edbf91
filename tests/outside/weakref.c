/* weakref.c: issue 4's acceptance program, written only against the public
 * contract (<rcgc.h>) and built outside the tree with pkg-config.
 *
 *  1. The seed's example: a weak reference answers its object while it
 *     lives and NULL once the last strong reference is gone; the
 *     finalizer runs exactly once.
 *  2. A garbage cycle with weak references to its members: after a full
 *     collection every weak reference answers NULL and every callback ran
 *     exactly once.
 *  3. A cycle whose finalizer resurrects one member: both survive, intact;
 *     dropped again, they are freed and not finalized a second time.
 *  4. Two threads call rcgc_weakref_get on weak references to 20000
 *     garbage cycles while the main thread drops them and collects: a get
 *     never answers a dead object (every object carries a canary that its
 *     destroy poisons; under ASan a freed one would be reported at once).
 * Prints "N passed, N failed".
 */
#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

enum { ALIVE = 0x5AFE, POISON = 0xDEAD };

typedef struct node {
    void *a, *b;
    long id;
    int canary;
    _Atomic int finalized;
} node;

static _Atomic long destroyed, finalized_total, callbacks, twice;
static void *_Atomic root; /* a global root a finalizer may store into */

static void traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((node *)o)->a, ctx);
    visit(&((node *)o)->b, ctx);
}

static void destroy(void *o)
{
    node *n = o;
    if (n->canary != ALIVE)
        atomic_fetch_add(&twice, 1);
    n->canary = POISON;
    atomic_fetch_add(&destroyed, 1);
}

/* Finalizers run on an attached thread (the collector's, for cycles):
 * their bookkeeping is atomic. */
static void finalize(void *o)
{
    node *n = o;
    if (atomic_fetch_add(&n->finalized, 1) != 0)
        atomic_fetch_add(&twice, 1);
    atomic_fetch_add(&finalized_total, 1);
}

/* Resurrects the first object it finalizes into `root`. */
static void finalize_resurrect(void *o)
{
    finalize(o);
    void *expected = NULL;
    if (atomic_compare_exchange_strong(&root, &expected, o))
        rcgc_incref(o);
}

static const rcgc_type plain_type = {"node", traverse, NULL, destroy};
static const rcgc_type fin_type = {"finalizable", traverse, finalize, destroy};
static const rcgc_type res_type = {"resurrecting", traverse, finalize_resurrect, destroy};

static node *mk(const rcgc_type *t, long id)
{
    node *n = rcgc_alloc(t, sizeof(node));
    n->id = id;
    n->canary = ALIVE;
    return n;
}

/* a <-> b; returns our reference to a (b is held by a only). */
static node *ring2(const rcgc_type *t, long id)
{
    node *a = mk(t, id), *b = mk(t, id);
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_decref(b);
    return a;
}

static void on_clear(rcgc_weakref *wr, void *arg)
{
    (void)wr;
    (void)arg;
    atomic_fetch_add(&callbacks, 1);
}

static int passed, failed;

static void expect(int ok, const char *what, long got, long want)
{
    if (ok)
        passed++;
    else
        failed++;
    printf("%s: %s (got %ld, want %ld)\n", ok ? "ok" : "FAIL", what, got, want);
}

static void reset(void)
{
    rcgc_collect(2);
    destroyed = finalized_total = callbacks = 0;
}

/* ---- 1. the seed's example ----------------------------------------- */
static void seed_example(void)
{
    reset();
    node *obj = mk(&fin_type, 1);
    rcgc_weakref *r = rcgc_weakref_new(obj, NULL, NULL);
    node *got = rcgc_weakref_get(r);
    expect(got == obj, "weak reference answers the live object", got == obj, 1);
    rcgc_decref(got);
    rcgc_decref(obj);
    expect(rcgc_weakref_get(r) == NULL, "NULL once the last strong reference is gone", 0, 0);
    expect(finalized_total == 1, "finalizer ran exactly once", finalized_total, 1);
    expect(destroyed == 1, "destroyed", destroyed, 1);
    rcgc_weakref_free(r);
}

/* ---- 2. a garbage cycle with weak references to its members -------- */
static void cycle_with_weakrefs(void)
{
    reset();
    node *a = ring2(&fin_type, 2), *b = rcgc_load(&a->a);
    rcgc_weakref *wa = rcgc_weakref_new(a, on_clear, NULL);
    rcgc_weakref *wb = rcgc_weakref_new(b, on_clear, NULL);
    rcgc_weakref *wn = rcgc_weakref_new(a, NULL, NULL);
    rcgc_decref(a);
    rcgc_collect(2);
    rcgc_collect(2); /* a second collection must change nothing */
    expect(rcgc_weakref_get(wa) == NULL && rcgc_weakref_get(wb) == NULL &&
               rcgc_weakref_get(wn) == NULL,
           "weak references to the cycle answer NULL", 0, 0);
    expect(callbacks == 2, "callbacks ran once each", callbacks, 2);
    expect(finalized_total == 2, "members finalized once each", finalized_total, 2);
    expect(destroyed == 2, "cycle destroyed", destroyed, 2);
    rcgc_weakref_free(wa);
    rcgc_weakref_free(wb);
    rcgc_weakref_free(wn);
}

/* ---- 3. a cycle whose finalizer resurrects one member -------------- */
static void resurrecting_cycle(void)
{
    reset();
    atomic_store(&root, NULL);
    rcgc_decref(ring2(&res_type, 3));
    rcgc_collect(2);
    node *r = atomic_load(&root);
    node *o = r ? rcgc_load(&r->a) : NULL;
    int intact = r != NULL && o != NULL && rcgc_load(&o->a) == r && r->canary == ALIVE &&
                 o->canary == ALIVE && r->id == 3 && o->id == 3;
    expect(intact, "resurrected cycle survives intact", intact, 1);
    expect(destroyed == 0, "nothing destroyed", destroyed, 0);
    expect(finalized_total == 2, "both finalized", finalized_total, 2);
    atomic_store(&root, NULL);
    rcgc_decref(r);
    rcgc_collect(2);
    expect(destroyed == 2, "dropped again: freed", destroyed, 2);
    expect(finalized_total == 2, "and not finalized a second time", finalized_total, 2);
}

/* ---- 4. two threads getting through weak references to 20000 garbage
 *          cycles while collections run ----------------------------- */
enum { CYCLES = 20000, GETTERS = 2 };
static rcgc_weakref *wrs[CYCLES];
static _Atomic int stop;
static _Atomic long gets_live, gets_dead;

static void *getter(void *arg)
{
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    rcgc_thread_attach();
    while (!atomic_load(&stop)) {
        for (int k = 0; k < 256; k++) {
            x = x * 1103515245u + 12345u;
            node *n = rcgc_weakref_get(wrs[(x >> 8) % CYCLES]);
            if (n == NULL)
                continue;
            if (n->canary != ALIVE)
                atomic_fetch_add(&gets_dead, 1);
            else
                atomic_fetch_add(&gets_live, 1);
            rcgc_decref(n);
        }
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

static void get_race(void)
{
    reset();
    node *keep[CYCLES];
    for (int i = 0; i < CYCLES; i++) {
        keep[i] = ring2(&plain_type, i);
        wrs[i] = rcgc_weakref_new(keep[i], NULL, NULL);
    }
    pthread_t t[GETTERS];
    for (long i = 0; i < GETTERS; i++)
        pthread_create(&t[i], NULL, getter, (void *)(intptr_t)i);
    /* Drop the cycles in batches and collect (young and full) meanwhile. */
    for (int i = 0; i < CYCLES; i++) {
        rcgc_decref(keep[i]);
        if (i % 2000 == 1999)
            rcgc_collect(i % 4000 == 3999 ? 2 : 1);
    }
    rcgc_collect(2);
    atomic_store(&stop, 1);
    rcgc_blocking_begin();
    for (int i = 0; i < GETTERS; i++)
        pthread_join(t[i], NULL);
    rcgc_blocking_end();
    long nulls = 0;
    for (int i = 0; i < CYCLES; i++) {
        nulls += rcgc_weakref_get(wrs[i]) == NULL;
        rcgc_weakref_free(wrs[i]);
    }
    expect(gets_dead == 0, "no get answered a dead object", gets_dead, 0);
    printf("    (%ld gets answered a live object)\n", (long)gets_live);
    expect(nulls == CYCLES, "all weak references cleared", nulls, CYCLES);
    expect(destroyed == 2 * CYCLES, "all cycles destroyed", destroyed, 2 * CYCLES);
}

int main(void)
{
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    seed_example();
    cycle_with_weakrefs();
    resurrecting_cycle();
    get_race();
    expect(twice == 0, "nothing destroyed or finalized twice", twice, 0);
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    expect(s.live_objects == 0, "no live objects", (long)s.live_objects, 0);
    rcgc_shutdown();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

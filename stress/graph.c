/* graph.c: the structures rcgc-stress's workers share, and the whole-graph
 * verification.
 *
 * Purpose: the shared graph hangs from the hubs (shared objects the driver
 * holds for the whole run); objects travel between workers through
 * hand-off queues; finalizers that resurrect put their object in the
 * graveyard; weak references live in a table every worker reads and
 * replaces. rcgc_load's borrowed reference is safe only while no other
 * thread can store into the slot (include/rcgc.h), so slots that several
 * threads read and write (the hubs', and those of MODE_SHARED objects) are
 * guarded by striped locks, as a free-threaded runtime guards a shared list:
 * "load + incref" and "store" each run under the slot's stripe lock.
 *
 * Lock rules (each one prevents a deadlock): a stripe lock is never held
 * while taking another; nothing between lock and unlock reaches a safepoint
 * (no allocation, no collection, no blocking region, no rcgc_weakref_get,
 * which may wait at safepoints), so a thread waiting for the lock never
 * delays a pause for long; finalizers, destroy functions
 * and weak callbacks, which may run inside any decref (including one under
 * a stripe lock: a decref may drain another heap's merge queue), take only
 * the graveyard's lock, which is never held around anything else.
 *
 * Use: graph_init after rcgc_init and attach; verify_graph with every
 * worker parked; drop_roots and grave_drain at the end (main.c).
 */
#include "stress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

obj *hubs[NHUBS];
queue queues[MAX_WORKERS];
wentry wtab[WTAB];

/* ===================================================================== */
/* Stripe locks                                                          */
/* ===================================================================== */

enum { NSTRIPES = 256 };
struct stripe {
    _Alignas(64) pthread_mutex_t mu;
};
static struct stripe stripes[NSTRIPES];

pthread_mutex_t *stripe_of(const void *addr)
{
    return &stripes[mix64((uint64_t)(uintptr_t)addr) % NSTRIPES].mu;
}

void stripes_lock_all(void)
{
    /* Every fourth stripe: enough that every worker soon waits on one, and
     * under ThreadSanitizer's limit of 64 locks held by one thread. */
    for (int i = 0; i < NSTRIPES; i += 4)
        pthread_mutex_lock(&stripes[i].mu);
}

/* ===================================================================== */
/* Queues                                                                */
/* ===================================================================== */

bool queue_push(queue *q, ref r, uint64_t sender_token)
{
    pthread_mutex_lock(&q->mu);
    if (q->n == QCAP) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    /* A private object changes hands: nobody writes it until a receiver
     * makes it its own (worker.c, take_from_queue). */
    if (mode_of(r.p) == sender_token)
        set_mode(r.p, MODE_TRANSIT);
    q->items[(q->head + q->n) % QCAP] = r;
    q->n++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return true;
}

bool queue_pop(queue *q, ref *out)
{
    pthread_mutex_lock(&q->mu);
    bool got = q->n != 0;
    if (got) {
        *out = q->items[q->head];
        q->head = (q->head + 1) % QCAP;
        q->n--;
    }
    pthread_mutex_unlock(&q->mu);
    return got;
}

void queue_wait(queue *q, long ns)
{
    rcgc_blocking_begin();
    pthread_mutex_lock(&q->mu);
    if (q->n == 0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += ns;
        t.tv_sec += t.tv_nsec / 1000000000L;
        t.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&q->cv, &q->mu, &t);
    }
    pthread_mutex_unlock(&q->mu);
    rcgc_blocking_end();
}

/* ===================================================================== */
/* Graveyard                                                             */
/* ===================================================================== */

static pthread_mutex_t grave_mu = PTHREAD_MUTEX_INITIALIZER;
static ref *grave;
static size_t grave_n, grave_cap;

void grave_push(obj *x)
{
    /* The resurrecting reference, taken before the lock: the lock is a
     * leaf and covers no rcgc call. */
    rcgc_incref(x);
    pthread_mutex_lock(&grave_mu);
    if (grave_n == grave_cap) {
        size_t cap = grave_cap ? grave_cap * 2 : 256;
        ref *g = realloc(grave, cap * sizeof *g);
        if (g == NULL)
            fatal_error("out of memory growing the graveyard");
        grave = g;
        grave_cap = cap;
    }
    grave[grave_n++] = (ref){x, x->id};
    pthread_mutex_unlock(&grave_mu);
}

bool grave_pop(ref *out)
{
    pthread_mutex_lock(&grave_mu);
    bool got = grave_n != 0;
    if (got)
        *out = grave[--grave_n];
    pthread_mutex_unlock(&grave_mu);
    return got;
}

/* Calls fn on every graveyard entry, under the lock: the workers are
 * parked, but the collector thread may still run a finalizer that pushes
 * (and grows the array). fn must make no rcgc call that can wait. */
static void grave_each(void (*fn)(obj *p, uint64_t id, void *ctx), void *ctx)
{
    pthread_mutex_lock(&grave_mu);
    for (size_t i = 0; i < grave_n; i++)
        fn(grave[i].p, grave[i].id, ctx);
    pthread_mutex_unlock(&grave_mu);
}

/* ===================================================================== */
/* Set up and tear down                                                  */
/* ===================================================================== */

void graph_init(void)
{
    for (int i = 0; i < NSTRIPES; i++)
        pthread_mutex_init(&stripes[i].mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int i = 0; i < MAX_WORKERS; i++) {
        pthread_mutex_init(&queues[i].mu, NULL);
        pthread_cond_init(&queues[i].cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < NHUBS; i++) {
        hubs[i] = new_obj(K_HUB, 0, MODE_SHARED);
        if (hubs[i] == NULL)
            fatal_error("the oracle table cannot hold the hubs");
    }
}

uint64_t drop_roots(void)
{
    uint64_t n = 0;
    for (int i = 0; i < MAX_WORKERS; i++) {
        ref r;
        while (queue_pop(&queues[i], &r)) {
            check_obj(r.p, r.id, "freed-while-reachable", "final drop of a queue entry");
            rcgc_decref(r.p);
            n++;
        }
    }
    for (int i = 0; i < NHUBS; i++) {
        if (hubs[i] == NULL)
            continue;
        check_obj(hubs[i], 0, "freed-while-reachable", "final drop of a hub");
        rcgc_decref(hubs[i]);
        hubs[i] = NULL;
        n++;
    }
    return n;
}

uint64_t grave_drain(void)
{
    uint64_t n = 0;
    ref r;
    while (grave_pop(&r)) {
        check_obj(r.p, r.id, "freed-while-reachable", "final drop of a graveyard entry");
        rcgc_decref(r.p);
        n++;
    }
    return n;
}

void graph_fini(void)
{
    free(grave);
    grave = NULL;
    grave_n = grave_cap = 0;
    for (int i = 0; i < NSTRIPES; i++)
        pthread_mutex_destroy(&stripes[i].mu);
    for (int i = 0; i < MAX_WORKERS; i++) {
        pthread_mutex_destroy(&queues[i].mu);
        pthread_cond_destroy(&queues[i].cv);
    }
}

/* ===================================================================== */
/* Verification                                                          */
/* ===================================================================== */

/* Ids seen by the walk: open addressing, at most half full. */
typedef struct idset {
    uint64_t *slots;
    size_t cap, n;
} idset;

static bool idset_add(idset *s, uint64_t id);

static void idset_grow(idset *s)
{
    idset bigger = {calloc(s->cap ? s->cap * 2 : 4096, sizeof(uint64_t)),
                    s->cap ? s->cap * 2 : 4096, 0};
    if (bigger.slots == NULL)
        fatal_error("out of memory in the verification walk");
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] != 0)
            idset_add(&bigger, s->slots[i]);
    free(s->slots);
    *s = bigger;
}

static bool idset_has(const idset *s, uint64_t id)
{
    if (s->cap == 0)
        return false;
    for (size_t i = mix64(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == id)
            return true;
        if (s->slots[i] == 0)
            return false;
    }
}

static bool idset_add(idset *s, uint64_t id)
{
    if (2 * (s->n + 1) > s->cap)
        idset_grow(s);
    for (size_t i = mix64(id) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == id)
            return false;
        if (s->slots[i] == 0) {
            s->slots[i] = id;
            s->n++;
            return true;
        }
    }
}

typedef struct walk {
    idset seen;
    obj **stack;
    size_t n, cap;
    const char *when;
} walk;

static void walk_visit(obj *p, uint64_t expect, void *ctx)
{
    walk *w = ctx;
    check_obj(p, expect, "freed-while-reachable", w->when);
    if (!idset_add(&w->seen, p->id))
        return;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->stack = realloc(w->stack, w->cap * sizeof *w->stack);
        if (w->stack == NULL)
            fatal_error("out of memory in the verification walk");
    }
    w->stack[w->n++] = p;
}

typedef struct unreached {
    const idset *seen;
    uint64_t reported;
} unreached;

static bool report_unreached(uint64_t id, unsigned st, void *ctx)
{
    unreached *u = ctx;
    if (idset_has(u->seen, id))
        return false;
    if (u->reported++ < 20)
        finding_soft("not-freed", id, (int)(st >> ST_KIND_SHIFT),
                     "alive (oracle state %#x) after rcgc_collect(2), yet unreachable from "
                     "every root", st);
    return true;
}

uint64_t verify_graph(const ref *extra, size_t nextra, const char *when)
{
    /* Every garbage object freed; on demand, its finalizer run first (and
     * what that left as garbage collected again). */
    rcgc_unfreeze();
    do
        rcgc_collect(2);
    while (rcgc_run_finalizers() != 0);
    walk w = {.when = when};
    for (int i = 0; i < NHUBS; i++)
        if (hubs[i] != NULL)
            walk_visit(hubs[i], 0, &w);
    for (size_t i = 0; i < nextra; i++)
        if (extra[i].p != NULL)
            walk_visit(extra[i].p, extra[i].id, &w);
    for (int i = 0; i < MAX_WORKERS; i++) {
        queue *q = &queues[i];
        pthread_mutex_lock(&q->mu);
        for (unsigned j = 0; j < q->n; j++) {
            ref r = q->items[(q->head + j) % QCAP];
            walk_visit(r.p, r.id, &w);
        }
        pthread_mutex_unlock(&q->mu);
    }
    grave_each(walk_visit, &w);
    /* Nothing stores while every worker is parked: borrowed loads. */
    while (w.n != 0) {
        obj *p = w.stack[--w.n];
        for (unsigned i = 0; i < kind_slots(p->kind); i++) {
            obj *v = rcgc_load(&p->slot[i]);
            if (v != NULL)
                walk_visit(v, 0, &w);
        }
    }
    uint64_t reached = w.seen.n, live = count_live();
    if (reached != live) {
        unreached u = {&w.seen, 0};
        uint64_t n = table_scan(&objects_table, ST_ALLOCATED, ST_DESTROYED, report_unreached, &u);
        /* Whether more full collections free them tells a late free (the
         * garbage of a collect(2) survived it) from a lost reference. */
        unsigned extra = 0;
        while (extra < 3 && count_live() > reached) {
            extra++;
            do
                rcgc_collect(2);
            while (rcgc_run_finalizers() != 0);
        }
        uint64_t after = count_live();
        finding("not-freed", 0, -1,
                "%s: %llu objects reachable, but the oracle counts %llu alive (%llu alive and "
                "unreachable in its table); after %u more full collections %llu alive%s", when,
                (unsigned long long)reached, (unsigned long long)live, (unsigned long long)n,
                extra, (unsigned long long)after,
                after > reached ? "" : ": they were garbage that rcgc_collect(2) left behind");
    }
    free(w.seen.slots);
    free(w.stack);
    return reached;
}

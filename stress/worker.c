/* worker.c: the operations rcgc-stress's worker threads perform.
 *
 * Purpose: each worker attaches, then loops: picks an operation by the
 * weights of --mix from its own random stream (seeded from the run's seed,
 * its index and its incarnation), performs it, and checks every object it
 * touches (oracle.c). Operations: allocate; store into a slot (lock-free
 * into its own private objects, under the stripe lock into shared ones and
 * the hubs); load (walk a few slots down with borrowed references); pop a
 * reference out of a slot onto the stack; hand objects to another worker
 * through its queue and take them from its own; drop; build rings (young
 * garbage, rings through a shared object another thread owns, rings handed
 * to another worker, frozen rings hung from a hub); break edges; make, get
 * and free weak references; take resurrected objects out of the graveyard;
 * blocking regions around a sleep or a condition-variable wait; explicit
 * collections of each generation; disable and enable automatic collection,
 * freeze and unfreeze; and exit (handing its objects on, then detaching, or
 * returning while attached, or returning from inside a blocking region);
 * the driver (main.c) starts a new incarnation in its place.
 *
 * Use: main.c starts worker_main on each workers[i]; park_request and
 * park_release stop and restart every worker for a verification.
 */
#include "stress.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

worker workers[MAX_WORKERS];
_Atomic bool stop_flag, over_cap, ids_exhausted, finalizers_queued;
static _Atomic bool injected;

static uint64_t rnd(worker *w, uint64_t n)
{
    return rng_below(&w->rng, n);
}

/* ===================================================================== */
/* References held by the worker                                         */
/* ===================================================================== */

static void drop(ref *r, const char *where)
{
    if (r->p == NULL)
        return;
    check_obj(r->p, r->id, "freed-while-reachable", where);
    obj *p = r->p;
    *r = (ref){NULL, 0};
    rcgc_decref(p);
}

/* Takes over a counted reference to p (checked by the caller) into a
 * random local, dropping what that local held. */
static void keep(worker *w, obj *p)
{
    ref *l = &w->locals[rnd(w, NLOCAL)];
    ref old = *l;
    *l = (ref){p, p->id};
    drop(&old, "drop of a replaced local");
}

/* A non-empty local, checked, or NULL. */
static ref *some_local(worker *w)
{
    for (int tries = 0; tries < 4; tries++) {
        ref *l = &w->locals[rnd(w, NLOCAL)];
        if (l->p != NULL) {
            check_obj(l->p, l->id, "freed-while-reachable", "use of a local");
            return l;
        }
    }
    return NULL;
}

/* ===================================================================== */
/* Slots                                                                 */
/* ===================================================================== */

/* A slot to operate on and how: lock-free (the container is private to
 * this worker) or under the slot's stripe lock (a hub or a shared object).
 * The container is held (a local, or a hub) for the whole operation. */
typedef struct target {
    obj *c;
    void **slot;
    bool locked;
} target;

static target hub_target(worker *w)
{
    obj *h = hubs[rnd(w, NHUBS)];
    return (target){h, &h->slot[rnd(w, HUB_SLOTS)], true};
}

static target pick_target(worker *w)
{
    if (rnd(w, 100) >= 30) {
        ref *l = some_local(w);
        if (l != NULL && kind_slots(l->p->kind) != 0) {
            uint64_t m = mode_of(l->p);
            if (m == w->token || m == MODE_SHARED)
                return (target){l->p, &l->p->slot[rnd(w, kind_slots(l->p->kind))],
                                m == MODE_SHARED};
        }
    }
    return hub_target(w);
}

/* A counted reference to what the slot holds: "load + incref", under the
 * stripe lock when others may store into the slot. With `pop`, the slot is
 * emptied too: the reference moves from the slot onto the caller's stack,
 * the net count unchanged. */
static obj *t_take(target t, bool pop)
{
    pthread_mutex_t *m = t.locked ? stripe_of(t.slot) : NULL;
    if (m != NULL)
        pthread_mutex_lock(m);
    obj *v = rcgc_load(t.slot);
    rcgc_incref(v);
    if (pop)
        rcgc_store(t.c, t.slot, NULL);
    if (m != NULL)
        pthread_mutex_unlock(m);
    return v;
}

/* Stores v (the caller keeps its own reference). Into a slot others can
 * read, a private v is published as shared half of the time. Under the
 * lock the old value is kept alive past the store, checked, and dropped
 * after unlocking, as a runtime's list assignment does. */
static void t_set(worker *w, target t, obj *v)
{
    if (!t.locked) {
        rcgc_store(t.c, t.slot, v);
        return;
    }
    if (v != NULL && mode_of(v) == w->token && rnd(w, 2) == 0)
        set_mode(v, MODE_SHARED);
    pthread_mutex_t *m = stripe_of(t.slot);
    pthread_mutex_lock(m);
    obj *old = rcgc_load(t.slot);
    rcgc_incref(old);
    rcgc_store(t.c, t.slot, v);
    pthread_mutex_unlock(m);
    if (old != NULL) {
        check_obj(old, 0, "freed-while-reachable", "store, the value replaced");
        rcgc_decref(old);
    }
}

/* ===================================================================== */
/* Operations                                                            */
/* ===================================================================== */

static obj *alloc_or_stop(unsigned kind, unsigned extra, uint64_t token)
{
    obj *x = new_obj(kind, extra, token);
    if (x == NULL) {
        /* Relaxed: flags read by the driver's loop, which joins us. */
        atomic_store_explicit(&ids_exhausted, true, memory_order_relaxed);
        atomic_store_explicit(&stop_flag, true, memory_order_relaxed);
    }
    return x;
}

static void op_break(worker *w)
{
    t_set(w, pick_target(w), NULL);
}

static void op_alloc(worker *w)
{
    /* Relaxed: a hint refreshed by the driver every few milliseconds. */
    if (atomic_load_explicit(&over_cap, memory_order_relaxed)) {
        op_break(w);
        return;
    }
    unsigned r = (unsigned)rnd(w, 100);
    unsigned kind = r < 40 ? K_NODE : r < 55 ? K_FNODE : r < 85 ? K_LEAF : K_FLEAF;
    obj *x = alloc_or_stop(kind, (unsigned)rnd(w, 8), w->token);
    if (x == NULL)
        return;
    if (kind_slots(kind) != 0 && rnd(w, 10) < 3) {
        ref *l = some_local(w);
        if (l != NULL)
            rcgc_store(x, &x->slot[rnd(w, NODE_SLOTS)], l->p);
    }
    keep(w, x);
}

static void op_store(worker *w)
{
    target t = pick_target(w);
    ref *l = rnd(w, 5) != 0 ? some_local(w) : NULL;
    t_set(w, t, l != NULL ? l->p : NULL);
}

/* Walks down a few slots from a hub or a local: borrowed loads from
 * containers nobody else stores into (this worker's private ones, frozen
 * ones), "load + incref" under the lock from shared ones. Sometimes keeps
 * the object reached. */
static void op_load(worker *w)
{
    obj *held[8];
    unsigned nheld = 0;
    obj *start, *cur;
    if (rnd(w, 10) < 4) {
        start = hubs[rnd(w, NHUBS)];
    } else {
        ref *l = some_local(w);
        if (l == NULL)
            return;
        start = l->p;
    }
    cur = start;
    unsigned depth = 1 + (unsigned)rnd(w, 8);
    for (unsigned d = 0; d < depth && kind_slots(cur->kind) != 0; d++) {
        uint64_t m = mode_of(cur);
        void **slot = &cur->slot[rnd(w, kind_slots(cur->kind))];
        obj *v;
        if (m == w->token || m == MODE_FROZEN) {
            v = rcgc_load(slot);
        } else if (m == MODE_SHARED) {
            v = t_take((target){cur, slot, true}, false);
            if (v != NULL)
                held[nheld++] = v;
        } else {
            break;   /* another worker's private object, or in transit */
        }
        if (v == NULL)
            break;
        check_obj(v, 0, "freed-while-reachable", "load");
        cur = v;
    }
    if (cur != start && rnd(w, 4) == 0) {
        rcgc_incref(cur);   /* every container on the way is still held */
        keep(w, cur);
    }
    while (nheld != 0)
        rcgc_decref(held[--nheld]);
}

static void op_pop(worker *w)
{
    obj *v = t_take(pick_target(w), true);
    if (v == NULL)
        return;
    check_obj(v, 0, "freed-while-reachable", "pop");
    switch (rnd(w, 4)) {
    case 0:
    case 1:
        keep(w, v);
        break;
    case 2:
        t_set(w, pick_target(w), v);
        rcgc_decref(v);
        break;
    default:
        rcgc_decref(v);
        break;
    }
}

static unsigned other_worker(worker *w)
{
    if (opt.threads < 2)
        return w->index;
    return (w->index + 1 + (unsigned)rnd(w, opt.threads - 1)) % opt.threads;
}

static void op_send(worker *w)
{
    ref *l = some_local(w);
    if (l != NULL && queue_push(&queues[other_worker(w)], *l, w->token))
        *l = (ref){NULL, 0};
}

static void op_recv(worker *w)
{
    ref r;
    if (!queue_pop(&queues[w->index], &r))
        return;
    check_obj(r.p, r.id, "freed-while-reachable", "recv");
    /* acq_rel: the acquire sees the sender's writes made while the object
     * was private to it (its release in set_mode); the release orders our
     * claim before our own later writes as seen by readers of the mode. */
    uint64_t transit = MODE_TRANSIT;
    __atomic_compare_exchange_n(&r.p->mode, &transit, w->token, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    keep(w, r.p);
}

static void op_drop(worker *w)
{
    ref *l = some_local(w);
    if (l != NULL)
        drop(l, "drop");
}

/* A ring of 2 to 6 new nodes, sometimes holding other objects, then: left
 * as young garbage; closed through a shared object (which another thread
 * may own); its first node handed to another worker; frozen and hung from a
 * hub; or one node hung from a hub. One node may be kept. */
static void op_cycle(worker *w)
{
    obj *ring[6];
    unsigned k = 2 + (unsigned)rnd(w, 5);
    for (unsigned i = 0; i < k; i++) {
        ring[i] = alloc_or_stop(rnd(w, 4) == 0 ? K_FNODE : K_NODE, (unsigned)rnd(w, 4), w->token);
        if (ring[i] == NULL) {
            while (i != 0)
                rcgc_decref(ring[--i]);
            return;
        }
    }
    for (unsigned i = 0; i < k; i++)
        rcgc_store(ring[i], &ring[i]->slot[0], ring[(i + 1) % k]);
    for (unsigned i = 0; i < k; i++)
        if (rnd(w, 10) < 3) {
            ref *l = some_local(w);
            if (l != NULL)
                rcgc_store(ring[i], &ring[i]->slot[1], l->p);
        }
    switch (rnd(w, 5)) {
    case 1: {
        ref *l = some_local(w);
        if (l != NULL && kind_slots(l->p->kind) != 0 && mode_of(l->p) == MODE_SHARED) {
            rcgc_store(ring[k - 1], &ring[k - 1]->slot[2], l->p);
            t_set(w, (target){l->p, &l->p->slot[rnd(w, kind_slots(l->p->kind))], true}, ring[0]);
        }
        break;
    }
    case 2:
        rcgc_incref(ring[0]);
        if (!queue_push(&queues[other_worker(w)], (ref){ring[0], ring[0]->id}, w->token))
            rcgc_decref(ring[0]);
        break;
    case 3:
        for (unsigned i = 0; i < k; i++)
            set_mode(ring[i], MODE_FROZEN);
        t_set(w, hub_target(w), ring[0]);
        break;
    case 4:
        t_set(w, hub_target(w), ring[rnd(w, k)]);
        break;
    default:
        break;   /* young garbage */
    }
    unsigned kept = rnd(w, 10) < 3 ? (unsigned)rnd(w, k) : k;
    for (unsigned i = 0; i < k; i++)
        if (i != kept)
            rcgc_decref(ring[i]);
    if (kept < k)
        keep(w, ring[kept]);
}

void free_weak(wentry e)
{
    rcgc_weakref_free(e.wr);
    table_or(&weak_table, e.serial, W_FREED);
    count_add(C_WEAK_FREE, 1);
    table_settle(&weak_table, e.serial);
}

/* Puts e into a random entry of the weak table and frees the weak
 * reference it replaces. */
static void wtab_replace(worker *w, wentry e)
{
    wentry *slot = &wtab[rnd(w, WTAB)];
    pthread_mutex_t *m = stripe_of(slot);
    pthread_mutex_lock(m);
    wentry old = *slot;
    *slot = e;
    pthread_mutex_unlock(m);
    if (old.wr != NULL)
        free_weak(old);
}

static void op_weak(worker *w)
{
    ref *l = some_local(w);
    if (l == NULL)
        return;
    bool cb = rnd(w, 2) == 0;
    uint64_t serial = table_new_id(&weak_table);
    if (serial == 0) {
        /* Relaxed: see alloc_or_stop. */
        atomic_store_explicit(&ids_exhausted, true, memory_order_relaxed);
        atomic_store_explicit(&stop_flag, true, memory_order_relaxed);
        return;
    }
    table_or(&weak_table, serial, W_CREATED | (cb ? W_HAS_CB : 0u));
    rcgc_weakref *wr = rcgc_weakref_new(l->p, cb ? weak_callback : NULL,
                                        (void *)(uintptr_t)serial);
    if (wr == NULL)
        fatal_error("rcgc_weakref_new failed: %s", strerror(errno));
    count_add(C_WEAK_NEW, 1);
    table_or(&objects_table, l->p->id, ST_WEAKREF);
    wtab_replace(w, (wentry){wr, serial, l->p->id, l->p->kind});
}

/* Gets the weak reference of a random table entry. rcgc_weakref_get may
 * wait at safepoints (rcgc.h), so no stripe lock is held across it: the
 * entry is taken out of the table for the get (others see it empty), then
 * put back, or freed if the entry was filled again meanwhile. */
static void op_wget(worker *w)
{
    wentry *e = &wtab[rnd(w, WTAB)];
    pthread_mutex_t *m = stripe_of(e);
    pthread_mutex_lock(m);
    wentry c = *e;
    *e = (wentry){NULL, 0, 0, 0};
    pthread_mutex_unlock(m);
    if (c.wr == NULL)
        return;
    obj *p = rcgc_weakref_get(c.wr);
    pthread_mutex_lock(m);
    bool back = e->wr == NULL;
    if (back)
        *e = c;
    pthread_mutex_unlock(m);
    if (!back)
        free_weak(c);
    if (p == NULL) {
        count_add(C_WEAK_NULL, 1);
        /* An object that holds no references dies only by count, and its
         * weak references answer NULL only at its final death: it must
         * never be seen alive again (check_obj). */
        if (kind_slots(c.ref_kind) == 0)
            table_or(&objects_table, c.ref_id, ST_WEAK_NULL);
        return;
    }
    count_add(C_WEAK_HIT, 1);
    check_obj(p, c.ref_id, "weak-answered-dead", "weak reference get");
    if (rnd(w, 2) == 0)
        keep(w, p);
    else
        rcgc_decref(p);
}

static void op_wfree(worker *w)
{
    wtab_replace(w, (wentry){NULL, 0, 0, 0});
}

static void op_grave(worker *w)
{
    ref r;
    for (int i = 0; i < 4 && grave_pop(&r); i++) {
        check_obj(r.p, r.id, "freed-while-reachable", "graveyard");
        unsigned st = table_get(&objects_table, r.id);
        if (!(st & ST_FINALIZED) || !resurrects(r.id))
            finding("second-finalization", r.id, (int)r.p->kind,
                    "in the graveyard without its finalization recorded (state %#x)", st);
        if (rnd(w, 2) == 0)
            keep(w, r.p);
        else
            rcgc_decref(r.p);
    }
}

static void op_block(worker *w)
{
    if (rnd(w, 2) == 0) {
        struct timespec t = {0, (long)rnd(w, 50) * 1000};
        rcgc_blocking_begin();
        nanosleep(&t, NULL);
        rcgc_blocking_end();
    } else {
        queue_wait(&queues[w->index], 200000);
        op_recv(w);
    }
}

/* The library calls this on whichever thread queued a finalizer, maybe
 * inside rcgc_decref: it only raises a flag. */
void finalize_notify(void *arg)
{
    (void)arg;
    /* Relaxed: a wake-up hint; rcgc_run_finalizers takes the queue's lock. */
    atomic_store_explicit(&finalizers_queued, true, memory_order_relaxed);
}

/* On demand, worker 0 runs what is queued: when notified, and every 256
 * operations in case a notification raced with the previous run. */
static void run_queued_finalizers(worker *w)
{
    /* Relaxed: see finalize_notify. */
    if (atomic_exchange_explicit(&finalizers_queued, false, memory_order_relaxed) ||
        w->nops % 256 == 0)
        rcgc_run_finalizers();
}

static void op_collect(worker *w)
{
    unsigned r = (unsigned)rnd(w, 100);
    rcgc_collect(r < 80 ? 0 : r < 97 ? 1 : 2);
}

static void op_toggle(worker *w)
{
    if (w->disabled_left == 0) {
        rcgc_disable();
        w->disabled_left = 50 + (unsigned)rnd(w, 500);
    }
}

static void op_freeze(worker *w)
{
    if (w->frozen_left == 0) {
        rcgc_freeze();
        w->frozen_left = 100 + (unsigned)rnd(w, 1000);
    }
}

/* ===================================================================== */
/* Injected bugs (--inject-bug): prove that the oracle catches each.     */
/* ===================================================================== */

/* Names the object the injected bug is about to hit, so that the test can
 * check that the finding is about that object (stress/expect-finding.sh). */
static void announce(const obj *x)
{
    printf("rcgc-stress: injecting %s on object %llu (%s)\n", inject_names[opt.inject],
           (unsigned long long)x->id, kind_names[x->kind]);
}

static obj *must_alloc(unsigned kind, worker *w)
{
    obj *x = new_obj(kind, 0, w->token);
    if (x == NULL)
        fatal_error("the oracle table is full before the injection");
    return x;
}

/* A private node holding a new leaf; returns the leaf, whose only
 * reference is now the node's slot, and the node (counted) in *node. */
static obj *leaf_in_node(worker *w, obj **node)
{
    obj *c = must_alloc(K_NODE, w);
    obj *x = must_alloc(K_LEAF, w);
    rcgc_store(c, &c->slot[0], x);
    rcgc_decref(x);
    *node = c;
    return x;
}

/* A leaf with a weak reference, dropped (`dead`) or kept in a local, then
 * a get whose answer the injected bug misreads. */
static void inject_weak(worker *w, bool dead)
{
    obj *x = must_alloc(K_LEAF, w);
    uint64_t id = x->id;
    announce(x);
    rcgc_weakref *wr = rcgc_weakref_new(x, NULL, NULL);
    if (dead)
        rcgc_decref(x);
    else
        keep(w, x);
    obj *p = rcgc_weakref_get(wr);
    if (dead) {
        /* the bug: as if the get had answered the dead referent */
        check_obj(p != NULL ? p : x, id, "weak-answered-dead", "weak reference get");
    } else {
        /* the bug: as if the get had answered NULL */
        table_or(&objects_table, id, ST_WEAK_NULL);
        check_obj(x, id, "freed-while-reachable", "use of a local");
    }
    rcgc_decref(p);
    rcgc_weakref_free(wr);
}

/* A deadlock: takes a quarter of the stripe locks and keeps them, running,
 * so that the other workers stop at their next locked slot and pauses wait
 * for them. Only the watchdog ends the run. */
static _Noreturn void inject_hang(void)
{
    stripes_lock_all();
    for (;;) {
        struct timespec t = {1, 0};
        nanosleep(&t, NULL);
    }
}

static void inject(worker *w)
{
    obj *c, *x;
    uint64_t id;
    switch (opt.inject) {
    case INJ_EXTRA_DECREF:
        x = leaf_in_node(w, &c);
        announce(x);
        id = x->id;
        rcgc_incref(x);
        keep(w, x);
        rcgc_decref(x);   /* the bug: a reference dropped twice */
        rcgc_store(c, &c->slot[0], NULL);
        check_obj(x, id, "freed-while-reachable", "use of a local after an extra decref");
        keep(w, c);
        break;
    case INJ_MISSING_INCREF:
        x = leaf_in_node(w, &c);
        announce(x);
        id = x->id;
        keep(w, rcgc_load(&c->slot[0]));   /* the bug: kept without rcgc_incref */
        rcgc_store(c, &c->slot[0], NULL);
        check_obj(x, id, "freed-while-reachable", "use of a local kept without incref");
        keep(w, c);
        break;
    case INJ_USE_AFTER_DROP:
        x = must_alloc(K_LEAF, w);
        announce(x);
        id = x->id;
        rcgc_decref(x);
        check_obj(x, id, "freed-while-reachable", "use after the last drop");   /* the bug */
        break;
    case INJ_LEAK:
        x = must_alloc(K_NODE, w);
        announce(x);
        rcgc_incref(x);   /* the bug: a reference nobody will drop */
        keep(w, x);
        break;
    case INJ_FINALIZE_TWICE:
        for (;;) {
            x = must_alloc(K_FNODE, w);
            if (!resurrects(x->id))
                break;
            rcgc_decref(x);
        }
        announce(x);
        stress_types[K_FNODE].finalize(x);   /* the bug: finalized by hand */
        rcgc_decref(x);
        break;
    case INJ_DESTROY_TWICE:
        x = must_alloc(K_LEAF, w);
        announce(x);
        stress_types[K_LEAF].destroy(x);   /* the bug: destroyed by hand */
        rcgc_decref(x);
        break;
    case INJ_WEAK_DEAD:
    case INJ_WEAK_NULL_LIVE:
        inject_weak(w, opt.inject == INJ_WEAK_DEAD);
        break;
    case INJ_HANG:
        printf("rcgc-stress: injecting hang: stripe locks held for good\n");
        inject_hang();
        break;
    default:
        break;
    }
}

/* ===================================================================== */
/* Parking                                                               */
/* ===================================================================== */

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static _Atomic bool park_wanted;
static unsigned parked, running;
static uint64_t park_epoch;

void worker_started(void)
{
    pthread_mutex_lock(&park_mu);
    running++;
    pthread_mutex_unlock(&park_mu);
}

void worker_finished(worker *w)
{
    pthread_mutex_lock(&park_mu);
    running--;
    /* Relaxed: read by the driver, which joins the thread before it
     * touches anything the worker wrote. */
    atomic_store_explicit(&w->done, true, memory_order_relaxed);
    pthread_cond_broadcast(&park_cv);
    pthread_mutex_unlock(&park_mu);
}

static void park_point(void)
{
    /* Relaxed: a hint; the decision is re-read under park_mu. */
    if (!atomic_load_explicit(&park_wanted, memory_order_relaxed))
        return;
    rcgc_blocking_begin();
    pthread_mutex_lock(&park_mu);
    /* Relaxed: written under park_mu, which orders it. */
    if (atomic_load_explicit(&park_wanted, memory_order_relaxed)) {
        uint64_t epoch = park_epoch;
        parked++;
        pthread_cond_broadcast(&park_cv);
        while (park_epoch == epoch)
            pthread_cond_wait(&park_cv, &park_mu);
        parked--;
    }
    pthread_mutex_unlock(&park_mu);
    rcgc_blocking_end();
}

void park_request(void)
{
    pthread_mutex_lock(&park_mu);
    /* Relaxed: under park_mu, see park_point. */
    atomic_store_explicit(&park_wanted, true, memory_order_relaxed);
    while (parked < running)
        pthread_cond_wait(&park_cv, &park_mu);
    pthread_mutex_unlock(&park_mu);
}

void park_release(void)
{
    pthread_mutex_lock(&park_mu);
    /* Relaxed: under park_mu, see park_point. */
    atomic_store_explicit(&park_wanted, false, memory_order_relaxed);
    park_epoch++;
    pthread_cond_broadcast(&park_cv);
    pthread_mutex_unlock(&park_mu);
}

/* ===================================================================== */
/* The loop                                                              */
/* ===================================================================== */

static void (*const op_fn[OP_COUNT])(worker *) = {
    [OP_ALLOC] = op_alloc, [OP_STORE] = op_store, [OP_LOAD] = op_load,
    [OP_POP] = op_pop, [OP_SEND] = op_send, [OP_RECV] = op_recv,
    [OP_DROP] = op_drop, [OP_CYCLE] = op_cycle, [OP_BREAK] = op_break,
    [OP_WEAK] = op_weak, [OP_WGET] = op_wget, [OP_WFREE] = op_wfree,
    [OP_GRAVE] = op_grave, [OP_BLOCK] = op_block, [OP_COLLECT] = op_collect,
    [OP_TOGGLE] = op_toggle, [OP_FREEZE] = op_freeze,
};

static enum op pick_op(worker *w)
{
    unsigned total = 0;
    for (int i = 0; i < OP_COUNT; i++)
        total += opt.weight[i];
    unsigned r = (unsigned)rnd(w, total);
    int i = 0;
    while (r >= opt.weight[i])
        r -= opt.weight[i++];
    return (enum op)i;
}

/* Before exiting: at the end of the run every local is dropped; when the
 * worker exits on its own, each local goes to another worker's queue, into
 * a hub, or is dropped, so that objects this thread owns outlive it. */
static void leave(worker *w, bool stopping)
{
    for (unsigned i = 0; i < NLOCAL; i++) {
        ref *l = &w->locals[i];
        if (l->p == NULL || stopping) {
            drop(l, "drop of a local at the end");
            continue;
        }
        check_obj(l->p, l->id, "freed-while-reachable", "hand-over at exit");
        switch (rnd(w, 3)) {
        case 0:
            if (queue_push(&queues[other_worker(w)], *l, w->token))
                *l = (ref){NULL, 0};
            break;
        case 1:
            t_set(w, hub_target(w), l->p);
            break;
        default:
            break;
        }
        drop(l, "drop of a local at exit");
    }
    if (w->disabled_left != 0)
        rcgc_enable();
    if (w->frozen_left != 0)
        rcgc_unfreeze();
    w->disabled_left = w->frozen_left = 0;
}

void *worker_main(void *arg)
{
    worker *w = arg;
    int rc = rcgc_thread_attach();
    if (rc != 0)
        fatal_error("rcgc_thread_attach: %s", strerror(rc));
    bool exiting = false;
    /* Relaxed: the flag only has to be seen eventually; the driver joins
     * the thread afterwards. */
    while (!exiting && !atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        park_point();
        enum op o = pick_op(w);
        if (o == OP_EXIT)
            exiting = true;
        else
            op_fn[o](w);
        w->nops++;
        /* Relaxed: a statistic. */
        atomic_fetch_add_explicit(&w->ops[o], 1, memory_order_relaxed);
        if (w->disabled_left != 0 && --w->disabled_left == 0)
            rcgc_enable();
        if (w->frozen_left != 0 && --w->frozen_left == 0)
            rcgc_unfreeze();
        if (opt.on_demand && w->index == 0)
            run_queued_finalizers(w);
        /* Relaxed: one exchange decides which worker injects, once. */
        if (opt.inject != INJ_NONE && w->index == 0 && w->nops >= 200 &&
            !atomic_exchange_explicit(&injected, true, memory_order_relaxed))
            inject(w);
        rcgc_safepoint();
    }
    leave(w, !exiting);
    switch (rnd(w, 3)) {
    case 0:
        rcgc_thread_detach();
        break;
    case 1:
        rcgc_blocking_begin();   /* exits inside a blocking region */
        break;
    default:
        break;                   /* detached at thread exit */
    }
    worker_finished(w);
    return NULL;
}

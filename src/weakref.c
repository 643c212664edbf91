/* weakref.c: weak references.
 *
 * Purpose: a weak reference answers its referent while the referent lives
 * and NULL from the moment it is found dead, on every thread, atomically:
 * no thread can get a strong reference to an object after the decision
 * that it is garbage. Weak references live in a registry of striped locks
 * keyed by the referent's address (the header has no room for a list);
 * rcgc_weakref_get and the clearing of an object's weak references take
 * the same stripe lock, and a get only counts an object that is not
 * DYING, directly on its counts, so that the death path, re-checking the
 * count under that lock, sees every get that won the race and cancels the
 * death. Objects with weak references are kept out of young collections
 * (no pause there to clear them atomically): the background collector
 * clears them inside its confirming pause.
 *
 * Design: docs/design/weakref-finalize.md (W1..W6).
 */
#include "internal.h"
#include "trial.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

enum {
    WR_LIVE = 0,     /* referent set */
    WR_CLEARED,      /* referent NULL, no callback owed */
    WR_CB_PENDING,   /* cleared, callback not yet run */
    WR_CB_RUNNING,   /* callback running */
    WR_FREE_LATER,   /* freed by the user while pending or running */
};

struct rcgc_weakref {
    void *referent;              /* under the stripe lock */
    void *key;                   /* the referent's address: the stripe */
    rcgc_weakref_callback callback;
    void *arg;
    int state;                   /* under the stripe lock */
    struct rcgc_weakref *next, *prev; /* the stripe's list (W1) */
    struct rcgc_weakref *pending;     /* callbacks owed (W4) */
};

#define STRIPES 256u

static struct stripe {
    pthread_mutex_t mu;
    rcgc_weakref *head;
} stripes[STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void stripes_init(void)
{
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i].mu, NULL);
}

static struct stripe *stripe_of(const void *key)
{
    uintptr_t k = (uintptr_t)key >> 4;
    return &stripes[(k * 0x9E3779B97F4A7C15ull) >> 56];
}

static void unlink_wr(struct stripe *s, rcgc_weakref *wr)
{
    if (wr->prev != NULL)
        wr->prev->next = wr->next;
    else if (s->head == wr)
        s->head = wr->next;
    if (wr->next != NULL)
        wr->next->prev = wr->prev;
    wr->next = wr->prev = NULL;
}

/* ==================================================================== */
/* Counting a referent for a get (W2)                                    */
/* ==================================================================== */

/* Under the referent's stripe lock. Fails on an object that is dying (its
 * death has been decided and not cancelled). Counts directly, not through
 * the non-owner slow path, which ignores DYING objects: between the count
 * reaching zero and DYING being set a get may still count the object, and
 * the death path, re-checking under this lock, then cancels the death. */
enum { GET_OK, GET_DEAD, GET_RETRY };

static int try_incref_locked(rcgc__header *h)
{
    /* Acquire: pairs with the release fetch_or that sets DYING. */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE);
    if (bits & RCGC_BIT_DYING)
        return GET_DEAD;
    if (bits & RCGC_BIT_IMMORTAL)
        return GET_OK;
    if (rcgc__is_owner(h)) {
        /* R1: we hold our own token; relaxed load and store as inline. */
        uint32_t n = __atomic_load_n(&h->ol, __ATOMIC_RELAXED) + RCGC__OL_ONE;
        if (rcgc_local_count(n) == 0)
            rcgc__local_overflow(rcgc_payload(h)); /* R10 */
        else
            __atomic_store_n(&h->ol, n, __ATOMIC_RELAXED);
        return GET_OK;
    }
    /* W2a. A merged count of zero with no queue entry (exactly MERGED):
     * the thread whose decrement took it there is deciding the death
     * (W3), with no safepoint, no lock and no user code in between.
     * Counting it up from zero would let us drop it to zero again and
     * decide a second death (rcgc-stress found that: stress/repro/
     * cancelled_death_uaf.c), so a get never does: it fails, or, when a
     * finalizer is owed (the death will revive the object, and answering
     * NULL now would be followed by answering it again), tells the caller
     * to try again once the decision is made. A merged count of zero with
     * QUEUED is different: the outstanding entry pins the object and no
     * death is being decided (refcount.md R6: only the party whose CAS
     * leaves exactly MERGED decides), so the get counts it, and the
     * entry's processing then finds it alive. Acquire: see the
     * decrementer's word. An unmerged word may be counted from zero: its
     * owner decides the death under this lock and sees our count (W3
     * step 1). */
    int32_t v = __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE);
    for (;;) {
        if (v == RCGC__SHARED_MERGED)
            return rcgc_type_get(h)->finalize != NULL && !(bits & RCGC_BIT_FINALIZED) ? GET_RETRY
                                                                              : GET_DEAD;
        if ((v & RCGC__SHARED_MERGED) && rcgc_shared_count(v) < 0)
            rcgc_fatal("rcgc_weakref_get", rcgc_payload(h),
                       "reference count below zero (more decrefs than increfs)");
        /* acq_rel CAS: fails (and we look again) if a decrement or the
         * owner's merge changed the word since we read it. */
        if (__atomic_compare_exchange_n(&h->shared, &v, v + RCGC__SHARED_ONE, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            break;
    }
    if (v >= RCGC__SHARED_HIGH)
        rcgc__shared_high(rcgc_payload(h)); /* R10 */
    if ((bits & (RCGC_GEN_MASK | RCGC_BIT_TRACKED | RCGC_BIT_ESCAPED)) == RCGC_BIT_TRACKED)
        /* Release: as in nonowner_touch (cycles.md, C6). */
        __atomic_fetch_or(&h->gc_bits, RCGC_BIT_ESCAPED, __ATOMIC_RELEASE);
    return GET_OK;
}

/* ==================================================================== */
/* Clearing and callbacks (W3, W4)                                       */
/* ==================================================================== */

/* Under the stripe lock: clears every weak reference to obj; those with a
 * callback are chained on *pending. */
static void clear_locked(struct stripe *s, void *obj, rcgc_weakref **pending)
{
    rcgc_weakref *wr = s->head;
    while (wr != NULL) {
        rcgc_weakref *next = wr->next;
        if (wr->referent == obj) {
            wr->referent = NULL;
            unlink_wr(s, wr);
            if (wr->callback != NULL) {
                wr->state = WR_CB_PENDING;
                wr->pending = *pending;
                *pending = wr;
            } else {
                wr->state = WR_CLEARED;
            }
        }
        wr = next;
    }
}

/* Runs owed callbacks, once each, on the calling (attached) thread, with
 * no lock held; a weak reference freed before its callback runs gets none
 * and is freed here. */
void rcgc_weakref_run_callbacks(rcgc_weakref *pending)
{
    while (pending != NULL) {
        rcgc_weakref *wr = pending;
        pending = wr->pending;
        struct stripe *s = stripe_of(wr->key);
        pthread_mutex_lock(&s->mu);
        if (wr->state == WR_FREE_LATER) {
            pthread_mutex_unlock(&s->mu);
            free(wr);
            continue;
        }
        wr->state = WR_CB_RUNNING;
        pthread_mutex_unlock(&s->mu);
        wr->callback(wr, wr->arg);
        pthread_mutex_lock(&s->mu);
        bool free_it = wr->state == WR_FREE_LATER;
        wr->state = WR_CLEARED;
        pthread_mutex_unlock(&s->mu);
        if (free_it)
            free(wr);
    }
}

/* W3: an object with weak references reached count zero. Called by
 * rcgc_dead_link before anything else touches the object, by the thread
 * that found it dead (possibly in a pause, as the pauser: no get is in
 * progress then, and no user code runs here). Under the stripe lock, so
 * that every get either happened before (and is seen) or after (and sees
 * the outcome):
 *  - a get counted it after the count reached zero: the death is
 *    cancelled, the object lives on merged (CANCELLED);
 *  - its finalizer has not run: the finalization is claimed and the object
 *    revived, merged, holding one reference for the finalizer (REVIVED);
 *    gets go on answering it, as they must: it is not dead until its
 *    finalizer has run and it dies again (PEP 442);
 *  - otherwise DYING is set under the lock (DIES): no get succeeds any
 *    more, and the dealloc loop clears the weak references.
 * Nothing here writes the dead-list link (the `shared` word) before the
 * decision, so no get's increment can be lost to it. */
int rcgc_weakref_dying(rcgc__header *h)
{
    void *obj = rcgc_payload(h);
    struct stripe *s = stripe_of(obj);
    pthread_once(&stripes_once, stripes_init);
    pthread_mutex_lock(&s->mu);
    int outcome = RCGC_DEATH_DIES;
    if (rcgc_total_count(h) > 0) {
        /* Only an unmerged word can be counted up from zero by a get
         * (W2): the object died at its owner's local zero and we are the
         * owner. Merge now, clearing the owner first (R3; release: pairs
         * with a non-owner's acquire of the owner field), and in the same
         * CAS add the reference our `revived` entry holds until the
         * dealloc loop has dealt with the object: published together, no
         * decrement can take the merged count to zero while we still
         * decide (stress/repro/cancelled_death_uaf.c). acq_rel: publishes
         * the merge to later decrements and sees theirs. The whole owner
         * word: the count is 0 anyway. */
        __atomic_store_n(&h->ol, 0, __ATOMIC_RELEASE);
        int32_t v = __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE);
        while (!__atomic_compare_exchange_n(&h->shared, &v,
                                            (v + RCGC__SHARED_ONE) | RCGC__SHARED_MERGED, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        }
        outcome = RCGC_DEATH_CANCELLED;
    } else if (rcgc_type_get(h)->finalize != NULL &&
               /* acq_rel fetch_or: claims the finalization (O3, W7). */
               !(__atomic_fetch_or(&h->gc_bits, RCGC_BIT_FINALIZED, __ATOMIC_ACQ_REL) &
                 RCGC_BIT_FINALIZED)) {
        /* Revived in merged form, so that whichever thread finally drops
         * the finalizer's reference counts on the shared word. Release
         * store of the owner word: a get after our unlock is ordered by
         * the lock anyway; the collector reads these words with acquire
         * (C4). */
        __atomic_store_n(&h->ol, 0, __ATOMIC_RELEASE);
        /* One reference, merged: a read-modify-write that keeps the
         * word's count part (zero here), never a store over it
         * (loadref.md, L2). acq_rel, as the merge above. */
        int32_t v = __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE);
        while (!__atomic_compare_exchange_n(
            &h->shared, &v, ((v & ~(int32_t)3) + RCGC__SHARED_ONE) | RCGC__SHARED_MERGED, false,
            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        }
        outcome = RCGC_DEATH_REVIVED;
    } else {
        /* Release: pairs with the acquire loads of the bits (gets, the
         * collector). */
        __atomic_fetch_or(&h->gc_bits, RCGC_BIT_DYING, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&s->mu);
    return outcome;
}

/* The dealloc loop, for an object with weak references that really dies
 * (DYING was set under the stripe lock by rcgc_weakref_dying, so no get
 * can succeed any more): clears its weak references, then runs (or
 * queues) their callbacks, before destroy. */
void rcgc_weakref_death(rcgc__header *h)
{
    void *obj = rcgc_payload(h);
    struct stripe *s = stripe_of(obj);
    rcgc_weakref *pending = NULL;
    pthread_mutex_lock(&s->mu);
    clear_locked(s, obj, &pending);
    pthread_mutex_unlock(&s->mu);
    rcgc_finq_callbacks(pending); /* here, or queued on demand (W8) */
}

/* Cyclic garbage, in the confirming pause (W5): clears the weak references
 * of every member; the callbacks are chained on *pending and run after the
 * world resumes. No get can be in progress: gets do not reach safepoints. */
void rcgc_weakref_clear_set(rcgc__header **g, uint32_t m, rcgc_weakref **pending)
{
    for (uint32_t i = 0; i < m; i++) {
        /* Relaxed: set under the stripe lock, which the pause orders. */
        if (!(__atomic_load_n(&g[i]->gc_bits, __ATOMIC_RELAXED) & RCGC_BIT_HAS_WEAKREFS))
            continue;
        void *obj = rcgc_payload(g[i]);
        struct stripe *s = stripe_of(obj);
        pthread_mutex_lock(&s->mu);
        clear_locked(s, obj, pending);
        pthread_mutex_unlock(&s->mu);
    }
}

/* ==================================================================== */
/* The API (W1, W2, W6)                                                  */
/* ==================================================================== */

rcgc_weakref *rcgc_weakref_new(void *obj, rcgc_weakref_callback callback, void *arg)
{
    if (rcgc_require_attached("rcgc_weakref_new", obj) == NULL) {
        errno = EPERM;
        return NULL;
    }
    if (obj == NULL) {
        errno = EINVAL;
        return NULL;
    }
    rcgc_check_object("rcgc_weakref_new", obj);
    pthread_once(&stripes_once, stripes_init);
    rcgc_weakref *wr = calloc(1, sizeof *wr);
    if (wr == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    wr->referent = wr->key = obj;
    wr->callback = callback;
    wr->arg = arg;
    wr->state = WR_LIVE;
    struct stripe *s = stripe_of(obj);
    pthread_mutex_lock(&s->mu);
    /* Release: the death path reads the bit (acquire) before it takes the
     * stripe lock; the lock orders the list itself. */
    __atomic_fetch_or(&rcgc__hdr(obj)->gc_bits, RCGC_BIT_HAS_WEAKREFS, __ATOMIC_RELEASE);
    wr->next = s->head;
    if (s->head != NULL)
        s->head->prev = wr;
    s->head = wr;
    pthread_mutex_unlock(&s->mu);
    return wr;
}

void *rcgc_weakref_get(rcgc_weakref *wr)
{
    if (wr == NULL)
        return NULL;
    rcgc_require_attached("rcgc_weakref_get", NULL);
    pthread_once(&stripes_once, stripes_init);
    struct stripe *s = stripe_of(wr->key);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        void *p = wr->referent;
        int r = p != NULL ? try_incref_locked(rcgc__hdr(p)) : GET_DEAD;
        pthread_mutex_unlock(&s->mu);
        if (r == GET_OK)
            return p;
        if (r == GET_DEAD)
            return NULL;
        /* W2a: the death is being decided by the thread whose decrement
         * left the word exactly MERGED, a few instructions away, with no
         * safepoint, lock or user code on its way to the stripe lock we
         * just released. Wait without a safepoint (a caller holding a lock
         * of its own must not be parked here while a finalizer that takes
         * that lock waits for it) and without draining anything: yield
         * and look again. */
        sched_yield();
    }
}

void rcgc_weakref_free(rcgc_weakref *wr)
{
    if (wr == NULL)
        return;
    pthread_once(&stripes_once, stripes_init);
    struct stripe *s = stripe_of(wr->key);
    pthread_mutex_lock(&s->mu);
    bool later = wr->state == WR_CB_PENDING || wr->state == WR_CB_RUNNING;
    if (later)
        wr->state = WR_FREE_LATER;
    else if (wr->state == WR_LIVE)
        unlink_wr(s, wr);
    pthread_mutex_unlock(&s->mu);
    if (!later)
        free(wr);
}

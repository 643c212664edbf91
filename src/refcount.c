/* refcount.c: biased reference counting, the slow paths.
 *
 * Purpose: the owner's incref/decref are inline (rcgc/inline.h). Here is
 * everything else: non-owner counting on the atomic shared count, the merge
 * of an object's two counts when its owner's count reaches zero, the merge
 * queue through which non-owners hand an object back to its owner when their
 * decrement would take the shared count below zero, and the draining of that
 * queue by the owner, or for it when it is blocked or gone.
 *
 * Design: docs/design/refcount.md. The invariants R1..R8 are cited below.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

/* ==================================================================== */
/* Merging                                                               */
/* ==================================================================== */

/* R2: the owner's count reached zero. Give up ownership by merging: set
 * MERGED in the shared word (the shared count then is the whole count) and
 * clear the owner field; if the shared count is zero too the object is
 * dead, unless it sits in a merge queue (QUEUED), in which case the queue's
 * processing frees it (R6). */
void rcgc__local_zero(void *obj)
{
    /* O8: the owner's decrement is checked here, where it reaches zero
     * (the inline fast path is not): a pointer rcgc never made, or a dead
     * object whose freed header still carried this thread's id. */
    rcgc_check_object("rcgc_decref", obj);
    rcgc__header *h = rcgc__hdr(obj);
    rcgc__heap *heap = rcgc__tls_self.heap;
    /* R7: made immortal by another thread, which left our owner word
     * alone: counts mean nothing any more. A count far from zero keeps us
     * off this path. Relaxed: the bit never clears; the word is ours. */
    if (__atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED) & RCGC_BIT_IMMORTAL) {
        __atomic_store_n(&h->ol, heap->id | RCGC__LOCAL_HALF * RCGC__OL_ONE, __ATOMIC_RELAXED);
        return;
    }
    if (rcgc_internal_checks())
        rcgc_young_check("rcgc_decref", heap, h);
    /* Acquire: if we see other threads' decrements (acq_rel) we must also
     * see their writes to the object before we free it. */
    int32_t v = __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE);
    if (v == 0) {
        /* No shared references, no queue entry: dead. No other thread
         * holds a reference, so none can change `shared` any more (R6).
         * A young object leaves its table first (cycles.md, C1). */
        rcgc_young_remove(heap, h);
        rcgc_object_died(heap, h);
        return;
    }
    /* Merged objects are never young: move to generation 1 while we still
     * own it, before MERGED is published (cycles.md, C1; R3). */
    rcgc_young_leave(heap, h);
    /* R3: give up ownership before publishing MERGED. Once MERGED is
     * visible another thread may drop the count to zero and free the
     * object, so nothing may touch the header after the CAS. A non-owner
     * that reads owner == 0 while MERGED is not yet set waits for it.
     * Release: pairs with that reader's acquire. The whole owner word
     * goes to 0: the count is 0 anyway. */
    __atomic_store_n(&h->ol, 0, __ATOMIC_RELEASE);
    for (;;) {
        if (rcgc_shared_count(v) < 0)
            rcgc_fatal("rcgc_decref", obj,
                       "reference count below zero (more decrefs than increfs)");
        /* acq_rel: release publishes our writes to whoever frees the object
         * later on the merged path; acquire as above. If the count is zero
         * here with QUEUED set, the queue entry frees it; zero without
         * QUEUED is handled after the loop (R6). */
        if (__atomic_compare_exchange_n(&h->shared, &v, v | RCGC__SHARED_MERGED, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            break;
    }
    rcgc_stat_add(&heap->stats.merges, 1);
    if (v == 0) {
        /* R6: between our first load (count > 0) and the CAS, the last
         * shared reference was dropped, taking the count to exactly zero:
         * not below zero, so nothing was queued, and not merged, so that
         * thread did not free it. We merged a zero count with no queue
         * entry: the object is dead and no other thread holds a reference,
         * so we free it (found by rcgc-stress: stress/repro/
         * merge_lost_death.c). */
        rcgc_object_died(heap, h);
    }
}

/* R10: an owner increment found its count at 2^15 - 1, the most the
 * field holds, and left it unchanged: with the new reference the owner
 * stands for 2^15. Half of them move to the shared count and the owner
 * keeps the other half (and the STORED bit of O14): the object stays
 * owned, so its owner keeps counting without atomics, and the total is
 * unchanged. */
void rcgc__local_overflow(void *obj)
{
    rcgc_check_object("rcgc_incref", obj);
    rcgc__header *h = rcgc__hdr(obj);
    /* R1: the owner's word; relaxed, as the inline paths. The id and the
     * STORED bit stay. */
    uint32_t w = __atomic_load_n(&h->ol, __ATOMIC_RELAXED);
    __atomic_store_n(&h->ol, (w & (RCGC__OL_OWNER | (uint32_t)RCGC__LOCAL_STORED << 16)) |
                                 RCGC__LOCAL_HALF * RCGC__OL_ONE,
                     __ATOMIC_RELAXED);
    /* Relaxed: an increment by the holder of the references it stands
     * for, as a non-owner's (R7); the object cannot die meanwhile. */
    int32_t old =
        __atomic_fetch_add(&h->shared, RCGC__LOCAL_HALF * RCGC__SHARED_ONE, __ATOMIC_RELAXED);
    if (old >= RCGC__SHARED_HIGH)
        rcgc__shared_high(obj);
}

/* R10: the shared count passed RCGC__SHARED_HIGH (2^27 references): the
 * object becomes immortal, long before the 32-bit word could wrap. An
 * object referenced from that many places in a runtime is a global one
 * (a symbol, a module, a singleton), and immortality is what a runtime
 * gives those anyway; its counts are ignored from now on. */
void rcgc__shared_high(void *obj)
{
    rcgc_immortalize(obj);
}

/* Processes one queue entry of `heap`, whose own_lock the caller holds.
 * Appends the object to *dead when it died. Returns 1 when it merged. */
static int merge_entry(rcgc__heap *heap, rcgc__header *h, rcgc_deadvec *dead)
{
    /* Acquire: see every write made by the threads whose decrements (all
     * acq_rel) we observe, before possibly freeing. */
    int32_t v = __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE);
    bool merging = !(v & RCGC__SHARED_MERGED);
    int64_t local = 0;
    bool removed = false;
    if (merging) {
        if (rcgc_internal_checks())
            rcgc_young_check("rcgc_decref", heap, h);
        /* R1: local belongs to `heap`, whose own_lock we hold. R3: clear
         * ownership before MERGED becomes visible (release). A young
         * object leaves its table now (cycles.md, C1): removed if it looks
         * dead, else promoted. A weak reference's get may still count an
         * unmerged zero up (weakref-finalize.md W2): then the CAS below
         * fails, and the loop promotes the object it removed. */
        local = rcgc_local_count(__atomic_load_n(&h->ol, __ATOMIC_RELAXED));
        if (local + rcgc_shared_count(v) == 0) {
            removed = rcgc_is_young(h);
            rcgc_young_remove(heap, h);
            if (removed)
                rcgc_test_hook(RCGC_HOOK_MERGE_REMOVED, h);
        } else {
            rcgc_young_leave(heap, h);
        }
        /* Release: the owner word, count and id at once (R3's release of
         * the id); single writer (the token holder). */
        __atomic_store_n(&h->ol, 0, __ATOMIC_RELEASE);
    }
    int32_t nv;
    for (;;) {
        if (merging) {
            int64_t total = local + rcgc_shared_count(v);
            if (total < 0)
                rcgc_fatal("rcgc_decref", rcgc_payload(h),
                           "reference count below zero (more decrefs than increfs)");
            nv = (int32_t)(total * RCGC__SHARED_ONE) | RCGC__SHARED_MERGED;
            if (total != 0 && removed) {
                /* Alive after all (a get counted it since our load): it
                 * must not be published merged and young, in no table,
                 * where no collector would ever examine it (C1). The word
                 * is still unmerged and we hold the token: promote it. */
                rcgc_old_adopt(&h, 1, 1);
                removed = false;
            }
        } else {
            nv = v & ~(int32_t)RCGC__SHARED_QUEUED;
        }
        /* acq_rel: pairs with concurrent non-owner CASes on the same word.
         * Nothing touches the header after a successful CAS unless the CAS
         * left it dead (count zero, no entry), when nobody else can. */
        if (__atomic_compare_exchange_n(&h->shared, &v, nv, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            break;
    }
    if (nv == RCGC__SHARED_MERGED)
        rcgc_dead_link(h, dead); /* count zero, entry gone: dead (R6) */
    return merging;
}

/* Takes every entry out of heap's queue and merges it. The caller holds
 * heap->own_lock. Dead objects are appended to *dead (O6); the
 * caller frees them after releasing any foreign heap lock (R5). Returns the
 * number of entries processed. */
size_t rcgc_heap_drain(rcgc__heap *heap, rcgc_deadvec *dead)
{
    pthread_mutex_lock(&heap->qlock);
    if (rcgc_internal_checks())
        rcgc_queue_check("rcgc (merge queue)", heap);
    rcgc__header **q = heap->q;
    size_t n = heap->qn;
    heap->q = NULL;
    heap->qn = heap->qcap = 0;
    /* Relaxed: qlen is a hint read outside qlock; qlock orders the array. */
    atomic_store_explicit(&heap->qlen, 0, memory_order_relaxed);
    pthread_mutex_unlock(&heap->qlock);
    size_t merged = 0;
    for (size_t i = 0; i < n; i++)
        merged += (size_t)merge_entry(heap, q[i], dead);
    free(q);
    if (merged)
        rcgc_stat_add(&heap->stats.merges, merged);
    return n;
}

/* Drains the calling thread's own queue and frees what died. */
size_t rcgc_drain_self(void)
{
    rcgc__heap *heap = rcgc__tls_self.heap;
    /* Relaxed: a hint; the drain takes qlock. */
    if (atomic_load_explicit(&heap->qlen, memory_order_relaxed) == 0)
        return 0;
    rcgc_heap_drain(heap, &heap->dead);
    return rcgc_dealloc_run(heap);
}

/* ==================================================================== */
/* The merge queue                                                       */
/* ==================================================================== */

/* Drains `heap` for its owner, which is blocked or detached (R5). Only
 * merges under the foreign lock; frees on the calling thread's heap after
 * releasing it. Loops while entries keep arriving and the owner stays
 * away, so that no entry is stranded between a drain and an unlock (R5's
 * "re-check after unlock"). */
static void drain_for_absent_owner(rcgc__heap *heap)
{
    rcgc__heap *self = rcgc__tls_self.heap;
    for (;;) {
        /* seq_cst: the store-buffer (Dekker) pattern with the owner's
         * status change and with an enqueuer's qlen increment (R5). */
        int st = atomic_load_explicit(&heap->status, memory_order_seq_cst);
        if (st == RCGC_RUNNING || st == RCGC_PARKED)
            return; /* the owner will drain at its next safepoint */
        if (atomic_load_explicit(&heap->qlen, memory_order_seq_cst) == 0)
            return;
        if (!rcgc_own_try(heap))
            return; /* the holder re-checks after unlocking */
        rcgc_heap_drain(heap, &self->dead);
        rcgc_own_drop(heap);
        atomic_thread_fence(memory_order_seq_cst);
        /* Always: the drain may have revived objects onto our `revived`
         * list (weakref-finalize.md W3) without killing any (found by
         * rcgc-stress: stress/repro/revived_stranded.c). */
        rcgc_dealloc_run(self);
    }
}

/* Pushes h onto heap's queue. On allocation failure, falls back to a
 * stop-the-world pause in which the caller merges the object itself (R4,
 * "no allocation may fail a decref"). */
static void queue_push(rcgc__heap *heap, rcgc__header *h)
{
    pthread_mutex_lock(&heap->qlock);
    if (heap->qn == heap->qcap) {
        size_t cap = heap->qcap ? heap->qcap * 2 : 64;
        rcgc__header **q = realloc(heap->q, cap * sizeof *q);
        if (q == NULL) {
            pthread_mutex_unlock(&heap->qlock);
            rcgc_pause_begin();
            rcgc_own_take(heap);
            merge_entry(heap, h, &rcgc__tls_self.heap->dead);
            rcgc_own_drop(heap);
            rcgc_pause_end();
            /* Always, for the same reason as in drain_for_absent_owner. */
            rcgc_dealloc_run(rcgc__tls_self.heap);
            return;
        }
        heap->q = q;
        heap->qcap = cap;
    }
    heap->q[heap->qn++] = h;
    /* seq_cst: see drain_for_absent_owner. */
    atomic_store_explicit(&heap->qlen, heap->qn, memory_order_seq_cst);
    pthread_mutex_unlock(&heap->qlock);
    rcgc_stat_add(&rcgc__tls_self.heap->stats.queued, 1);
    rcgc_heap_set_pending(heap, RCGC_PENDING_MERGE);
    drain_for_absent_owner(heap);
}

/* ==================================================================== */
/* Non-owner counting                                                    */
/* ==================================================================== */

/* A non-owner is about to count h. Returns true if there is nothing to
 * count: h is immortal, or it is being reclaimed (DYING: a member of a
 * garbage set whose destroy functions store into slots, cycles.md C7; a
 * death by count, where any further decref would be misuse). A young object
 * becomes ESCAPED first, so that its owner's young collection, if one is
 * running, keeps it (C6). Release: pairs with the collection's acquire
 * loads of the bits. Acquire on the load: the DYING set by the reclaiming
 * thread (release) is seen together with what it did before. */
static bool nonowner_touch(rcgc__header *h)
{
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE);
    if (bits & (RCGC_BIT_IMMORTAL | RCGC_BIT_DYING))
        return true;
    if ((bits & (RCGC_GEN_MASK | RCGC_BIT_TRACKED | RCGC_BIT_ESCAPED)) == RCGC_BIT_TRACKED)
        /* Release: pairs with the young collection's acquire (C6). */
        __atomic_fetch_or(&h->gc_bits, RCGC_BIT_ESCAPED, __ATOMIC_RELEASE);
    return false;
}

void rcgc__incref_slow(void *obj)
{
    rcgc_require_attached("rcgc_incref", obj);
    rcgc_check_object("rcgc_incref", obj);
    rcgc__header *h = rcgc__hdr(obj);
    if (nonowner_touch(h))
        return;
    /* Relaxed: an increment by a holder of a reference needs no ordering;
     * the object cannot die meanwhile (R7). R10 past the high mark. */
    if (__atomic_fetch_add(&h->shared, RCGC__SHARED_ONE, __ATOMIC_RELAXED) >= RCGC__SHARED_HIGH)
        rcgc__shared_high(obj);
}

void rcgc__decref_slow(void *obj)
{
    rcgc_require_attached("rcgc_decref", obj);
    rcgc_check_object("rcgc_decref", obj);
    rcgc__header *h = rcgc__hdr(obj);
    if (nonowner_touch(h))
        return;
    /* Relaxed: the owner id only goes from X to 0 (R3). A successful CAS
     * below on a word without MERGED proves the owner had not merged yet,
     * so X is the heap to queue to; 0 means a merge is under way. */
    uint32_t id = rcgc_owner_of(h);
    int32_t v = __atomic_load_n(&h->shared, __ATOMIC_RELAXED);
    for (;;) {
        int32_t nv = v - RCGC__SHARED_ONE;
        bool queue = false;
        if (v & RCGC__SHARED_MERGED) {
            if (rcgc_shared_count(v) <= 0)
                rcgc_fatal("rcgc_decref", obj,
                           "reference count below zero (object already dead?)");
        } else if (id == 0) {
            /* The owner cleared `owner` and is about to publish MERGED
             * (R3): a window of a few instructions. Wait for it. Acquire:
             * pairs with the merging CAS. An object made immortal also has
             * owner 0 without MERGED: re-check that bit, which
             * rcgc_immortalize sets before clearing the owner. */
            if (__atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE) & RCGC_BIT_IMMORTAL)
                return;
            sched_yield();
            v = __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE);
            continue;
        } else if (rcgc_shared_count(nv) < 0 && !(v & RCGC__SHARED_QUEUED)) {
            nv |= RCGC__SHARED_QUEUED;
            queue = true;
        }
        /* acq_rel: the release makes our writes to the object happen
         * before whoever frees it; the acquire, when we are the one that
         * frees, makes every other thread's writes (their decrements were
         * releases in the same RMW chain) happen before our free. An
         * acquire fence after a release CAS would do on paper, but
         * ThreadSanitizer does not model fences, and on x86 both compile
         * to the same lock cmpxchg. Relaxed on failure: we just retry. */
        if (!__atomic_compare_exchange_n(&h->shared, &v, nv, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            continue;
        if (queue)
            queue_push(rcgc_heap_by_id(id), h); /* R4: the entry pins it */
        else if (nv == RCGC__SHARED_MERGED)
            rcgc_object_died(rcgc__tls_self.heap, h);
        return;
    }
}

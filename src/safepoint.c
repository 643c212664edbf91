/* safepoint.c: stop-the-world pauses, blocking regions and QSBR.
 *
 * Purpose: the collector (and rcgc_collect) stops the world briefly to
 * merge counts and, in later issues, to confirm garbage. Running threads
 * acknowledge at safepoints; threads in blocking regions are stopped
 * already and never delay a pause; a thread leaving a blocking region
 * during a pause waits, and is let in first when the pause ends, so
 * repeated pauses cannot starve it. liburcu's QSBR rides on the same
 * states: a quiescent state in each safepoint slow path, offline while
 * blocked, parked or detached, so later issues can free memory after a
 * grace period.
 *
 * Design: docs/design/safepoints.md (S1..S8 are cited below).
 */
#include "internal.h"

#include <sched.h>
#include <urcu/urcu-qsbr.h>
/* The registry entry's layout, for a forked child to drop the entries of
 * the threads it lost (S9): liburcu has no call for that, and its README
 * asks that no registration of another thread survive a fork. */
#include <urcu/static/urcu-qsbr.h>

#ifdef RCGC_TSAN
#include <sanitizer/tsan_interface.h>
#endif

/* ==================================================================== */
/* QSBR, with the happens-before TSan cannot see (S8)                    */
/* ==================================================================== */

/* The token address for TSan: every quiescent state releases it, every
 * completed grace period acquires it (docs/design/safepoints.md, S8, and
 * shared notes on liburcu under TSan). */
#ifdef RCGC_TSAN
static int rcgc_qs_token;
#endif

static inline void qs_release(void)
{
#ifdef RCGC_TSAN
    __tsan_release(&rcgc_qs_token);
#endif
}

/* Both under world.lock (S9). */
void rcgc_qs_register(rcgc__heap *heap)
{
    urcu_qsbr_register_thread();
    heap->qs_reader = &URCU_TLS(urcu_qsbr_reader);
    rcgc_qs_offline();
}

void rcgc_qs_unregister(rcgc__heap *heap)
{
    qs_release();
    urcu_qsbr_unregister_thread();
    heap->qs_reader = NULL;
}

void rcgc_qs_online(void)
{
    urcu_qsbr_thread_online();
}

void rcgc_qs_offline(void)
{
    qs_release();
    urcu_qsbr_thread_offline();
}

static void qs_quiescent(void)
{
    qs_release();
    urcu_qsbr_quiescent_state();
}

/* One grace period at a time through rcgc, and none across a fork: the
 * prepare handler takes this lock (S9), so that liburcu's own locks are
 * free when the child is made. Taken only by a thread that counts as
 * stopped (S8, rule 1). */
static pthread_mutex_t gp_lock = PTHREAD_MUTEX_INITIALIZER;

/* Waits for a grace period: every read-side access that began before the
 * call has ended when it returns. Asks every running thread to report a
 * quiescent state at its next poll (S8). The caller must be attached and
 * running, or unattached; never inside a pause it holds. */
void rcgc_grace_period(void)
{
    rcgc__heap *self = rcgc__tls_self.heap;
    /* A waiting caller counts as stopped, so a pause never waits for it
     * (it would wait for our grace period, which waits for the pauser). */
    bool was_running = self != NULL && !self->fast.in_blocking;
    if (was_running)
        rcgc_leave_running(self);
    pthread_mutex_lock(&gp_lock);
    /* seq_cst: Dekker with rcgc_enter_running, which comes online and then
     * reads gp_waiting: a thread that comes online after our scan below
     * sees the counter and reports a quiescent state by itself (S8). */
    atomic_fetch_add_explicit(&rcgc_world.gp_waiting, 1, memory_order_seq_cst);
    pthread_mutex_lock(&rcgc_world.lock);
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all)
        if (h != self)
            rcgc_heap_set_pending(h, RCGC_PENDING_QS);
    pthread_mutex_unlock(&rcgc_world.lock);
    urcu_qsbr_synchronize_rcu();
    pthread_mutex_unlock(&gp_lock);
#ifdef RCGC_TSAN
    __tsan_acquire(&rcgc_qs_token);
#endif
    /* Relaxed: a late decrement only arms one more quiescent state. */
    atomic_fetch_sub_explicit(&rcgc_world.gp_waiting, 1, memory_order_relaxed);
    if (was_running)
        rcgc_enter_running(self);
}

/* fork() (S9). The forking thread takes gp_lock as a stopped thread
 * would; the parent and the child release it. */
void rcgc_qs_fork_prepare(rcgc__heap *self)
{
    rcgc_leave_running(self);
    pthread_mutex_lock(&gp_lock);
    rcgc_enter_running(self);
}

void rcgc_qs_fork_parent(void)
{
    pthread_mutex_unlock(&gp_lock);
}

void rcgc_qs_fork_child(void)
{
    pthread_mutex_unlock(&gp_lock);
}

/* Child only, under world.lock: the registry entry of a thread that did not
 * survive the fork leaves liburcu's registry, as its unregistration would
 * have done. No registry lock is held (registration runs under world.lock,
 * grace periods under gp_lock, both held across the fork) and no other
 * thread exists, so unlinking it directly is safe; the thread's memory may
 * be reused by the next thread created, which must not find it linked. */
void rcgc_qs_forget(rcgc__heap *heap)
{
    struct urcu_qsbr_reader *r = heap->qs_reader;
    if (r == NULL)
        return;
    cds_list_del(&r->node);
    heap->qs_reader = NULL;
}

/* ==================================================================== */
/* Entering and leaving the running state (S3, S4, S5)                   */
/* ==================================================================== */

/* S10: a thread held stopped since t0 runs again: the longest hold.
 * Called with world.lock. */
static void held_locked(uint64_t t0)
{
    uint64_t ns = rcgc_now_ns() - t0;
    if (ns > rcgc_world.pause_held_max_ns)
        rcgc_world.pause_held_max_ns = ns;
}

/* From BLOCKED (or SUSPENDED) to RUNNING; waits while the world is
 * stopped. Then takes the heap's own_lock and comes online. */
void rcgc_enter_running(rcgc__heap *heap)
{
    int expected = RCGC_BLOCKED;
    /* seq_cst: Dekker with the pauser, which sets pause_active and then
     * reads statuses (S3). */
    if (!atomic_compare_exchange_strong_explicit(&heap->status, &expected, RCGC_RUNNING,
                                                 memory_order_seq_cst,
                                                 memory_order_seq_cst)) {
        pthread_mutex_lock(&rcgc_world.lock);
        uint64_t t0 = 0;
        for (;;) {
            /* Relaxed: under world.lock, which orders every status change here. */
            int s = atomic_load_explicit(&heap->status, memory_order_relaxed);
            if (s == RCGC_RUNNING)
                break; /* the pause's end let us in (S5) */
            if (s == RCGC_BLOCKED && !atomic_load_explicit(&rcgc_world.pause_active,
                                                           memory_order_relaxed)) {
                /* Under world.lock no pauser scans concurrently. */
                atomic_store_explicit(&heap->status, RCGC_RUNNING, memory_order_seq_cst);
                break;
            }
            heap->wants_in = true;
            if (t0 == 0)
                t0 = rcgc_now_ns();
            pthread_cond_wait(&rcgc_world.resumed, &rcgc_world.lock);
        }
        if (t0 != 0)
            held_locked(t0);
        heap->wants_in = false;
        pthread_mutex_unlock(&rcgc_world.lock);
    }
    /* A drainer may hold own_lock for a bounded merge (R5): wait for it. */
    rcgc_own_take(heap);
    rcgc_qs_online();
    /* seq_cst: see rcgc_grace_period (S8). */
    if (atomic_load_explicit(&rcgc_world.gp_waiting, memory_order_seq_cst) != 0)
        __atomic_fetch_or(&rcgc__tls_self.pending, RCGC_PENDING_QS, __ATOMIC_RELAXED);
    /* Acknowledge a pause that began after we became RUNNING, drain what
     * was queued while we were away, report a wanted quiescent state. */
    rcgc_safepoint();
}

/* Acknowledges, if the pause in progress waits for us, that this heap has
 * stopped in state `st` (PARKED or SUSPENDED). Called with world.lock. */
static bool ack_locked(rcgc__heap *heap, int st)
{
    if (!heap->needs_ack)
        return false;
    heap->needs_ack = false;
    /* seq_cst: status words take part in the Dekker patterns of S3/S4. */
    atomic_store_explicit(&heap->status, st, memory_order_seq_cst);
    if (--rcgc_world.waiting == 0)
        pthread_cond_signal(&rcgc_world.acked);
    return true;
}

/* From RUNNING to BLOCKED: releases own_lock, goes offline, and acks a
 * pause that was waiting for us (S4). Entries that reach our queue before
 * the status change is visible are taken back and drained first, so none
 * is left behind for the time we are away (R5). */
void rcgc_leave_running(rcgc__heap *heap)
{
    for (;;) {
        rcgc_drain_self();
        rcgc_old_flush(heap); /* nothing of ours waits while we are away */
        rcgc_own_drop(heap);
        /* seq_cst: Dekker with enqueuers (they store qlen, then read our
         * status) and with the pauser (it sets pause_active, then reads
         * our status) (S4, R5). */
        atomic_store_explicit(&heap->status, RCGC_BLOCKED, memory_order_seq_cst);
        if (atomic_load_explicit(&heap->qlen, memory_order_seq_cst) == 0)
            break;
        /* Queued before our status was visible: back in, drain, retry. */
        rcgc_enter_running(heap);
    }
    rcgc_qs_offline();
    if (atomic_load_explicit(&rcgc_world.pause_active, memory_order_seq_cst)) {
        pthread_mutex_lock(&rcgc_world.lock);
        ack_locked(heap, RCGC_SUSPENDED);
        pthread_mutex_unlock(&rcgc_world.lock);
    }
}

/* ==================================================================== */
/* The safepoint slow path (S2)                                          */
/* ==================================================================== */

static void park(rcgc__heap *heap)
{
    rcgc_own_drop(heap);
    rcgc_qs_offline();
    pthread_mutex_lock(&rcgc_world.lock);
    if (ack_locked(heap, RCGC_PARKED)) {
        uint64_t t0 = rcgc_now_ns();
        /* Relaxed: under world.lock (cond_wait reacquires it). */
        while (atomic_load_explicit(&heap->status, memory_order_relaxed) == RCGC_PARKED)
            pthread_cond_wait(&rcgc_world.resumed, &rcgc_world.lock);
        held_locked(t0);
    }
    pthread_mutex_unlock(&rcgc_world.lock);
    rcgc_own_take(heap);
    rcgc_qs_online();
}

/* cycles.md C8a: a thread gathering for a full collection asked us to
 * promote our young generation ourselves, so that its pause need not.
 * Not from inside our own young collection or dealloc loop (a destroy
 * function that polls), whose state the table is part of: there the
 * answer is given without promoting, and the pause promotes the table as
 * before. rcgc_young_promote_polling polls, so no pause waits for it. */
static void promote_asked(rcgc__heap *heap)
{
    if (!heap->in_young && !heap->in_dealloc)
        rcgc_young_promote_polling(heap);
    pthread_mutex_lock(&rcgc_world.lock);
    heap->promote_done = heap->promote_asked;
    pthread_cond_broadcast(&rcgc_world.promoted);
    pthread_mutex_unlock(&rcgc_world.lock);
}

void rcgc__safepoint_slow(void)
{
    rcgc__heap *heap = rcgc__tls_self.heap;
    if (heap == NULL) {
        rcgc_require_attached("rcgc_safepoint", NULL);
        return;
    }
    if (heap->fast.in_blocking)
        return; /* stopped already; the bits wait for rcgc_blocking_end */
    if (rcgc_internal_checks())
        rcgc_heap_check("rcgc_safepoint", heap);
    /* Acquire: whatever the setter wrote before setting the bits (a queue
     * entry, a pause request) is visible once we see them (S2). */
    uint32_t bits = __atomic_exchange_n(&rcgc__tls_self.pending, 0, __ATOMIC_ACQUIRE);
    if (bits & RCGC_PENDING_RELIMIT)
        rcgc_young_relimit(heap);
    if (bits & RCGC_PENDING_MERGE)
        rcgc_drain_self();
    rcgc_old_flush(heap);
    if (bits & RCGC_PENDING_PAUSE)
        park(heap); /* offline while parked: a quiescent state too */
    else
        qs_quiescent();
    if (bits & RCGC_PENDING_PROMOTE)
        promote_asked(heap);
    /* A quiescent state reported before liburcu starts the grace period
     * (flips its counter) does not count for it, so while any grace period
     * is waited for, keep the request armed: every poll reports one until
     * the waiter is done (S8). Relaxed: a late read only costs one more
     * slow poll, or one less, which the waiter's own scan covers. */
    if (atomic_load_explicit(&rcgc_world.gp_waiting, memory_order_relaxed) != 0)
        __atomic_fetch_or(&rcgc__tls_self.pending, RCGC_PENDING_QS, __ATOMIC_RELAXED);
}

/* ==================================================================== */
/* Blocking regions (S4)                                                 */
/* ==================================================================== */

void rcgc_blocking_begin(void)
{
    rcgc__heap *heap = rcgc_require_running("rcgc_blocking_begin", NULL,
                                            "already in a blocking region (calls do not nest)");
    if (heap == NULL)
        return;
    rcgc_safepoint();
    /* Leaving drains our queue, which may run finalizers and destroy
     * functions that touch objects: only afterwards are we blocked. */
    rcgc_leave_running(heap);
    heap->fast.in_blocking = true;
}

void rcgc_blocking_end(void)
{
    rcgc__heap *heap = rcgc__tls_self.heap;
    if (heap == NULL || !heap->fast.in_blocking)
        rcgc_fatal("rcgc_blocking_end", NULL,
                   heap == NULL ? "called from a thread that is not attached"
                                : "called without rcgc_blocking_begin");
    heap->fast.in_blocking = false;
    rcgc_enter_running(heap);
}

/* ==================================================================== */
/* Stop the world (S3, S6)                                               */
/* ==================================================================== */

/* Stops every other attached thread: when it returns, each is PARKED at a
 * safepoint, SUSPENDED in a blocking region, or DETACHED, and none can
 * start running until rcgc_pause_end. The caller must be attached and
 * running; it stays running. One pause at a time: a second caller waits,
 * counted as stopped meanwhile so it never delays the first (S6). */
void rcgc_pause_begin(void)
{
    rcgc__heap *self = rcgc__tls_self.heap;
    if (pthread_mutex_trylock(&rcgc_world.pause_lock) != 0) {
        rcgc_leave_running(self);
        pthread_mutex_lock(&rcgc_world.pause_lock);
        rcgc_enter_running(self);
    }
    pthread_mutex_lock(&rcgc_world.lock);
    rcgc_world.pause_start_ns = rcgc_now_ns();
    /* seq_cst: Dekker with threads changing status outside world.lock
     * (S3): they store their status, then read pause_active. */
    atomic_store_explicit(&rcgc_world.pause_active, 1, memory_order_seq_cst);
    rcgc_world.waiting = 0;
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
        if (h == self)
            continue;
        for (;;) {
            /* seq_cst: the pauser's half of the Dekker pattern (S3). */
            int s = atomic_load_explicit(&h->status, memory_order_seq_cst);
            if (s == RCGC_RUNNING) {
                h->needs_ack = true;
                rcgc_world.waiting++;
                rcgc_heap_set_pending(h, RCGC_PENDING_PAUSE);
                break;
            }
            if (s == RCGC_BLOCKED) {
                /* seq_cst: as above; a failed CAS means the owner just went running. */
                if (atomic_compare_exchange_strong_explicit(
                        &h->status, &s, RCGC_SUSPENDED, memory_order_seq_cst,
                        memory_order_seq_cst))
                    break;
                continue; /* it just became RUNNING: look again */
            }
            break; /* DETACHED */
        }
    }
    /* Offline while waiting: a grace period never waits for a pauser
     * that waits for acknowledgements (S8). */
    rcgc_qs_offline();
    while (rcgc_world.waiting > 0)
        pthread_cond_wait(&rcgc_world.acked, &rcgc_world.lock);
    /* S10: every thread stopped: the time to safepoint. */
    rcgc_world.pause_stopped_ns = rcgc_now_ns();
    uint64_t ttsp = rcgc_world.pause_stopped_ns - rcgc_world.pause_start_ns;
    if (ttsp > rcgc_world.pause_ttsp_max_ns)
        rcgc_world.pause_ttsp_max_ns = ttsp;
    pthread_mutex_unlock(&rcgc_world.lock);
    rcgc_qs_online();
}

void rcgc_pause_end(void)
{
    /* O8: at the expensive level every pause verifies the heap before the
     * world runs again. */
    if (rcgc_expensive_checks())
        rcgc_verify_paused();
    pthread_mutex_lock(&rcgc_world.lock);
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
        /* Relaxed: under world.lock. */
        int s = atomic_load_explicit(&h->status, memory_order_relaxed);
        if (s == RCGC_PARKED)
            atomic_store_explicit(&h->status, RCGC_RUNNING, memory_order_seq_cst);
        else if (s == RCGC_SUSPENDED)
            /* S5: a thread waiting to come back is let in now, before any
             * later pause can suspend it again. */
            atomic_store_explicit(&h->status, h->wants_in ? RCGC_RUNNING : RCGC_BLOCKED,
                                  memory_order_seq_cst);
    }
    atomic_store_explicit(&rcgc_world.pause_active, 0, memory_order_seq_cst);
    uint64_t now = rcgc_now_ns(), ns = now - rcgc_world.pause_start_ns;
    if (now - rcgc_world.pause_stopped_ns > rcgc_world.pause_work_max_ns)
        rcgc_world.pause_work_max_ns = now - rcgc_world.pause_stopped_ns;
    rcgc_world.pauses++;
    rcgc_world.pause_total_ns += ns;
    if (ns > rcgc_world.pause_max_ns)
        rcgc_world.pause_max_ns = ns;
    pthread_cond_broadcast(&rcgc_world.resumed);
    pthread_mutex_unlock(&rcgc_world.lock);
    pthread_mutex_unlock(&rcgc_world.pause_lock);
}

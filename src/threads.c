/* threads.c: attaching and detaching threads, and the heap table.
 *
 * Purpose: every attached thread runs on a heap, the per-thread state that
 * owns objects (their local counts), a merge queue and statistics. Heaps
 * outlive their threads: a detached (or exited) thread leaves its heap in a
 * pool, its objects fully usable, and the next thread to attach adopts it
 * with all its objects (docs/design/refcount.md, R8). Heap ids index a
 * two-level table, so that a non-owner finds an object's owner from the
 * 32-bit id in the header.
 *
 * Design: docs/design/safepoints.md (attach, detach, states) and
 * docs/design/refcount.md (ownership, adoption).
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

__thread rcgc__tls rcgc__tls_self RCGC__TLS_IE = {
    .heap_id = RCGC__NO_HEAP, .young_upward = RCGC__EDGE_ANY};

/* ==================================================================== */
/* The heap table                                                        */
/* ==================================================================== */

rcgc__heap *rcgc_heap_by_id(uint32_t id)
{
    uint32_t i = id - 1;
    /* Acquire: pairs with the release that published the chunk. The entry
     * itself was written before the first object carrying `id` existed,
     * which happens before we read that object's header (O5). */
    rcgc__heap **chunk = atomic_load_explicit(&rcgc_world.chunks[i / RCGC_HEAP_CHUNK],
                                              memory_order_acquire);
    return chunk[i % RCGC_HEAP_CHUNK];
}

/* Called with world.lock held. */
static rcgc__heap *heap_new(void)
{
    uint32_t i = rcgc_world.nheaps;
    /* Ids 1 .. RCGC__MAX_HEAPS fit the header's 16-bit owner field (O2);
     * heaps are reused, so this bounds the threads attached at once. */
    if (i >= RCGC__MAX_HEAPS)
        return NULL;
    /* Relaxed: world.lock is held; it orders the chunk's creation. */
    rcgc__heap **chunk = atomic_load_explicit(&rcgc_world.chunks[i / RCGC_HEAP_CHUNK],
                                              memory_order_relaxed);
    if (chunk == NULL) {
        chunk = calloc(RCGC_HEAP_CHUNK, sizeof *chunk);
        if (chunk == NULL)
            return NULL;
        /* Release: the zeroed chunk is visible before its pointer. */
        atomic_store_explicit(&rcgc_world.chunks[i / RCGC_HEAP_CHUNK], chunk,
                              memory_order_release);
    }
    rcgc__heap *heap = calloc(1, sizeof *heap);
    if (heap == NULL)
        return NULL;
    /* O6: the dead list starts with room, so that the push on the path
     * that frees memory only ever grows it ahead of need. */
    heap->dead.cap = RCGC_DEAD_INITIAL;
    heap->dead.v = malloc(RCGC_DEAD_INITIAL * sizeof *heap->dead.v);
    if (heap->dead.v == NULL) {
        free(heap);
        return NULL;
    }
    heap->id = i + 1;
    heap->window_epoch = 1; /* pages start at 0 (C15) */
    heap->fast.table_ordered = 1; /* an empty table (C15) */
    pthread_mutex_init(&heap->qlock, NULL);
    chunk[i % RCGC_HEAP_CHUNK] = heap;
    rcgc_world.nheaps = i + 1;
    heap->next_all = rcgc_world.heaps;
    rcgc_world.heaps = heap;
    return heap;
}

/* Sets pending bits in the owner thread's TLS block, if the heap has an
 * owner. The pointer is read and used under qlock, and detach clears it
 * under qlock, so the TLS block cannot go away while we write to it. */
void rcgc_heap_set_pending(rcgc__heap *heap, uint32_t bits)
{
    pthread_mutex_lock(&heap->qlock);
    /* Relaxed: qlock orders the pointer. */
    uint32_t *p = atomic_load_explicit(&heap->pending, memory_order_relaxed);
    /* Release OR: pairs with the owner's acquire exchange in the poll's
     * slow path, so an owner that sees the bit sees what was done before
     * it (a queue entry, a pause request) (safepoints.md, S2). */
    if (p != NULL)
        __atomic_fetch_or(p, bits, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&heap->qlock);
}

/* A tunable that decides when young collections are due changed
 * (rcgc_enable, rcgc_disable, threshold 0): every attached thread takes
 * its next allocation of a tracked object through the library, which
 * computes the inline path's limit anew (objects.md, O13). The heap list
 * under world.lock; each request as rcgc_heap_set_pending's. */
void rcgc_heaps_relimit(void)
{
    pthread_mutex_lock(&rcgc_world.lock);
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all)
        rcgc_heap_set_pending(h, RCGC_PENDING_RELIMIT);
    pthread_mutex_unlock(&rcgc_world.lock);
}

/* Takes a heap's ownership token, yielding while a foreign holder does its
 * bounded work (internal.h, S7). */
void rcgc_own_take(rcgc__heap *heap)
{
    while (!rcgc_own_try(heap))
        sched_yield();
}

/* ==================================================================== */
/* Attach and detach                                                     */
/* ==================================================================== */

static void detach_at_exit(void *arg);

/* Under world.lock: a heap from the pool, or a new one (NULL when memory
 * runs out). */
static rcgc__heap *heap_take_locked(void)
{
    rcgc__heap *heap = rcgc_world.free_heaps;
    if (heap != NULL)
        rcgc_world.free_heaps = heap->next_free;
    else
        heap = heap_new();
    if (heap != NULL)
        heap->next_free = NULL;
    return heap;
}

/* Under world.lock: the calling thread joins `heap` (out of the pool). */
static void attach_locked(rcgc__heap *heap)
{
    /* A heap joins as if in a blocking region; joining during a pause it
     * is SUSPENDED and waits for the pause to end (safepoints.md, S5).
     * seq_cst: status words take part in the Dekker patterns of S3. */
    atomic_store_explicit(&heap->status,
                          atomic_load_explicit(&rcgc_world.pause_active,
                                               memory_order_relaxed)
                              ? RCGC_SUSPENDED
                              : RCGC_BLOCKED,
                          memory_order_seq_cst);
    rcgc__tls_self.pending = 0;
    pthread_mutex_lock(&heap->qlock);
    /* Relaxed: published under qlock (see rcgc_heap_set_pending). */
    atomic_store_explicit(&heap->pending, &rcgc__tls_self.pending, memory_order_relaxed);
    pthread_mutex_unlock(&heap->qlock);
    /* Relaxed: a statistic. */
    atomic_fetch_add_explicit(&rcgc_world.attached, 1, memory_order_relaxed);
    /* Under world.lock, so that a fork never finds liburcu's registry
     * half-changed (safepoints.md, S9). */
    rcgc_qs_register(heap);
}

/* After attach_locked, with world.lock released. */
static void attach_finish(rcgc__heap *heap)
{
    rcgc__tls_self.heap = heap;
    rcgc__tls_self.heap_id = heap->id;
    /* C13: nothing known of the adopted heap's young objects' edges, if
     * it has any (a heap is pooled with none: detach promotes them); none
     * to know of a heap without. Relaxed load: our own gauge now. */
    rcgc__tls_self.last_alloc = NULL;
    rcgc__tls_self.prev_alloc = NULL;
    if (heap->fast.young_n != 0 || __atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED) != 0)
        rcgc__tls_self.young_upward |= RCGC__EDGE_ANY;
    else
        rcgc__tls_self.young_upward = 0;
    heap->fast.in_blocking = false;
    /* O13: the adopter decides the inline path's limit itself. */
    rcgc_young_relimit(heap);
    pthread_setspecific(rcgc_world.key, heap);
    rcgc_enter_running(heap);
    if (rcgc_internal_checks())
        rcgc_heap_check("rcgc_thread_attach", heap);
    /* Entries that arrived while the heap was in the pool: the adopter now
     * owns them. */
    rcgc_heap_set_pending(heap, RCGC_PENDING_MERGE);
}

int rcgc_thread_attach(void)
{
    /* Acquire: pairs with rcgc_init's release. */
    if (!atomic_load_explicit(&rcgc_world.initialized, memory_order_acquire))
        return EINVAL;
    /* Attaching twice is an error the contract reports with a code, at
     * every checks level; the thread stays attached (objects.md, O8). */
    if (rcgc__tls_self.heap != NULL)
        return EBUSY;
    pthread_mutex_lock(&rcgc_world.lock);
    rcgc__heap *heap = heap_take_locked();
    if (heap == NULL) {
        pthread_mutex_unlock(&rcgc_world.lock);
        return ENOMEM;
    }
    attach_locked(heap);
    pthread_mutex_unlock(&rcgc_world.lock);
    attach_finish(heap);
    return 0;
}

/* The collector's heap is set aside before its thread is created, so that
 * the thread's attach cannot fail (objects.md, O9): a failure to make it
 * is reported by rcgc_init (or the fork handlers) instead. */
rcgc__heap *rcgc_heap_reserve(void)
{
    pthread_mutex_lock(&rcgc_world.lock);
    rcgc__heap *heap = heap_take_locked();
    pthread_mutex_unlock(&rcgc_world.lock);
    return heap;
}

void rcgc_heap_unreserve(rcgc__heap *heap)
{
    pthread_mutex_lock(&rcgc_world.lock);
    heap->next_free = rcgc_world.free_heaps;
    rcgc_world.free_heaps = heap;
    pthread_mutex_unlock(&rcgc_world.lock);
}

void rcgc_thread_attach_heap(rcgc__heap *heap)
{
    pthread_mutex_lock(&rcgc_world.lock);
    attach_locked(heap);
    pthread_mutex_unlock(&rcgc_world.lock);
    attach_finish(heap);
}

static void detach(rcgc__heap *heap)
{
    /* The young generation goes to the background collector: nobody else
     * would examine it until the heap is adopted (cycles.md, C1). */
    if (rcgc_internal_checks())
        rcgc_heap_check("rcgc_thread_detach", heap);
    /* Objects revived at their death (weakref-finalize.md W3) are
     * finalized now, not left with a pooled heap. */
    if (heap->revived_n != 0)
        rcgc_dealloc_run(heap);
    rcgc_young_promote_all(heap, false);
    rcgc_leave_running(heap);
    pthread_mutex_lock(&rcgc_world.lock);
    /* Under world.lock: see attach_locked (S9). */
    rcgc_qs_unregister(heap);
    pthread_mutex_lock(&heap->qlock);
    /* Relaxed: qlock orders the pointer (see rcgc_heap_set_pending). */
    atomic_store_explicit(&heap->pending, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&heap->qlock);
    /* seq_cst: Dekker with enqueuers (refcount.md, R5); a pause that
     * suspended us sees DETACHED at its end and leaves it alone. */
    atomic_store_explicit(&heap->status, RCGC_DETACHED, memory_order_seq_cst);
    heap->needs_ack = false;
    heap->wants_in = false;
    heap->next_free = rcgc_world.free_heaps;
    rcgc_world.free_heaps = heap;
    /* Relaxed: a count, changed under world.lock. */
    atomic_fetch_sub_explicit(&rcgc_world.attached, 1, memory_order_relaxed);
    pthread_mutex_unlock(&rcgc_world.lock);
    rcgc__tls_self.heap = NULL;
    rcgc__tls_self.heap_id = RCGC__NO_HEAP;
    rcgc__tls_self.pending = 0;
    pthread_setspecific(rcgc_world.key, NULL);
    /* Entries pushed while we were leaving: the pushers saw us away and
     * drained, or see the queue now (R5). Nothing of ours is stranded. */
}

void rcgc_thread_detach(void)
{
    rcgc__heap *heap = rcgc_require_running(
        "rcgc_thread_detach", NULL,
        "called inside a blocking region (call rcgc_blocking_end first)");
    if (heap != NULL)
        detach(heap);
}

int rcgc_thread_is_attached(void)
{
    return rcgc__tls_self.heap != NULL;
}

/* pthread key destructor: the thread exits while attached. Its __thread
 * block is still valid here (glibc runs key destructors before releasing
 * the thread's static TLS). */
static void detach_at_exit(void *arg)
{
    rcgc__heap *heap = arg;
    if (heap == NULL || rcgc__tls_self.heap != heap)
        return;
    if (heap->fast.in_blocking) {
        heap->fast.in_blocking = false;
        rcgc_enter_running(heap);
    }
    detach(heap);
}

/* ==================================================================== */
/* fork() (safepoints.md, S9)                                            */
/* ==================================================================== */

/* One fork at a time through the handlers; the state the prepare handler
 * leaves for the parent and child handlers. */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool active;         /* rcgc was initialised at the prepare */
    bool attached_here;  /* the forking thread was attached for the fork */
    bool was_blocking;   /* it forked from inside a blocking region */
} fork_state;

/* Takes fork_lock without delaying a pause: a running thread waits for it
 * stopped, as for pause_lock (S6). */
static void fork_lock_take(void)
{
    if (pthread_mutex_trylock(&fork_lock) == 0)
        return;
    rcgc__heap *self = rcgc__tls_self.heap;
    bool running = self != NULL && !self->fast.in_blocking;
    if (running)
        rcgc_leave_running(self);
    pthread_mutex_lock(&fork_lock);
    if (running)
        rcgc_enter_running(self);
}

/* Prepare: stop the collector thread (it finishes its round and leaves
 * its tables consistent), hold off grace periods, stop the world, and take
 * world.lock and every qlock, in the lock order of internal.h. Nothing the
 * child inherits is then half-changed by a thread it will not have. */
static void fork_prepare(void)
{
    fork_lock_take();
    /* Acquire: pairs with rcgc_init's release. */
    fork_state.active = atomic_load_explicit(&rcgc_world.initialized, memory_order_acquire);
    if (!fork_state.active)
        return;
    fork_state.attached_here = rcgc__tls_self.heap == NULL;
    if (fork_state.attached_here && rcgc_thread_attach() != 0)
        rcgc_fatal("fork", NULL, "cannot attach the forking thread (out of memory)");
    rcgc__heap *self = rcgc__tls_self.heap;
    fork_state.was_blocking = self->fast.in_blocking;
    if (fork_state.was_blocking) {
        self->fast.in_blocking = false;
        rcgc_enter_running(self);
    }
    rcgc_collector_stop();
    rcgc_qs_fork_prepare(self);
    rcgc_pause_begin();
    pthread_mutex_lock(&rcgc_world.lock);
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all)
        pthread_mutex_lock(&h->qlock);
}

static void fork_restart_collector(bool in_child)
{
    if (rcgc_collector_start(in_child) != 0)
        rcgc_fatal("fork", NULL, "cannot restart the background collector thread%s",
                   in_child ? " in the child" : "");
}

/* The forking thread as it was before the fork. */
static void fork_restore_self(void)
{
    rcgc__heap *self = rcgc__tls_self.heap;
    if (fork_state.was_blocking) {
        rcgc_leave_running(self);
        self->fast.in_blocking = true;
    } else if (fork_state.attached_here) {
        detach(self);
    }
}

static void fork_parent(void)
{
    if (fork_state.active) {
        for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all)
            pthread_mutex_unlock(&h->qlock);
        pthread_mutex_unlock(&rcgc_world.lock);
        rcgc_pause_end();
        rcgc_qs_fork_parent();
        fork_restart_collector(false);
        fork_restore_self();
    }
    pthread_mutex_unlock(&fork_lock);
}

/* Child: only the forking thread exists. Every other heap is orphaned as
 * if its thread had detached (its objects stay usable and the heap goes to
 * the pool), its QSBR registration is dropped, and the condition variables
 * the lost threads waited on start afresh. The locks the forking thread
 * took in fork_prepare it still holds here, and releases. */
static void fork_child(void)
{
    if (fork_state.active) {
        rcgc__heap *self = rcgc__tls_self.heap;
        pthread_cond_init(&rcgc_world.acked, NULL);
        pthread_cond_init(&rcgc_world.resumed, NULL);
        pthread_cond_init(&rcgc_world.promoted, NULL);
        for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
            /* Relaxed, here and below: no other thread exists. */
            int st = atomic_load_explicit(&h->status, memory_order_relaxed);
            if (h != self && st != RCGC_DETACHED) {
                rcgc_qs_forget(h);
                atomic_store_explicit(&h->pending, NULL, memory_order_relaxed);
                atomic_store_explicit(&h->status, RCGC_DETACHED, memory_order_relaxed);
                atomic_store_explicit(&h->own_lock, 0, memory_order_relaxed);
                h->needs_ack = h->wants_in = false;
                h->fast.in_blocking = h->in_young = h->in_dealloc = false;
                /* Objects whose deallocation the lost thread had begun are
                 * finished by this thread's next dealloc loop (O7). */
                for (uint32_t i = 0; i < h->dead.n; i++)
                    rcgc_dead_push(h->dead.v[i], &self->dead);
                h->dead.n = 0;
                h->next_free = rcgc_world.free_heaps;
                rcgc_world.free_heaps = h;
                atomic_fetch_sub_explicit(&rcgc_world.attached, 1, memory_order_relaxed);
            }
            pthread_mutex_unlock(&h->qlock);
        }
        pthread_mutex_unlock(&rcgc_world.lock);
        rcgc_pause_end();
        rcgc_qs_fork_child();
        fork_restart_collector(true);
        /* The orphans' young objects and reports go to the new collector,
         * as at detach (cycles.md, C1); only now are its locks usable. The
         * new collector thread may have adopted one of the heaps: the
         * token tells (it holds that one's). */
        pthread_mutex_lock(&rcgc_world.lock);
        for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all)
            if (h != self && rcgc_own_try(h)) {
                rcgc_young_promote_all(h, false);
                rcgc_old_flush(h);
                rcgc_own_drop(h);
            }
        pthread_mutex_unlock(&rcgc_world.lock);
        rcgc_old_flush(self);
        fork_restore_self();
    }
    pthread_mutex_unlock(&fork_lock);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_rc;

static void fork_register(void)
{
    fork_rc = pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int rcgc_threads_init(void)
{
    pthread_once(&fork_once, fork_register);
    if (fork_rc != 0)
        return fork_rc;
    return pthread_key_create(&rcgc_world.key, detach_at_exit);
}

/* Frees every heap. Called by rcgc_shutdown with no thread attached. */
void rcgc_threads_shutdown(void)
{
    rcgc__heap *heap = rcgc_world.heaps;
    while (heap != NULL) {
        rcgc__heap *next = heap->next_all;
        pthread_mutex_destroy(&heap->qlock);
        free(heap->q);
        free(heap->fast.young); /* objects still young at shutdown stay allocated */
        free(heap->young_spare);
        free(heap->revived);
        free(heap->dead.v); /* empty: the last dealloc loops ran */
        rcgc_pages_release(heap);
        free(heap);
        heap = next;
    }
    rcgc_world.heaps = NULL;
    rcgc_world.free_heaps = NULL;
    for (uint32_t c = 0; c < RCGC_HEAP_CHUNKS; c++) {
        /* Relaxed: shutdown, no other thread attached. */
        free(atomic_load_explicit(&rcgc_world.chunks[c], memory_order_relaxed));
        atomic_store_explicit(&rcgc_world.chunks[c], NULL, memory_order_relaxed);
    }
    rcgc_world.nheaps = 0;
    pthread_key_delete(rcgc_world.key);
}

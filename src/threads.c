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

__thread rcgc__tls rcgc__tls_self RCGC__TLS_IE = {RCGC__NO_HEAP, 0, NULL};

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
    if (i >= RCGC_HEAP_CHUNK * RCGC_HEAP_CHUNKS)
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
    heap->id = i + 1;
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

int rcgc_thread_attach(void)
{
    /* Acquire: pairs with rcgc_init's release. */
    if (!atomic_load_explicit(&rcgc_world.initialized, memory_order_acquire))
        return EINVAL;
    if (rcgc__tls_self.heap != NULL)
        return EBUSY;
    pthread_mutex_lock(&rcgc_world.lock);
    rcgc__heap *heap = rcgc_world.free_heaps;
    if (heap != NULL)
        rcgc_world.free_heaps = heap->next_free;
    else
        heap = heap_new();
    if (heap == NULL) {
        pthread_mutex_unlock(&rcgc_world.lock);
        return ENOMEM;
    }
    heap->next_free = NULL;
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
    pthread_mutex_unlock(&rcgc_world.lock);

    rcgc__tls_self.heap = heap;
    rcgc__tls_self.heap_id = heap->id;
    heap->in_blocking = false;
    pthread_setspecific(rcgc_world.key, heap);
    rcgc_qs_register();
    rcgc_enter_running(heap);
    /* Entries that arrived while the heap was in the pool: the adopter now
     * owns them. */
    rcgc_heap_set_pending(heap, RCGC_PENDING_MERGE);
    return 0;
}

static void detach(rcgc__heap *heap)
{
    /* The young generation goes to the background collector: nobody else
     * would examine it until the heap is adopted (cycles.md, C1). */
    rcgc_young_promote_all(heap);
    rcgc_leave_running(heap);
    rcgc_qs_unregister();
    pthread_mutex_lock(&rcgc_world.lock);
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
    if (heap->in_blocking) {
        heap->in_blocking = false;
        rcgc_enter_running(heap);
    }
    detach(heap);
}

int rcgc_threads_init(void)
{
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
        free(heap->young); /* objects still young at shutdown stay allocated */
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

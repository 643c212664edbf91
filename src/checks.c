/* checks.c: misuse diagnostics and consistency checks, by level.
 *
 * Purpose: misuse of the API aborts with a message naming the call and the
 * object's type, instead of corrupting the heap silently; the library's own
 * data structures can be checked for consistency while it runs. Three
 * levels, compiled in up to the meson option `checks` and selected at run
 * time by rcgc_config.checks (RCGC_CHECKS):
 *
 *   api       (default, also in release builds): the caller's misuse, on
 *             slow paths only; the owner's inline fast paths stay a load, a
 *             compare and a plain add;
 *   internal  cheap Check functions of one data structure each (a heap,
 *             its merge queue, a young-table entry, a dying object), in
 *             the style of the Memory Pool System, on slow paths;
 *   expensive rcgc_verify_heap: every heap's young table and merge queue,
 *             every header in them and their counts, in a pause; run at
 *             the end of every pause at this level, and callable by tests.
 *
 * Design: docs/design/objects.md, O8 (what is checked, at which level).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The type name of obj, if its header carries one of rcgc's magics: the
 * live one, or the dead one written just before the memory is freed (the
 * type id stays intact until the block is reused; best effort, like the
 * dead-object check itself), and an id the type table knows. */
static const char *type_name(const void *obj)
{
    if (obj == NULL || ((uintptr_t)obj & 15u) != 0)
        return NULL;
    const rcgc__header *h = rcgc__hdr(obj);
    /* Relaxed: a diagnostic snapshot. */
    uint32_t magic = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED) >> RCGC_MAGIC_SHIFT;
    if (magic != RCGC_MAGIC_LIVE && magic != RCGC_MAGIC_DEAD)
        return NULL;
    const rcgc_type *t = rcgc_type_lookup(h->type_id);
    return t != NULL ? t->name : NULL;
}

static _Noreturn void vfatal(const char *call, const void *obj, const char *tname,
                             const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (obj != NULL)
        fprintf(stderr, "rcgc: fatal: %s(%p, type %s): %s\n", call, obj,
                tname ? tname : "?", msg);
    else if (tname != NULL)
        fprintf(stderr, "rcgc: fatal: %s(type %s): %s\n", call, tname, msg);
    else
        fprintf(stderr, "rcgc: fatal: %s: %s\n", call, msg);
    fflush(stderr);
    abort();
}

_Noreturn void rcgc_fatal(const char *call, const void *obj, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfatal(call, obj, type_name(obj), fmt, ap);
}

static _Noreturn __attribute__((format(printf, 3, 4))) void
fatal_type(const char *call, const rcgc_type *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfatal(call, NULL, type != NULL ? type->name : NULL, fmt, ap);
}

/* ==================================================================== */
/* API checks (O8)                                                       */
/* ==================================================================== */

void rcgc_check_object(const char *call, const void *obj)
{
    if (!rcgc_api_checks() || obj == NULL)
        return;
    if (((uintptr_t)obj & 15u) != 0)
        rcgc_fatal(call, obj, "not an object allocated by rcgc (misaligned pointer)");
    const rcgc__header *h = rcgc__hdr(obj);
    /* Relaxed: a diagnostic snapshot of the magic byte. */
    uint32_t magic = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED) >> RCGC_MAGIC_SHIFT;
    if (magic == RCGC_MAGIC_DEAD)
        rcgc_fatal(call, obj, "use of a dead object (it was already freed)");
    /* O8: a four-bit magic and a type id the table knows. */
    if (magic != RCGC_MAGIC_LIVE || rcgc_type_lookup(h->type_id) == NULL)
        rcgc_fatal(call, obj, "not an object allocated by rcgc (bad header)");
}

static const char not_attached[] = "called from a thread that is not attached "
                                   "(call rcgc_thread_attach first)";
static const char touched_blocked[] = "managed objects touched inside a blocking region";

rcgc__heap *rcgc_require_running(const char *call, const void *obj, const char *in_blocking)
{
    rcgc__heap *heap = rcgc__tls_self.heap;
    if (heap == NULL) {
        if (rcgc_api_checks())
            rcgc_fatal(call, obj, not_attached);
        return NULL;
    }
    if (heap->fast.in_blocking && (rcgc_api_checks() || in_blocking != NULL))
        rcgc_fatal(call, obj, "%s", in_blocking ? in_blocking : touched_blocked);
    return heap;
}

rcgc__heap *rcgc_require_attached_type(const char *call, const rcgc_type *type)
{
    rcgc__heap *heap = rcgc__tls_self.heap;
    if (heap == NULL) {
        if (rcgc_api_checks())
            fatal_type(call, type, not_attached);
        return NULL;
    }
    if (heap->fast.in_blocking && rcgc_api_checks())
        fatal_type(call, type, touched_blocked);
    return heap;
}

/* ==================================================================== */
/* Internal Check functions (O8)                                         */
/* ==================================================================== */

void rcgc_heap_check(const char *call, const rcgc__heap *heap)
{
    if (heap == NULL)
        rcgc_fatal(call, NULL, "internal: NULL heap");
    uint32_t i = heap->id - 1;
    /* Acquire: pairs with heap_new's release of the chunk (O5). */
    rcgc__heap **chunk =
        heap->id == 0 || i >= RCGC_HEAP_CHUNK * RCGC_HEAP_CHUNKS
            ? NULL
            : atomic_load_explicit(&rcgc_world.chunks[i / RCGC_HEAP_CHUNK], memory_order_acquire);
    if (chunk == NULL || chunk[i % RCGC_HEAP_CHUNK] != heap)
        rcgc_fatal(call, NULL, "internal: heap %u is not in the heap table", heap->id);
    /* Relaxed: a snapshot; each value alone must be in range. */
    int st = atomic_load_explicit(&heap->status, memory_order_relaxed);
    if (st < RCGC_DETACHED || st > RCGC_PARKED)
        rcgc_fatal(call, NULL, "internal: heap %u has status %d", heap->id, st);
    int tok = atomic_load_explicit(&heap->own_lock, memory_order_relaxed);
    if (tok != 0 && tok != 1)
        rcgc_fatal(call, NULL, "internal: heap %u has token %d", heap->id, tok);
    if (heap->fast.young_n > heap->young_cap || (heap->fast.young == NULL) != (heap->young_cap == 0) ||
        heap->aged_n > heap->fast.young_n)
        rcgc_fatal(call, NULL, "internal: heap %u young table %u of %u (%u aged)", heap->id,
                   heap->fast.young_n, heap->young_cap, heap->aged_n);
    if (heap->old_n > RCGC_OLD_BUF)
        rcgc_fatal(call, NULL, "internal: heap %u report buffer holds %u", heap->id,
                   heap->old_n);
}

void rcgc_queue_check(const char *call, const rcgc__heap *heap)
{
    /* Relaxed: qlock (held) orders qlen's writes. */
    size_t qlen = atomic_load_explicit(&heap->qlen, memory_order_relaxed);
    if (heap->qn > heap->qcap || (heap->q == NULL) != (heap->qcap == 0) || qlen != heap->qn)
        rcgc_fatal(call, NULL, "internal: heap %u merge queue %zu of %zu (qlen %zu)",
                   heap->id, heap->qn, heap->qcap, qlen);
    if (heap->qn == 0)
        return;
    /* The newest entry: a live object marked QUEUED (R4). */
    const rcgc__header *h = heap->q[heap->qn - 1];
    /* Relaxed: snapshots; the entry pins the object. */
    if ((__atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED) >> RCGC_MAGIC_SHIFT) != RCGC_MAGIC_LIVE ||
        !(__atomic_load_n(&h->shared, __ATOMIC_RELAXED) & RCGC__SHARED_QUEUED))
        rcgc_fatal(call, rcgc_payload((rcgc__header *)h),
                   "internal: merge queue entry of heap %u is not a queued live object",
                   heap->id);
}

void rcgc_young_check(const char *call, const rcgc__heap *heap, const rcgc__header *h)
{
    if (!rcgc_is_young((rcgc__header *)h))
        return;
    uint32_t i = rcgc_index_get(h);
    if (i == RCGC_NO_INDEX)
        return;
    if (rcgc_in_window(i)) {
        /* C15: a place the current window has handed out. */
        if (i - RCGC__WINDOW_BASE >= heap->fast.window_seq)
            rcgc_fatal(call, rcgc_payload((rcgc__header *)h),
                       "internal: young window of heap %u corrupt (place %u of %u)", heap->id,
                       i - RCGC__WINDOW_BASE, heap->fast.window_seq);
        return;
    }
    if (i >= heap->fast.young_n || heap->fast.young[i] != h)
        rcgc_fatal(call, rcgc_payload((rcgc__header *)h),
                   "internal: young table of heap %u corrupt (index %u of %u)", heap->id, i,
                   heap->fast.young_n);
}

void rcgc_dying_check(const char *call, const rcgc__header *h)
{
    /* Relaxed: the dying object belongs to the calling thread. */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
    if ((bits >> RCGC_MAGIC_SHIFT) != RCGC_MAGIC_LIVE || !(bits & RCGC_BIT_DYING))
        rcgc_fatal(call, rcgc_payload((rcgc__header *)h),
                   "internal: object on a dead list is not a dying live object (bits %#x)",
                   bits);
}

/* ==================================================================== */
/* Heap verification (expensive, O8)                                     */
/* ==================================================================== */

/* One young object of `heap`: live, young, at its index, owned by the
 * heap with a positive local count (R2: an owned object has local >= 1),
 * not dying. */
static void verify_young_object(const rcgc__heap *heap, const rcgc__header *h, uint32_t i);
static void verify_young(const rcgc__heap *heap, uint32_t i)
{
    verify_young_object(heap, heap->fast.young[i], i);
}

/* The same for an object of the heap's young window (C15), whose index is
 * a window index (C15, not checked against a table); ctx counts them. */
static void verify_window(rcgc__heap *heap, rcgc__header *h, void *ctx)
{
    verify_young_object(heap, h, rcgc_index_get(h));
    ++*(uint32_t *)ctx;
}

static void verify_young_object(const rcgc__heap *heap, const rcgc__header *h, uint32_t i)
{
    void *obj = rcgc_payload((rcgc__header *)h);
    /* Relaxed loads: the world is stopped; the pause orders them. */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
    if ((bits >> RCGC_MAGIC_SHIFT) != RCGC_MAGIC_LIVE)
        rcgc_fatal("rcgc_verify_heap", obj, "young object %u of heap %u has a bad magic", i,
                   heap->id);
    if ((bits & (RCGC_GEN_MASK | RCGC_BIT_TRACKED)) != RCGC_BIT_TRACKED ||
        (bits & (RCGC_BIT_DYING | RCGC_BIT_IMMORTAL | RCGC_BIT_COLLECTING)))
        rcgc_fatal("rcgc_verify_heap", obj, "young object %u of heap %u has bits %#x", i,
                   heap->id, bits);
    if (rcgc_index_get(h) != i)
        rcgc_fatal("rcgc_verify_heap", obj, "young table of heap %u corrupt (index %u at %u)",
                   heap->id, rcgc_index_get(h), i);
    uint32_t w = __atomic_load_n(&h->ol, __ATOMIC_RELAXED);
    if ((w & RCGC__OL_OWNER) != heap->id || rcgc_local_count(w) == 0)
        rcgc_fatal("rcgc_verify_heap", obj, "young object of heap %u owned by %u, local %u",
                   heap->id, w & RCGC__OL_OWNER, rcgc_local_count(w));
    int32_t v = __atomic_load_n(&h->shared, __ATOMIC_RELAXED);
    if (v & RCGC__SHARED_MERGED)
        rcgc_fatal("rcgc_verify_heap", obj, "young object of heap %u is merged", heap->id);
}

/* One merge-queue entry of `heap`: a live object marked QUEUED, owned by
 * the heap or merged since (owner 0). Its count may be negative (R4). */
static void verify_queued(const rcgc__heap *heap, size_t i)
{
    const rcgc__header *h = heap->q[i];
    void *obj = rcgc_payload((rcgc__header *)h);
    /* Relaxed loads: the world is stopped. */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
    int32_t v = __atomic_load_n(&h->shared, __ATOMIC_RELAXED);
    uint32_t owner = rcgc_owner_of(h);
    if ((bits >> RCGC_MAGIC_SHIFT) != RCGC_MAGIC_LIVE || !(v & RCGC__SHARED_QUEUED) ||
        (owner != heap->id && owner != 0))
        rcgc_fatal("rcgc_verify_heap", obj,
                   "merge queue entry %zu of heap %u: bits %#x, shared %lld, owner %u", i,
                   heap->id, bits, (long long)v, owner);
    if ((v & RCGC__SHARED_MERGED) && rcgc_shared_count(v) < 0)
        rcgc_fatal("rcgc_verify_heap", obj, "merged count below zero in the queue of heap %u",
                   heap->id);
}

static size_t verify_heap_locked(rcgc__heap *heap, const rcgc__heap *self)
{
    rcgc_heap_check("rcgc_verify_heap", heap);
    /* Relaxed, all three: the world is stopped and world.lock held, so each
     * is what its last writer left (statuses and the pending pointer change
     * under world.lock; the gauge's writer is stopped, its token ours). */
    int st = atomic_load_explicit(&heap->status, memory_order_relaxed);
    uint32_t *pending = atomic_load_explicit(&heap->pending, memory_order_relaxed);
    uint32_t gauge = __atomic_load_n(&heap->fast.young_gauge, __ATOMIC_RELAXED);
    if (heap != self && st == RCGC_RUNNING)
        rcgc_fatal("rcgc_verify_heap", NULL, "heap %u is running during a pause", heap->id);
    if ((st == RCGC_DETACHED) != (pending == NULL))
        rcgc_fatal("rcgc_verify_heap", NULL, "heap %u: status %d but pending word %s",
                   heap->id, st, st == RCGC_DETACHED ? "set" : "missing");
    size_t n = 0;
    for (uint32_t i = 0; i < heap->fast.young_n; i++, n++)
        verify_young(heap, i);
    /* C15: the window's objects, exactly as many as its count. The scan
     * reads only this heap's pages, whose owner is stopped. */
    uint32_t wn = 0;
    rcgc_window_scan((rcgc__heap *)heap, verify_window, &wn);
    if (wn != __atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED))
        rcgc_fatal("rcgc_verify_heap", NULL, "heap %u: young window of %u objects, counted %u",
                   heap->id, wn, __atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED));
    n += wn;
    if (heap->fast.young_n != gauge)
        rcgc_fatal("rcgc_verify_heap", NULL, "heap %u: young gauge %u, table %u", heap->id,
                   gauge, heap->fast.young_n);
    pthread_mutex_lock(&heap->qlock);
    rcgc_queue_check("rcgc_verify_heap", heap);
    for (size_t i = 0; i < heap->qn; i++, n++)
        verify_queued(heap, i);
    pthread_mutex_unlock(&heap->qlock);
    return n;
}

size_t rcgc_verify_paused(void)
{
    rcgc__heap *self = rcgc__tls_self.heap;
    size_t n = 0, detached = 0, pooled = 0, heaps = 0;
    pthread_mutex_lock(&rcgc_world.lock);
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
        heaps++;
        /* Another heap's token is free during a pause (S6); ours we hold.
         * Taking it keeps a drainer out while we read the queue. */
        bool take = h != self;
        if (take)
            rcgc_own_take(h);
        n += verify_heap_locked(h, self);
        /* Relaxed: under world.lock. */
        if (atomic_load_explicit(&h->status, memory_order_relaxed) == RCGC_DETACHED)
            detached++;
        if (take)
            rcgc_own_drop(h);
    }
    for (rcgc__heap *h = rcgc_world.free_heaps; h != NULL; h = h->next_free) {
        pooled++;
        /* Relaxed: under world.lock. */
        if (atomic_load_explicit(&h->status, memory_order_relaxed) != RCGC_DETACHED)
            rcgc_fatal("rcgc_verify_heap", NULL, "pooled heap %u is not detached", h->id);
    }
    if (heaps != rcgc_world.nheaps || pooled > detached)
        rcgc_fatal("rcgc_verify_heap", NULL, "%zu heaps listed of %u, %zu pooled, %zu detached",
                   heaps, rcgc_world.nheaps, pooled, detached);
    pthread_mutex_unlock(&rcgc_world.lock);
    return n;
}

size_t rcgc_verify_heap(void)
{
    rcgc__heap *self = rcgc_require_running("rcgc_verify_heap", NULL,
                                            "called inside a blocking region");
    if (self == NULL)
        rcgc_fatal("rcgc_verify_heap", NULL, not_attached);
    rcgc_pause_begin();
    size_t n = rcgc_verify_paused();
    rcgc_pause_end();
    return n;
}

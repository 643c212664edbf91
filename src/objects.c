/* objects.c: allocation and death of managed objects.
 *
 * Purpose: rcgc_alloc builds the hidden header in front of a zeroed
 * payload; rcgc_object_died takes an object whose count reached zero
 * through finalize, destroy, the release of its slots and free, with an
 * explicit worklist instead of recursion so that dropping the head of a
 * ten-million-node chain uses constant C stack.
 *
 * Design: docs/design/objects.md (O1..O7 are cited below).
 */
#include "internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t rcgc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ==================================================================== */
/* Allocation                                                            */
/* ==================================================================== */

/* Zeroes a new payload. A page block holds at least the header plus the
 * payload rounded up to 16 bytes (size classes are multiples of 16), so
 * the payloads of the fast path's blocks (up to RCGC_TAKE_MAX with the
 * header) are cleared with word stores inline, 16 bytes at a time, instead
 * of a memset call for a few bytes; with no call left in it, the fast path
 * of rcgc_alloc saves and restores no registers (O10, O13). Malloc'ed
 * blocks get exactly `size` (ASan checks it). */
static inline void zero_payload(void *p, size_t size, bool from_malloc)
{
    _Static_assert(RCGC_TAKE_MAX - sizeof(rcgc__header) <= 112, "zero_payload's unrolled stores");
    if (!from_malloc && size <= RCGC_TAKE_MAX - sizeof(rcgc__header)) {
        uint64_t *w = p;
        w[0] = 0;
        w[1] = 0;
        if (size > 16) {
            w[2] = 0;
            w[3] = 0;
        }
        if (size > 32) {
            w[4] = 0;
            w[5] = 0;
        }
        if (size > 48) {
            w[6] = 0;
            w[7] = 0;
        }
        if (size > 64) {
            w[8] = 0;
            w[9] = 0;
        }
        if (size > 80) {
            w[10] = 0;
            w[11] = 0;
        }
        if (size > 96) {
            w[12] = 0;
            w[13] = 0;
        }
        return;
    }
    memset(p, 0, size);
}

/* The header bits an object of `type` starts with (O2): live magic, and
 * TRACKED and HOOKS from the type's functions. */
static inline uint32_t type_bits(const rcgc_type *type)
{
    return (RCGC_MAGIC_LIVE << RCGC_MAGIC_SHIFT) |
           (type->traverse != NULL ? RCGC_BIT_TRACKED : 0u) |
           (type->finalize != NULL || type->destroy != NULL ? RCGC_BIT_HOOKS : 0u);
}

/* Writes the header of a new block and zeroes its payload (O1, O2); the
 * caller has made room in the young table when `bits` says TRACKED. */
static inline void *object_init(rcgc__heap *heap, rcgc__header *h, uint16_t type_id,
                                uint32_t bits, size_t size, size_t got, bool from_malloc)
{
    zero_payload(rcgc_payload(h), size, from_malloc);
    /* The owner word with a relaxed store; `shared` of a page's block is
     * kept, as the inline path keeps it: it is zero in a block never used,
     * and holds only what rcgc_load_ref calls counted in the block since
     * its last object died, which they take back from this one
     * (loadref.md, L2). Memory fresh from malloc is reachable by no
     * reader (L3): a plain store. */
    __atomic_store_n(&h->ol, heap->id | RCGC__OL_ONE, __ATOMIC_RELAXED);
    if (from_malloc)
        h->shared = 0;
    h->type_id = type_id;
    /* Relaxed atomic store: a collection on another thread may read the
     * bits of any block in a page, this one included, while it is being
     * made (cycles.md, C3); it only compares them. */
    __atomic_store_n(&h->gc_bits, (uint16_t)(bits | (from_malloc ? RCGC_BIT_MALLOCED : 0u)),
                     __ATOMIC_RELAXED);
    if ((bits & RCGC_BIT_TRACKED) && !from_malloc &&
        heap->fast.window_seq <= RCGC__WINDOW_SEQ_MAX && rcgc_window_holds(heap, h)) {
        /* C15: a block of a page the window lists joins the window, as
         * the inline path's objects do, with its place in the window's
         * allocation order (C13 then orders its edges exactly). */
        rcgc_index_set(h, RCGC__WINDOW_BASE + heap->fast.window_seq++);
        /* Relaxed: the window count is a gauge for other threads. */
        __atomic_store_n(&heap->fast.window_n,
                         __atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELAXED);
    } else if (bits & RCGC_BIT_TRACKED) {
        rcgc_index_set(h, heap->fast.young_n);
        heap->fast.young[heap->fast.young_n++] = h;
        rcgc_young_gauge(heap);
        /* C15: newer than the window's objects: no longer ordered. */
        heap->fast.table_ordered = 0;
    } else {
        rcgc_index_set(h, RCGC_NO_INDEX);
    }
    /* No fence needed to publish the header: the object only reaches
     * another thread through a release (rcgc_store, a queue, a lock) that
     * the receiver pairs with an acquire (O4). */
    rcgc_stat_add_plain(&heap->fast.allocated, 1);
    rcgc_stat_add_plain(&heap->fast.alloc_bytes, got);
    rcgc__tls_self.prev_alloc = rcgc__tls_self.last_alloc; /* C13 */
    rcgc__tls_self.last_alloc = rcgc_payload(h);
    return rcgc_payload(h);
}

/* Whether a young collection is due before the next tracked object
 * (cycles.md, C1, C11): the young objects beyond the aged prefix reach
 * the threshold, scaled by the heap's back-off. */
static inline bool young_due(const rcgc__heap *heap)
{
    /* C15: the new objects of the table and of the window. Relaxed load
     * of window_n: our own gauge. */
    uint64_t fresh = (uint64_t)(heap->fast.young_n - heap->aged_n) +
                     (__atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED) - heap->window_aged);
    return fresh >= ((uint64_t)atomic_load_explicit(&rcgc_world.threshold[0],
                                                    memory_order_relaxed)
                     << heap->young_shift);
}

/* Everything the fast path below does not take: misuse, a safepoint
 * request, a young collection, a page to refill, the young table to grow,
 * large objects, the malloc allocator, fault injection. */
static __attribute__((noinline)) void *alloc_general(const rcgc_type *type, size_t size)
{
    rcgc__heap *heap = rcgc_require_attached_type("rcgc_alloc", type);
    if (heap == NULL) {
        errno = EPERM;
        return NULL;
    }
    if (type == NULL || type->name == NULL) {
        errno = EINVAL;
        return NULL;
    }
    rcgc_safepoint();
    /* C15: a window whose allocation order ran out is closed (once every
     * 2^31 objects the inline path makes). */
    if (heap->fast.window_seq > RCGC__WINDOW_SEQ_MAX)
        rcgc_window_close(heap);
    /* Young collection, at this safepoint, before the new object exists
     * (cycles.md, C1). Not from inside a collection's own reclaim. */
    if (type->traverse != NULL && young_due(heap) &&
        atomic_load_explicit(&rcgc_world.gc_enabled, memory_order_relaxed) && !heap->in_young)
        rcgc_collect_young(heap, false);
    /* O9: the object is an allocation point of its own (a fault injection
     * build can fail it even when no malloc call is made for it). */
    if (size > SIZE_MAX - sizeof(rcgc__header) - 64 || rcgc_fault_fail()) {
        errno = ENOMEM;
        return NULL;
    }
    /* O2: the type's id, registered on first use (ENOMEM once the table
     * holds RCGC_MAX_TYPES descriptors), and into the heap's type cache
     * for the inline path. */
    uint16_t type_id = rcgc_type_register(type);
    if (type_id == 0) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned ts = rcgc__type_slot(type);
    heap->fast.type_key[ts] = type;
    heap->fast.type_id[ts] = type_id;
    if (type->traverse != NULL && heap->fast.young_n == heap->young_cap && !rcgc_young_grow(heap)) {
        errno = ENOMEM;
        return NULL;
    }
    /* O1: header and payload in one block, from the heap's pages (O10) or,
     * for large objects and in sanitizer builds, from malloc; zeroed here
     * (glibc's calloc would bypass its per-thread cache: 15.6 against 8.4
     * ns per pair, bench/bench_fastpath). */
    size_t got;
    bool from_malloc;
    rcgc__header *h = rcgc_block_alloc(heap, sizeof(rcgc__header) + size, &got, &from_malloc);
    if (h == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    return object_init(heap, h, type_id, type_bits(type), size, got, from_malloc);
}

/* O13, C15: the limit below which the inline path may add tracked objects
 * to the young window: while automatic collections are on and none is
 * running, the window count at which young_due becomes true; otherwise no
 * limit but the counter's range. Removals keep it valid (a removal only
 * moves the due count away, or, for an aged window object, lowers the
 * limit with it: rcgc_young_remove_known); anything else that changes the
 * table, the window, the aged counts, the back-off, the threshold or
 * whether collections are on resets it to 0 (rcgc_young_relimit, or the
 * RCGC_PENDING_RELIMIT request for another thread), so that the next
 * allocation of a tracked object comes here and decides again. */
static void young_set_limit(rcgc__heap *heap)
{
    uint64_t lim = UINT32_MAX / 2;
    /* Relaxed loads: tunables, as in young_due. */
    if (atomic_load_explicit(&rcgc_world.gc_enabled, memory_order_relaxed) && !heap->in_young) {
        uint64_t due = (uint64_t)atomic_load_explicit(&rcgc_world.threshold[0],
                                                      memory_order_relaxed)
                       << heap->young_shift;
        uint64_t table_new = heap->fast.young_n - heap->aged_n;
        uint64_t room = due > table_new ? due - table_new : 0;
        if (heap->window_aged + room < lim)
            lim = heap->window_aged + room;
    }
    heap->fast.window_lim = (uint32_t)lim;
}

/* The library's allocation: the inline fast path with a size not known at
 * compile time (its payload cleared here, O13), else alloc_general. Every
 * call of the external rcgc_alloc and every inline rcgc_alloc that could
 * not take its fast path comes here. */
void *rcgc__alloc_general(const rcgc_type *type, size_t size)
{
    void *p = rcgc__alloc_small(type, size);
    if (RCGC__LIKELY(p != NULL)) {
        zero_payload(p, size, false);
        return p;
    }
    p = alloc_general(type, size);
    rcgc__heap *heap = rcgc__tls_self.heap;
    if (p != NULL && heap != NULL)
        young_set_limit(heap);
    return p;
}

/* The external definitions of rcgc/inline.h's C99 inline functions. */
extern void *rcgc_alloc(const rcgc_type *type, size_t size);
extern void *rcgc__alloc_small(const rcgc_type *type, size_t size);

const rcgc_type *rcgc_type_of(const void *obj)
{
    rcgc_check_object("rcgc_type_of", obj);
    return rcgc_type_get(rcgc__hdr(obj));
}

int rcgc_immortalize(void *obj)
{
    if (obj == NULL)
        return EINVAL;
    rcgc_check_object("rcgc_immortalize", obj);
    rcgc__header *h = rcgc__hdr(obj);
    bool owner = rcgc__is_owner(h);
    /* Out of the young table if we hold it; otherwise the owner's young
     * collection keeps it as a root and promotes it (cycles.md, C6). */
    if (owner)
        rcgc_young_remove(rcgc__tls_self.heap, h);
    /* Relaxed OR: immortality only has to be seen by slow paths, which
     * re-read the bit; a count change that races with it is harmless
     * because an immortal object is never freed (refcount.md, R7). */
    __atomic_fetch_or(&h->gc_bits, RCGC_BIT_IMMORTAL, __ATOMIC_RELAXED);
    /* The owner gives up ownership; release: a thread that sees owner 0
     * (and so takes the slow path) also sees the immortal bit set just
     * before. Another thread leaves the owner word alone, since only the
     * owner writes it (R1): the owner keeps counting on its own, which
     * changes nothing, and its count reaching zero finds the bit
     * (rcgc__local_zero, R7). */
    if (owner)
        __atomic_store_n(&h->ol, 0, __ATOMIC_RELEASE);
    return 0;
}

int rcgc_is_immortal(const void *obj)
{
    if (obj == NULL)
        return 0;
    /* Relaxed: a snapshot of a bit that never clears. */
    return (__atomic_load_n(&rcgc__hdr(obj)->gc_bits, __ATOMIC_RELAXED) &
            RCGC_BIT_IMMORTAL) != 0;
}

/* ==================================================================== */
/* Death by count                                                        */
/* ==================================================================== */

/* O6: dead objects wait on the dead list (an array) for the dealloc loop.
 * An object is marked DYING when it dies, so that the background
 * collector, which may still read an old object's counts, leaves it alone
 * from that moment (cycles.md, C4). Release on the bit: pairs with the
 * collector's acquire. */
/* Keeps an object its death brought back (W3) for the calling thread's
 * next dealloc loop. */
static void revived_push(rcgc__header *h, bool finalize, uint32_t bits)
{
    rcgc__heap *self = rcgc__tls_self.heap;
    if (self->revived_n == self->revived_cap) {
        uint32_t cap = self->revived_cap ? self->revived_cap * 2 : 16;
        uintptr_t *a = realloc(self->revived, cap * sizeof *a);
        if (a == NULL)
            /* Out of memory: the object stays alive (its finalizer, if
             * owed, never runs, and it is never freed): a leak, never a
             * premature free. */
            return;
        self->revived = a;
        self->revived_cap = cap;
    }
    bool adopt = (bits & (RCGC_GEN_MASK | RCGC_BIT_TRACKED)) == RCGC_BIT_TRACKED;
    self->revived[self->revived_n++] = (uintptr_t)h | (finalize ? 1u : 0u) | (adopt ? 2u : 0u);
}

void rcgc_dead_push(rcgc__header *h, rcgc_deadvec *list)
{
    /* O6: the list is an array beside the objects; the header's words stay
     * a header (loadref.md, L2). It grows ahead of need: once half full,
     * each push tries to double it, and a failure leaves the free half to
     * later pushes, which try again. */
    if (RCGC__UNLIKELY(list->n >= list->cap / 2)) {
        uint32_t cap = list->cap * 2;
        rcgc__header **v = cap > list->cap ? realloc(list->v, (size_t)cap * sizeof *v) : NULL;
        if (v != NULL) {
            list->v = v;
            list->cap = cap;
        } else if (list->n == list->cap)
            /* Out of memory in cap / 2 growths in a row: the dead object
             * is never deallocated (nor what only it references): a leak,
             * never a premature free, as in revived_push. */
            return;
    }
    list->v[list->n++] = h;
}

/* W3: the death of an object with weak references is decided under the
 * weak-reference lock (DYING is set there). Out of line, so that the
 * common death below saves no registers for it (O12). */
static __attribute__((noinline)) void dead_link_weak(rcgc__header *h, rcgc_deadvec *list,
                                                     uint32_t bits)
{
    int outcome = rcgc_weakref_dying(h);
    if (outcome != RCGC_DEATH_DIES) {
        revived_push(h, outcome == RCGC_DEATH_REVIVED, bits);
        return;
    }
    rcgc_dead_push(h, list);
}

void rcgc_dead_link(rcgc__header *h, rcgc_deadvec *list)
{
    /* Relaxed load: we are the only thread that may write the bits of an
     * object nobody references; it tells which kind of set we may use. */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
    if (bits & RCGC_BIT_HAS_WEAKREFS) {
        dead_link_weak(h, list, bits);
        return;
    } else if ((bits & (RCGC_GEN_MASK | RCGC_BIT_ESCAPED)) == 0)
        /* O11: not old (the collector never reads it), no weak reference
         * (no get reads DYING), never touched by another thread: nobody
         * else reads these bits, so a plain (relaxed) store will do. */
        __atomic_store_n(&h->gc_bits, bits | RCGC_BIT_DYING, __ATOMIC_RELAXED);
    else
        __atomic_fetch_or(&h->gc_bits, RCGC_BIT_DYING, __ATOMIC_RELEASE);
    rcgc_dead_push(h, list);
}

static inline rcgc__header *dead_pop(rcgc__heap *heap)
{
    return heap->dead.n > 0 ? heap->dead.v[--heap->dead.n] : NULL;
}

static void release_slot(void **slot, void *ctx)
{
    (void)ctx;
    /* Exchange (acq_rel): the background collector may be reading this
     * slot of a dying old object (cycles.md, C5). */
    void *v = __atomic_exchange_n(slot, NULL, __ATOMIC_ACQ_REL);
    /* A decref that kills v lands on this heap's dead list, since the
     * dealloc loop is running (O7): no recursion. */
    rcgc_decref(v);
}

/* O11: a slot of a dying object that is not old: no other thread reads
 * it (the collector reads only old objects' slots, C5), so a relaxed load
 * and store replace the exchange. */
static void release_young_slot(void **slot, void *ctx)
{
    (void)ctx;
    void *v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    __atomic_store_n(slot, NULL, __ATOMIC_RELAXED);
    rcgc_decref(v);
}

/* W3: an object brought back at its death, now alive and merged: into
 * generation 1 if it was young (merged objects are not young, C1), and,
 * if its finalizer was claimed, finalized (or queued, on demand) with the
 * reference it was revived with, which is then dropped. */
static void revived_run(rcgc__heap *heap, uintptr_t e)
{
    rcgc__header *h = (rcgc__header *)(e & ~(uintptr_t)3u);
    if (e & 2u)
        rcgc_old_adopt(&h, 1, 1);
    if (!(e & 1u)) {
        /* A cancelled death: drop the entry's pin (W3). */
        rcgc_decref(rcgc_payload(h));
        return;
    }
    if (rcgc_finalize_on_demand() && rcgc_finq_objects(&h, 1) == 0)
        return;
    rcgc_stat_add(&heap->stats.finalized, 1);
    rcgc_type_get(h)->finalize(rcgc_payload(h));
    rcgc_decref(rcgc_payload(h));
}

static inline void object_free(rcgc__heap *self, rcgc__header *h);
static inline size_t object_release(rcgc__heap *self, rcgc__header *h);
static inline size_t object_release_bits(rcgc__heap *self, rcgc__header *h, uint32_t bits);

/* O12: a slot of a dying object that dies the plain way (below). As
 * release_young_slot, and the owner's decrement of the value is done here:
 * when it takes a plain object to zero, the object goes straight onto the
 * dead list, without the calls of rcgc__local_zero and rcgc_object_died
 * (the dealloc loop is running, so they would only link it). Anything
 * else takes the general paths. An object dies the plain way when it is
 * not old, never touched by another thread, has no weak reference, and
 * its type has neither finalize nor destroy (HOOKS, set at allocation
 * from the type, which may not change while objects of it live). */
static inline bool plain_death(uint32_t bits)
{
    /* IMMORTAL: an object another thread made immortal keeps its owner,
     * whose count may reach zero; rcgc__local_zero then leaves it be. */
    return !(bits & (RCGC_GEN_MASK | RCGC_BIT_ESCAPED | RCGC_BIT_HAS_WEAKREFS | RCGC_BIT_HOOKS |
                     RCGC_BIT_IMMORTAL));
}

static void release_plain_slot(void **slot, void *ctx)
{
    rcgc__heap *heap = ctx;
    /* Relaxed load: a slot of an object that is not old, as in
     * release_young_slot (O11): no other thread reads it. Nor is it
     * cleared: the object is freed as soon as its traverse returns, and
     * nothing on the way reads it (O12). */
    void *v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (v == NULL)
        return;
    rcgc__header *h = rcgc__hdr(v);
    /* Relaxed: the owner field, as in rcgc_decref; `local` is ours. */
    uint32_t w = __atomic_load_n(&h->ol, __ATOMIC_RELAXED);
    if ((w & RCGC__OL_OWNER) != heap->id) {
        rcgc_decref(v);
        return;
    }
    uint32_t n = w - RCGC__OL_ONE;
    __atomic_store_n(&h->ol, n, __ATOMIC_RELAXED);
    if (rcgc_local_count(n) != 0)
        return;
    /* Acquire on `shared`, first: as in rcgc__local_zero, we see the
     * writes of every thread whose decrement we see, among them the
     * ESCAPED it set before counting the object (C6), which the relaxed
     * load of the bits that follows therefore cannot miss. */
    if (__atomic_load_n(&h->shared, __ATOMIC_ACQUIRE) != 0) {
        rcgc__local_zero(v);
        return;
    }
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
    if ((bits >> RCGC_MAGIC_SHIFT) == RCGC_MAGIC_LIVE && plain_death(bits)) {
        /* Dead: the same steps as rcgc__local_zero's, then
         * rcgc_dead_link's for a plain object (O11). */
        if (bits & RCGC_BIT_TRACKED) /* and not old: young */
            rcgc_young_remove_known(heap, h);
        /* Relaxed: O11's plain store of DYING (nobody else reads or
         * writes the bits of a plain dead object). */
        __atomic_store_n(&h->gc_bits, bits | RCGC_BIT_DYING, __ATOMIC_RELAXED);
        rcgc_dead_push(h, &heap->dead);
        return;
    }
    rcgc__local_zero(v);
}

/* Runs the dealloc loop on `heap` (the calling thread's) until its dead
 * list is empty. Returns the number of objects freed. */
static size_t dealloc_loop(rcgc__heap *heap)
{
    size_t freed = 0;
    if (heap->in_dealloc)
        return 0; /* the outer loop will get to it (O7) */
    heap->in_dealloc = true;
    size_t plain_n = 0, plain_bytes = 0;
    rcgc__header *h;
    for (;;) {
        if ((h = dead_pop(heap)) == NULL) {
            if (heap->revived_n == 0)
                break;
            revived_run(heap, heap->revived[--heap->revived_n]);
            continue;
        }
        if (rcgc_internal_checks())
            rcgc_dying_check("rcgc (dealloc)", h);
        const rcgc_type *type = rcgc_type_get(h);
        void *obj = rcgc_payload(h);
        /* DYING was set when it died (rcgc_dead_link). */
        uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE);
        if (plain_death(bits)) {
            /* O12: not old, never touched by another thread, no weak
             * reference, nothing to run: release the slots and free. */
            if (type->traverse != NULL)
                type->traverse(obj, release_plain_slot, heap);
            /* Counted in the statistics once, when the loop ends. The
             * bits read above still hold: nobody else writes those of a
             * plain dead object (O11). */
            plain_bytes += object_release_bits(heap, h, bits);
            plain_n++;
            freed++;
            continue;
        }
        /* Weak references (weakref-finalize.md, W3): a get that counted the
         * object after its count reached zero cancels the death; on the
         * final death the weak references are cleared and their callbacks
         * run, before destroy. */
        if ((bits & RCGC_BIT_HAS_WEAKREFS) &&
            (type->finalize == NULL || (bits & RCGC_BIT_FINALIZED)))
            rcgc_weakref_death(h);
        if (type->finalize != NULL && !(bits & RCGC_BIT_FINALIZED) &&
            !(__atomic_fetch_or(&h->gc_bits, RCGC_BIT_FINALIZED, __ATOMIC_ACQ_REL) &
              RCGC_BIT_FINALIZED)) {
            /* O3: finalize once per object (the fetch_or decides, against a
             * collector finalizing the same object), with the object alive
             * again and owned by this thread holding one reference; dropping
             * that reference afterwards either kills it for good (FINALIZED
             * is set, so no second finalize) or leaves it resurrected. */
            __atomic_fetch_and(&h->gc_bits, (uint16_t)~RCGC_BIT_DYING, __ATOMIC_RELEASE);
            __atomic_store_n(&h->ol, heap->id | RCGC__OL_ONE, __ATOMIC_RELAXED);
            /* The word is exactly MERGED (a merged death) or zero (the
             * owner's): clear MERGED and keep the count part, zero here,
             * so that the word is only ever changed by read-modify-writes
             * while the block may be counted (loadref.md, L2). Relaxed:
             * nobody else can see the object until finalize publishes
             * it, and that publication is a release. */
            __atomic_fetch_and(&h->shared, ~(int32_t)RCGC__SHARED_MERGED, __ATOMIC_RELAXED);
            /* A young object left its table when it died: it comes back
             * to this thread's young generation (C1), with its old edges,
             * so the next young collections are not skipped (C13). */
            if ((bits & (RCGC_GEN_MASK | RCGC_BIT_TRACKED)) == RCGC_BIT_TRACKED) {
                rcgc__tls_self.young_upward |= RCGC__EDGE_ANY;
                if (rcgc_young_add(heap, h) != 0)
                    rcgc_old_adopt(&h, 1, 1);
            }
            /* On demand (W8): the reference this thread now holds goes
             * to the queue with our claim, and the finalizer runs in
             * rcgc_run_finalizers (if it cannot be queued it runs here,
             * rather than never). */
            if (rcgc_finalize_on_demand() && rcgc_finq_objects(&h, 1) == 0)
                continue;
            rcgc_stat_add(&heap->stats.finalized, 1);
            type->finalize(obj);
            rcgc_decref(obj);
            continue;
        }
        if (type->destroy != NULL)
            type->destroy(obj);
        if (type->traverse != NULL)
            type->traverse(obj, (bits & RCGC_GEN_MASK) ? release_slot : release_young_slot, NULL);
        if ((bits & RCGC_BIT_TRACKED) && (bits & RCGC_GEN_MASK) != 0) {
            /* An old object: its table belongs to the collector, which
             * removes and frees it (C1). */
            rcgc_old_dead(h);
            continue;
        }
        object_free(heap, h);
        freed++;
    }
    heap->in_dealloc = false;
    if (plain_n > 0) {
        rcgc_stat_add(&heap->stats.freed, plain_n);
        rcgc_stat_add(&heap->stats.freed_bytes, plain_bytes);
    }
    return freed;
}

/* Counts and frees a dead object's memory: to its page (O10) or to
 * malloc. `self`: the calling thread's heap (NULL: no statistics). */
void rcgc_object_free(rcgc__heap *self, rcgc__header *h)
{
    object_free(self, h);
}

/* Poisons a dead object and frees its memory: to its page (O10) or to
 * malloc. Returns the bytes it took, for the statistics, which are the
 * caller's to count. Inline in the dealloc loop (O12). */
static inline size_t object_release(rcgc__heap *self, rcgc__header *h)
{
    /* Relaxed: nobody else can reach a dead object. */
    return object_release_bits(self, h, __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED));
}

/* The same, with the dead object's bits already read. */
static inline size_t object_release_bits(rcgc__heap *self, rcgc__header *h, uint32_t bits)
{
    bool mallocd = (bits & RCGC_BIT_MALLOCED) != 0;
    size_t bytes = mallocd ? malloc_usable_size(h) : rcgc_block_size(h, false);
    /* Poison the magic so a use after death is caught by the api checks
     * while the memory is not yet reused (best effort; the ASan build
     * catches every case). Relaxed: as above. */
    __atomic_store_n(&h->gc_bits, RCGC_MAGIC_DEAD << RCGC_MAGIC_SHIFT, __ATOMIC_RELAXED);
    /* And no owner, so that the owner's inline fast paths do not take a
     * freed object for theirs: they go to the checked paths instead. The
     * free-list link used to overwrite the field, but a page whose blocks
     * are all free is reset without links (O10). Relaxed: as above. */
    __atomic_store_n(&h->ol, 0, __ATOMIC_RELAXED);
    if (mallocd) {
        free(h);
    } else {
        /* L2 (loadref.md): the block's `shared` word outlives the object.
         * A merged death left it exactly MERGED, which no increment may
         * change: back to zero for the next object. Any other word (the
         * owner's death at zero) is kept as it is. Relaxed: as above. */
        if (__atomic_load_n(&h->shared, __ATOMIC_RELAXED) & RCGC__SHARED_MERGED)
            __atomic_store_n(&h->shared, 0, __ATOMIC_RELAXED);
        rcgc_block_free(self, h);
    }
    return bytes;
}

static inline void object_free(rcgc__heap *self, rcgc__header *h)
{
    size_t bytes = object_release(self, h);
    if (self != NULL) {
        rcgc_stat_add(&self->stats.freed, 1);
        rcgc_stat_add(&self->stats.freed_bytes, bytes);
    }
}

void rcgc_object_died(rcgc__heap *heap, rcgc__header *h)
{
    rcgc_dead_link(h, &heap->dead);
    dealloc_loop(heap);
}

size_t rcgc_dealloc_run(rcgc__heap *heap)
{
    return dealloc_loop(heap);
}

/* rcgc/inline.h: the object header and the inline fast paths.
 *
 * Purpose: incref, decref, store, load and the safepoint poll are called
 * millions of times a second by a language runtime, so their common case
 * lives here, inline, with no function call: the owner thread's counts are a
 * plain increment or decrement, the safepoint poll is one thread-local load
 * and a branch. Everything uncommon goes to an out-of-line `rcgc__*` slow
 * path in the library.
 *
 * Nothing in this file is part of the public API: the names starting with
 * `rcgc__` (two underscores) may change in any release. Include <rcgc.h>,
 * never this file directly.
 *
 * Design: docs/design/objects.md (header layout), docs/design/refcount.md
 * (biased counting), docs/design/safepoints.md (the poll).
 */
#ifndef RCGC_INLINE_H
#define RCGC_INLINE_H

#ifndef RCGC_H
#error "include <rcgc.h>, not <rcgc/inline.h>"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RCGC__LIKELY(x) __builtin_expect(!!(x), 1)
#define RCGC__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RCGC__TLS_IE __attribute__((tls_model("initial-exec")))
/* The fast paths are inline even where the caller's optimiser would not
 * inline functions of their size (at -O2, GCC called rcgc_store,
 * rcgc_decref and the allocation path in binary-trees' recursive make). */
#define RCGC__ALWAYS_INLINE __attribute__((always_inline))
#else
#error "rcgc needs GCC or Clang (C11 atomics, __atomic builtins, TLS models)"
#endif

/* Atomicity: the fields marked atomic below are plain integers that are only
 * ever accessed with the GCC/Clang __atomic builtins (the C11 memory model,
 * usable from C and C++ alike, which the benchmark harness needs); every such
 * access states its memory order and why.
 *
 * The hidden pre-header, 16 bytes, sitting right before every payload
 * (docs/design/objects.md, O2). The payload stays 16-byte aligned because
 * the header is 16 bytes; a 16-byte payload makes a 32-byte block. */
typedef struct rcgc__header {
    /* The owner word: the owning heap's id in the low 16 bits (a thread's
     * heap, 1 .. RCGC__MAX_HEAPS; 0 once the counts are merged into
     * `shared`, or once the owner made the object immortal), and the
     * owner's count in the high 16: 15 bits of count (RCGC__LOCAL_COUNT)
     * and RCGC__LOCAL_STORED, set when the owner stored the object into a
     * slot (objects.md, O14). One 32-bit word, always accessed whole: the
     * owner's increment and decrement are a load and a store of it, which
     * the processor forwards from store to load at no cost (16-bit halves
     * were not: 4.6 against 0.6 ns per pair, objects.md O2). Written only
     * by the thread holding the owning heap's token (refcount.md, R1, R3),
     * read by every thread (the owner id, relaxed: a stale value is
     * harmless, R3) and by the background collector (the count, for its
     * estimate, C4): relaxed atomics. When the count would wrap, half of it
     * moves to `shared` (R10). */
    uint32_t ol;
    /* Shared count times 4, plus RCGC__SHARED_MERGED (bit 1) and
     * RCGC__SHARED_QUEUED (bit 0). Atomic: every non-owner counts here.
     * A count past RCGC__SHARED_HIGH makes the object immortal (R10). */
    int32_t shared;
    /* Collector bits: flags and, in the top four bits, the magic
     * (RCGC_BIT_* in src/internal.h). */
    uint16_t gc_bits;
    /* The object's type, as its index in the library's type table (O2):
     * rcgc_type_of gives the descriptor back. Written once at allocation. */
    uint16_t type_id;
    /* Index of the object in its generation's table (cycles.md, C1, C3);
     * relaxed atomics (objects.md, O2). */
    uint32_t gc_index;
} rcgc__header;

/* `shared` flags (refcount.md). */
#define RCGC__SHARED_QUEUED 1
#define RCGC__SHARED_MERGED 2
#define RCGC__SHARED_ONE 4
/* A non-owner increment that finds the shared word at or above this calls
 * rcgc__shared_high, which makes the object immortal long before the word
 * could wrap (refcount.md, R10). */
#define RCGC__SHARED_HIGH (1 << 29)
/* The owner word's parts: the owner id in the low half, the local part
 * (count and STORED, O14, R10) in the high half. */
#define RCGC__OL_OWNER 0xFFFFu
#define RCGC__OL_ONE 0x10000u
#define RCGC__LOCAL_COUNT 0x7FFF
#define RCGC__LOCAL_STORED 0x8000
/* Half of the count part: what the owner keeps when it overflows (R10). */
#define RCGC__LOCAL_HALF 0x4000
/* gc_index of a young object in its heap's window, in no table (C15):
 * RCGC__WINDOW_BASE plus its place in the window's allocation order, at
 * most RCGC__WINDOW_SEQ_MAX. Table indices stay below the base; 0xFFFFFFFF
 * is RCGC_NO_INDEX. */
#define RCGC__WINDOW_BASE 0x80000000u
#define RCGC__WINDOW_SEQ_MAX 0x7FFFFFFEu
/* Heap ids fit the header's 16-bit owner field; 0xFFFF is never one. */
#define RCGC__MAX_HEAPS 65534

/* Per-thread block. `heap_id` is the id the owner field is compared with:
 * RCGC__NO_HEAP in a thread that is not attached, so an unattached thread
 * never takes the owner's fast path and its slow path can report misuse.
 * `pending` is non-zero when the thread has to take the safepoint slow path
 * (a stop-the-world request, a merge queue to drain, a quiescent state to
 * report). Set by other threads (relaxed atomic OR through a pointer
 * published at attach, see safepoints.md S2), cleared by the thread itself.
 * initial-exec TLS: one %fs-relative load, no __tls_get_addr call; the
 * library must therefore not be dlopen()ed after start-up by a process that
 * has exhausted glibc's static TLS reserve (it is small: 32 bytes). */
typedef struct rcgc__tls {
    uint32_t heap_id;
    uint32_t pending;
    struct rcgc__heap *heap;
    /* The thread's latest two rcgc_alloc results (the latest first), and
     * the kinds of edges its stores made among its young objects since its
     * last young collection and since its last full one (RCGC__EDGE_*;
     * cycles.md, C13). The thread's own. */
    const void *last_alloc;
    const void *prev_alloc;
    uint32_t young_upward;
} rcgc__tls;

#define RCGC__NO_HEAP UINT32_MAX

/* rcgc__tls.young_upward (cycles.md, C13): for each of the two windows
 * (since the last young collection, since the last full one), whether a
 * store made an edge from the thread's latest allocation to an older
 * object (DOWN), from an older object to the latest allocation (UP), or
 * one it could not order (ANY). Edges of one direction only cannot close
 * a cycle. */
enum {
    RCGC__EDGE_ANY = 0x3,
    RCGC__EDGE_DOWN = 0xC,
    RCGC__EDGE_UP = 0x30,
};

extern __thread rcgc__tls rcgc__tls_self RCGC__TLS_IE;

/* The gc_bits the inline non-owner paths test (the same values as the
 * RCGC_BIT_* constants of src/internal.h, which asserts they agree). */
enum {
    RCGC__GEN_MASK = 0x3,
    RCGC__BIT_TRACKED = 0x4,
    RCGC__BIT_IMMORTAL = 0x10,
    RCGC__BIT_HOOKS = 0x400,
    RCGC__BIT_HAS_WEAKREFS = 0x200,
    RCGC__BIT_ESCAPED = 0x20,
    RCGC__BIT_DYING = 0x40,
    RCGC__MAGIC_SHIFT = 12,
    RCGC__MAGIC_LIVE = 0xA,
};

/* The allocation fast path's view of a page of small blocks and of a heap
 * (objects.md, O13). src/alloc.c's page and src/internal.h's heap begin
 * with these, so the inline rcgc_alloc below can take a block and record
 * the object without a call. Every field belongs to the holder of the
 * heap's token (its running thread), except those marked otherwise. */
typedef struct rcgc__page_fast {
    void *free;    /* the page's free blocks, linked through the word after the header */
    char *bump;    /* its never-used tail, from bump to end */
    char *end;
    uint32_t used; /* blocks handed out and not freed locally */
    uint32_t size; /* block size, header included */
} rcgc__page_fast;

/* Payloads of at most RCGC__FAST_MAX bytes come from the fast classes:
 * blocks of 32, 48, ..., 128 bytes (the header included). The type cache
 * has RCGC__TYPE_CACHE entries. */
enum { RCGC__FAST_CLASSES = 7, RCGC__FAST_MAX = 112, RCGC__TYPE_CACHE = 16 };

typedef struct rcgc__heap_fast {
    /* Each fast class's current page, as published for the inline path;
     * NULL sends every allocation of the class to the library (a build
     * that allocates with malloc, fault injection, no page yet). */
    rcgc__page_fast *cur[RCGC__FAST_CLASSES];
    /* The young table (cycles.md, C1): young[0 .. young_n). */
    struct rcgc__header **young;
    uint32_t young_n;
    /* young_n as other threads may read it (relaxed atomic stores). */
    uint32_t young_gauge;
    /* The young window (cycles.md, C15): tracked objects the inline path
     * made since the window opened and that are still young and in no
     * table (a gc_index from RCGC__WINDOW_BASE). Token holder; relaxed atomic
     * accesses, since rcgc_get_count reads it on other threads. */
    uint32_t window_n;
    /* The inline path adds a tracked object only while window_n <
     * window_lim: the library keeps it at most the count at which the
     * next young collection is due (O13), and sets it to 0 whenever it
     * must decide again. */
    uint32_t window_lim;
    /* The next object's place in the window's allocation order (C15);
     * the window is closed before it passes RCGC__WINDOW_SEQ_MAX. */
    uint32_t window_seq;
    /* C13, C15: 1 while every young object in the table is older than
     * every object in the window (the table was last filled by closing
     * the window); 0 once the library entered a young object into the
     * table otherwise (a malloc'd object, a revived one). */
    uint8_t table_ordered;
    /* Between rcgc_blocking_begin and rcgc_blocking_end. */
    uint8_t in_blocking;
    /* Objects and bytes allocated: statistics with one writer, read by
     * rcgc_get_stats on any thread (relaxed atomic loads and stores). */
    uint64_t allocated;
    uint64_t alloc_bytes;
    /* The type cache (O2): type descriptors this heap allocated and their
     * ids in the library's type table, direct-mapped by rcgc__type_slot.
     * A descriptor's id never changes (the table is keyed by address), so
     * an entry never goes stale. */
    const struct rcgc_type *type_key[RCGC__TYPE_CACHE];
    uint16_t type_id[RCGC__TYPE_CACHE];
} rcgc__heap_fast;

/* A type descriptor's entry in the type cache. */
static inline unsigned rcgc__type_slot(const struct rcgc_type *type)
{
    return (unsigned)((uintptr_t)type >> 5) & (RCGC__TYPE_CACHE - 1);
}

/* Out-of-line slow paths (src/refcount.c, src/safepoint.c, src/objects.c). */
void *rcgc__alloc_general(const struct rcgc_type *type, size_t size);
void rcgc__shared_high(void *obj);
void rcgc__incref_slow(void *obj);
void rcgc__decref_slow(void *obj);
void rcgc__local_overflow(void *obj);
void rcgc__local_zero(void *obj);
void rcgc__safepoint_slow(void);

static inline RCGC__ALWAYS_INLINE rcgc__header *rcgc__hdr(const void *obj)
{
    return (rcgc__header *)((char *)(uintptr_t)obj - sizeof(rcgc__header));
}

/* Owner check. Relaxed: the owner field only changes from the caller's own
 * id to 0 by the caller itself, by someone holding the caller's heap lock
 * (which the caller owns while running), or by rcgc_immortalize, after
 * which both paths treat the object the same (refcount.md, R3). */
static inline RCGC__ALWAYS_INLINE int rcgc__is_owner(const rcgc__header *h)
{
    return (__atomic_load_n(&h->ol, __ATOMIC_RELAXED) & RCGC__OL_OWNER) ==
           rcgc__tls_self.heap_id;
}

/* Whether a gc_index is a place in its heap's young window (C15). */
static inline RCGC__ALWAYS_INLINE int rcgc__in_window(uint32_t i)
{
    return i >= RCGC__WINDOW_BASE && i != UINT32_MAX;
}

/* The count part of an owner word. */
static inline RCGC__ALWAYS_INLINE uint32_t rcgc__ol_count(uint32_t w)
{
    return (w >> 16) & RCGC__LOCAL_COUNT;
}

/* refcount.md R9: whether a non-owner may count on `shared` inline: the
 * caller is attached, obj looks like a live rcgc object (the api checks of
 * the slow path: alignment and the header's magic), it is neither immortal
 * nor dying, and it is not a young object that still has to be marked
 * ESCAPED (cycles.md C6). Anything else takes the slow path, which counts
 * the same way after its checks. Acquire load of the bits, as the slow
 * path's: pairs with the release that set DYING or ESCAPED. */
static inline RCGC__ALWAYS_INLINE int rcgc__nonowner_inline(const void *obj, const rcgc__header *h)
{
    unsigned bits = __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE);
    return rcgc__tls_self.heap_id != RCGC__NO_HEAP && ((uintptr_t)obj & 15u) == 0 &&
           (bits >> RCGC__MAGIC_SHIFT) == RCGC__MAGIC_LIVE &&
           !(bits & (RCGC__BIT_IMMORTAL | RCGC__BIT_DYING)) &&
           (bits & (RCGC__GEN_MASK | RCGC__BIT_TRACKED | RCGC__BIT_ESCAPED)) != RCGC__BIT_TRACKED;
}

/* O13: the allocation fast path, or NULL when it cannot be taken (the
 * caller then goes to rcgc__alloc_general, which decides everything again
 * with its checks and diagnostics). Taken when the thread is attached and
 * outside a blocking region, nothing is asked of it at a safepoint, the
 * type is valid and in the heap's type cache, the payload fits a fast
 * class whose current page has a block, and, for a tracked type, no
 * young collection is due. A tracked object joins the heap's young
 * window, not its table (cycles.md C15). The payload is not cleared here. C99 inline, as
 * rcgc_alloc below (an inline definition may call only functions with
 * external linkage); the library emits and exports its definition. */
inline RCGC__ALWAYS_INLINE void *rcgc__alloc_small(const struct rcgc_type *type, size_t size)
{
    rcgc__tls *t = &rcgc__tls_self;
    rcgc__heap_fast *hp = (rcgc__heap_fast *)(void *)t->heap;
    if (size > RCGC__FAST_MAX || hp == NULL || type == NULL || type->name == NULL)
        return NULL;
    size_t cls = size <= 16 ? 0 : (size - 1) >> 4;
    uint32_t bsize = 32 + 16 * (uint32_t)cls;
    rcgc__page_fast *pg = hp->cur[cls];
    /* rcgc__type_slot(type), which this C99 inline definition may not call
     * (it has internal linkage). */
    unsigned ts = (unsigned)((uintptr_t)type >> 5) & (RCGC__TYPE_CACHE - 1);
    int tracked = type->traverse != NULL;
    /* Relaxed load of `pending`: as rcgc_safepoint's poll (S2). */
    if (pg == NULL || hp->type_key[ts] != type ||
        (__atomic_load_n(&t->pending, __ATOMIC_RELAXED) | hp->in_blocking) != 0)
        return NULL;
    uint32_t n = __atomic_load_n(&hp->window_n, __ATOMIC_RELAXED);
    uint32_t seq = hp->window_seq;
    if (tracked && (n >= hp->window_lim || seq > RCGC__WINDOW_SEQ_MAX))
        return NULL;
    char *b = (char *)pg->free;
    if (b != NULL) {
        /* The free-list link sits after the header (loadref.md, L1). */
        pg->free = *(void **)(void *)(b + sizeof(rcgc__header));
    } else {
        b = pg->bump;
        if (b + bsize > pg->end)
            return NULL;
        pg->bump = b + bsize;
    }
    pg->used++;
    /* The header (objects.md, O1, O2): the type with a plain store, as
     * nobody else reads it before the object is published (O4); gc_bits
     * and gc_index with relaxed atomic stores, because a collection on
     * another thread may read them in any block of a page (cycles.md, C3). */
    rcgc__header *h = (rcgc__header *)(void *)b;
    /* The owner word with a relaxed store, and `shared` not at all: a
     * rcgc_load_ref on another thread may read the first or count the
     * second in a block it found in a slot before the block was freed and
     * taken again (loadref.md, L2: what it counted belongs to this new
     * object, and it takes it back). */
    __atomic_store_n(&h->ol, t->heap_id | RCGC__OL_ONE, __ATOMIC_RELAXED);
    h->type_id = hp->type_id[ts];
    uint16_t bits = (uint16_t)(((unsigned)RCGC__MAGIC_LIVE << RCGC__MAGIC_SHIFT) |
                               (tracked ? (unsigned)RCGC__BIT_TRACKED : 0u) |
                               (type->finalize != NULL || type->destroy != NULL
                                    ? (unsigned)RCGC__BIT_HOOKS
                                    : 0u));
    __atomic_store_n(&h->gc_bits, bits, __ATOMIC_RELAXED);
    if (tracked) {
        /* C15: young, in the window (its page is listed there), with its
         * place in the window's allocation order. Relaxed store of the
         * count: read as a gauge on other threads. */
        __atomic_store_n(&h->gc_index, RCGC__WINDOW_BASE + seq, __ATOMIC_RELAXED);
        hp->window_seq = seq + 1;
        __atomic_store_n(&hp->window_n, n + 1, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(&h->gc_index, UINT32_MAX, __ATOMIC_RELAXED);
    }
    /* Single writer: a relaxed load and store, not a locked add. */
    __atomic_store_n(&hp->allocated, __atomic_load_n(&hp->allocated, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
    __atomic_store_n(&hp->alloc_bytes,
                     __atomic_load_n(&hp->alloc_bytes, __ATOMIC_RELAXED) + bsize,
                     __ATOMIC_RELAXED);
    void *p = b + sizeof(rcgc__header);
    /* C13: the latest two allocations. */
    t->prev_alloc = t->last_alloc;
    t->last_alloc = p;
    return p;
}

/* C99 inline definition: callers get the fast path inline, and the
 * library emits the one external definition of rcgc_alloc (objects.c).
 * A payload size known at compile time makes the class, the block size
 * and the clearing constants; any other size goes to the library, whose
 * own fast path is the same. */
inline RCGC__ALWAYS_INLINE void *rcgc_alloc(const struct rcgc_type *type, size_t size)
{
    if (__builtin_constant_p(size) && size <= RCGC__FAST_MAX) {
        void *p = rcgc__alloc_small(type, size);
        if (RCGC__LIKELY(p != NULL)) {
            __builtin_memset(p, 0, size);
            return p;
        }
    }
    return rcgc__alloc_general(type, size);
}

/* The owner's increment of obj, whose owner word w names the caller:
 * `stored` (0 or RCGC__LOCAL_STORED << 16, a constant at every call) is
 * ORed into the word with it (O14). Owner-only word (refcount.md, R1): a
 * relaxed load and store, not a locked add; atomic only because other
 * threads read it (the owner id, the collector's estimate, C4). A count
 * that would wrap past 2^15 - 1 goes to rcgc__local_overflow, unchanged:
 * half of the references move to the shared count (R10), and the word
 * is read again for the bit. */
static inline RCGC__ALWAYS_INLINE void rcgc__owner_incref(void *obj, rcgc__header *h, uint32_t w,
                                                          uint32_t stored)
{
    uint32_t n = w + RCGC__OL_ONE;
    if (RCGC__UNLIKELY(rcgc__ol_count(n) == 0)) {
        rcgc__local_overflow(obj);
        if (stored == 0)
            return;
        n = __atomic_load_n(&h->ol, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&h->ol, n | stored, __ATOMIC_RELAXED);
}

static inline RCGC__ALWAYS_INLINE void rcgc_incref(void *obj)
{
    if (obj == NULL)
        return;
    rcgc__header *h = rcgc__hdr(obj);
    /* Relaxed: the owner id, as rcgc__is_owner. */
    uint32_t w = __atomic_load_n(&h->ol, __ATOMIC_RELAXED);
    if (RCGC__LIKELY((w & RCGC__OL_OWNER) == rcgc__tls_self.heap_id)) {
        rcgc__owner_incref(obj, h, w, 0);
        return;
    }
    if (RCGC__LIKELY(rcgc__nonowner_inline(obj, h))) {
        /* R9. Relaxed: an increment by a holder of a reference needs no
         * ordering; the object cannot die meanwhile (R7). R10: a count
         * that grew past RCGC__SHARED_HIGH makes the object immortal. */
        int32_t old = __atomic_fetch_add(&h->shared, RCGC__SHARED_ONE, __ATOMIC_RELAXED);
        if (RCGC__UNLIKELY(old >= RCGC__SHARED_HIGH))
            rcgc__shared_high(obj);
        return;
    }
    rcgc__incref_slow(obj);
}

static inline RCGC__ALWAYS_INLINE void rcgc_decref(void *obj)
{
    if (obj == NULL)
        return;
    rcgc__header *h = rcgc__hdr(obj);
    /* Relaxed: as in rcgc_incref. */
    uint32_t w = __atomic_load_n(&h->ol, __ATOMIC_RELAXED);
    if (RCGC__LIKELY((w & RCGC__OL_OWNER) == rcgc__tls_self.heap_id)) {
        /* An owned object always has a count >= 1 (the merge at zero gives
         * up ownership), so this cannot borrow from the owner id
         * (refcount.md, R2). Relaxed load and store, as in rcgc_incref. */
        uint32_t n = w - RCGC__OL_ONE;
        __atomic_store_n(&h->ol, n, __ATOMIC_RELAXED);
        if (RCGC__UNLIKELY(rcgc__ol_count(n) == 0))
            rcgc__local_zero(obj);
        return;
    }
    if (RCGC__LIKELY(rcgc__nonowner_inline(obj, h))) {
        /* R9: a decrement that leaves the shared count at least 1 (merged)
         * or at least 0 (not merged) neither kills nor queues the object,
         * and needs no owner id: one CAS, as in the slow path. acq_rel:
         * our writes to the object happen before whoever frees it (the
         * slow path's argument). Relaxed load: the CAS checks it. */
        int32_t v = __atomic_load_n(&h->shared, __ATOMIC_RELAXED);
        int32_t nv = v - RCGC__SHARED_ONE;
        if ((nv >> 2) >= ((v & RCGC__SHARED_MERGED) ? 1 : 0) &&
            __atomic_compare_exchange_n(&h->shared, &v, nv, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return;
    }
    rcgc__decref_slow(obj);
}

static inline RCGC__ALWAYS_INLINE void *rcgc_load(void *const *slot)
{
    /* Acquire: pairs with the release in rcgc_store, so the loaded object's
     * initialised payload is visible to the reader (objects.md, O4). */
    return __atomic_load_n((void *const *)slot, __ATOMIC_ACQUIRE);
}

/* O14: whether the calling thread may store into obj's slots with a load
 * and a store instead of the exchange: it owns obj, its own count is 1
 * and it never stored obj into a slot (`local` is exactly 1), no other
 * thread counts it (`shared` is 0: neither counted, queued nor merged),
 * and obj is young, never touched by another thread and without weak
 * references. The reference the caller uses is then the only one there
 * is, and no slot ever held obj, so no other thread can hold a reference
 * to it, counted or borrowed (rcgc_load), and none can store into it.
 * Acquire on `shared`: a merge that brought the count back to one (a
 * reference handed to another thread and dropped there) made that
 * thread's ESCAPED or weak reference, set before its decrement, visible
 * to the load of the bits. */
static inline RCGC__ALWAYS_INLINE int rcgc__private_store(const rcgc__header *h)
{
    return __atomic_load_n(&h->ol, __ATOMIC_RELAXED) ==
               (rcgc__tls_self.heap_id | RCGC__OL_ONE) &&
           __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE) == 0 &&
           (__atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED) &
            (RCGC__GEN_MASK | RCGC__BIT_ESCAPED | RCGC__BIT_HAS_WEAKREFS)) == 0;
}

/* rcgc_store's new reference to value: rcgc_incref, and, on the owner's
 * path, RCGC__LOCAL_STORED set in the same store (O14). */
static inline RCGC__ALWAYS_INLINE void rcgc__incref_stored(void *value)
{
    if (value == NULL)
        return;
    rcgc__header *h = rcgc__hdr(value);
    /* Relaxed: as in rcgc_incref, whose owner path this is (R1, R10). */
    uint32_t w = __atomic_load_n(&h->ol, __ATOMIC_RELAXED);
    if (RCGC__LIKELY((w & RCGC__OL_OWNER) == rcgc__tls_self.heap_id)) {
        rcgc__owner_incref(value, h, w, (uint32_t)RCGC__LOCAL_STORED << 16);
        return;
    }
    rcgc_incref(value);
}

/* C13, C15: the direction of the edge obj -> value in allocation order,
 * as one of RCGC__EDGE_*, for the calling thread's young collections.
 * When both ends are the thread's own objects in its window, their places
 * in it tell exactly (value newer: up; older: down; the same object:
 * any). When one is in the window and the other the thread's own object
 * outside it: an old object is in no cycle a young collection can find,
 * so the edge sets nothing; a young one in the table is older than every
 * window object while the heap's table_ordered says so. Otherwise the
 * thread's latest two allocations tell when one of them is an end: the
 * latest is newer than everything else, the one before it newer than
 * everything but the latest. Any other edge may be either. */
static inline RCGC__ALWAYS_INLINE uint32_t rcgc__edge(void *obj, void *value)
{
    const rcgc__header *oh = rcgc__hdr(obj), *vh = rcgc__hdr(value);
    uint32_t id = rcgc__tls_self.heap_id;
    /* Relaxed loads: our own objects' indices and bits (a young object's
     * index and generation change only on its owner's thread, or while
     * it is stopped), or, for another heap's, values only compared after
     * the owner test. */
    if ((__atomic_load_n(&oh->ol, __ATOMIC_RELAXED) & RCGC__OL_OWNER) == id &&
        (__atomic_load_n(&vh->ol, __ATOMIC_RELAXED) & RCGC__OL_OWNER) == id) {
        uint32_t oi = __atomic_load_n(&oh->gc_index, __ATOMIC_RELAXED);
        uint32_t vi = __atomic_load_n(&vh->gc_index, __ATOMIC_RELAXED);
        int ow = rcgc__in_window(oi), vw = rcgc__in_window(vi);
        if (ow && vw)
            return vi > oi   ? (uint32_t)RCGC__EDGE_UP
                   : vi < oi ? (uint32_t)RCGC__EDGE_DOWN
                             : (uint32_t)RCGC__EDGE_ANY;
        if (ow || vw) {
            const rcgc__header *other = ow ? vh : oh;
            if ((__atomic_load_n(&other->gc_bits, __ATOMIC_RELAXED) & RCGC__GEN_MASK) != 0)
                return 0;
            if (((const rcgc__heap_fast *)(const void *)rcgc__tls_self.heap)->table_ordered)
                return ow ? (uint32_t)RCGC__EDGE_DOWN : (uint32_t)RCGC__EDGE_UP;
        }
    }
    /* The test order puts the commonest store first, the initialisation
     * of the latest allocation (obj == a1); it decides exactly as "value
     * == obj: any; value == a1: up; obj == a1: down; value == a2: up; obj
     * == a2: down; else any" would. */
    const void *a1 = rcgc__tls_self.last_alloc;
    if (obj == a1)
        return value == obj ? (uint32_t)RCGC__EDGE_ANY : (uint32_t)RCGC__EDGE_DOWN;
    if (value == a1)
        return RCGC__EDGE_UP;
    const void *a2 = rcgc__tls_self.prev_alloc;
    return value == obj  ? (uint32_t)RCGC__EDGE_ANY
           : value == a2 ? (uint32_t)RCGC__EDGE_UP
           : obj == a2   ? (uint32_t)RCGC__EDGE_DOWN
                         : (uint32_t)RCGC__EDGE_ANY;
}

static inline RCGC__ALWAYS_INLINE void rcgc_store(void *obj, void **slot, void *value)
{
    /* O14: decided before value's count changes (value may be obj). */
    int private_store = rcgc__private_store(rcgc__hdr(obj));
    /* The container needs no barrier bit: a young collection is kept sound
     * by the counts of the values moved (cycles.md, C6). C13: the edge's
     * direction in allocation order (rcgc__edge). Only edges of both
     * directions can close a cycle, so the next young collection has work
     * only then. Plain thread-local accesses; written only when a bit is
     * new. */
    if (value != NULL) {
        uint32_t e = rcgc__edge(obj, value);
        if (e & ~rcgc__tls_self.young_upward)
            rcgc__tls_self.young_upward |= e;
    }
    rcgc__incref_stored(value);
    void *old;
    if (private_store) {
        /* O14: no other thread can store into this slot. Relaxed load:
         * our own thread's last store; release store: as the exchange's. */
        old = __atomic_load_n(slot, __ATOMIC_RELAXED);
        __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    } else {
        /* Exchange, acq_rel: two threads storing into one slot each
         * release exactly the value they replaced (no double decref); a
         * thread that loads `value` from the slot with acquire sees its
         * initialised payload (release); and the value we replace, which
         * another thread may have stored, is seen initialised by our
         * decrement of it (acquire; the same instruction on x86). The slot
         * is a plain `void *` in the contract, hence the __atomic builtin
         * rather than a C11 _Atomic object (objects.md, O4). */
        old = __atomic_exchange_n(slot, value, __ATOMIC_ACQ_REL);
    }
    rcgc_decref(old);
}

static inline RCGC__ALWAYS_INLINE void rcgc_safepoint(void)
{
    /* Relaxed: the poll only has to notice the request eventually; the slow
     * path synchronises through the world lock (safepoints.md, S2). */
    if (RCGC__UNLIKELY(__atomic_load_n(&rcgc__tls_self.pending,
                                       __ATOMIC_RELAXED) != 0))
        rcgc__safepoint_slow();
}

#ifdef __cplusplus
}
#endif

#endif /* RCGC_INLINE_H */

/* internal.h: structures and functions shared by the library's sources.
 *
 * Purpose: one place that says what a heap (the per-thread state), the
 * world (the set of heaps and the stop-the-world machinery) and the header
 * bits are, so each source file can stay about one concept.
 *
 * Locks, from outermost to innermost.
 * A thread may block on a lock only while holding locks above it in this
 * list, with one exception: a running thread holds its own own_lock while
 * it takes world.lock or qlock, which is safe because nobody blocks on the
 * own_lock of a running heap while holding an outer lock (safepoints.md,
 * S7).
 *   fork_lock          one fork at a time (threads.c; safepoints.md, S9)
 *   gp_lock            one grace period at a time, none across a fork
 *                      (safepoint.c; S8, S9); taken only while stopped
 *   world.pause_lock   one stop-the-world pause at a time
 *   world.lock         the heap list, statuses, the handshake counters
 *   heap->own_lock     a heap's private state (local counts, merge queue
 *                      processing, dead list); held by the owner while it
 *                      runs, by others only for bounded work that runs no
 *                      user code (docs/design/refcount.md, R5)
 *   heap->qlock        the merge queue's array
 */
#ifndef RCGC_INTERNAL_H
#define RCGC_INTERNAL_H

#include "rcgc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fault injection builds (meson option fault_injection, objects.md O9):
 * every allocation and thread creation the library makes goes through
 * src/fault.c, which fails the n-th when a test asks. The system headers
 * that declare the functions come first; object-like macros then rename
 * the calls in every library source, present and future. Normal builds
 * see none of this: the calls are the plain ones, at no cost. */
#if defined(RCGC_FAULT_INJECTION) && !defined(__cplusplus)
#include <malloc.h>
#include <stdlib.h>
bool rcgc_fault_fail(void);
void *rcgc_fault_malloc(size_t n);
void *rcgc_fault_calloc(size_t n, size_t size);
void *rcgc_fault_realloc(void *p, size_t n);
void *rcgc_fault_aligned_alloc(size_t align, size_t n);
int rcgc_fault_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg);
/* Tests (src/fault.c): fail the n-th allocation point counted from now
 * (1-based; 0: none), or the n-th thread creation; how many points were
 * passed and how many failures injected since. */
void rcgc_fault_set(uint64_t nth_alloc, uint64_t nth_thread);
/* The same for the calling thread's own points only (0: none); counted
 * in rcgc_fault_injected too. rcgc_fault_set does not reset it. */
void rcgc_fault_set_local(uint64_t nth_alloc);
uint64_t rcgc_fault_points(void);
uint64_t rcgc_fault_injected(void);
#ifndef RCGC_FAULT_SOURCE
#define malloc rcgc_fault_malloc
#define calloc rcgc_fault_calloc
#define realloc rcgc_fault_realloc
#define aligned_alloc rcgc_fault_aligned_alloc
#define pthread_create rcgc_fault_thread_create
#endif
#else
/* An allocation point that is not a malloc call (rcgc_alloc's object). */
static inline bool rcgc_fault_fail(void)
{
    return false;
}
#endif

#if defined(__SANITIZE_THREAD__)
#define RCGC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RCGC_TSAN 1
#endif
#endif

/* ------------------------------------------------------------------ */
/* Header bits (docs/design/objects.md, "Header layout")              */
/* ------------------------------------------------------------------ */

#define RCGC_GEN_MASK 0x03u       /* generation: 0 young, 1, 2, 3 permanent */
#define RCGC_GEN_PERMANENT 3u
#define RCGC_BIT_TRACKED 0x04u    /* type has traverse */
#define RCGC_BIT_FINALIZED 0x08u  /* finalize has run for this object */
#define RCGC_BIT_IMMORTAL 0x10u   /* never freed, counts ignored */
#define RCGC_BIT_ESCAPED 0x20u    /* young, touched by another thread (C6) */
#define RCGC_BIT_DYING 0x40u      /* being freed by count or as garbage */
#define RCGC_BIT_COLLECTING 0x80u /* member of a garbage set being reclaimed */
#define RCGC_BIT_DEAD_EARLY 0x100u /* died before its promotion arrived (C1) */
#define RCGC_BIT_HAS_WEAKREFS 0x200u /* weak references were made to it (W1) */
#define RCGC_BIT_HOOKS 0x400u     /* type has finalize or destroy (O12) */
#define RCGC_BIT_MALLOCED 0x800u   /* memory from malloc, not a page (O10) */
#define RCGC_NO_INDEX UINT32_MAX  /* gc_index of an object in no table */
/* Whether a gc_index is that of an object in its heap's window (C15). */
static inline bool rcgc_in_window(uint32_t i)
{
    return rcgc__in_window(i);
}
#define RCGC_MAGIC_SHIFT 12       /* the top four bits of gc_bits */
#define RCGC_MAGIC_LIVE 0xAu
#define RCGC_MAGIC_DEAD 0x5u
_Static_assert(RCGC__GEN_MASK == RCGC_GEN_MASK && RCGC__BIT_TRACKED == RCGC_BIT_TRACKED &&
                   RCGC__BIT_HOOKS == RCGC_BIT_HOOKS &&
                   RCGC__BIT_HAS_WEAKREFS == RCGC_BIT_HAS_WEAKREFS &&
                   RCGC__BIT_IMMORTAL == RCGC_BIT_IMMORTAL &&
                   RCGC__BIT_ESCAPED == RCGC_BIT_ESCAPED && RCGC__BIT_DYING == RCGC_BIT_DYING &&
                   RCGC__MAGIC_SHIFT == RCGC_MAGIC_SHIFT && RCGC__MAGIC_LIVE == RCGC_MAGIC_LIVE,
               "include/rcgc/inline.h's copies of the bits must match");

_Static_assert(sizeof(rcgc__header) == 16, "objects.md O2: a 16-byte header");

static inline void *rcgc_payload(rcgc__header *h)
{
    return (char *)h + sizeof(rcgc__header);
}

/* O6: objects that died and wait for the dealloc loop, as a growable
 * array. A dead object's header is not free for a link: a rcgc_load_ref on
 * another thread may still count its `shared` word (loadref.md, L2), so
 * the list lives beside the objects. One per heap, touched only by its own
 * thread; allocated with RCGC_DEAD_INITIAL entries with the heap and grown
 * ahead of need (O6). */
#define RCGC_DEAD_INITIAL 64u
typedef struct rcgc_deadvec {
    rcgc__header **v;
    uint32_t n, cap;
} rcgc_deadvec;

/* types.c (objects.md, O2): the type table. Every descriptor an object
 * was allocated with has a fixed id, 1 .. RCGC_MAX_TYPES, for the life of
 * the process; the header holds the id. */
#define RCGC_MAX_TYPES 65535u
/* The id of `type`, registered on first use; 0 when the table is full. */
uint16_t rcgc_type_register(const rcgc_type *type);
/* The descriptor of a registered id; NULL for any other value. */
const rcgc_type *rcgc_type_lookup(uint32_t id);
extern const rcgc_type *_Atomic rcgc_type_table[RCGC_MAX_TYPES + 1];
/* The type of an object whose header is live or dying: its id was
 * published before the object (relaxed load, O4). */
static inline const rcgc_type *rcgc_type_get(const rcgc__header *h)
{
    return atomic_load_explicit(&rcgc_type_table[h->type_id], memory_order_relaxed);
}

/* gc_index (objects.md, O2): the owner of the index (the young table's
 * token holder, or the collector for an old object, C1) is its only
 * writer, but a collection on any thread may read the index of any object
 * in a page, a non-member's included (cycles.md, C3), so every access is
 * a relaxed atomic: the value of a non-member is never trusted, only
 * compared against the collection's own array. */
static inline uint32_t rcgc_index_get(const rcgc__header *h)
{
    return __atomic_load_n(&h->gc_index, __ATOMIC_RELAXED);
}

static inline void rcgc_index_set(rcgc__header *h, uint32_t i)
{
    __atomic_store_n(&h->gc_index, i, __ATOMIC_RELAXED);
}

static inline uint32_t rcgc_gen_of(rcgc__header *h)
{
    /* Acquire: pairs with rcgc_set_gen's release. */
    return __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE) & RCGC_GEN_MASK;
}

static inline bool rcgc_is_young(rcgc__header *h)
{
    /* Acquire: pairs with rcgc_set_gen's release (C1). */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE);
    return (bits & (RCGC_GEN_MASK | RCGC_BIT_TRACKED)) == RCGC_BIT_TRACKED;
}

/* Changes the generation bits; other bits may be ORed in concurrently by
 * other threads, hence the CAS. Release: a thread that reads the new
 * generation (acquire) sees what the changer did before (cycles.md, C1). */
static inline void rcgc_set_gen(rcgc__header *h, uint32_t gen)
{
    uint16_t v = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&h->gc_bits, &v,
                                        (uint16_t)((v & ~RCGC_GEN_MASK) | gen), false,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    }
}

/* The owner word (objects.md, O2): the owner id, and the owner's count
 * without O14's STORED bit (R10). Relaxed loads: see the word's comment
 * in rcgc/inline.h. */
static inline uint32_t rcgc_owner_of(const rcgc__header *h)
{
    return __atomic_load_n(&h->ol, __ATOMIC_RELAXED) & RCGC__OL_OWNER;
}
static inline uint32_t rcgc_local_count(uint32_t w)
{
    return rcgc__ol_count(w);
}

/* Count part of a `shared` word (the low two bits are flags). */
static inline int32_t rcgc_shared_count(int32_t v)
{
    return (v - (v & 3)) / RCGC__SHARED_ONE;
}

/* ------------------------------------------------------------------ */
/* Heaps                                                               */
/* ------------------------------------------------------------------ */

/* Heap status (docs/design/safepoints.md, "States"). */
enum {
    RCGC_DETACHED = 0, /* no thread; own_lock free */
    RCGC_RUNNING,      /* owner runs mutator code, holds own_lock */
    RCGC_BLOCKED,      /* owner in a blocking region; own_lock free */
    RCGC_SUSPENDED,    /* was BLOCKED when a pause began: may not leave */
    RCGC_PARKED,       /* acknowledged a pause at a safepoint */
};

#define RCGC_OLD_BUF 256u

/* `pending` bits in the owner's TLS block. */
#define RCGC_PENDING_PAUSE 0x1u
#define RCGC_PENDING_MERGE 0x2u
#define RCGC_PENDING_QS 0x4u
#define RCGC_PENDING_RELIMIT 0x8u /* decide the young table's limit again (O13) */
#define RCGC_PENDING_PROMOTE 0x10u /* promote the young generation (cycles.md C8a) */

/* Per-heap statistics. Single writer (the thread running on the heap, or
 * the holder of its own_lock), many readers (rcgc_get_stats): relaxed
 * atomic loads and stores, since a counter read slightly late is fine. */
typedef struct rcgc_heap_stats {
    /* allocated and alloc_bytes are in rcgc__heap_fast (inline.h). */
    _Atomic uint64_t freed;
    _Atomic uint64_t freed_bytes;
    _Atomic uint64_t finalized;
    _Atomic uint64_t merges;
    _Atomic uint64_t queued;
    _Atomic uint64_t young_skipped;
} rcgc_heap_stats;

/* The small-object allocator's state of one heap, per size class
 * (alloc.c, objects.md O10). Token holder only. */
#define RCGC_NCLASSES 15
struct rcgc_page;
typedef struct rcgc_pages {
    struct rcgc_page *cur;       /* allocating from it */
    struct rcgc_page *avail;     /* pages with local frees */
    struct rcgc_page *all;       /* every page of the class */
    struct rcgc_page *scan;      /* round-robin cursor over `all` */
} rcgc_pages;

typedef struct rcgc__heap {
    /* What the inline allocation path reads and writes (include/rcgc/
     * inline.h; objects.md O13): the published current pages of the fast
     * classes, the young table, in_blocking and two statistics. First, so
     * that the TLS block's heap pointer is a pointer to it. */
    rcgc__heap_fast fast;
    uint32_t id;                  /* never changes; index in the heap table */
    _Atomic int status;           /* RCGC_DETACHED .. RCGC_PARKED */
    _Atomic int own_lock;         /* ownership token, see rcgc_own_take */

    /* Merge queue (refcount.md, R4): objects whose shared count went
     * negative. Filled by any thread under qlock; drained under own_lock. */
    pthread_mutex_t qlock;
    rcgc__header **q;
    size_t qn, qcap;
    _Atomic size_t qlen;          /* == qn, readable without qlock */

    /* The owner thread's pending word, NULL while detached. Set at attach
     * and cleared at detach under world.lock. */
    uint32_t *_Atomic pending;
    /* The owner thread's QSBR registry entry, NULL while detached; set and
     * cleared under world.lock. A forked child unregisters the entries of
     * the threads it lost (safepoints.md, S9). */
    void *qs_reader;

    /* Handshake (under world.lock). */
    bool needs_ack;               /* a pause waits for this heap's ack */
    bool wants_in;                /* owner waits to leave SUSPENDED */
    /* C8a: the latest promotion request a gathering caller made of this
     * heap, and the latest its owner answered. */
    uint64_t promote_asked, promote_done;

    /* Owner-thread-only state (and fast.in_blocking). */
    bool in_dealloc;              /* the dealloc loop is running */
    /* Objects a weak-reference get or a pending finalizer brought back at
     * their death (weakref-finalize.md, W3): tagged pointers, bit 0 run
     * the finalizer, bit 1 move into generation 1. Token holder only. */
    uintptr_t *revived;
    uint32_t revived_n, revived_cap;
    rcgc_deadvec dead;            /* objects to deallocate (objects.md O6) */

    rcgc_heap_stats stats;

    /* Young generation (young.c): token holder only. The table, its size,
     * the inline path's limit and the gauge that mirrors the size for
     * readers on other threads (relaxed) are in `fast`. young_spare: a
     * table a collection took and gave back, kept for the next growth
     * (C15). */
    uint32_t young_cap;
    uint32_t young_spare_cap;
    rcgc__header **young_spare;
    bool in_young;                /* a young collection is running */
    /* Young collections trigger at threshold0 << young_shift: the shift
     * grows while they find almost nothing and falls back to 0 when they
     * find garbage (cycles.md, C11). */
    uint32_t young_shift;
    /* The young window (cycles.md, C15): the pages the inline path may
     * have made window objects in since the window opened (alloc.c), the
     * epoch that marks a page listed, and how many of fast.window_n were
     * aged by collections C13 skipped. Token holder only. */
    struct rcgc_page **window_pages;
    uint32_t window_npages, window_cap, window_epoch;
    uint32_t window_aged;
    /* Young survivors age once before promotion (cycles.md, C12): the
     * table's first aged_n entries survived a young collection and are not
     * examined again until aged_n reaches threshold0 << (RCGC_AGED_SHIFT +
     * aged_shift), when a full young collection promotes what survives;
     * aged_shift grows while those find little garbage. */
    uint32_t aged_n;
    uint32_t aged_shift;

    /* Promotions and deaths of old objects reported by this thread, sent
     * to the collector's inbox in batches (cycles.md, C1). Token holder
     * only. Bit 0 set: a death. */
    uintptr_t old_buf[RCGC_OLD_BUF];
    uint32_t old_n;

    rcgc_pages pages[RCGC_NCLASSES]; /* alloc.c: token holder only */

    struct rcgc__heap *next_all;  /* every heap (world.lock) */
    struct rcgc__heap *next_free; /* abandoned heaps to adopt (world.lock) */
} rcgc__heap;

/* The heap's own_lock is an ownership token rather than a pthread mutex
 * (safepoints.md, S7): its owner holds it for as long as it runs mutator
 * code, so a mutex would make every user lock taken around
 * rcgc_blocking_end look, to ThreadSanitizer's lock-order checker, as if it
 * nested both ways with it. Foreign holders (drainers, a pauser) hold it
 * only for bounded work that runs no user code, so a waiter yields rather
 * than sleeps. seq_cst: the take and the drop take part in the
 * re-check-after-unlock pattern of refcount.md, R5; they are also the
 * acquire and release that order a heap's private state between holders. */
static inline bool rcgc_own_try(rcgc__heap *heap)
{
    int expected = 0;
    return atomic_compare_exchange_strong_explicit(&heap->own_lock, &expected, 1,
                                                   memory_order_seq_cst,
                                                   memory_order_seq_cst);
}

void rcgc_own_take(rcgc__heap *heap);

static inline void rcgc_own_drop(rcgc__heap *heap)
{
    /* seq_cst: see the comment above rcgc_own_try. */
    atomic_store_explicit(&heap->own_lock, 0, memory_order_seq_cst);
}

/* ------------------------------------------------------------------ */
/* The world                                                           */
/* ------------------------------------------------------------------ */

#define RCGC_HEAP_CHUNK 1024u
#define RCGC_HEAP_CHUNKS 64u /* RCGC__MAX_HEAPS ids at most */
_Static_assert(RCGC_HEAP_CHUNK * RCGC_HEAP_CHUNKS > RCGC__MAX_HEAPS, "the heap table holds every id");

typedef struct rcgc__world {
    _Atomic int initialized;
    rcgc_config config;

    pthread_mutex_t pause_lock;
    pthread_mutex_t lock;
    pthread_cond_t acked;         /* a heap acknowledged a pause */
    pthread_cond_t resumed;       /* a pause ended */
    pthread_cond_t promoted;      /* a heap answered a promotion request (C8a) */
    uint64_t promote_epoch;       /* promotion requests made (C8a) */
    uint64_t pause_promoted;      /* young objects promoted inside gathering
                                     pauses (C8a; for tests) */
    _Atomic int pause_active;
    int waiting;                  /* heaps whose ack the pause waits for */
    uint64_t pause_start_ns;

    rcgc__heap *heaps;            /* all heaps, newest first */
    rcgc__heap *free_heaps;       /* detached heaps to adopt */
    uint32_t nheaps;              /* ids handed out; ids are 1..nheaps */
    _Atomic uint32_t attached;
    _Atomic int gp_waiting;       /* grace periods in progress (S8) */

    /* id -> heap. Chunks are published with release and read with acquire
     * (objects.md, O5); entries never change once set. */
    rcgc__heap **_Atomic chunks[RCGC_HEAP_CHUNKS];

    pthread_key_t key;            /* auto-detach at thread exit */

    /* Pause statistics (under world.lock). */
    uint64_t pauses, pause_total_ns, pause_max_ns;
    /* S10: the longest time from a pause's request until every thread it
     * waited for had stopped (time to safepoint), and the longest time one
     * thread was held stopped (from its acknowledgement, or its wish to
     * leave a blocking region, until it was let go). Under world.lock. */
    uint64_t pause_ttsp_max_ns, pause_held_max_ns;
    /* S10: when every thread of the pause in progress had stopped, and the
     * longest time from then to a pause's end (the pause's own work). */
    uint64_t pause_stopped_ns, pause_work_max_ns;
    /* Collection statistics (under world.lock). */
    rcgc_gen_stats gen[3];

    /* Cycle collection control (cycles.c); relaxed: tunables. */
    _Atomic int gc_enabled;
    _Atomic uint32_t threshold[3];
    _Atomic size_t gen_count[4];  /* table sizes of generations 1..3 */
    _Atomic int ncallbacks;
    _Atomic size_t leaked;        /* kept by debug_leaks */
} rcgc__world;

extern rcgc__world rcgc_world;

/* ------------------------------------------------------------------ */
/* Functions shared between sources                                    */
/* ------------------------------------------------------------------ */

/* checks.c */
_Noreturn void rcgc_fatal(const char *call, const void *obj, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rcgc_check_object(const char *call, const void *obj);
/* The calling thread's heap, checking that it is attached and not in a
 * blocking region. `in_blocking`: the message for the latter, which then
 * aborts at any checks level; NULL: the generic message, checks >= 1. */
rcgc__heap *rcgc_require_running(const char *call, const void *obj, const char *in_blocking);
static inline rcgc__heap *rcgc_require_attached(const char *call, const void *obj)
{
    return rcgc_require_running(call, obj, NULL);
}
/* rcgc_alloc's variant: names the type the caller asked for. */
rcgc__heap *rcgc_require_attached_type(const char *call, const rcgc_type *type);

/* Check levels (objects.md, O8). The meson option `checks` compiles in a
 * maximum (none 0, api 1, internal 2, expensive 3); rcgc_config.checks
 * selects within it at run time: 0 none, 1 api, 2 every level compiled in.
 * A level that is not compiled in costs nothing: the test folds to false. */
#ifndef RCGC_CHECKS_MAX
#define RCGC_CHECKS_MAX 1
#endif
static inline bool rcgc_api_checks(void)
{
    return RCGC_CHECKS_MAX >= 1 && rcgc_world.config.checks >= 1;
}
static inline bool rcgc_internal_checks(void)
{
    return RCGC_CHECKS_MAX >= 2 && rcgc_world.config.checks >= 2;
}
static inline bool rcgc_expensive_checks(void)
{
    return RCGC_CHECKS_MAX >= 3 && rcgc_world.config.checks >= 2;
}
/* Consistency checks of one data structure, in the style of the Memory
 * Pool System's Check functions: cheap (no walk), called on slow paths at
 * the internal level; each aborts naming `call` on a violation. */
void rcgc_heap_check(const char *call, const rcgc__heap *heap);
void rcgc_queue_check(const char *call, const rcgc__heap *heap); /* qlock held */
void rcgc_young_check(const char *call, const rcgc__heap *heap, const rcgc__header *h);
void rcgc_dying_check(const char *call, const rcgc__header *h);
/* Verifies every heap (young tables, merge queues, headers, counts, the
 * heap table and pool) in a stop-the-world pause; aborts on the first
 * inconsistency. Returns the number of objects checked. The caller must be
 * attached and running. rcgc_verify_paused: the same, by a pauser inside
 * its pause (rcgc_pause_end calls it at the expensive level). */
size_t rcgc_verify_heap(void);
size_t rcgc_verify_paused(void);

/* objects.c */
void rcgc_object_died(rcgc__heap *heap, rcgc__header *h);
void rcgc_dead_link(rcgc__header *h, rcgc_deadvec *list);
void rcgc_dead_push(rcgc__header *h, rcgc_deadvec *list);
/* Runs heap's dealloc loop over its dead list (O6, O7), unless the calling
 * thread is already inside one; returns the number of objects freed. */
size_t rcgc_dealloc_run(rcgc__heap *heap);
uint64_t rcgc_now_ns(void);

/* refcount.c */
size_t rcgc_heap_drain(rcgc__heap *heap, rcgc_deadvec *dead);
size_t rcgc_drain_self(void);

/* threads.c */
rcgc__heap *rcgc_heap_by_id(uint32_t id);
/* A heap set aside for the collector thread, so that its attach cannot
 * fail (objects.md, O9); NULL when none can be made. unreserve gives it
 * back to the pool when the thread could not be created. */
rcgc__heap *rcgc_heap_reserve(void);
void rcgc_heap_unreserve(rcgc__heap *heap);
void rcgc_thread_attach_heap(rcgc__heap *heap);
void rcgc_heap_set_pending(rcgc__heap *heap, uint32_t bits);
/* Every attached thread decides its young table's limit again (O13). */
void rcgc_heaps_relimit(void);
void rcgc_threads_shutdown(void);

/* safepoint.c */
void rcgc_pause_begin(void);
void rcgc_pause_end(void);
void rcgc_leave_running(rcgc__heap *heap);
void rcgc_enter_running(rcgc__heap *heap);
void rcgc_grace_period(void);
void rcgc_qs_online(void);
void rcgc_qs_offline(void);
void rcgc_qs_register(rcgc__heap *heap);
void rcgc_qs_unregister(rcgc__heap *heap);
/* fork() (safepoints.md, S9): no grace period across the fork; the child
 * unregisters the QSBR entry of a thread it lost. */
void rcgc_qs_fork_prepare(rcgc__heap *self);
void rcgc_qs_fork_parent(void);
void rcgc_qs_fork_child(void);
void rcgc_qs_forget(rcgc__heap *heap);

/* young.c */
/* C13: whether the edges recorded in `e` (rcgc__tls.young_upward) may
 * close a cycle among the objects young since the last young collection
 * (`full` false) or since the last full one (`full` true): an edge of
 * unknown direction, or edges of both directions. */
static inline bool rcgc_edges_may_cycle(uint32_t e, bool full)
{
    uint32_t any = full ? 0x2u : 0x1u, down = full ? 0x8u : 0x4u, up = full ? 0x20u : 0x10u;
    return (e & any) || ((e & down) && (e & up));
}
/* The bits of the window since the last full collection. */
#define RCGC_EDGES_FULL 0x2Au
_Static_assert(RCGC__EDGE_ANY == 0x3 && RCGC__EDGE_DOWN == 0xC && RCGC__EDGE_UP == 0x30,
               "rcgc_edges_may_cycle's bits");
/* Publishes the young table's size for rcgc_get_count (relaxed: a gauge,
 * read by other threads as an estimate). */
static inline void rcgc_young_gauge(rcgc__heap *heap)
{
    __atomic_store_n(&heap->fast.young_gauge, heap->fast.young_n, __ATOMIC_RELAXED);
}
/* The inline allocation path must not add to the young table until the
 * library has decided again (objects.md, O13): called wherever the table
 * is replaced or emptied, its aged prefix or back-off changes, or a
 * collection ends. alloc_general sets the next limit. */
static inline void rcgc_young_relimit(rcgc__heap *heap)
{
    heap->fast.window_lim = 0;
}
/* Room for one more entry (the table's slow path). */
bool rcgc_young_grow(rcgc__heap *heap);
/* Appends h to the young table (token holder). Inline: on the path of
 * every allocation of a tracked object. ENOMEM if the table cannot grow. */
static inline int rcgc_young_add(rcgc__heap *heap, rcgc__header *h)
{
    if (heap->fast.young_n == heap->young_cap && !rcgc_young_grow(heap))
        return ENOMEM;
    rcgc_index_set(h, heap->fast.young_n);
    heap->fast.young[heap->fast.young_n++] = h;
    rcgc_young_gauge(heap);
    heap->fast.table_ordered = 0; /* C15: it may be newer than the window */
    return 0;
}
/* Takes h out of the young table, if it is young and in it (called by the
 * token holder). Inline: it is on the path of every death by count (O12).
 * The generation first: an old object's gc_index belongs to the collector
 * thread (C1). */
static inline void rcgc_young_remove_known(rcgc__heap *heap, rcgc__header *h);
static inline void rcgc_young_remove(rcgc__heap *heap, rcgc__header *h)
{
    if (!rcgc_is_young(h))
        return;
    rcgc_young_remove_known(heap, h);
}
/* The same, for a caller that has read the bits and found h young. */
static inline void rcgc_young_remove_known(rcgc__heap *heap, rcgc__header *h)
{
    uint32_t i = rcgc_index_get(h);
    if (i == RCGC_NO_INDEX)
        return;
    if (rcgc_in_window(i)) {
        /* C15: out of the window. Its count, and the aged part of it,
         * shrink; as for an aged table entry, the inline path's limit
         * comes down with the aged part (never below zero). Relaxed: the
         * count is a gauge for other threads. */
        uint32_t n = __atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED) - 1;
        __atomic_store_n(&heap->fast.window_n, n, __ATOMIC_RELAXED);
        if (heap->window_aged > n) {
            heap->window_aged = n;
            if (heap->fast.window_lim != 0)
                heap->fast.window_lim--;
        }
        rcgc_index_set(h, RCGC_NO_INDEX);
        return;
    }
    if (rcgc_internal_checks() && (i >= heap->fast.young_n || heap->fast.young[i] != h))
        rcgc_fatal("rcgc (internal)", rcgc_payload(h), "young table corrupt");
    /* C12: the aged entries stay a prefix. An aged hole takes the last
     * aged entry, whose place (now the hole) takes the table's last one. */
    uint32_t hole = i;
    if (i < heap->aged_n) {
        /* The count of new table entries, on which the inline path's
         * limit depends (O13, C15), does not change. */
        uint32_t a = --heap->aged_n;
        if (a != i) {
            heap->fast.young[i] = heap->fast.young[a];
            rcgc_index_set(heap->fast.young[i], i);
        }
        hole = a;
    }
    uint32_t last = --heap->fast.young_n;
    if (hole != last) {
        heap->fast.young[hole] = heap->fast.young[last];
        rcgc_index_set(heap->fast.young[hole], hole);
    }
    rcgc_index_set(h, RCGC_NO_INDEX);
    rcgc_young_gauge(heap);
}
void rcgc_young_leave(rcgc__heap *heap, rcgc__header *h);
/* C15: enters every object of the heap's window into its young table and
 * opens a new window (young.c). Token holder. */
void rcgc_window_close(rcgc__heap *heap);
/* alloc.c: calls fn for every object of the window (fn NULL: none), and
 * opens a new window once its objects have left it. Token holder. */
void rcgc_window_scan(rcgc__heap *heap, void (*fn)(rcgc__heap *, rcgc__header *, void *),
                      void *ctx);
void rcgc_window_reopen(rcgc__heap *heap);
bool rcgc_window_holds(const rcgc__heap *heap, const void *block);
/* The whole table to generation 1 at once; `stopped`: in a pause. */
void rcgc_young_promote_all(rcgc__heap *heap, bool stopped);
/* The calling thread's own table, from its end, with safepoints between
 * steps (C13): for promotions outside a pause. */
void rcgc_young_promote_polling(rcgc__heap *heap);
size_t rcgc_collect_young(rcgc__heap *heap, bool full);

/* cycles.c */
void rcgc_old_adopt(rcgc__header **objs, size_t n, int gen);
/* `stopped`: called in a pause (cycles.md, C8). */
void rcgc_old_adopt_table(rcgc__header **objs, size_t n, int gen, bool stopped);
void rcgc_old_dead(rcgc__header *h);
void rcgc_old_flush(rcgc__heap *heap);
size_t rcgc_garbage(rcgc__heap *self, rcgc__header **g, uint32_t m, int gen);
void rcgc_gc_notify(int phase, int generation, uint64_t examined, uint64_t freed, uint64_t ns,
                    uint64_t pause_ns);
void rcgc_gc_record(int generation, uint64_t examined, uint64_t freed);
size_t rcgc_collect_old(rcgc__heap *self, int generation);
/* in_child: in a forked child, whose copies of the collector's locks may
 * be held by threads that are gone (safepoints.md, S9). */
int rcgc_collector_start(bool in_child);
void rcgc_collector_stop(void);
void rcgc_collector_release(void);
size_t rcgc_collector_ingest(rcgc__heap *self);
void rcgc_collector_wake(void);

/* Defaults of the thresholds (docs/configuration.md says how they were
 * chosen). */
#define RCGC_DEFAULT_THRESHOLD0 2000u
#define RCGC_DEFAULT_THRESHOLD1 20000u
#define RCGC_DEFAULT_THRESHOLD2 100000u
#define RCGC_YOUNG_MAX_SHIFT 4u /* young collections back off to threshold0 << 4 */
/* C8a: a gathering caller asks a thread with at least this many young
 * objects to promote them itself. */
#define RCGC_PROMOTE_ASK_MIN 4096u
#define RCGC_AGED_SHIFT 5u      /* full young collection at threshold0 << 5 aged (C12) */
#define RCGC_CONFIRM_SLICE 4096u /* candidates confirmed per pause, at most (C14) */
#define RCGC_AGED_MAX_SHIFT 0u  /* with trial deletion: no back-off (C12) */
#define RCGC_AGED_PROMOTE_SHIFT 8u /* without trial: to << 13, then promote (C13) */

/* Test-only hooks at phase boundaries of the collectors (cycles.md, C10).
 * A test installs a function with rcgc_set_test_hook; unset, a hook costs
 * one load. */
enum {
    RCGC_HOOK_YOUNG_START = 1,
    RCGC_HOOK_YOUNG_COUNTED,
    RCGC_HOOK_YOUNG_MARKED,
    RCGC_HOOK_OLD_START,
    RCGC_HOOK_OLD_COUNTED,
    RCGC_HOOK_OLD_MARKED,
    RCGC_HOOK_OLD_BEFORE_PAUSE,
    RCGC_HOOK_MERGE_REMOVED, /* merge_entry took a dead-looking object out of
                              * the young table, before its CAS (W2a) */
};
extern void (*_Atomic rcgc_test_hook_fn)(int phase, void *arg);
void rcgc_set_test_hook(void (*fn)(int phase, void *arg));
static inline void rcgc_test_hook(int phase, void *arg)
{
    /* Acquire: pairs with rcgc_set_test_hook's release. */
    void (*fn)(int, void *) = atomic_load_explicit(&rcgc_test_hook_fn, memory_order_acquire);
    if (fn != NULL)
        fn(phase, arg);
}

/* weakref.c */
enum { RCGC_DEATH_DIES, RCGC_DEATH_CANCELLED, RCGC_DEATH_REVIVED };
int rcgc_weakref_dying(rcgc__header *h);
void rcgc_weakref_death(rcgc__header *h);
void rcgc_weakref_clear_set(rcgc__header **g, uint32_t m, rcgc_weakref **pending);
void rcgc_weakref_run_callbacks(rcgc_weakref *pending);

/* alloc.c (objects.md, O10) */
static inline bool rcgc_use_pages(void)
{
#if defined(RCGC_ALLOC_MALLOC)
    return false;
#else
    return true;
#endif
}
/* Block sizes up to this (header included) are the fast path's (O13). */
#define RCGC_TAKE_MAX 128u
void *rcgc_block_take(rcgc__heap *heap, size_t bytes, size_t *got);
/* Whether p is the payload address of a block in a page of some heap,
 * as far as its address tells: the header before it is then memory of
 * such a page, readable whatever became of the object (cycles.md, C3).
 * Any thread. */
bool rcgc_pages_hold(const void *p);
void *rcgc_block_alloc(rcgc__heap *heap, size_t bytes, size_t *got, bool *mallocd);
void rcgc_block_free(rcgc__heap *self, void *p);
size_t rcgc_block_size(const rcgc__header *h, bool mallocd);
void rcgc_pages_release(rcgc__heap *heap);
void rcgc_object_free(rcgc__heap *self, rcgc__header *h);

/* trace.c */
int rcgc_trace_init(const rcgc_config *c);
void rcgc_trace_shutdown(void);
void rcgc_trace_span(const char *name, uint64_t start_ns, uint64_t end_ns, uint64_t a,
                     uint64_t b);
void rcgc_trace_collection(int generation, uint64_t examined, uint64_t freed, uint64_t start_ns,
                           uint64_t ns, uint64_t pause_ns);
bool rcgc_is_collector_thread(void);

/* finalize.c (weakref-finalize.md, W7, W8) */
bool rcgc_finalize_on_demand(void);
int rcgc_finq_objects(rcgc__header **g, uint32_t m);
void rcgc_finq_callbacks(rcgc_weakref *chain);
size_t rcgc_finq_run(rcgc__heap *self, size_t *objects);
size_t rcgc_finq_pending(void);
void rcgc_finq_release(void);

/* stats.c */
/* The same for the counters of rcgc__heap_fast, plain integers accessed
 * with the __atomic builtins (inline.h). */
static inline void rcgc_stat_add_plain(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void rcgc_stat_add(_Atomic uint64_t *counter, uint64_t n)
{
    /* Single writer: a relaxed load and store, not a locked add (the
     * counters sit on the allocation and death paths). */
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

#endif /* RCGC_INTERNAL_H */

/* rcgc.h: the public API of rcgc, a memory manager for multithreaded
 * language runtimes: biased reference counting, stop-the-world safepoints
 * and (in later releases) generational cycle collection.
 *
 * The contract every call honours is written next to its declaration and,
 * in full, in docs/api.md. Names starting with `rcgc_` are the API; names
 * starting with `rcgc__` are private to the library and its inline fast
 * paths.
 *
 * Thread-safety in one paragraph: every thread that touches managed objects
 * is attached (rcgc_thread_attach). Any attached thread may incref, decref,
 * store and load any object it holds a reference to. Attached threads reach
 * safepoints in rcgc_safepoint, rcgc_alloc, rcgc_blocking_begin and
 * rcgc_thread_detach; a thread between rcgc_blocking_begin and
 * rcgc_blocking_end counts as stopped and must not touch managed objects.
 */
#ifndef RCGC_H
#define RCGC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RCGC_VERSION_MAJOR 0
#define RCGC_VERSION_MINOR 1
#define RCGC_VERSION_PATCH 0

/* ===================================================================== */
/* Objects                                                               */
/* ===================================================================== */

/* Called by a type's traverse once per slot. */
typedef void (*rcgc_visit_fn)(void **slot, void *ctx);

typedef struct rcgc_type {
    /* For diagnostics, stats and traces. Must not be NULL. */
    const char *name;
    /* Calls visit once for every slot of obj that holds a strong reference
     * (the slot may hold NULL). NULL traverse: the type never holds
     * references; its objects are never part of a cycle.
     * Concurrency (docs/design/cycles.md, C5): traverse may be called on
     * the background collector thread while other threads run, store into
     * obj's slots, or drop obj's last reference (destroy and the release of
     * its slots then run concurrently). So it must only report slots whose
     * addresses are fixed for the object's life (fields of the payload, or
     * slots of other managed objects: a growable list keeps its items in a
     * managed array object that it replaces on growth), must not read
     * memory that destroy frees, and must not call rcgc functions. */
    void (*traverse)(void *obj, rcgc_visit_fn visit, void *ctx);
    /* Optional. Called at most once per object, before it dies, on an
     * attached thread; may resurrect obj by storing a new reference to it
     * somewhere reachable. */
    void (*finalize)(void *obj);
    /* Optional. Releases resources the collector does not manage. Called
     * exactly once, right before the memory is freed; must not resurrect. */
    void (*destroy)(void *obj);
} rcgc_type;

/* Returns a zeroed payload of `size` bytes, 16-byte aligned, holding one
 * strong reference owned by the calling thread; or NULL with errno ==
 * ENOMEM when memory runs out (or size is too large to represent), the heap
 * unchanged. A safepoint. The calling thread must be attached and `type`
 * must outlive every object of that type. type == NULL or type->name ==
 * NULL: NULL with errno == EINVAL.
 *
 * When the object dies (its count reaches zero) the library runs finalize
 * (at most once per object, even if it resurrects and dies again), then
 * destroy, then releases every reference that
 * traverse reports, then frees the memory, without recursing on the C
 * stack. Called from an unattached thread: aborts with api checks on, else
 * NULL with errno == EPERM.
 *
 * Declared inline: the common case runs inline in the caller (defined in
 * <rcgc/inline.h>, C99 inline semantics), and the library exports the one
 * external definition, for callers that do not inline it and for
 * dlsym(). */
inline void *rcgc_alloc(const rcgc_type *type, size_t size);

/* Makes obj immortal: never freed, and incref/decref on it no longer count
 * (and cost no atomic traffic). Its slots are never released. Meant for
 * interned constants and singletons (None, True, small integers). The
 * caller must hold a reference. Returns 0, or EINVAL for NULL. */
int rcgc_immortalize(void *obj);

/* 1 if obj is immortal, else 0. */
int rcgc_is_immortal(const void *obj);

/* The type obj was allocated with. */
const rcgc_type *rcgc_type_of(const void *obj);

/* ===================================================================== */
/* Reference counts and slots                                            */
/* ===================================================================== */

/* The inline fast paths are in <rcgc/inline.h> (included below):
 *
 * void  rcgc_incref(void *obj);   obj may be NULL: then nothing.
 * void  rcgc_decref(void *obj);   obj may be NULL: then nothing. The last
 *                                 reference kills obj (see rcgc_alloc).
 * void  rcgc_store(void *obj, void **slot, void *value);
 *       The write barrier and the only way to write a slot of a managed
 *       object after rcgc_alloc returned: takes a new reference to value
 *       (may be NULL), atomically replaces the slot's old value and
 *       releases the reference the slot held. `slot` lies inside obj.
 * void *rcgc_load(void *const *slot);
 *       Reads a slot (acquire) and returns a borrowed reference; take one
 *       with rcgc_incref while the container is still held. In this
 *       release the borrowed reference stays valid only while no other
 *       thread can store into the same slot (the runtime's own locking, or
 *       a slot only its owner writes): a racing rcgc_store may drop the
 *       value's last reference between the load and the incref.
 * void  rcgc_safepoint(void);     A load and a branch when nothing is asked.
 *
 * Counts are biased: the allocating thread counts with plain loads and
 * stores, every other thread on an atomic shared count
 * (docs/design/refcount.md). */

/* ===================================================================== */
/* Threads and safepoints                                                */
/* ===================================================================== */

/* Attaches the calling thread. 0, or an error code: EINVAL when rcgc is not
 * initialised, EBUSY when the thread is already attached (attaching twice is
 * an error; the thread stays attached), ENOMEM. A thread that exits while
 * attached is detached automatically. */
int rcgc_thread_attach(void);

/* Detaches the calling thread (a safepoint). The objects it still owns stay
 * fully usable by the other threads: nothing is leaked and nothing freed
 * early; a thread attaching later may adopt them. Detaching an unattached
 * thread is misuse (aborts with api checks on, else does nothing). */
void rcgc_thread_detach(void);

/* 1 if the calling thread is attached, else 0. */
int rcgc_thread_is_attached(void);

/* Around calls that may block: from begin to end the thread counts as
 * stopped, never delays a stop-the-world pause, and must not touch managed
 * objects. begin is a safepoint; end waits while the world is stopped.
 * Calls do not nest: end without begin, or begin twice, is misuse. */
void rcgc_blocking_begin(void);
void rcgc_blocking_end(void);

/* ===================================================================== */
/* Lifecycle, collection and statistics                                  */
/* ===================================================================== */

/* Tunables. Always initialise with rcgc_config_init, which sets `size` and
 * the defaults, then change fields; rcgc_init reads only the first `size`
 * bytes, so programs built against an older header keep working. Every
 * field has an RCGC_* environment variable, applied by rcgc_init(NULL)
 * (docs/configuration.md). */
typedef struct rcgc_config {
    size_t size;   /* sizeof(rcgc_config), set by rcgc_config_init */
    /* Checks, within those the build compiled in (meson option checks):
     * 0 off, 1 API checks (default; misuse aborts naming the call and the
     * object's type; cheap, slow paths only), 2 every level compiled in
     * (internal consistency checks; heap verification in every pause).
     * RCGC_CHECKS. */
    int checks;
    /* Young collection: a thread collects its young generation at its
     * next allocation of an object with a traverse once this many such
     * objects are young (alive, or dead in cycles, and not yet promoted).
     * RCGC_THRESHOLD0. At least 1. */
    uint32_t threshold0;
    /* The background collector examines generation 1 once it holds this
     * many objects. 0: never automatically. RCGC_THRESHOLD1. */
    uint32_t threshold1;
    /* A full collection (generations 1 and 2) runs once generation 2 has
     * grown by this many objects and by a quarter since the last one.
     * 0: never automatically. RCGC_THRESHOLD2. */
    uint32_t threshold2;
    /* Automatic collection on (1, default) or off (0). RCGC_ENABLED. */
    int enabled;
    /* Leak finding: garbage cycles are kept, not freed, and reported on
     * stderr by type name (rcgc_get_leaked counts them). RCGC_DEBUG_LEAKS. */
    int debug_leaks;
    /* Where finalizers and weak-reference callbacks run (RCGC_FINALIZE =
     * background | on-demand; docs/design/weakref-finalize.md, W7-W8):
     *   RCGC_FINALIZE_BACKGROUND (default): those of cyclic garbage run on
     *     the background collector thread (attached like any mutator) once
     *     the world has resumed; those of an object dying by count run on
     *     the thread that dropped its last reference.
     *   RCGC_FINALIZE_ON_DEMAND: every finalizer and callback is queued
     *     (the object stays alive, pinned by the queue, until its finalizer
     *     has run); finalize_notify is called when the queue becomes
     *     non-empty, and the runtime runs them with rcgc_run_finalizers()
     *     on a thread of its choosing. Under memory exhaustion an entry
     *     that cannot be queued runs at once on the thread that found it
     *     (a count death) or waits for the next collection (a cycle). */
    int finalize_mode;
    /* On demand: called with finalize_notify_arg when the queue goes from
     * empty to non-empty, on whichever thread queued (a mutator or the
     * collector, possibly inside rcgc_decref or rcgc_alloc). It must only
     * signal the runtime (set a flag, post to a pipe or condition
     * variable) and must not call rcgc functions other than
     * rcgc_pending_finalizers. NULL: the runtime polls. No variable. */
    void (*finalize_notify)(void *arg);
    void *finalize_notify_arg;
    /* 1: one line per collection on stderr (generation, thread, objects
     * examined and freed, pause and total time, live heap), as Go's
     * gctrace. RCGC_TRACE=1, which applies even when rcgc_init is given a
     * config. Default 0. */
    int trace;
    /* A path: every collection phase of every thread is written there as
     * Chrome trace-event JSON (open it in ui.perfetto.dev), completed by
     * rcgc_shutdown. RCGC_TRACE_FILE, which applies even when rcgc_init is
     * given a config. Default NULL (off). rcgc_init returns the errno of
     * fopen when it cannot be created. */
    const char *trace_file;
} rcgc_config;

enum { RCGC_FINALIZE_BACKGROUND = 0, RCGC_FINALIZE_ON_DEMAND = 1 };

/* Fills *config with the defaults (no environment applied). */
void rcgc_config_init(rcgc_config *config);

/* Applies the RCGC_* environment variables to *config, as rcgc_init(NULL)
 * does to the defaults, for a program that passes a config of its own
 * (e.g. to set finalize_notify) and still wants the variables honoured:
 * rcgc_config_init, then this, then the program's own fields. Returns 0,
 * or EINVAL for NULL or a variable with an invalid value (*config may then
 * be partly updated). */
int rcgc_config_from_env(rcgc_config *config);

/* Initialises the library. config NULL: defaults, adjusted by RCGC_*
 * environment variables. Returns 0, EALREADY when already initialised,
 * EINVAL for a bad config (size too small, a value out of range), ENOMEM
 * or EAGAIN when the background collector thread cannot be made (nothing
 * stays initialised; a later call may succeed). Does not attach the
 * calling thread. Registers fork handlers (once per process): a program
 * may fork and keep using rcgc in the child (docs/api.md, "fork()"). */
int rcgc_init(const rcgc_config *config);

/* Shuts the library down: runs the finalizers and weak-reference callbacks
 * still queued (either mode) on the calling thread, detaches it, drains
 * every merge queue and frees what reached zero, then releases the
 * library's own memory. No other thread may be attached (misuse: aborts). Objects still alive are left to the process (not freed).
 * rcgc_init may be called again afterwards. */
void rcgc_shutdown(void);

/* Collects and waits; returns how many objects it freed. The calling
 * thread must be attached.
 *   0: the calling thread's young generation (and its merge queue).
 *   1: that, then generation 1, by the background collector.
 *   2: a full collection: when it returns, every object that was garbage
 *      when it was called, in any generation of any thread, has been freed,
 *      or finalized and then freed unless its finalizer resurrected it (in
 *      the on-demand finalization mode: queued for finalization instead,
 *      and freed by a later collection once rcgc_run_finalizers ran it),
 *      as long as the other attached threads keep reaching safepoints or
 *      stay in blocking regions. The caller's young generation is
 *      collected first (as for 0), then every thread's merge queue and
 *      young generation are gathered in a brief pause. The count includes
 *      what the background collector freed while the call ran.
 * Finalizable cyclic garbage found by a young collection (0, or 1's first
 * step) is handed to the background collector's thread to finalize (or
 * queued, on demand): when collect(0) returns those finalizers may not
 * have run yet; collect(2) waits for them.
 * Works whether automatic collection is enabled or not. Any other
 * generation: returns 0 with errno == EINVAL. */
size_t rcgc_collect(int generation);

/* Runs the finalizers and weak-reference callbacks queued so far (and
 * any queued while it runs) on the calling thread, which must be attached;
 * returns how many entries ran (a finalizer, or one death's callbacks).
 * Meant for RCGC_FINALIZE_ON_DEMAND; in the background mode it runs what
 * the collector has not got to yet. A finalizer may call it again. Not
 * attached: 0 with errno == EPERM (aborts with api checks). */
size_t rcgc_run_finalizers(void);

/* Entries queued and not yet run: a snapshot. Any thread. */
size_t rcgc_pending_finalizers(void);

/* Automatic collection on or off (like Python's gc.enable/disable). Off:
 * no young or background collection starts by itself; rcgc_collect still
 * works and objects still die by count. */
void rcgc_enable(void);
void rcgc_disable(void);
int rcgc_is_enabled(void);

/* Thresholds (see rcgc_config): generation 0, 1 or 2. set returns 0, or
 * EINVAL for a bad generation or threshold0 == 0. get returns 0 for a bad
 * generation. */
int rcgc_set_threshold(int generation, uint32_t value);
uint32_t rcgc_get_threshold(int generation);

/* Objects in a generation now: 0 young (all threads), 1, 2, or 3 (the
 * permanent generation of rcgc_freeze). A snapshot. */
size_t rcgc_get_count(int generation);

/* Moves every tracked object into the permanent generation, which no
 * collection examines (for runtimes that fork: copy-on-write pages stay
 * shared). Objects still die by count. unfreeze moves them back to
 * generation 2. 0, or EPERM from an unattached thread. */
int rcgc_freeze(void);
int rcgc_unfreeze(void);

/* 1 if obj can take part in cycle collection (its type has a traverse and
 * it is not immortal), else 0. */
int rcgc_is_tracked(const void *obj);

/* Objects kept, not freed, by debug_leaks. */
size_t rcgc_get_leaked(void);

/* Collection callbacks: called on the collecting thread at the start and
 * end of every collection (a thread's young collection runs on that
 * thread; the older generations on the background collector thread). */
enum { RCGC_GC_START = 0, RCGC_GC_END = 1 };
typedef struct rcgc_gc_info {
    size_t size;           /* sizeof(rcgc_gc_info) */
    int phase;             /* RCGC_GC_START or RCGC_GC_END */
    int generation;        /* 0, 1 or 2 (2: a full collection) */
    uint64_t examined;     /* objects examined */
    uint64_t freed;        /* at the end: objects freed */
    uint64_t duration_ns;  /* at the end: time the collection took */
    uint64_t pause_ns;     /* at the end: time other threads were stopped
                              by it (young: 0, it stops only its own
                              thread, for duration_ns; older: its pauses) */
} rcgc_gc_info;
typedef void (*rcgc_gc_callback)(const rcgc_gc_info *info, void *arg);
/* 0, EINVAL (NULL fn), ENOMEM (8 callbacks already). */
int rcgc_gc_callback_add(rcgc_gc_callback fn, void *arg);
/* 0, or ENOENT when (fn, arg) is not registered. */
int rcgc_gc_callback_remove(rcgc_gc_callback fn, void *arg);

typedef struct rcgc_gen_stats {
    uint64_t collections;  /* collections of this generation */
    uint64_t examined;     /* objects examined by them */
    uint64_t freed;        /* objects they freed */
} rcgc_gen_stats;

/* Statistics. Set `size` to sizeof(rcgc_stats) before calling
 * rcgc_get_stats; it fills min(size, its own size) bytes, so the struct can
 * grow. Reading statistics never triggers or delays a collection. */
typedef struct rcgc_stats {
    size_t size;
    uint64_t live_objects;       /* allocated and not yet freed */
    uint64_t live_bytes;         /* payload bytes of those */
    uint64_t allocated_objects;  /* since rcgc_init */
    uint64_t freed_objects;      /* since rcgc_init */
    uint64_t finalized;          /* finalize calls */
    uint64_t merges;             /* objects whose counts were merged */
    uint64_t queued;             /* objects handed to an owner's queue */
    uint64_t pauses;             /* stop-the-world pauses */
    uint64_t pause_total_ns;
    uint64_t pause_max_ns;
    uint64_t threads_attached;   /* now */
    uint64_t heaps;              /* thread heaps ever made (reused ones count once) */
    rcgc_gen_stats gen[3];
    /* Automatic young collections skipped because no store since the
     * previous one could have closed a cycle among the objects they would
     * have examined: they only aged those objects, or (at the limit)
     * promoted them without trial deletion (docs/design/cycles.md, C13). */
    uint64_t young_skipped;
    /* What pauses are made of (docs/design/safepoints.md, S10); a pause in
     * pause_max_ns runs from its request to its end. The longest time to
     * safepoint: from a request until every thread the pause waited for
     * had stopped (a late thread is still running, or waiting for a CPU).
     * The longest hold: the longest time one thread was kept stopped, from
     * its acknowledgement (or its call to leave a blocking region) until
     * it ran again, its wake-up included: what a mutator experiences. The
     * longest work: from the moment every thread had stopped to the
     * pause's end, the part the collector's own work decides. */
    uint64_t pause_ttsp_max_ns;
    uint64_t pause_held_max_ns;
    uint64_t pause_work_max_ns;
} rcgc_stats;

void rcgc_get_stats(rcgc_stats *out);

/* The statistics as one JSON object (the field names of rcgc_stats; "gen"
 * is an array of three objects). stats NULL: a fresh rcgc_get_stats.
 * Writes at most `size` bytes including the terminating NUL, like
 * snprintf, and returns the length the whole text needs (without the
 * NUL): call with size 0 to learn it. Any thread. */
size_t rcgc_stats_json(const rcgc_stats *stats, char *buf, size_t size);

/* ===================================================================== */
/* Weak references                                                       */
/* ===================================================================== */

/* A weak reference does not keep its referent alive. Once the referent is
 * found dead (its count reached zero, or it is proven part of cyclic
 * garbage), every weak reference to it answers NULL from then on, on every
 * thread, atomically: no thread can get a strong reference to an object
 * after the collector decided it was garbage. The callback, when given,
 * runs once, after the referent was cleared, on an attached thread (the one
 * that dropped the last reference, or the background collector for cyclic
 * garbage); a weak reference freed before its callback runs gets none. */
typedef struct rcgc_weakref rcgc_weakref;
typedef void (*rcgc_weakref_callback)(rcgc_weakref *wr, void *arg);

/* A new weak reference to obj (which the caller holds), or NULL with
 * errno: EINVAL for NULL obj, ENOMEM, EPERM from an unattached thread with
 * checks off. The caller frees it with rcgc_weakref_free (also from its
 * own callback). */
rcgc_weakref *rcgc_weakref_new(void *obj, rcgc_weakref_callback callback, void *arg);

/* A new strong reference to the referent (release it with rcgc_decref),
 * or NULL once the referent is dead. NULL wr: NULL. A get never reaches a
 * safepoint, never drains a merge queue and runs no user code, so a
 * caller may hold a lock of its own that a finalizer or weak-reference
 * callback also takes: the get cannot park in a pause or wait for that
 * finalizer. A referent whose count is zero but whose death nobody is
 * deciding (its merge-queue entry still pins it) is counted and
 * answered. Only while another thread is deciding a death, a few
 * instructions with no lock, safepoint or user code in them, and the
 * referent's finalizer is owed, does the get yield and look again: the
 * answer is then the revived object, never NULL first and the object
 * after (docs/design/weakref-finalize.md, W2a). */
void *rcgc_weakref_get(rcgc_weakref *wr);

/* Frees wr; its callback, if not yet run, will not run. NULL: nothing. */
void rcgc_weakref_free(rcgc_weakref *wr);

#ifdef __cplusplus
}
#endif

#include <rcgc/inline.h>

#endif /* RCGC_H */

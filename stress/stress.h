/* stress.h: the declarations shared by the parts of rcgc-stress.
 *
 * Purpose: rcgc-stress runs worker threads that perform random operations
 * on a shared graph of managed objects while an oracle checks every access
 * (stress/oracle.c), the shared structures live in stress/graph.c, the
 * operations in stress/worker.c and the driver (options, supervisor,
 * progress, the final collection and its exact counts) in stress/main.c.
 * Written only against the public header <rcgc.h>. How to run it and what
 * it checks: docs/reliability.md, or `rcgc-stress --help`.
 */
#ifndef STRESS_H
#define STRESS_H

#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ===================================================================== */
/* Random numbers                                                        */
/* ===================================================================== */

/* A 64-bit finalizing mix (the splitmix64 output function). */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* splitmix64: one word of state per worker, seeded from the run's seed,
 * the worker's index and its incarnation, so runs replay from the seed as
 * far as the scheduling of the threads allows. */
static inline uint64_t rng_next(uint64_t *s)
{
    *s += UINT64_C(0x9E3779B97F4A7C15);
    return mix64(*s);
}

static inline uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

/* ===================================================================== */
/* Objects                                                               */
/* ===================================================================== */

/* Kinds of objects, one rcgc_type each (stress_types). Nodes and hubs hold
 * references (tracked by the cycle collector); leaves do not. The "f" kinds
 * have a finalizer that sometimes resurrects its object. */
enum kind { K_NODE, K_FNODE, K_LEAF, K_FLEAF, K_HUB, K_COUNT };

enum { NODE_SLOTS = 4, HUB_SLOTS = 16 };

/* Who may write an object's slots (obj.mode):
 * - a worker's token (>= TOKEN_FIRST): private to that worker; only it
 *   stores into the slots and reads them with borrowed loads, no lock;
 * - MODE_SHARED: any thread, always under the slot's stripe lock (a load
 *   and its incref, or a store);
 * - MODE_FROZEN: nobody stores any more; anyone holding the object reads
 *   the slots with borrowed loads, no lock;
 * - MODE_TRANSIT: handed to another worker through a queue; the first
 *   worker to take a reference to it out of a queue makes it private.
 * A private object may be reachable from shared ones: others then hold it
 * but never read or write its slots. */
enum { MODE_SHARED = 1, MODE_FROZEN = 2, MODE_TRANSIT = 3, TOKEN_FIRST = 16 };

/* Every payload starts with this. `canary` is head_canary(id) while the
 * object lives and CANARY_DEAD once destroy ran; the last word of the
 * payload holds tail_canary(id) likewise. id, kind and words are written
 * once, before the object is published. The canaries and mode are read and
 * written with __atomic builtins (the payload is plain memory from
 * rcgc_alloc): relaxed for the canaries (a diagnostic value, never used to
 * order anything), acquire/release for mode (see graph.c). */
typedef struct obj {
    uint64_t canary;
    uint64_t id;
    uint64_t mode;
    uint32_t kind;
    uint32_t words;   /* payload size in 8-byte words */
    void *slot[];     /* NODE_SLOTS or HUB_SLOTS for nodes and hubs */
} obj;

#define CANARY_DEAD UINT64_C(0xDEADDEADDEADDEAD)

static inline uint64_t head_canary(uint64_t id)
{
    return UINT64_C(0x5354524553534f4b) ^ (id * UINT64_C(0x9E3779B97F4A7C15));
}

static inline uint64_t tail_canary(uint64_t id)
{
    return ~head_canary(id);
}

static inline unsigned kind_slots(unsigned kind)
{
    return kind == K_HUB ? HUB_SLOTS : (kind == K_NODE || kind == K_FNODE) ? NODE_SLOTS : 0;
}

static inline bool kind_finalizes(unsigned kind)
{
    return kind == K_FNODE || kind == K_FLEAF;
}

/* A counted reference held by C code (a worker's local, a queue entry, the
 * graveyard), with the id the holder believes the object has: a pointer
 * whose memory was reused by another object is caught by the id. */
typedef struct ref {
    obj *p;
    uint64_t id;
} ref;

extern const rcgc_type stress_types[K_COUNT];
extern const char *const kind_names[K_COUNT];

/* ===================================================================== */
/* The oracle (oracle.c)                                                 */
/* ===================================================================== */

/* Per-object state, one byte in the oracle table, indexed by id. */
enum {
    ST_ALLOCATED = 0x01,
    ST_DESTROYED = 0x02,
    ST_FINALIZED = 0x04,
    ST_WEAK_NULL = 0x08,   /* a weak reference answered NULL (leaf kinds) */
    ST_WEAKREF = 0x10,     /* a weak reference to it was made (resurrects(id)
                            * tells whether its finalizer resurrects it) */
    ST_KIND_SHIFT = 5,     /* bits 5..7: the kind */
};

/* Per-weak-reference state, indexed by the weak reference's serial. */
enum { W_CREATED = 0x01, W_FREED = 0x02, W_HAS_CB = 0x04, W_CB_RAN = 0x08 };

/* A table of one state byte per id, ids 1 .. cap-1, in an address range
 * reserved up front; chunks of 2^20 ids whose ids have all been settled
 * (destroyed, or for weak references freed) are given back to the kernel,
 * after which their bytes read 0 (unknown). */
typedef struct oracle_table {
    unsigned char *state;
    size_t cap;
    _Atomic uint32_t *left;  /* per chunk: ids not settled yet */
    _Atomic uint64_t next;   /* next id to hand out */
} oracle_table;

enum { CHUNK_SHIFT = 20 };

bool table_init(oracle_table *t, size_t cap);
void table_fini(oracle_table *t);
/* A fresh id, or 0 when the table is full. */
uint64_t table_new_id(oracle_table *t);
unsigned table_get(const oracle_table *t, uint64_t id);
unsigned table_or(oracle_table *t, uint64_t id, unsigned bits);
void table_settle(oracle_table *t, uint64_t id);
/* Calls fn for every id (of a chunk not given back) whose state has all
 * bits of `all` and none of `none`; returns how many calls answered true. */
uint64_t table_scan(const oracle_table *t, unsigned all, unsigned none,
                    bool (*fn)(uint64_t id, unsigned state, void *ctx), void *ctx);

extern oracle_table objects_table, weak_table;

/* Counters summed over stripes (one stripe per thread, so that the
 * collector thread and the workers rarely share a cache line). */
enum counter {
    C_ALLOC,                        /* + kind */
    C_DESTROY = C_ALLOC + K_COUNT,  /* + kind */
    C_FINAL = C_DESTROY + K_COUNT,  /* + kind */
    C_RESURRECT = C_FINAL + K_COUNT,
    C_WEAK_NEW,
    C_WEAK_FREE,
    C_WEAK_HIT,
    C_WEAK_NULL,
    C_WEAK_CB,
    C_COUNTERS
};
void count_add(enum counter c, uint64_t n);
uint64_t count_get(enum counter c);
uint64_t count_live(void);   /* allocated minus destroyed, all kinds */

/* Findings. finding() prints "rcgc-stress: FINDING <what>: ..." naming the
 * object, then the seed and the command that replays the run, and ends the
 * process with status 1: the heap may be corrupt, nothing more is run.
 * finding_soft() prints the same line and counts it (end-of-run checks, which
 * list every discrepancy before the process exits). */
_Noreturn void finding(const char *what, uint64_t id, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void finding_soft(const char *what, uint64_t id, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
uint64_t findings_count(void);
_Noreturn void fatal_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks x as an object its caller holds (a counted reference, or a
 * borrowed one whose container is held): canaries, id (when expect is not
 * 0), oracle state alive, kind. Any discrepancy is a finding, named after
 * `what` (a finding kind) and `where` (the operation). */
void check_obj(const obj *x, uint64_t expect, const char *what, const char *where);

/* A new object of `kind` with `extra` words of padding, private to the
 * calling worker (token), or NULL once the oracle table is full. */
obj *new_obj(unsigned kind, unsigned extra, uint64_t token);

/* Whether the finalizer of object `id` resurrects it (a hash of the seed
 * and the id, so that replays agree). */
bool resurrects(uint64_t id);

/* Weak-reference callback: checks it runs once and after clearing. */
void weak_callback(rcgc_weakref *wr, void *arg);

/* Collection callback: checks pairing and fields of rcgc_gc_info. */
void gc_callback(const rcgc_gc_info *info, void *arg);

/* ===================================================================== */
/* Options and the run (main.c)                                          */
/* ===================================================================== */

enum op {
    OP_ALLOC, OP_STORE, OP_LOAD, OP_POP, OP_SEND, OP_RECV, OP_DROP, OP_CYCLE,
    OP_BREAK, OP_WEAK, OP_WGET, OP_WFREE, OP_GRAVE, OP_BLOCK, OP_COLLECT,
    OP_TOGGLE, OP_FREEZE, OP_EXIT, OP_COUNT
};
extern const char *const op_names[OP_COUNT];

enum inject {
    INJ_NONE, INJ_EXTRA_DECREF, INJ_MISSING_INCREF, INJ_USE_AFTER_DROP, INJ_LEAK,
    INJ_FINALIZE_TWICE, INJ_DESTROY_TWICE, INJ_WEAK_DEAD, INJ_WEAK_NULL_LIVE, INJ_HANG,
    INJ_COUNT
};
extern const char *const inject_names[INJ_COUNT];

typedef struct options {
    unsigned threads;
    double seconds;
    uint64_t seed;
    unsigned weight[OP_COUNT];
    unsigned resurrect_pct;
    uint64_t max_live;
    double progress_s;
    double verify_s;
    double watchdog_s;   /* no progress for this long: a "hang" finding */
    uint32_t threshold[3];
    int inject;
    bool on_demand;      /* --finalize on-demand: worker 0 runs the finalizers */
    char replay[1024];   /* the command line that replays this run */
} options;
extern options opt;

/* ===================================================================== */
/* Shared structures (graph.c)                                           */
/* ===================================================================== */

enum { MAX_WORKERS = 64, NLOCAL = 32, NHUBS = 64, QCAP = 256, WTAB = 1024 };

static inline uint64_t mode_of(const obj *x)
{
    /* Acquire: pairs with the release in set_mode, so that a worker that
     * sees MODE_SHARED or MODE_FROZEN also sees every slot written before
     * (graph.c). */
    return __atomic_load_n(&x->mode, __ATOMIC_ACQUIRE);
}

static inline void set_mode(obj *x, uint64_t mode)
{
    /* Release: publishes the slot writes made while the object was private
     * to whoever reads the new mode with acquire (mode_of). */
    __atomic_store_n(&x->mode, mode, __ATOMIC_RELEASE);
}

/* Striped locks for shared slots, by the slot's address. Never held while
 * another stripe lock is taken, never across a safepoint. */
pthread_mutex_t *stripe_of(const void *addr);
/* --inject-bug hang only: takes a quarter of the stripe locks, for good. */
void stripes_lock_all(void);

/* The hubs: shared objects held by the driver for the whole run, whose
 * slots are the roots of the shared graph. */
extern obj *hubs[NHUBS];

/* Hand-off queues, one per worker index (it outlives the worker threads
 * that use the index). */
typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ref items[QCAP];
    unsigned head, n;
} queue;
extern queue queues[MAX_WORKERS];
bool queue_push(queue *q, ref r, uint64_t sender_token);
bool queue_pop(queue *q, ref *out);
/* Waits up to `ns` for an item, inside a blocking region. */
void queue_wait(queue *q, long ns);

/* The graveyard: references taken by finalizers that resurrect. */
void grave_push(obj *x);
bool grave_pop(ref *out);

/* The weak-reference table: entries shared by all workers, each under the
 * stripe lock of its address. */
typedef struct wentry {
    rcgc_weakref *wr;
    uint64_t serial;
    uint64_t ref_id;
    uint32_t ref_kind;
} wentry;
extern wentry wtab[WTAB];

void graph_init(void);
void graph_fini(void);
/* End of run: drops the queues' entries and the hubs (returns how many),
 * and the graveyard's entries (returns how many). */
uint64_t drop_roots(void);
uint64_t grave_drain(void);

/* Whole-graph verification with every mutator stopped: collects (2), then
 * walks everything reachable from the roots (hubs, the given references,
 * queues, graveyard), checks every object, and compares the number reached
 * with the oracle's live count. Returns the number of objects reached. */
uint64_t verify_graph(const ref *extra, size_t nextra, const char *when);

/* ===================================================================== */
/* Workers (worker.c)                                                    */
/* ===================================================================== */

typedef struct worker {
    unsigned index;
    unsigned incarnation;
    uint64_t token;
    uint64_t rng;
    ref locals[NLOCAL];
    pthread_t thread;
    bool started;
    bool joined;                /* the driver joined its thread (main.c only) */
    _Atomic bool done;          /* its thread has finished its work */
    _Atomic uint64_t ops[OP_COUNT];  /* all incarnations */
    unsigned disabled_left;     /* operations until it re-enables */
    unsigned frozen_left;       /* operations until it unfreezes */
    uint64_t nops;              /* this incarnation */
} worker;

extern worker workers[MAX_WORKERS];

/* Run control, shared by the driver and the workers. */
extern _Atomic bool stop_flag;
extern _Atomic bool over_cap;       /* too many live objects: unlink instead of allocating */
extern _Atomic bool ids_exhausted;  /* the oracle table is full: the run ends early */
void *worker_main(void *arg);

/* On-demand finalization: set by the library's notifier when finalizers
 * are queued; worker 0 runs them. */
extern _Atomic bool finalizers_queued;
void finalize_notify(void *arg);

/* Frees a weak reference taken out of the table and records it. */
void free_weak(wentry e);

/* The driver's heartbeat, for the watchdog (main.c): bumped by every
 * step of the driver, as the workers' operation counts are by theirs. */
extern _Atomic uint64_t driver_beat;

/* Parking: the driver stops every worker in a blocking region to verify
 * the graph. */
void park_request(void);   /* returns once every running worker is parked */
void park_release(void);
void worker_started(void);
void worker_finished(worker *w);

#endif /* STRESS_H */

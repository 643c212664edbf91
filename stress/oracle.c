/* oracle.c: what rcgc-stress knows about every object, and the checks.
 *
 * Purpose: every object carries a canary derived from its id and an id
 * that indexes the oracle table (one state byte per object: allocated,
 * destroyed, finalized, weakly referenced, a weak reference answered NULL,
 * and its kind). Every access checks the canaries and the state; destroy
 * poisons the canaries and marks the state, so that an object freed while
 * still reachable, a double destroy, a second finalization, a finalizer
 * object destroyed without its finalization, and a weak reference that
 * answers a dead object are each named the moment they are seen. The
 * end-of-run counts (main.c) read the counters kept here.
 *
 * Use: stress.h declares the API; findings end the process (status 1) and
 * print the seed and the command that replays the run.
 */
#include "stress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const char *const kind_names[K_COUNT] = {"node", "fnode", "leaf", "fleaf", "hub"};

oracle_table objects_table, weak_table;

/* ===================================================================== */
/* Tables                                                                */
/* ===================================================================== */

enum { CHUNK = 1u << CHUNK_SHIFT };

bool table_init(oracle_table *t, size_t cap)
{
    cap = (cap + CHUNK - 1) & ~(size_t)(CHUNK - 1);
    /* Reserved, not committed: pages appear as ids reach them, and chunks
     * whose ids are all settled are given back (table_settle). */
    void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    size_t nchunks = cap >> CHUNK_SHIFT;
    t->left = malloc(nchunks * sizeof *t->left);
    if (t->left == NULL) {
        munmap(p, cap);
        return false;
    }
    for (size_t i = 0; i < nchunks; i++)
        atomic_init(&t->left[i], i == 0 ? CHUNK - 1 : CHUNK);   /* id 0 is never used */
    t->state = p;
    t->cap = cap;
    atomic_init(&t->next, 1);
    return true;
}

void table_fini(oracle_table *t)
{
    if (t->state != NULL)
        munmap(t->state, t->cap);
    free(t->left);
    memset(t, 0, sizeof *t);
}

uint64_t table_new_id(oracle_table *t)
{
    /* Relaxed: ids only need to be unique; the state written for the id
     * is published with the object itself (rcgc_store's release, a queue's
     * mutex). */
    uint64_t id = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
    return id < t->cap ? id : 0;
}

unsigned table_get(const oracle_table *t, uint64_t id)
{
    if (id == 0 || id >= t->cap)
        return 0;
    /* Relaxed: a diagnostic read. Correct runs order every state change
     * before any access that could observe it through the library's own
     * synchronisation (an object is destroyed only after its last holder
     * let go); a buggy run shows up here or in the canaries. */
    return __atomic_load_n(&t->state[id], __ATOMIC_RELAXED);
}

unsigned table_or(oracle_table *t, uint64_t id, unsigned bits)
{
    if (id == 0 || id >= t->cap)
        return 0;
    /* Relaxed: the read-modify-write alone decides which caller set a bit
     * first (a second finalization, a double destroy), in any order. */
    return __atomic_fetch_or(&t->state[id], (unsigned char)bits, __ATOMIC_RELAXED);
}

void table_settle(oracle_table *t, uint64_t id)
{
    size_t c = id >> CHUNK_SHIFT;
    /* acq_rel: the thread that settles the chunk's last id gives the pages
     * back; every other settler's state writes (release) happen before its
     * madvise (acquire), so no earlier write lands after it. */
    if (atomic_fetch_sub_explicit(&t->left[c], 1, memory_order_acq_rel) == 1)
        madvise(t->state + (c << CHUNK_SHIFT), CHUNK, MADV_DONTNEED);
}

uint64_t table_scan(const oracle_table *t, unsigned all, unsigned none,
                    bool (*fn)(uint64_t id, unsigned state, void *ctx), void *ctx)
{
    /* Relaxed: read once every thread that changes states has stopped. */
    uint64_t next = atomic_load_explicit(&t->next, memory_order_relaxed);
    if (next > t->cap)
        next = t->cap;
    uint64_t found = 0;
    for (size_t c = 0; ((uint64_t)c << CHUNK_SHIFT) < next; c++) {
        /* Relaxed: as above. */
        if (atomic_load_explicit(&t->left[c], memory_order_relaxed) == 0)
            continue;   /* given back: every id settled */
        uint64_t lo = c == 0 ? 1 : (uint64_t)c << CHUNK_SHIFT;
        uint64_t hi = ((uint64_t)c + 1) << CHUNK_SHIFT;
        if (hi > next)
            hi = next;
        for (uint64_t id = lo; id < hi; id++) {
            unsigned st = table_get(t, id);
            if ((st & all) == all && (st & none) == 0 && fn(id, st, ctx))
                found++;
        }
    }
    return found;
}

/* ===================================================================== */
/* Counters                                                              */
/* ===================================================================== */

enum { NCSTRIPES = 16 };
struct cstripe {
    _Alignas(64) _Atomic uint64_t c[C_COUNTERS];
};
static struct cstripe cstripes[NCSTRIPES];
static _Atomic unsigned next_cstripe;
static _Thread_local int my_cstripe = -1;

void count_add(enum counter c, uint64_t n)
{
    if (my_cstripe < 0)
        /* Relaxed: only spreads threads over stripes. */
        my_cstripe = (int)(atomic_fetch_add_explicit(&next_cstripe, 1, memory_order_relaxed) %
                           NCSTRIPES);
    /* Relaxed: a count; the totals are read after the threads that add
     * have been joined, or after rcgc_collect returned (whose wait orders
     * the collector's work before it), or as a progress estimate. */
    atomic_fetch_add_explicit(&cstripes[my_cstripe].c[c], n, memory_order_relaxed);
}

uint64_t count_get(enum counter c)
{
    uint64_t s = 0;
    for (int i = 0; i < NCSTRIPES; i++)
        /* Relaxed: see count_add. */
        s += atomic_load_explicit(&cstripes[i].c[c], memory_order_relaxed);
    return s;
}

uint64_t count_live(void)
{
    uint64_t a = 0, d = 0;
    for (unsigned k = 0; k < K_COUNT; k++) {
        a += count_get(C_ALLOC + k);
        d += count_get(C_DESTROY + k);
    }
    return a - d;
}

/* ===================================================================== */
/* Findings                                                              */
/* ===================================================================== */

static pthread_mutex_t findings_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t nfindings;

static const char *kind_name(int kind)
{
    return kind >= 0 && kind < K_COUNT ? kind_names[kind] : "unknown kind";
}

static void print_finding(const char *what, uint64_t id, int kind, const char *fmt, va_list ap)
{
    if (id != 0)
        printf("rcgc-stress: FINDING %s: object %llu (%s): ", what, (unsigned long long)id,
               kind_name(kind));
    else
        printf("rcgc-stress: FINDING %s: ", what);
    vprintf(fmt, ap);
    putchar('\n');
}

static void print_replay(void)
{
    printf("rcgc-stress: seed %llu; replay with: %s\n", (unsigned long long)opt.seed, opt.replay);
    fflush(stdout);
}

_Noreturn void finding(const char *what, uint64_t id, int kind, const char *fmt, ...)
{
    /* Never unlocked: a second thread finding something waits here until
     * the first one ends the process. */
    pthread_mutex_lock(&findings_mu);
    va_list ap;
    va_start(ap, fmt);
    print_finding(what, id, kind, fmt, ap);
    va_end(ap);
    print_replay();
    _Exit(1);
}

void finding_soft(const char *what, uint64_t id, int kind, const char *fmt, ...)
{
    pthread_mutex_lock(&findings_mu);
    va_list ap;
    va_start(ap, fmt);
    print_finding(what, id, kind, fmt, ap);
    va_end(ap);
    fflush(stdout);
    nfindings++;
    pthread_mutex_unlock(&findings_mu);
}

uint64_t findings_count(void)
{
    pthread_mutex_lock(&findings_mu);
    uint64_t n = nfindings;
    pthread_mutex_unlock(&findings_mu);
    return n;
}

_Noreturn void fatal_error(const char *fmt, ...)
{
    pthread_mutex_lock(&findings_mu);
    va_list ap;
    va_start(ap, fmt);
    printf("rcgc-stress: error: ");
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    print_replay();
    _Exit(3);
}

/* ===================================================================== */
/* Checks                                                                */
/* ===================================================================== */

static int state_kind(uint64_t id)
{
    unsigned st = table_get(&objects_table, id);
    return st & ST_ALLOCATED ? (int)(st >> ST_KIND_SHIFT) : -1;
}

static uint64_t *tail_of(const obj *x)
{
    return (uint64_t *)((uintptr_t)x + ((size_t)x->words - 1) * sizeof(uint64_t));
}

void check_obj(const obj *x, uint64_t expect, const char *what, const char *where)
{
    /* Relaxed: see obj in stress.h. */
    uint64_t head = __atomic_load_n(&x->canary, __ATOMIC_RELAXED);
    uint64_t id = x->id;
    uint64_t who = expect != 0 ? expect : id;
    if (head != head_canary(id)) {
        if (head == CANARY_DEAD)
            finding(what, who, state_kind(who),
                    "in %s: destroy already ran on it (canary poisoned), oracle state %#x",
                    where, table_get(&objects_table, who));
        finding(what, who, state_kind(who),
                "in %s: head canary %#llx does not match its id field %llu "
                "(the memory was freed and reused, or overwritten)",
                where, (unsigned long long)head, (unsigned long long)id);
    }
    if (expect != 0 && id != expect)
        finding(what, expect, state_kind(expect),
                "in %s: the pointer now holds object %llu (%s): the memory was freed and reused",
                where, (unsigned long long)id, kind_name(state_kind(id)));
    unsigned st = table_get(&objects_table, id);
    unsigned kind = x->kind;
    if (!(st & ST_ALLOCATED))
        finding(what, id, kind < K_COUNT ? (int)kind : -1,
                "in %s: the oracle holds no record of it (never allocated, or its whole "
                "chunk of ids was destroyed)", where);
    if (st & ST_DESTROYED)
        finding(what, id, (int)kind, "in %s: destroy already ran (oracle state %#x), canary intact",
                where, st);
    if (kind >= K_COUNT || (st >> ST_KIND_SHIFT) != kind)
        finding(what, id, state_kind(id), "in %s: kind field %u, the oracle recorded kind %u",
                where, kind, st >> ST_KIND_SHIFT);
    if (rcgc_type_of(x) != &stress_types[kind])
        finding(what, id, (int)kind, "in %s: rcgc_type_of answers type %p, not %s's",
                where, (const void *)rcgc_type_of(x), kind_names[kind]);
    /* Relaxed: as the head canary. */
    uint64_t tail = __atomic_load_n(tail_of(x), __ATOMIC_RELAXED);
    if (tail != tail_canary(id))
        finding(what, id, (int)kind, "in %s: tail canary %#llx, expected %#llx (overwritten)",
                where, (unsigned long long)tail, (unsigned long long)tail_canary(id));
    if (st & ST_WEAK_NULL)
        finding("weak-null-while-live", id, (int)kind,
                "in %s: a weak reference answered NULL for it, yet it is still reachable", where);
}

obj *new_obj(unsigned kind, unsigned extra, uint64_t token)
{
    uint64_t id = table_new_id(&objects_table);
    if (id == 0)
        return NULL;
    /* canary, id, mode, kind+words, slots, padding, tail canary */
    unsigned words = 4 + kind_slots(kind) + extra + 1;
    obj *x = rcgc_alloc(&stress_types[kind], (size_t)words * sizeof(uint64_t));
    if (x == NULL)
        fatal_error("rcgc_alloc(%s, %u bytes) failed: %s", kind_names[kind],
                    words * 8u, strerror(errno));
    /* Relaxed: the object is not published yet; rcgc_store's release or a
     * queue's mutex publishes these writes. */
    __atomic_store_n(&x->canary, head_canary(id), __ATOMIC_RELAXED);
    x->id = id;
    x->kind = kind;
    x->words = words;
    /* Relaxed: as the canary. */
    __atomic_store_n(&x->mode, token, __ATOMIC_RELAXED);
    __atomic_store_n(tail_of(x), tail_canary(id), __ATOMIC_RELAXED);
    table_or(&objects_table, id, ST_ALLOCATED | (kind << ST_KIND_SHIFT));
    count_add(C_ALLOC + kind, 1);
    return x;
}

bool resurrects(uint64_t id)
{
    return mix64(id ^ (opt.seed * UINT64_C(0x2545F4914F6CDD1D))) % 100 < opt.resurrect_pct;
}

/* ===================================================================== */
/* The types                                                             */
/* ===================================================================== */

static void traverse_node(void *o, rcgc_visit_fn visit, void *ctx)
{
    obj *x = o;
    for (unsigned i = 0; i < NODE_SLOTS; i++)
        visit(&x->slot[i], ctx);
}

static void traverse_hub(void *o, rcgc_visit_fn visit, void *ctx)
{
    obj *x = o;
    for (unsigned i = 0; i < HUB_SLOTS; i++)
        visit(&x->slot[i], ctx);
}

/* May run on any attached thread, the collector's included, concurrently
 * with the workers: only atomics and the graveyard's lock (a leaf lock). */
static void on_finalize(void *o)
{
    obj *x = o;
    check_obj(x, 0, "freed-while-reachable", "finalize");
    uint64_t id = x->id;
    unsigned old = table_or(&objects_table, id, ST_FINALIZED);
    if (old & ST_FINALIZED)
        finding("second-finalization", id, (int)x->kind, "finalize ran again (state %#x%s)", old,
                resurrects(id) ? "; its first finalization resurrected it" : "");
    count_add(C_FINAL + x->kind, 1);
    /* A frozen object's slots never change: what they hold must still be
     * alive while finalizers run (a garbage set is finalized whole before
     * any of it is destroyed). Other modes may be stored into by a worker
     * that got the object back through a weak reference meanwhile. */
    if (kind_slots(x->kind) != 0 && mode_of(x) == MODE_FROZEN)
        for (unsigned i = 0; i < NODE_SLOTS; i++) {
            obj *v = rcgc_load(&x->slot[i]);
            if (v != NULL)
                check_obj(v, 0, "freed-while-reachable", "finalize, a slot of a frozen object");
        }
    if (resurrects(id)) {
        count_add(C_RESURRECT, 1);
        grave_push(x);
    }
}

static void on_destroy(void *o)
{
    obj *x = o;
    uint64_t id = x->id;
    /* Relaxed: see obj in stress.h. */
    uint64_t head = __atomic_load_n(&x->canary, __ATOMIC_RELAXED);
    if (head == CANARY_DEAD)
        finding("double-destroy", id, state_kind(id),
                "destroy ran on it again (canary poisoned; oracle state %#x%s)",
                table_get(&objects_table, id), resurrects(id) ? ", its finalizer resurrects" : "");
    if (head != head_canary(id))
        finding("double-destroy", id, state_kind(id),
                "destroy ran on memory whose head canary %#llx does not match its id field",
                (unsigned long long)head);
    unsigned old = table_or(&objects_table, id, ST_DESTROYED);
    if (old & ST_DESTROYED)
        finding("double-destroy", id, (int)x->kind, "destroy ran again (state %#x)", old);
    if (!(old & ST_ALLOCATED))
        finding("double-destroy", id, (int)x->kind, "destroy of an id the oracle never saw");
    if (kind_finalizes(x->kind) && !(old & ST_FINALIZED))
        finding("destroyed-unfinalized", id, (int)x->kind,
                "destroyed without its finalizer having run (state %#x)", old);
    /* Relaxed: see obj in stress.h. */
    __atomic_store_n(&x->canary, CANARY_DEAD, __ATOMIC_RELAXED);
    __atomic_store_n(tail_of(x), CANARY_DEAD, __ATOMIC_RELAXED);
    count_add(C_DESTROY + x->kind, 1);
    table_settle(&objects_table, id);
}

const rcgc_type stress_types[K_COUNT] = {
    [K_NODE] = {"node", traverse_node, NULL, on_destroy},
    [K_FNODE] = {"fnode", traverse_node, on_finalize, on_destroy},
    [K_LEAF] = {"leaf", NULL, NULL, on_destroy},
    [K_FLEAF] = {"fleaf", NULL, on_finalize, on_destroy},
    [K_HUB] = {"hub", traverse_hub, NULL, on_destroy},
};

/* ===================================================================== */
/* Callbacks                                                             */
/* ===================================================================== */

void weak_callback(rcgc_weakref *wr, void *arg)
{
    uint64_t serial = (uint64_t)(uintptr_t)arg;
    unsigned old = table_or(&weak_table, serial, W_CB_RAN);
    if (!(old & W_CREATED))
        return;   /* freed, and its whole chunk given back: nothing to compare */
    if (old & W_CB_RAN)
        finding("weak-callback-twice", 0, -1, "the callback of weak reference %llu ran again",
                (unsigned long long)serial);
    if (!(old & W_HAS_CB))
        finding("weak-callback-twice", 0, -1,
                "weak reference %llu, made without a callback, had one run",
                (unsigned long long)serial);
    obj *p = rcgc_weakref_get(wr);
    if (p != NULL)
        finding("weak-answered-dead", p->id, (int)p->kind,
                "weak reference %llu answers it inside its callback, after it was cleared",
                (unsigned long long)serial);
    count_add(C_WEAK_CB, 1);
}

/* Collections nest only through user code run by a collection (a
 * finalizer that allocates), so START and END pair up per thread. */
static _Thread_local int gc_depth;

void gc_callback(const rcgc_gc_info *info, void *arg)
{
    (void)arg;
    if (info->size < sizeof *info || info->generation < 0 || info->generation > 2)
        finding("gc-callback", 0, -1, "rcgc_gc_info with size %zu, generation %d", info->size,
                info->generation);
    if (info->phase == RCGC_GC_START) {
        gc_depth++;
    } else if (info->phase == RCGC_GC_END) {
        if (gc_depth == 0)
            finding("gc-callback", 0, -1, "END of a generation-%d collection without its START",
                    info->generation);
        gc_depth--;
    } else {
        finding("gc-callback", 0, -1, "phase %d", info->phase);
    }
}

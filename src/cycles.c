/* cycles.c: the older generations and the background collector.
 *
 * Purpose: objects that survive a young collection (or whose counts were
 * merged) move to generation 1, then 2. A background collector thread owns
 * those generations' tables outright: survivors and the deaths of old
 * objects reach it through an inbox, so nothing it examines can be freed
 * under it. It finds cyclic garbage in two steps:
 *
 *   1. detection, concurrent with the mutators: trial deletion over the
 *      generations being collected, using counts and slots read while the
 *      program runs; the result is a candidate set, possibly wrong;
 *   2. confirmation, in a stop-the-world pause: trial deletion again, over
 *      the candidates only, with exact counts. Work proportional to the
 *      candidates, not to the heap: pauses stay flat as the heap grows.
 *
 * The confirmed garbage is freed after the world resumes. Objects with a
 * finalizer not yet run are finalized instead and examined again by the
 * next collection (they survive if a finalizer made them reachable).
 *
 * Design: docs/design/cycles.md. C1..C10 are cited below.
 *
 * Test-only hooks (C10) mark the phase boundaries.
 *
 *   ===================================================================
 *   State machine of the collector thread (one place to read it):
 *
 *      IDLE --(timeout, inbox full, request)--> INGEST
 *      INGEST --(thresholds or request: gen 1 / full)--> DETECT
 *      INGEST --(nothing to do)--> IDLE
 *      DETECT --(no candidates)--> PROMOTE
 *      DETECT --(candidates)--> CONFIRM (pause) --> RECLAIM --> PROMOTE
 *      PROMOTE (gen 1 survivors to gen 2) --> INGEST (deaths meanwhile)
 *                                          --> IDLE, requests answered
 *   ===================================================================
 */
#include "internal.h"
#include "trial.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ==================================================================== */
/* Tables of the older generations (collector thread only, C1)          */
/* ==================================================================== */

/* The largest inbox array kept for reuse (8 MB of pointers). */
#define RCGC_SPARE_MAX ((size_t)1 << 20)

typedef struct table {
    rcgc__header **a;
    uint32_t n, cap;
} table;

typedef struct collector {
    pthread_t thread;
    bool started;

    pthread_mutex_t mu;          /* inbox, requests, stop */
    pthread_cond_t wake;         /* work for the collector */
    pthread_cond_t done;         /* a request was answered */
    /* Inbox (C1): promotions (target generation in their gc_bits) and
     * deaths of old objects, in the order they happened. */
    rcgc__header **promo;
    size_t promo_n, promo_cap;
    /* The array ingest last emptied, kept (up to RCGC_SPARE_MAX entries)
     * for the next: a gathering pause then appends a young table into
     * memory already mapped and touched, instead of faulting in a fresh
     * array inside the pause. */
    rcgc__header **promo_spare;
    size_t promo_spare_cap;
    rcgc__header **dead;
    size_t dead_n, dead_cap;
    /* Requests (C8). */
    uint64_t req_seq, done_seq;
    int req_kind;                /* 0 none, RCGC_REQ_* */
    bool stop;
    /* Objects the collector thread's collections have freed, and objects
     * whose finalizers (or weak-reference callbacks) it has run, ever, its
     * automatic collections included: an explicit collection reports what
     * was freed while it ran, and repeats while finalizers ran (C8). */
    uint64_t freed_total, fin_runs;
    uint64_t last_pause_ns;      /* the confirmation pause of this collection */

    /* Collector-thread state. */
    table gen[4];                /* 1, 2 and 3 (permanent) used */
    uint64_t gen2_at_last_full;
    rcgc__heap *heap;            /* the collector's own heap */
} collector;

enum { RCGC_REQ_GEN1 = 1, RCGC_REQ_FULL, RCGC_REQ_FREEZE, RCGC_REQ_UNFREEZE };

static collector col = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
};

static void fatal_oom(const char *what)
{
    rcgc_fatal("rcgc (collector)", NULL, "out of memory growing %s", what);
}

static void table_add(table *t, int gen, rcgc__header *h)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 1024;
        /* Indices from RCGC__WINDOW_BASE on are the young window's (C15):
         * a generation holds fewer objects (2^31, 16 GiB of pointers). */
        if (cap > RCGC__WINDOW_BASE)
            fatal_oom("a generation table past 2^31 objects");
        rcgc__header **a = realloc(t->a, cap * sizeof *a);
        if (a == NULL)
            fatal_oom("a generation table");
        t->a = a;
        t->cap = cap;
    }
    rcgc_index_set(h, t->n);
    t->a[t->n++] = h;
    /* Relaxed: a gauge for rcgc_get_count. */
    atomic_store_explicit(&rcgc_world.gen_count[gen], t->n, memory_order_relaxed);
}

static void table_remove(table *t, int gen, rcgc__header *h)
{
    uint32_t i = rcgc_index_get(h);
    if (i == RCGC_NO_INDEX || i >= t->n || t->a[i] != h)
        rcgc_fatal("rcgc (collector)", rcgc_payload(h), "generation table corrupt");
    rcgc__header *last = t->a[--t->n];
    t->a[i] = last;
    rcgc_index_set(last, i);
    rcgc_index_set(h, RCGC_NO_INDEX);
    /* Relaxed: a gauge for rcgc_get_count. */
    atomic_store_explicit(&rcgc_world.gen_count[gen], t->n, memory_order_relaxed);
}

/* ==================================================================== */
/* The inbox (C1)                                                        */
/* ==================================================================== */

static void push(rcgc__header ***a, size_t *n, size_t *cap, rcgc__header *h)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        rcgc__header **na = realloc(*a, c * sizeof *na);
        if (na == NULL)
            fatal_oom("the collector's inbox");
        *a = na;
        *cap = c;
    }
    (*a)[(*n)++] = h;
}

/* Moves the reporting thread's buffered promotions and deaths into the
 * inbox: one lock per batch (C1). The caller holds heap's token. */
void rcgc_old_flush(rcgc__heap *heap)
{
    if (heap == NULL || heap->old_n == 0)
        return;
    pthread_mutex_lock(&col.mu);
    for (uint32_t i = 0; i < heap->old_n; i++) {
        uintptr_t e = heap->old_buf[i];
        rcgc__header *h = (rcgc__header *)(e & ~(uintptr_t)1);
        if (e & 1)
            push(&col.dead, &col.dead_n, &col.dead_cap, h);
        else
            push(&col.promo, &col.promo_n, &col.promo_cap, h);
    }
    heap->old_n = 0;
    if (col.promo_n + col.dead_n >= 65536)
        pthread_cond_signal(&col.wake);
    pthread_mutex_unlock(&col.mu);
}

/* Buffers an inbox entry on the calling thread's heap (tag bit 0: a
 * death), or pushes it directly from an unattached thread. */
static void report(rcgc__header *h, uintptr_t tag)
{
    rcgc__heap *heap = rcgc__tls_self.heap;
    if (heap == NULL) {
        pthread_mutex_lock(&col.mu);
        if (tag)
            push(&col.dead, &col.dead_n, &col.dead_cap, h);
        else
            push(&col.promo, &col.promo_n, &col.promo_cap, h);
        pthread_mutex_unlock(&col.mu);
        return;
    }
    heap->old_buf[heap->old_n++] = (uintptr_t)h | tag;
    if (heap->old_n == RCGC_OLD_BUF)
        rcgc_old_flush(heap);
}

void rcgc_old_adopt(rcgc__header **objs, size_t n, int gen)
{
    for (size_t i = 0; i < n; i++) {
        /* C1: from here the object is old: its death is reported to the
         * collector, possibly before this promotion reaches it. */
        rcgc_set_gen(objs[i], (uint32_t)gen);
        rcgc_index_set(objs[i], RCGC_NO_INDEX);
        report(objs[i], 0);
    }
}

/* C1: a whole young table promoted at once (a gathering pause, a detach,
 * a fork): one pass sets the generations and indices, then the entries
 * reach the inbox in one copy under col.mu, instead of one by one through
 * the calling thread's report buffer. A gathering pause does this for
 * every thread's table, so its length is this loop's (cycles.md, C8). */
void rcgc_old_adopt_table(rcgc__header **objs, size_t n, int gen, bool stopped)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        /* The headers of a table that aged are scattered over the heap:
         * ask for those a few entries ahead while this one is written. */
        if (i + 8 < n)
            __builtin_prefetch(&objs[i + 8]->gc_bits, 1);
        if (stopped) {
            /* In a pause every other attached thread is stopped, and no
             * other thread may touch an object (an unattached one or one in
             * a blocking region must not), so nobody ORs a bit in
             * meanwhile: a load and a store replace rcgc_set_gen's
             * compare-and-swap. Release, as rcgc_set_gen's. */
            uint32_t v = __atomic_load_n(&objs[i]->gc_bits, __ATOMIC_RELAXED);
            __atomic_store_n(&objs[i]->gc_bits, (v & ~RCGC_GEN_MASK) | (uint32_t)gen,
                             __ATOMIC_RELEASE);
        } else {
            rcgc_set_gen(objs[i], (uint32_t)gen);
        }
        rcgc_index_set(objs[i], RCGC_NO_INDEX);
    }
    pthread_mutex_lock(&col.mu);
    if (col.promo_n + n > col.promo_cap) {
        size_t c = col.promo_cap ? col.promo_cap * 2 : 1024;
        if (c < col.promo_n + n)
            c = col.promo_n + n;
        rcgc__header **na = realloc(col.promo, c * sizeof *na);
        if (na == NULL)
            fatal_oom("the collector's inbox");
        col.promo = na;
        col.promo_cap = c;
    }
    memcpy(col.promo + col.promo_n, objs, n * sizeof *objs);
    col.promo_n += n;
    if (col.promo_n + col.dead_n >= 65536)
        pthread_cond_signal(&col.wake);
    pthread_mutex_unlock(&col.mu);
}

void rcgc_old_dead(rcgc__header *h)
{
    report(h, 1);
}

static void free_memory(rcgc__heap *self, rcgc__header *h)
{
    rcgc_object_free(self, h);
}

/* Long loops of the collector thread reach a safepoint every 1024 steps,
 * so that a pause never waits for them (time to safepoint, C8). A pause
 * does not touch the collector's tables, so stopping mid-loop is safe. */
static inline void poll_now_and_then(rcgc__heap *self, size_t i)
{
    if (self != NULL && self == col.heap && (i & 1023) == 0)
        rcgc_safepoint();
}

/* Collector thread: applies the inbox to the tables. Deaths and promotions
 * come from per-thread buffers in any order (C1). */
static size_t ingest_into(rcgc__heap *self)
{
    pthread_mutex_lock(&col.mu);
    rcgc__header **promo = col.promo, **dead = col.dead;
    size_t np = col.promo_n, nd = col.dead_n, promo_cap = col.promo_cap;
    col.promo = col.promo_spare;
    col.promo_cap = col.promo_spare_cap;
    col.promo_spare = NULL;
    col.promo_spare_cap = 0;
    col.dead = NULL;
    col.promo_n = col.dead_n = col.dead_cap = 0;
    pthread_mutex_unlock(&col.mu);
    for (size_t i = 0; i < nd; i++) {
        rcgc__header *h = dead[i];
        if (rcgc_index_get(h) == RCGC_NO_INDEX) {
            /* Its promotion has not arrived yet (it sits in some thread's
             * buffer): free it when it does (C1). Only the collector
             * looks at this bit. */
            __atomic_fetch_or(&h->gc_bits, RCGC_BIT_DEAD_EARLY, __ATOMIC_RELAXED);
            continue;
        }
        uint32_t g = rcgc_gen_of(h);
        table_remove(&col.gen[g], (int)g, h);
        free_memory(self, h);
        poll_now_and_then(self, i);
    }
    for (size_t i = 0; i < np; i++) {
        rcgc__header *h = promo[i];
        poll_now_and_then(self, i);
        /* Relaxed: only the collector reads or writes DEAD_EARLY. */
        if (__atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED) & RCGC_BIT_DEAD_EARLY) {
            free_memory(self, h);
            continue;
        }
        uint32_t g = rcgc_gen_of(h);
        table_add(&col.gen[g], (int)g, h);
    }
    pthread_mutex_lock(&col.mu);
    if (col.promo_spare == NULL && promo_cap <= RCGC_SPARE_MAX) {
        col.promo_spare = promo;
        col.promo_spare_cap = promo_cap;
        promo = NULL;
    }
    pthread_mutex_unlock(&col.mu);
    free(promo);
    free(dead);
    return np + nd;
}

static void ingest(void)
{
    rcgc_old_flush(col.heap);
    ingest_into(col.heap);
}

/* Applies the inbox from another thread, once the collector has stopped
 * (shutdown). self NULL: no statistics (the heaps are going away). */
size_t rcgc_collector_ingest(rcgc__heap *self)
{
    return col.started ? 0 : ingest_into(self);
}

/* ==================================================================== */
/* Garbage sets: finalize, or free (C7)                                  */
/* ==================================================================== */

static void release_cycle_slot(void **slot, void *ctx)
{
    (void)ctx;
    /* acq_rel exchange: a collector may read this slot concurrently (C5);
     * the acquire makes the value's header readable. */
    void *v = __atomic_exchange_n(slot, NULL, __ATOMIC_ACQ_REL);
    if (v == NULL)
        return;
    /* Members of the set are freed together below; everything else gets
     * its reference released. Reading v's bits is safe: either v is a
     * member (not freed yet) or this slot's reference keeps it alive. */
    if (__atomic_load_n(&rcgc__hdr(v)->gc_bits, __ATOMIC_ACQUIRE) & RCGC_BIT_COLLECTING)
        return;
    rcgc_decref(v);
}

static void report_garbage(rcgc__header **g, uint32_t m)
{
    /* Debug mode: report the cycle by type names (at most 8 distinct). */
    const char *names[8];
    unsigned counts[8];
    int k = 0;
    for (uint32_t i = 0; i < m; i++) {
        const char *nm = rcgc_type_get(g[i])->name;
        int j = 0;
        while (j < k && names[j] != nm)
            j++;
        if (j == k && k < 8) {
            names[k] = nm;
            counts[k++] = 0;
        }
        if (j < k)
            counts[j]++;
    }
    char line[512];
    int off = snprintf(line, sizeof line, "rcgc: leak: garbage cycle of %u objects:", m);
    for (int j = 0; j < k && off < (int)sizeof line; j++)
        off += snprintf(line + off, sizeof line - (size_t)off, " %s x%u", names[j], counts[j]);
    fprintf(stderr, "%s\n", line);
}

/* Puts young members back in this heap's young table (they are owned by
 * it: C1), so that whatever user code does to them next goes through the
 * normal paths: a merge moves them out, a death by count removes them. */
static void young_retrack(rcgc__heap *self, rcgc__header **g, uint32_t m)
{
    /* C13: they come back with their old edges (cycles among them): the
     * next young collections must not be skipped. */
    rcgc__tls_self.young_upward |= RCGC__EDGE_ANY;
    for (uint32_t i = 0; i < m; i++)
        if (rcgc_young_add(self, g[i]) != 0)
            rcgc_old_adopt(&g[i], 1, 1);
}

size_t rcgc_garbage(rcgc__heap *self, rcgc__header **g, uint32_t m, int gen)
{
    if (m == 0)
        return 0;
    bool debug = rcgc_world.config.debug_leaks != 0;
    if (debug) {
        /* Kept and reported, never freed: into the permanent generation. */
        report_garbage(g, m);
        atomic_fetch_add_explicit(&rcgc_world.leaked, m, memory_order_relaxed);
        if (gen == 0) {
            rcgc_old_adopt(g, m, RCGC_GEN_PERMANENT);
        } else {
            for (uint32_t i = 0; i < m; i++) {
                uint32_t gg = rcgc_gen_of(g[i]);
                table_remove(&col.gen[gg], (int)gg, g[i]);
                rcgc_set_gen(g[i], RCGC_GEN_PERMANENT);
                table_add(&col.gen[RCGC_GEN_PERMANENT], RCGC_GEN_PERMANENT, g[i]);
            }
        }
        return 0;
    }

    /* C7: every member is pinned by a reference of ours for as long as
     * user code (finalize, destroy) runs on the set, so that code which
     * stores into slots cannot kill a member by count under us. */
    bool pending = false;
    for (uint32_t i = 0; i < m; i++)
        pending |= rcgc_type_get(g[i])->finalize != NULL &&
                   !(__atomic_load_n(&g[i]->gc_bits, __ATOMIC_ACQUIRE) & RCGC_BIT_FINALIZED);
    if (pending) {
        /* W7: every pending finalizer runs (on the collector thread, or
         * on demand), then the next collection looks at the set again:
         * what a finalizer made reachable survives, the rest is freed
         * then, never finalized twice. Young members go back to their
         * table first. The queue pins each member it holds, so the set
         * stays whole until its finalizers ran; the pins are dropped
         * through the normal paths (a member a finalizer cut loose dies by
         * count). Members with no finalizer owed are not pinned: no
         * finalizer can reach one that no pinned member reaches. */
        if (gen == 0)
            young_retrack(self, g, m);
        uint32_t k = 0;
        for (uint32_t i = 0; i < m; i++)
            /* acq_rel fetch_or: claims the finalization, exactly once per
             * object whoever gets here first (a death by count claims
             * with the same bit, O3). */
            if (rcgc_type_get(g[i])->finalize != NULL &&
                !(__atomic_fetch_or(&g[i]->gc_bits, RCGC_BIT_FINALIZED, __ATOMIC_ACQ_REL) &
                  RCGC_BIT_FINALIZED)) {
                rcgc_incref(rcgc_payload(g[i]));
                g[k++] = g[i];
            }
        if (rcgc_finq_objects(g, k) != 0) {
            /* No memory to queue: give the claims back and unpin; a later
             * collection tries again (a member's count stays above zero:
             * its references from the set). Release: orders the clear
             * after our reads of the member. */
            for (uint32_t i = 0; i < k; i++) {
                __atomic_fetch_and(&g[i]->gc_bits, (uint16_t)~RCGC_BIT_FINALIZED, __ATOMIC_RELEASE);
                rcgc_decref(rcgc_payload(g[i]));
            }
        }
        return 0;
    }

    /* Free the set. Pin, destroy every member, then mark the members
     * COLLECTING and release every reference to the outside (references
     * between members are dropped without counting: the whole set goes
     * at once), then free the memory; the pins go with it. */
    for (uint32_t i = 0; i < m; i++) {
        rcgc_incref(rcgc_payload(g[i]));
        __atomic_fetch_or(&g[i]->gc_bits, RCGC_BIT_DYING, __ATOMIC_RELEASE);
    }
    for (uint32_t i = 0; i < m; i++)
        if (rcgc_type_get(g[i])->destroy != NULL)
            rcgc_type_get(g[i])->destroy(rcgc_payload(g[i]));
    for (uint32_t i = 0; i < m; i++)
        /* Release: pairs with release_cycle_slot's acquire load of the bits. */
        __atomic_fetch_or(&g[i]->gc_bits, RCGC_BIT_COLLECTING, __ATOMIC_RELEASE);
    for (uint32_t i = 0; i < m; i++)
        rcgc_type_get(g[i])->traverse(rcgc_payload(g[i]), release_cycle_slot, NULL);
    for (uint32_t i = 0; i < m; i++) {
        if (gen != 0) {
            uint32_t gg = rcgc_gen_of(g[i]);
            table_remove(&col.gen[gg], (int)gg, g[i]);
            /* loadref.md, L4: an old member's `shared` holds the counts of
             * references from inside the set, which the next object of the
             * block must not inherit. The set was confirmed in a pause and
             * is unreachable since, so no other thread can be counting the
             * block: a store. Relaxed: the pause and the free order it. */
            __atomic_store_n(&g[i]->shared, 0, __ATOMIC_RELAXED);
        }
        free_memory(self, g[i]);
    }
    return m;
}

/* ==================================================================== */
/* Notification, statistics and test hooks                               */
/* ==================================================================== */

static pthread_mutex_t cb_mu = PTHREAD_MUTEX_INITIALIZER;
typedef struct cb_entry {
    rcgc_gc_callback fn;
    void *arg;
} cb_entry;
static cb_entry callbacks[8];

int rcgc_gc_callback_add(rcgc_gc_callback fn, void *arg)
{
    if (fn == NULL)
        return EINVAL;
    int rc = ENOMEM;
    pthread_mutex_lock(&cb_mu);
    for (int i = 0; i < 8; i++)
        if (callbacks[i].fn == NULL) {
            callbacks[i].fn = fn;
            callbacks[i].arg = arg;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&cb_mu);
    /* Release: the notifier's acquire sees the registration. */
    atomic_fetch_add_explicit(&rcgc_world.ncallbacks, rc == 0, memory_order_release);
    return rc;
}

int rcgc_gc_callback_remove(rcgc_gc_callback fn, void *arg)
{
    int rc = ENOENT;
    pthread_mutex_lock(&cb_mu);
    for (int i = 0; i < 8; i++)
        if (callbacks[i].fn == fn && callbacks[i].arg == arg) {
            callbacks[i].fn = NULL;
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&cb_mu);
    if (rc == 0)
        /* Release: pairs with the notifier's acquire. */
        atomic_fetch_sub_explicit(&rcgc_world.ncallbacks, 1, memory_order_release);
    return rc;
}

void rcgc_gc_notify(int phase, int generation, uint64_t examined, uint64_t freed, uint64_t ns,
                    uint64_t pause_ns)
{
    /* Acquire: pairs with the registration's release. */
    if (atomic_load_explicit(&rcgc_world.ncallbacks, memory_order_acquire) == 0)
        return;
    rcgc_gc_info info = {sizeof info, phase, generation, examined, freed, ns, pause_ns};
    cb_entry copy[8];
    pthread_mutex_lock(&cb_mu);
    memcpy(copy, callbacks, sizeof copy);
    pthread_mutex_unlock(&cb_mu);
    for (int i = 0; i < 8; i++)
        if (copy[i].fn != NULL)
            copy[i].fn(&info, copy[i].arg);
}

void rcgc_gc_record(int generation, uint64_t examined, uint64_t freed)
{
    pthread_mutex_lock(&rcgc_world.lock);
    rcgc_world.gen[generation].collections++;
    rcgc_world.gen[generation].examined += examined;
    rcgc_world.gen[generation].freed += freed;
    pthread_mutex_unlock(&rcgc_world.lock);
}

void (*_Atomic rcgc_test_hook_fn)(int phase, void *arg);

void rcgc_set_test_hook(void (*fn)(int phase, void *arg))
{
    /* Release: pairs with rcgc_test_hook's acquire. */
    atomic_store_explicit(&rcgc_test_hook_fn, fn, memory_order_release);
}

/* ==================================================================== */
/* Detection (concurrent) and confirmation (in a pause): C2..C5          */
/* ==================================================================== */

/* Objects the old collector must keep whatever their counts say: dying by
 * count (their own death frees them), immortal, or in a merge queue. */
static bool old_root(rcgc__header *h)
{
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE);
    if (bits & (RCGC_BIT_DYING | RCGC_BIT_IMMORTAL))
        return true;
    /* Relaxed: QUEUED is re-read exactly in the pause (C4). */
    return (__atomic_load_n(&h->shared, __ATOMIC_RELAXED) & RCGC__SHARED_QUEUED) != 0;
}

/* Confirms the candidates in a pause; returns how many are garbage, moved
 * to the front of `cand` (rcgc_garbage then marks and reclaims them). */
static uint32_t confirm(rcgc__header **cand, uint32_t nc)
{
    rcgc_trial t;
    if (!rcgc_trial_init(&t, cand, nc, false))
        return 0; /* no memory: free nothing this round (safe) */
    rcgc_test_hook(RCGC_HOOK_OLD_BEFORE_PAUSE, NULL);
    uint64_t t0 = rcgc_now_ns();
    rcgc_pause_begin();
    uint64_t stopped = rcgc_now_ns();
    /* C4: with the world stopped, counts and slots are exact, and every
     * strong reference is counted. A candidate still referenced from
     * outside the set is a root; so is whatever it reaches. */
    rcgc_trial_counts_subtract(&t, old_root);
    rcgc_trial_mark(&t);
    uint32_t m = 0;
    for (uint32_t i = 0; i < nc; i++)
        if (!t.reached[i]) {
            rcgc__header *tmp = cand[m];
            cand[m++] = cand[i];
            cand[i] = tmp;
        }
    /* W5: the weak references to the garbage are cleared in the pause that
     * decided it, so no thread can get a strong reference afterwards; the
     * callbacks run once the world has resumed, before any finalizer. */
    rcgc_weakref *pending = NULL;
    rcgc_weakref_clear_set(cand, m, &pending);
    rcgc_pause_end();
    uint64_t t1 = rcgc_now_ns();
    if (t1 - t0 > col.last_pause_ns)
        col.last_pause_ns = t1 - t0; /* the longest slice's (C14) */
    rcgc_trace_span("time to safepoint", t0, stopped, nc, 0);
    rcgc_trace_span("pause: confirm", stopped, t1, nc, m);
    rcgc_finq_callbacks(pending);
    rcgc_trial_free(&t);
    return m;
}

/* Copies a generation table (millions of entries: tens of milliseconds
 * with the page faults of a fresh array) with a safepoint every 64K
 * entries, so that a pause never waits for the copy (C8). */
static void copy_polling(rcgc__header **dst, rcgc__header *const *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i += 65536) {
        uint32_t k = n - i < 65536 ? n - i : 65536;
        memcpy(dst + i, src + i, k * sizeof *dst);
        rcgc_safepoint();
    }
}

/* C14: slices for confirmation. The candidates are grouped by the
 * connected components of the references among them (union-find over a
 * private map, read concurrently like detection, C5), and the components
 * packed, in order, into slices of at most RCGC_CONFIRM_SLICE objects; a
 * larger component is a slice of its own. Reorders `cand` so that each
 * slice is contiguous; returns the number of slices, their ends in
 * *ends (malloc'ed, or `one` for a single slice: a small set, or no
 * memory for the grouping, which then confirms the set whole). */
typedef struct {
    rcgc_ptrmap map;
    uint32_t *parent;
    uint32_t i;
} slicer;

static uint32_t find_root(uint32_t *parent, uint32_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]]; /* path halving */
        i = parent[i];
    }
    return i;
}

static void slice_visit(void **slot, void *ctx)
{
    slicer *s = ctx;
    uint32_t j = rcgc_ptrmap_get(&s->map, rcgc_slot_get(slot));
    if (j == UINT32_MAX)
        return;
    uint32_t a = find_root(s->parent, s->i), b = find_root(s->parent, j);
    if (a != b)
        s->parent[a < b ? b : a] = a < b ? a : b;
}

static uint32_t slice_candidates(rcgc__header **cand, uint32_t nc, uint32_t **ends,
                                 uint32_t *one)
{
    *one = nc;
    *ends = one;
    if (nc <= RCGC_CONFIRM_SLICE)
        return 1;
    slicer s = {.parent = malloc(nc * sizeof *s.parent)};
    uint32_t *count = calloc(nc, sizeof *count);
    rcgc__header **sorted = malloc(nc * sizeof *sorted);
    uint32_t *e = malloc(nc * sizeof *e);
    if (s.parent == NULL || count == NULL || sorted == NULL || e == NULL ||
        !rcgc_ptrmap_init(&s.map, nc)) {
        free(s.parent);
        free(count);
        free(sorted);
        free(e);
        rcgc_ptrmap_free(&s.map);
        return 1;
    }
    for (uint32_t i = 0; i < nc; i++) {
        rcgc_ptrmap_put(&s.map, rcgc_payload(cand[i]), i);
        s.parent[i] = i;
    }
    for (s.i = 0; s.i < nc; s.i++) {
        rcgc__header *h = cand[s.i];
        rcgc_type_get(h)->traverse(rcgc_payload(h), slice_visit, &s);
        poll_now_and_then(col.heap, s.i);
    }
    /* Counting sort by component root (roots are component minima, so
     * components come out in the order of their first member). */
    for (uint32_t i = 0; i < nc; i++)
        count[s.parent[i] = find_root(s.parent, i)]++;
    uint32_t at = 0, nslices = 0, in_slice = 0;
    for (uint32_t r = 0; r < nc; r++) {
        if (count[r] == 0)
            continue;
        if (in_slice > 0 && in_slice + count[r] > RCGC_CONFIRM_SLICE) {
            e[nslices++] = at;
            in_slice = 0;
        }
        uint32_t size = count[r];
        count[r] = at; /* now: where the component starts */
        at += size;
        in_slice += size;
    }
    e[nslices++] = at;
    for (uint32_t i = 0; i < nc; i++)
        sorted[count[s.parent[i]]++] = cand[i];
    memcpy(cand, sorted, nc * sizeof *cand);
    free(s.parent);
    free(count);
    free(sorted);
    rcgc_ptrmap_free(&s.map);
    *ends = e;
    return nslices;
}

static size_t old_collect(bool full)
{
    int generation = full ? 2 : 1;
    ingest();
    uint32_t n1 = col.gen[1].n, n2 = full ? col.gen[2].n : 0, n = n1 + n2;
    uint64_t t0 = rcgc_now_ns();
    rcgc_gc_notify(RCGC_GC_START, generation, n, 0, 0, 0);
    col.last_pause_ns = 0;
    size_t freed = 0;
    rcgc__header **objs = malloc((n ? n : 1) * sizeof *objs);
    rcgc_trial t;
    if (objs != NULL) {
        copy_polling(objs, col.gen[1].a, n1);
        copy_polling(objs + n1, col.gen[2].a, n2);
        /* C3: members found through their gc_index, their position in
         * their generation's table (only this thread changes the tables,
         * and not before rcgc_trial_free). */
        const uint32_t gen_base[4] = {0, 0, n1, 0};
        uint32_t gens = 1u << 1 | (full ? 1u << 2 : 0u);
        if (rcgc_trial_init_indexed(&t, objs, n, gens, gen_base, true)) {
            rcgc_test_hook(RCGC_HOOK_OLD_START, NULL);
            /* C2: detection, concurrent with the mutators. */
            rcgc_trial_counts_subtract(&t, old_root);
            rcgc_test_hook(RCGC_HOOK_OLD_COUNTED, NULL);
            rcgc_trial_mark(&t);
            rcgc_test_hook(RCGC_HOOK_OLD_MARKED, NULL);
            uint32_t nc = 0;
            for (uint32_t i = 0; i < n; i++)
                if (!t.reached[i])
                    objs[nc++] = objs[i];
            rcgc_trial_free(&t);
            rcgc_trace_span("detect (concurrent)", t0, rcgc_now_ns(), n, nc);
            if (nc > 0) {
                /* C14: one pause per slice, each followed by its reclaim;
                 * no ingest in between, so an old member of a later slice
                 * that dies by count meanwhile keeps its memory (DYING
                 * makes it a root there). */
                uint32_t *ends, one, start = 0;
                uint32_t ns = slice_candidates(objs, nc, &ends, &one);
                for (uint32_t k = 0; k < ns; k++) {
                    uint32_t len = ends[k] - start;
                    uint32_t m = confirm(objs + start, len);
                    uint64_t r0 = rcgc_now_ns();
                    size_t f = rcgc_garbage(col.heap, objs + start, m, generation);
                    rcgc_trace_span("reclaim", r0, rcgc_now_ns(), m, f);
                    freed += f;
                    start = ends[k];
                }
                if (ends != &one)
                    free(ends);
            }
        }
    }
    rcgc_free_polling(objs, (size_t)n * sizeof *objs);
    /* Survivors of generation 1 move to generation 2. */
    table *g1 = &col.gen[1];
    for (uint32_t i = 0; i < g1->n; i++) {
        rcgc_set_gen(g1->a[i], 2);
        table_add(&col.gen[2], 2, g1->a[i]);
        poll_now_and_then(col.heap, i);
    }
    g1->n = 0;
    /* Relaxed: a gauge. */
    atomic_store_explicit(&rcgc_world.gen_count[1], 0, memory_order_relaxed);
    if (full)
        col.gen2_at_last_full = col.gen[2].n;
    ingest(); /* deaths caused by the reclaim */
    uint64_t ns = rcgc_now_ns() - t0;
    rcgc_gc_record(generation, n, freed);
    rcgc_trace_collection(generation, n, freed, t0, ns, col.last_pause_ns);
    rcgc_gc_notify(RCGC_GC_END, generation, n, freed, ns, col.last_pause_ns);
    return freed;
}

static void move_table(int from, int to)
{
    table *f = &col.gen[from];
    for (uint32_t i = 0; i < f->n; i++) {
        rcgc_set_gen(f->a[i], (uint32_t)to);
        table_add(&col.gen[to], to, f->a[i]);
        poll_now_and_then(col.heap, i);
    }
    f->n = 0;
    /* Relaxed: a gauge. */
    atomic_store_explicit(&rcgc_world.gen_count[from], 0, memory_order_relaxed);
}

/* ==================================================================== */
/* The collector thread (C8)                                             */
/* ==================================================================== */

static bool auto_due(int *kind)
{
    if (!atomic_load_explicit(&rcgc_world.gc_enabled, memory_order_relaxed))
        return false;
    /* Relaxed: tunables; a late value only shifts one collection. */
    uint32_t t1 = atomic_load_explicit(&rcgc_world.threshold[1], memory_order_relaxed);
    uint32_t t2 = atomic_load_explicit(&rcgc_world.threshold[2], memory_order_relaxed);
    uint64_t g2 = col.gen[2].n, base = col.gen2_at_last_full;
    /* CPython's rule: a full collection once the long-lived population has
     * grown by a quarter (and by at least threshold2), so the cost of full
     * collections stays linear in allocation (C9). */
    if (t2 && g2 > base && g2 - base >= t2 && g2 - base >= base / 4) {
        *kind = RCGC_REQ_FULL;
        return true;
    }
    if (t1 && col.gen[1].n >= t1) {
        *kind = RCGC_REQ_GEN1;
        return true;
    }
    return false;
}

/* Background finalization (W7): whether entries wait for this thread,
 * and running them. On demand they wait for the runtime instead. */
static bool owed_here(void)
{
    return !rcgc_finalize_on_demand() && rcgc_finq_pending() != 0;
}

static size_t run_owed(void)
{
    size_t objects = 0;
    if (rcgc_finalize_on_demand() || rcgc_finq_pending() == 0)
        return 0;
    uint64_t t0 = rcgc_now_ns();
    size_t ran = rcgc_finq_run(col.heap, &objects);
    rcgc_trace_span("finalizers and callbacks", t0, rcgc_now_ns(), ran, objects);
    return objects;
}

/* Set once by the collector thread for itself: other threads may ask
 * while the collector is stopped and restarted around a fork (S9), when
 * col.heap and col.thread change under them. */
static __thread bool on_collector_thread;

bool rcgc_is_collector_thread(void)
{
    return on_collector_thread;
}

/* Something was queued for the collector thread to run (finalize.c). */
void rcgc_collector_wake(void)
{
    pthread_mutex_lock(&col.mu);
    pthread_cond_signal(&col.wake);
    pthread_mutex_unlock(&col.mu);
}

static void *collector_main(void *arg)
{
    on_collector_thread = true;
    /* Named, so that top, perf and gdb attribute its time (a name longer
     * than 15 characters would be refused; failure changes nothing). */
    (void)pthread_setname_np(pthread_self(), "rcgc-collector");
    /* The heap rcgc_collector_start set aside: this attach cannot fail. */
    rcgc_thread_attach_heap(arg);
    col.heap = rcgc__tls_self.heap;
    /* The collector does not count as an attached mutator. */
    atomic_fetch_sub_explicit(&rcgc_world.attached, 1, memory_order_relaxed);
    for (;;) {
        rcgc_blocking_begin();
        pthread_mutex_lock(&col.mu);
        if (!col.stop && col.req_seq == col.done_seq && !owed_here()) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&col.wake, &col.mu, &ts);
        }
        bool stop = col.stop;
        uint64_t seq = col.req_seq;
        if (stop) {
            pthread_mutex_unlock(&col.mu);
            rcgc_blocking_end();
            ingest();
            run_owed();
            break;
        }
        int kind = col.req_kind;
        col.req_kind = 0;
        pthread_mutex_unlock(&col.mu);
        rcgc_blocking_end();

        ingest();
        /* W7: owed finalizers first (a young collection's sets, and what
         * the last round queued), and again after a collection, which may
         * have queued more; a request learns whether any ran. */
        size_t fin = run_owed();
        size_t freed = 0;
        if (kind == RCGC_REQ_FREEZE) {
            move_table(1, RCGC_GEN_PERMANENT);
            move_table(2, RCGC_GEN_PERMANENT);
            col.gen2_at_last_full = 0;
        } else if (kind == RCGC_REQ_UNFREEZE) {
            move_table(RCGC_GEN_PERMANENT, 2);
        } else if (kind != 0 || auto_due(&kind)) {
            freed = old_collect(kind == RCGC_REQ_FULL);
            fin += run_owed();
        }
        pthread_mutex_lock(&col.mu);
        col.fin_runs += fin;
        col.freed_total += freed;
        if (seq != col.done_seq) {
            col.done_seq = seq;
            pthread_cond_broadcast(&col.done);
        }
        pthread_mutex_unlock(&col.mu);
    }
    /* Relaxed: a statistic. */
    atomic_fetch_add_explicit(&rcgc_world.attached, 1, memory_order_relaxed);
    rcgc_thread_detach();
    return NULL;
}

/* Asks the collector for `kind` and waits for it.
 * *after: the collector's counters once it answered (a caller that sees
 * fin_runs grew wants another round, to free what the finalizers did not
 * resurrect). Requests are served one at a time,
 * in order (C8). From the collector thread itself (a finalizer or callback
 * running there) it does nothing and returns 0: the collector cannot wait
 * for itself. */
static pthread_mutex_t req_serial = PTHREAD_MUTEX_INITIALIZER;

/* The collector's counters, now. */
typedef struct col_counts {
    uint64_t freed_total, fin_runs;
} col_counts;

static col_counts counts_now(void)
{
    pthread_mutex_lock(&col.mu);
    col_counts c = {col.freed_total, col.fin_runs};
    pthread_mutex_unlock(&col.mu);
    return c;
}

static void request(int kind, col_counts *after)
{
    if (rcgc_is_collector_thread()) {
        if (after)
            *after = counts_now();
        return;
    }
    rcgc_blocking_begin();
    pthread_mutex_lock(&req_serial);
    pthread_mutex_lock(&col.mu);
    uint64_t ticket = ++col.req_seq;
    col.req_kind = kind;
    pthread_cond_signal(&col.wake);
    while (col.done_seq < ticket)
        pthread_cond_wait(&col.done, &col.mu);
    if (after)
        *after = (col_counts){col.freed_total, col.fin_runs};
    pthread_mutex_unlock(&col.mu);
    pthread_mutex_unlock(&req_serial);
    rcgc_blocking_end();
}

int rcgc_collector_start(bool in_child)
{
    if (in_child) {
        /* After fork() the threads that held these are gone
         * (safepoints.md, S9). */
        pthread_mutex_init(&col.mu, NULL);
        pthread_cond_init(&col.wake, NULL);
        pthread_cond_init(&col.done, NULL);
        pthread_mutex_init(&req_serial, NULL);
        pthread_mutex_init(&cb_mu, NULL);
    }
    /* Under col.mu: after a fork's restart in the parent, threads waiting
     * in request() read these. req_seq and done_seq are kept: a request
     * made before the fork stopped the collector is answered by the new
     * thread (S9). */
    pthread_mutex_lock(&col.mu);
    col.stop = false;
    col.last_pause_ns = 0;
    pthread_mutex_unlock(&col.mu);
    if (col.gen[2].n == 0)
        col.gen2_at_last_full = 0;
    /* Its heap first, so that the thread's attach cannot fail (objects.md,
     * O9): out of memory is reported here, to rcgc_init. */
    rcgc__heap *heap = rcgc_heap_reserve();
    if (heap == NULL)
        return ENOMEM;
    int rc = pthread_create(&col.thread, NULL, collector_main, heap);
    if (rc != 0)
        rcgc_heap_unreserve(heap);
    col.started = rc == 0;
    return rc == 0 ? 0 : EAGAIN;
}

/* Stops and joins the collector thread. Its tables stay until
 * rcgc_collector_release, so that deaths reported during the rest of the
 * shutdown are still applied (rcgc_collector_ingest). */
void rcgc_collector_stop(void)
{
    if (!col.started)
        return;
    pthread_mutex_lock(&col.mu);
    col.stop = true;
    pthread_cond_signal(&col.wake);
    pthread_mutex_unlock(&col.mu);
    rcgc_blocking_begin();
    pthread_join(col.thread, NULL);
    rcgc_blocking_end();
    col.started = false;
    col.heap = NULL;
}

/* Frees the collector's own memory. What is left in the tables stays
 * allocated: those objects were alive at shutdown. */
void rcgc_collector_release(void)
{
    for (int g = 1; g < 4; g++) {
        free(col.gen[g].a);
        memset(&col.gen[g], 0, sizeof col.gen[g]);
        /* Relaxed: a gauge. */
        atomic_store_explicit(&rcgc_world.gen_count[g], 0, memory_order_relaxed);
    }
    free(col.promo);
    free(col.promo_spare);
    free(col.dead);
    col.promo = col.promo_spare = col.dead = NULL;
    col.promo_n = col.promo_cap = col.promo_spare_cap = col.dead_n = col.dead_cap = 0;
}

/* ==================================================================== */
/* Explicit collections and control (C8)                                 */
/* ==================================================================== */

/* C8a: asks every other running thread whose young generation is large
 * to promote it itself at its next safepoint, and waits (in a blocking
 * region, so that no pause waits for us) until each has answered or has
 * stopped running. Only what is left afterwards, the objects those threads
 * made since, is promoted in the gathering pause. No bound on the wait: a
 * running thread that never reaches a safepoint would hold up the pause
 * that follows just as long. An optimisation only: whatever the handshake
 * leaves, the pause still promotes. */
static void promote_handshake(rcgc__heap *self)
{
    pthread_mutex_lock(&rcgc_world.lock);
    uint64_t epoch = ++rcgc_world.promote_epoch;
    int asked = 0;
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
        /* seq_cst: the status word, as the pauser reads it (S3); a thread
         * that goes BLOCKED after this load may never answer, and is no
         * longer waited for once the wait below sees it stopped. Relaxed:
         * the gauges (C15, young.c). */
        if (h == self ||
            atomic_load_explicit(&h->status, memory_order_seq_cst) != RCGC_RUNNING ||
            (uint64_t)__atomic_load_n(&h->fast.young_gauge, __ATOMIC_RELAXED) +
                    __atomic_load_n(&h->fast.window_n, __ATOMIC_RELAXED) <
                RCGC_PROMOTE_ASK_MIN)
            continue;
        h->promote_asked = epoch;
        rcgc_heap_set_pending(h, RCGC_PENDING_PROMOTE);
        asked++;
    }
    pthread_mutex_unlock(&rcgc_world.lock);
    if (asked == 0)
        return;
    rcgc_leave_running(self);
    pthread_mutex_lock(&rcgc_world.lock);
    for (;;) {
        int left = 0;
        for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
            /* seq_cst: as above. PARKED (in another thread's pause, the
             * collector's) is still waited for: it answers once it runs. */
            int st = atomic_load_explicit(&h->status, memory_order_seq_cst);
            left += h->promote_asked == epoch && h->promote_done != epoch &&
                    (st == RCGC_RUNNING || st == RCGC_PARKED);
        }
        if (left == 0)
            break;
        /* Timed (1 ms): a thread that goes BLOCKED or detaches does not
         * signal. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&rcgc_world.promoted, &rcgc_world.lock, &ts);
    }
    pthread_mutex_unlock(&rcgc_world.lock);
    rcgc_enter_running(self);
}

/* In a pause: merge every heap's queue and move every young generation to
 * generation 1, so that a full collection sees all garbage (C8). Frees
 * what died by count after the world resumed. */
static size_t gather_everything(rcgc__heap *self, bool collect_young)
{
    size_t freed = rcgc_drain_self();
    /* C8: a full collection first collects the caller's own young
     * generation (aged objects included) with the thread's young
     * collection, which frees young cycles without the collector's
     * tables or a pause and promotes what survives. rcgc_freeze only
     * moves objects. */
    if (collect_young)
        freed += rcgc_collect_young(self, true);
    /* What is left of it (everything, for a freeze; what user code
     * allocated during that collection) needs no pause either: it is
     * promoted before it, as a detach does (C12: a thread's aged objects
     * can be millions, which the pause would otherwise promote one by
     * one). */
    rcgc_young_promote_polling(self);
    /* C8a: and the other threads promote theirs, outside the pause. */
    promote_handshake(self);
    uint64_t t0 = rcgc_now_ns();
    rcgc_pause_begin();
    pthread_mutex_lock(&rcgc_world.lock);
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
        if (h != self)
            rcgc_own_take(h);
        /* The young objects this pause promotes, for the tests (under
         * world.lock; relaxed load of window_n, exact here: its owner is
         * stopped or is us). */
        rcgc_world.pause_promoted +=
            (uint64_t)h->fast.young_n + __atomic_load_n(&h->fast.window_n, __ATOMIC_RELAXED);
        rcgc_heap_drain(h, &self->dead);
        rcgc_young_promote_all(h, true);
        rcgc_old_flush(h);
        if (h != self)
            rcgc_own_drop(h);
    }
    pthread_mutex_unlock(&rcgc_world.lock);
    rcgc_pause_end();
    rcgc_trace_span("pause: gather for a full collection", t0, rcgc_now_ns(), 0, 0);
    freed += rcgc_dealloc_run(self);
    freed += rcgc_drain_self();
    rcgc_old_flush(self);
    return freed;
}

size_t rcgc_collect_old(rcgc__heap *self, int generation)
{
    /* What the collector frees while this call runs counts as its own,
     * whether a request or an automatic collection got to it first (the
     * caller's young collection wakes the collector, which may then
     * collect before the request arrives). */
    col_counts c0 = counts_now(), c1 = c0;
    if (generation == 1) {
        size_t freed = rcgc_collect_young(self, true);
        request(RCGC_REQ_GEN1, &c1);
        return freed + (size_t)(c1.freed_total - c0.freed_total);
    }
    /* Finalizers ran since the round began (those of the young sets the
     * caller's young collection queued, which the collector may run before
     * the request reaches it, included): look again, until a round runs
     * none (what they made reachable survives; the rest is freed, never
     * finalized twice). */
    uint64_t fin0 = c0.fin_runs;
    size_t freed = gather_everything(self, true);
    for (int round = 0; round < 64; round++) {
        request(RCGC_REQ_FULL, &c1);
        freed += rcgc_drain_self();
        if (c1.fin_runs == fin0)
            break;
        fin0 = c1.fin_runs;
        freed += gather_everything(self, true);
    }
    return freed + (size_t)(c1.freed_total - c0.freed_total);
}

void rcgc_enable(void)
{
    /* Relaxed: a tunable, read at the next allocation or wake-up. */
    atomic_store_explicit(&rcgc_world.gc_enabled, 1, memory_order_relaxed);
    rcgc_heaps_relimit();
}

void rcgc_disable(void)
{
    /* Relaxed: a tunable, read at the next allocation or wake-up. */
    atomic_store_explicit(&rcgc_world.gc_enabled, 0, memory_order_relaxed);
    rcgc_heaps_relimit();
}

int rcgc_is_enabled(void)
{
    /* Relaxed: a tunable. */
    return atomic_load_explicit(&rcgc_world.gc_enabled, memory_order_relaxed);
}

int rcgc_set_threshold(int generation, uint32_t value)
{
    if (generation < 0 || generation > 2 || (generation == 0 && value == 0))
        return EINVAL;
    /* Relaxed: a tunable. */
    atomic_store_explicit(&rcgc_world.threshold[generation], value, memory_order_relaxed);
    if (generation == 0)
        rcgc_heaps_relimit();
    return 0;
}

uint32_t rcgc_get_threshold(int generation)
{
    if (generation < 0 || generation > 2)
        return 0;
    /* Relaxed: a tunable. */
    return atomic_load_explicit(&rcgc_world.threshold[generation], memory_order_relaxed);
}

size_t rcgc_get_count(int generation)
{
    if (generation < 0 || generation > 3)
        return 0;
    if (generation > 0) {
        /* Promotions still in the inbox count as generation 1. */
        size_t n = atomic_load_explicit(&rcgc_world.gen_count[generation], memory_order_relaxed);
        if (generation == 1) {
            pthread_mutex_lock(&col.mu);
            n += col.promo_n;
            pthread_mutex_unlock(&col.mu);
        }
        return n;
    }
    size_t n = 0;
    pthread_mutex_lock(&rcgc_world.lock);
    for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all)
        /* Relaxed: gauges; the table's and the window's (C15). */
        n += __atomic_load_n(&h->fast.young_gauge, __ATOMIC_RELAXED) +
             __atomic_load_n(&h->fast.window_n, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&rcgc_world.lock);
    return n;
}

int rcgc_freeze(void)
{
    rcgc__heap *self = rcgc_require_attached("rcgc_freeze", NULL);
    if (self == NULL)
        return EPERM;
    gather_everything(self, false);
    request(RCGC_REQ_FREEZE, NULL);
    return 0;
}

int rcgc_unfreeze(void)
{
    rcgc__heap *self = rcgc_require_attached("rcgc_unfreeze", NULL);
    if (self == NULL)
        return EPERM;
    request(RCGC_REQ_UNFREEZE, NULL);
    return 0;
}

int rcgc_is_tracked(const void *obj)
{
    if (obj == NULL)
        return 0;
    /* Relaxed: TRACKED never changes, IMMORTAL never clears. */
    uint32_t bits = __atomic_load_n(&rcgc__hdr(obj)->gc_bits, __ATOMIC_RELAXED);
    return (bits & RCGC_BIT_TRACKED) && !(bits & RCGC_BIT_IMMORTAL);
}

size_t rcgc_get_leaked(void)
{
    /* Relaxed: a statistic. */
    return atomic_load_explicit(&rcgc_world.leaked, memory_order_relaxed);
}

/* young.c: the per-thread young generation (generation 0).
 *
 * Purpose: objects that can hold references start in their allocating
 * thread's young table. When the thread has allocated threshold0 of them
 * since its last young collection, it collects its young generation at its
 * next allocation: trial deletion over the table, no pause, no other thread
 * involved. Survivors are promoted to generation 1 (handed to the
 * background collector); garbage cycles are freed on the spot.
 *
 * Only the holder of the heap's token (its owner while it runs) touches the
 * young table, and a young object is always owned by its table's heap: an
 * object whose counts are merged leaves the young generation at that moment
 * (docs/design/cycles.md, C1). Other threads' concurrent operations on young
 * objects are caught by the ESCAPED bit (C6).
 */
#include "internal.h"
#include "trial.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ==================================================================== */
/* The young table                                                      */
/* ==================================================================== */


/* A table young_collect took and no longer needs: kept, if larger than
 * the one kept already and at most RCGC_YOUNG_SPARE_MAX entries, for the
 * next growth. Closing the window (C15) fills a table at collection time
 * that allocation used to fill, and growing it into memory never touched
 * cost the collection its page faults (cycles_rcgc: a third of 1 M
 * objects' collection time). */
#define RCGC_YOUNG_SPARE_MAX (1u << 23)
static void spare_keep(rcgc__heap *heap, rcgc__header **a, uint32_t cap)
{
    if (a != NULL && cap > heap->young_spare_cap && cap <= RCGC_YOUNG_SPARE_MAX) {
        free(heap->young_spare);
        heap->young_spare = a;
        heap->young_spare_cap = cap;
    } else {
        free(a);
    }
}

/* Room for `more` entries in the young table. */
static bool reserve(rcgc__heap *heap, uint32_t more)
{
    if (heap->young_cap - heap->fast.young_n >= more)
        return true;
    if (heap->young_spare_cap - heap->fast.young_n >= more &&
        heap->young_spare_cap > heap->young_cap) {
        /* The spare, with the entries the table has. */
        if (heap->fast.young_n > 0)
            memcpy(heap->young_spare, heap->fast.young, heap->fast.young_n * sizeof *heap->young_spare);
        free(heap->fast.young);
        heap->fast.young = heap->young_spare;
        heap->young_cap = heap->young_spare_cap;
        heap->young_spare = NULL;
        heap->young_spare_cap = 0;
        return true;
    }
    uint64_t cap = heap->young_cap ? heap->young_cap : 256;
    while (cap - heap->fast.young_n < more)
        cap *= 2;
    if (cap > UINT32_MAX / 2)
        return false;
    rcgc__header **a = realloc(heap->fast.young, cap * sizeof *a);
    if (a == NULL)
        return false;
    heap->fast.young = a;
    heap->young_cap = (uint32_t)cap;
    return true;
}

bool rcgc_young_grow(rcgc__heap *heap)
{
    return reserve(heap, 1);
}

/* h's counts are being merged: it leaves the young generation for
 * generation 1. Called by the token holder, before MERGED is published. */
void rcgc_young_leave(rcgc__heap *heap, rcgc__header *h)
{
    if (!rcgc_is_young(h) || rcgc_index_get(h) == RCGC_NO_INDEX)
        return;
    rcgc_young_remove(heap, h);
    rcgc_old_adopt(&h, 1, 1);
}

/* ==================================================================== */
/* The young window (C15)                                                */
/* ==================================================================== */

static void window_enter(rcgc__heap *heap, rcgc__header *h, void *ctx)
{
    rcgc_index_set(h, heap->fast.young_n);
    heap->fast.young[heap->fast.young_n++] = h;
    ++*(uint32_t *)ctx;
}

static void window_promote(rcgc__heap *heap, rcgc__header *h, void *ctx)
{
    (void)heap;
    rcgc_index_set(h, RCGC_NO_INDEX);
    rcgc_old_adopt(&h, 1, 1);
    ++*(uint32_t *)ctx;
}

void rcgc_window_close(rcgc__heap *heap)
{
    /* Relaxed: our own gauge. */
    uint32_t n = __atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED);
    if (n == 0 && heap->window_npages <= RCGC__FAST_CLASSES) {
        /* Nothing to enter, and the list holds at most the current pages:
         * the window stays open as it is, its order starting again. */
        heap->window_aged = 0;
        heap->fast.window_seq = 0;
        heap->fast.table_ordered = 1; /* no window object to be older than */
        return;
    }
    /* Into the table; promoted instead when it cannot grow (always safe:
     * the background collector examines them, C1). */
    bool table = n == 0 || reserve(heap, n);
    uint32_t found = 0;
    rcgc_window_scan(heap, n == 0 ? NULL : table ? window_enter : window_promote, &found);
    rcgc_window_reopen(heap);
    if (rcgc_internal_checks() && found != n)
        rcgc_fatal("rcgc (internal)", NULL, "young window of heap %u: %u objects found, %u counted",
                   heap->id, found, n);
    /* Relaxed: as above. */
    __atomic_store_n(&heap->fast.window_n, 0, __ATOMIC_RELAXED);
    heap->window_aged = 0;
    /* The table now holds every young object made before the new window
     * (C13, C15). */
    heap->fast.table_ordered = 1;
    rcgc_young_relimit(heap);
    rcgc_young_gauge(heap);
    if (!table)
        rcgc_old_flush(heap);
}

void rcgc_young_promote_all(rcgc__heap *heap, bool stopped)
{
    rcgc_window_close(heap);
    if (heap->fast.young_n == 0)
        return;
    rcgc_old_adopt_table(heap->fast.young, heap->fast.young_n, 1, stopped);
    heap->fast.young_n = 0;
    heap->aged_n = 0;
    rcgc_young_relimit(heap);
    rcgc_young_gauge(heap);
}

/* Promotes the whole table from its end, a few thousand entries at a
 * time, reaching a safepoint between them: millions of aged objects must
 * not hold up a pause (C13). Between the steps the table is consistent, so
 * what the safepoint runs (a drain, a death) may use it. */
void rcgc_young_promote_polling(rcgc__heap *heap)
{
    rcgc_window_close(heap);
    while (heap->fast.young_n > 0) {
        uint32_t k = heap->fast.young_n < 4096 ? heap->fast.young_n : 4096;
        rcgc_old_adopt(heap->fast.young + heap->fast.young_n - k, k, 1);
        heap->fast.young_n -= k;
        if (heap->aged_n > heap->fast.young_n)
            heap->aged_n = heap->fast.young_n;
        rcgc_young_relimit(heap);
        rcgc_young_gauge(heap);
        rcgc_old_flush(heap);
        rcgc_safepoint();
    }
}

/* ==================================================================== */
/* Young collection                                                      */
/* ==================================================================== */

/* An object the young collection must keep whatever its count says: one
 * another thread has touched (ESCAPED), one in the middle of dying by
 * count, an immortal one, one in a merge queue, or one not owned by the
 * collecting heap (C6). */
static bool young_root(rcgc__header *h)
{
    /* Acquire: pairs with the release OR that sets ESCAPED (C6). */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_ACQUIRE);
    /* HAS_WEAKREFS: a young collection has no pause in which to clear weak
     * references atomically; the background collector's has (W5). */
    if (bits & (RCGC_BIT_ESCAPED | RCGC_BIT_DYING | RCGC_BIT_IMMORTAL | RCGC_BIT_HAS_WEAKREFS))
        return true;
    if (__atomic_load_n(&h->shared, __ATOMIC_RELAXED) & RCGC__SHARED_QUEUED)
        return true;
    /* Relaxed: only this thread's merges clear it (C1). */
    return rcgc_owner_of(h) != rcgc__tls_self.heap_id;
}

/* The aged count at which the next young collection is a full one (C12). */
static uint32_t aged_limit(const rcgc__heap *heap)
{
    /* Relaxed: a tunable. */
    uint64_t t0 = atomic_load_explicit(&rcgc_world.threshold[0], memory_order_relaxed);
    /* C13: past RCGC_AGED_MAX_SHIFT only while the full collections are
     * free of trial deletion. */
    uint32_t shift = heap->aged_shift;
    if (rcgc_edges_may_cycle(rcgc__tls_self.young_upward, true) && shift > RCGC_AGED_MAX_SHIFT)
        shift = RCGC_AGED_MAX_SHIFT;
    uint64_t lim = t0 << (RCGC_AGED_SHIFT + shift);
    return lim > UINT32_MAX ? UINT32_MAX : (uint32_t)lim;
}

/* C11: a collection that found less than an eighth of what it examined
 * to be garbage doubles the distance to the next one (up to
 * RCGC_YOUNG_MAX_SHIFT doublings); one that found more returns to
 * threshold0. Objects that die by count before a collection cost it
 * nothing, so when survivors dominate (a program building large acyclic
 * structures), collecting less often saves examining and promoting
 * objects that would have died anyway. C12: the same rule spaces the full
 * collections that promote the aged objects. */
static void young_backoff(rcgc__heap *heap, bool full, uint32_t n, uint32_t live)
{
    bool little = n >= 64 && (uint64_t)(n - live) * 8 < n;
    if (full) {
        /* C12: no back-off for full collections with trial deletion
         * (RCGC_AGED_MAX_SHIFT), which do not poll safepoints. */
        heap->aged_shift = 0;
    } else if (little) {
        if (heap->young_shift < RCGC_YOUNG_MAX_SHIFT)
            heap->young_shift++;
    } else {
        heap->young_shift = 0;
    }
}

/* Collects the calling thread's own young generation: the objects young
 * since the last collection (a minor one), or all of them, aged included,
 * when `full` or when the aged ones reached their limit (C12). */
static size_t young_collect(rcgc__heap *heap, bool full)
{
    rcgc_drain_self();
    /* C15: the window's objects are young too; relaxed load of our own
     * gauge. */
    uint32_t wn = __atomic_load_n(&heap->fast.window_n, __ATOMIC_RELAXED);
    if (heap->fast.young_n == 0 && wn == 0) {
        /* C13: no young object, so no edge among young objects yet. */
        rcgc__tls_self.young_upward = 0;
        return 0;
    }
    if (!full && heap->fast.young_n == heap->aged_n && wn == heap->window_aged)
        return 0;
    if (!full) {
        uint32_t upward = rcgc__tls_self.young_upward;
        if ((uint64_t)heap->aged_n + heap->window_aged >= aged_limit(heap)) {
            if (rcgc_edges_may_cycle(upward, true)) {
                full = true;
            } else if (heap->aged_shift < RCGC_AGED_PROMOTE_SHIFT) {
                /* C13: no store since the last full collection made an edge
                 * that can close a cycle among the young objects: a full
                 * collection would free nothing. They stay, aged, and the
                 * next full collection is twice as far. */
                heap->aged_shift++;
                heap->aged_n = heap->fast.young_n;
                heap->window_aged = wn; /* C15: aged where they are */
                rcgc_stat_add(&heap->stats.young_skipped, 1);
                return 0;
            } else {
                /* ... until the limit: then they are promoted without
                 * trial deletion, so that the background collector sees
                 * them for cycles through older objects (C13). */
                heap->aged_shift = 0;
                rcgc_young_promote_polling(heap);
                rcgc_stat_add(&heap->stats.young_skipped, 1);
                return 0;
            }
        } else if (!rcgc_edges_may_cycle(upward, false)) {
            /* C13: no edge that can close a cycle among the objects young
             * since the last collection: trial deletion would free none of
             * them, so they age without it. */
            heap->aged_n = heap->fast.young_n;
            heap->window_aged = wn; /* C15: aged where they are */
            rcgc_stat_add(&heap->stats.young_skipped, 1);
            return 0;
        }
    }
    uint64_t t0 = rcgc_now_ns();
    /* User code first (callbacks, the test hook): it may allocate or free.
     * Only then is the table taken and its size read. */
    rcgc_gc_notify(RCGC_GC_START, 0, heap->fast.young_n + wn, 0, 0, 0);
    rcgc_test_hook(RCGC_HOOK_YOUNG_START, heap);
    /* C15: the window's objects into the table, after the aged prefix:
     * every one of them is examined, those aged in place by skipped
     * collections included (more than a minor collection needs, never
     * less). What user code allocates from here on opens a new window. */
    rcgc_window_close(heap);
    uint32_t base = full ? 0 : heap->aged_n;
    uint32_t n = heap->fast.young_n - base;
    if (n == 0) {
        /* Every START has its END (C10), even when nothing was examined. */
        rcgc_gc_notify(RCGC_GC_END, 0, 0, 0, rcgc_now_ns() - t0, 0);
        return 0;
    }

    /* Take the examined part of the table: survivors and garbage leave it
     * below, and whatever user code runs afterwards (destroy, finalize)
     * sees a table without them. */
    rcgc__header **objs;
    uint32_t objs_cap = base == 0 ? heap->young_cap : 0;
    if (base == 0) {
        objs = heap->fast.young;
        /* O13: no room for the inline path in a table that is gone. */
        rcgc_young_relimit(heap);
        heap->fast.young = NULL;
        heap->fast.young_n = heap->young_cap = 0;
        heap->aged_n = 0;
    } else {
        objs = malloc(n * sizeof *objs);
        if (objs == NULL) {
            /* No memory to collect with: age them (always safe, C12). */
            heap->aged_n = heap->fast.young_n;
            rcgc_gc_notify(RCGC_GC_END, 0, 0, 0, rcgc_now_ns() - t0, 0);
            return 0;
        }
        memcpy(objs, heap->fast.young + base, n * sizeof *objs);
        heap->fast.young_n = base;
    }
    rcgc_young_gauge(heap);
    /* C13: the flags cover edges made from here on, among objects young
     * from here on. */
    rcgc__tls_self.young_upward &= full ? 0u : RCGC_EDGES_FULL;

    rcgc_trial t;
    /* Members objs[i] have gc_index base + i (C3). */
    const uint32_t gen_base[4] = {0u - base, 0, 0, 0};
    if (!rcgc_trial_init_indexed(&t, objs, n, 1u << 0, gen_base, false)) {
        /* No memory to collect with: promote everything (always safe). */
        for (uint32_t i = 0; i < n; i++)
            rcgc_index_set(objs[i], RCGC_NO_INDEX);
        rcgc_old_adopt(objs, n, 1);
        spare_keep(heap, objs, objs_cap); /* freed unless kept */
        rcgc_gc_notify(RCGC_GC_END, 0, n, 0, rcgc_now_ns() - t0, 0);
        return 0;
    }
    rcgc_trial_counts_subtract(&t, young_root);
    rcgc_test_hook(RCGC_HOOK_YOUNG_COUNTED, heap);
    rcgc_trial_mark(&t);
    rcgc_test_hook(RCGC_HOOK_YOUNG_MARKED, heap);

    /* C6: an unreached object that another thread touched since we read
     * the counts is a root after all. Repeat until a pass finds none. The
     * same pass over the garbage's headers learns whether any member's
     * type has finalize or destroy (C7: the plain reclaim otherwise). */
    bool hooks = false;
    for (bool again = true; again;) {
        again = false;
        hooks = false;
        for (uint32_t i = 0; i < n; i++) {
            if (t.reached[i])
                continue;
            if (young_root(objs[i])) {
                rcgc_trial_rescue(&t, i);
                again = true;
                continue;
            }
            /* Relaxed: HOOKS was written at allocation, by this thread. */
            hooks |= (__atomic_load_n(&objs[i]->gc_bits, __ATOMIC_RELAXED) & RCGC_BIT_HOOKS) != 0;
        }
    }

    uint32_t live = 0;
    for (uint32_t i = 0; i < n; i++)
        live += t.reached[i];
    /* The survivors leave first, in place: back into the table, aged (a
     * minor collection, C12), or promoted. The garbage members keep their
     * trial positions, by which the plain reclaim recognises them. */
    bool keep = live > 0 && !full && reserve(heap, live);
    for (uint32_t i = 0; i < n; i++) {
        if (!t.reached[i])
            continue;
        if (keep) {
            rcgc_index_set(objs[i], heap->fast.young_n);
            heap->fast.young[heap->fast.young_n++] = objs[i];
        } else {
            rcgc_old_adopt(&objs[i], 1, 1);
        }
    }
    if (keep) {
        /* Whatever user code allocated since the table was taken ages
         * with them (C12). */
        heap->aged_n = heap->fast.young_n;
        rcgc_young_gauge(heap);
    } else if (live > 0) {
        rcgc_old_flush(heap); /* the promotions reach the inbox as one batch */
    }
    young_backoff(heap, full, n, live);
    size_t freed;
    if (!hooks && !rcgc_world.config.debug_leaks) {
        /* C7, the plain reclaim. */
        freed = rcgc_trial_reclaim(&t, heap);
        rcgc_trial_free(&t);
    } else {
        /* The garbage, gathered at the front, to rcgc_garbage (C7). */
        uint32_t m = 0;
        for (uint32_t i = 0; i < n; i++)
            if (!t.reached[i]) {
                rcgc_index_set(objs[i], RCGC_NO_INDEX);
                objs[m++] = objs[i];
            }
        rcgc_trial_free(&t);
        freed = rcgc_garbage(heap, objs, m, 0);
    }
    spare_keep(heap, objs, objs_cap); /* freed unless kept */
    uint64_t ns = rcgc_now_ns() - t0;
    rcgc_gc_record(0, n, freed);
    rcgc_trace_collection(0, n, freed, t0, ns, 0);
    rcgc_gc_notify(RCGC_GC_END, 0, n, freed, ns, 0);
    return freed;
}

/* Entry point for automatic (minor, unless the aged objects are due) and
 * explicit (full) young collections: not re-entered from the reclaim of a
 * collection (destroy or finalize allocating). */
size_t rcgc_collect_young(rcgc__heap *heap, bool full)
{
    if (heap->in_young)
        return 0;
    heap->in_young = true;
    size_t freed = young_collect(heap, full);
    heap->in_young = false;
    /* O13: the aged prefix, the back-off and the table may all have
     * changed, and the limit set during the collection ignored young_due. */
    rcgc_young_relimit(heap);
    return freed;
}

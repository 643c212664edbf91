/* stats.c: statistics.
 *
 * Purpose: rcgc_get_stats sums the per-heap counters (each written by one
 * thread at a time, read here with relaxed loads) and the world's pause and
 * collection counters. Reading never triggers or delays a collection: it
 * takes world.lock only to walk the heap list, and no pause holds that lock
 * for longer than its scan.
 */
#include "internal.h"

#include <string.h>

static uint64_t get(_Atomic uint64_t *c)
{
    /* Relaxed: statistics are a snapshot. */
    return atomic_load_explicit(c, memory_order_relaxed);
}

void rcgc_get_stats(rcgc_stats *out)
{
    if (out == NULL || out->size == 0)
        return;
    size_t want = out->size < sizeof(rcgc_stats) ? out->size : sizeof(rcgc_stats);
    rcgc_stats s;
    memset(&s, 0, sizeof s);
    s.size = want;
    uint64_t ab = 0, fb = 0;
    /* Acquire: pairs with rcgc_init's release. */
    if (atomic_load_explicit(&rcgc_world.initialized, memory_order_acquire)) {
        pthread_mutex_lock(&rcgc_world.lock);
        for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
            /* Relaxed: as get() above, for the plain counters of `fast`. */
            s.allocated_objects += __atomic_load_n(&h->fast.allocated, __ATOMIC_RELAXED);
            s.freed_objects += get(&h->stats.freed);
            ab += __atomic_load_n(&h->fast.alloc_bytes, __ATOMIC_RELAXED);
            fb += get(&h->stats.freed_bytes);
            s.finalized += get(&h->stats.finalized);
            s.merges += get(&h->stats.merges);
            s.queued += get(&h->stats.queued);
            s.young_skipped += get(&h->stats.young_skipped);
        }
        s.heaps = rcgc_world.nheaps;
        s.pauses = rcgc_world.pauses;
        s.pause_total_ns = rcgc_world.pause_total_ns;
        s.pause_max_ns = rcgc_world.pause_max_ns;
        s.pause_ttsp_max_ns = rcgc_world.pause_ttsp_max_ns;
        s.pause_held_max_ns = rcgc_world.pause_held_max_ns;
        s.pause_work_max_ns = rcgc_world.pause_work_max_ns;
        memcpy(s.gen, rcgc_world.gen, sizeof s.gen);
        pthread_mutex_unlock(&rcgc_world.lock);
        /* Relaxed: a statistic. */
        s.threads_attached = atomic_load_explicit(&rcgc_world.attached, memory_order_relaxed);
    }
    /* Counters of different heaps are read at slightly different times:
     * clamp so a free counted before its allocation never shows negative. */
    s.live_objects = s.allocated_objects > s.freed_objects ? s.allocated_objects - s.freed_objects : 0;
    s.live_bytes = ab > fb ? ab - fb : 0;
    memcpy(out, &s, want);
}

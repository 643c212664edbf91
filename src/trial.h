/* trial.h: trial deletion over a set of objects (docs/design/cycles.md, C2).
 *
 * Purpose: both collectors (a thread's young generation, the background
 * collector's older generations) find cyclic garbage the same way: take each
 * object's reference count, subtract the references that come from inside
 * the set, treat what still has references as roots, and mark what the roots
 * reach; the rest references itself only. This file holds that algorithm
 * once. A member is recognised by its own gc_index (with the page
 * allocator) or through a private address map, so nothing read from a
 * child outside the set is trusted and its traverse is never called (C3).
 */
#ifndef RCGC_TRIAL_H
#define RCGC_TRIAL_H

#include "internal.h"
#include "ptrmap.h"

/* refs value that makes an object a root whatever its count. */
#define RCGC_TRIAL_ROOT (INT64_MAX / 4)

typedef struct rcgc_trial {
    rcgc__header **objs;   /* the set, not owned */
    uint32_t n;
    /* Indexed membership (C3), with the page allocator: a member in a
     * page, of generation g (bit g of `gens`), is objs[gc_index +
     * base[g]]; the map then holds only the members outside pages
     * (usually none). Without it (`gens` 0) the map holds every member. */
    uint32_t gens;
    uint32_t base[4];
    rcgc_ptrmap map;       /* objs[i] -> i */
    int64_t *refs;         /* count minus internal references */
    uint8_t *reached;      /* reachable from a root */
    uint32_t *stack;       /* marking worklist */
    uint32_t sp;
    uint32_t marked;       /* objects drained, for maybe_poll */
    bool poll;             /* poll safepoints while working (collector) */
} rcgc_trial;

bool rcgc_trial_init(rcgc_trial *t, rcgc__header **objs, uint32_t n, bool poll);
/* The same for a set whose members are found through their gc_index
 * (C3): every member objs[i] of generation g has gc_index i - base[g],
 * and the generations in `gens` (a bit per generation) are the only
 * ones with members: a young collection's table (young.c), or the
 * collector's copy of its generation tables (cycles.c). Falls back to
 * rcgc_trial_init without the page allocator. */
bool rcgc_trial_init_indexed(rcgc_trial *t, rcgc__header **objs, uint32_t n, uint32_t gens,
                             const uint32_t base[4], bool poll);
void rcgc_trial_free(rcgc_trial *t);
/* free(p) for a block of `bytes` on the collector thread: large blocks
 * give their pages back in steps with a safepoint between (C8). */
void rcgc_free_polling(void *p, size_t bytes);

/* The whole reference count of h, read with relaxed atomics: exact while
 * the world is stopped, an estimate otherwise (C4). */
int64_t rcgc_total_count(rcgc__header *h);

/* refs[i] = the member's count (or RCGC_TRIAL_ROOT when `root` says so)
 * minus the references to it from members, in one pass over the members
 * (refs[] starts at zero, and the sum does not depend on the order). */
void rcgc_trial_counts_subtract(rcgc_trial *t, bool (*root)(rcgc__header *h));
/* Marks what the roots reach. */
void rcgc_trial_mark(rcgc_trial *t);
/* Marks i, and what it reaches, as reached (a late root). */
void rcgc_trial_rescue(rcgc_trial *t, uint32_t i);
/* The plain reclaim of a young collection's unreached members (C7): their
 * references to non-members released, their memory freed; returns how
 * many. Only for members whose types have neither finalize nor destroy,
 * after the survivors left; `self` is the calling thread's heap. */
size_t rcgc_trial_reclaim(rcgc_trial *t, rcgc__heap *self);

/* Atomic load of a slot: slots may be written concurrently by rcgc_store
 * (an exchange) and by the release of a dying object's slots. Acquire: a
 * collector that sees a value sees what the storer did before storing it
 * (cycles.md, C5). */
static inline void *rcgc_slot_get(void **slot)
{
    return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

#endif

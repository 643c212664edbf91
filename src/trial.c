/* trial.c: trial deletion, shared by the young and the old collectors.
 * See trial.h and docs/design/cycles.md (C2, C3, C4). */
#include "trial.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static inline void maybe_poll(const rcgc_trial *t, uint32_t i)
{
    if (t->poll && (i & 255) == 0)
        rcgc_safepoint();
}

static bool trial_arrays(rcgc_trial *t, rcgc__header **objs, uint32_t n, bool poll)
{
    memset(t, 0, sizeof *t);
    t->objs = objs;
    t->n = n;
    t->poll = poll;
    t->refs = calloc(n ? n : 1, sizeof *t->refs);
    t->reached = calloc(n ? n : 1, 1);
    t->stack = malloc((n ? n : 1) * sizeof *t->stack);
    if (t->refs == NULL || t->reached == NULL || t->stack == NULL) {
        rcgc_trial_free(t);
        return false;
    }
    return true;
}

bool rcgc_trial_init(rcgc_trial *t, rcgc__header **objs, uint32_t n, bool poll)
{
    if (!trial_arrays(t, objs, n, poll))
        return false;
    if (!rcgc_ptrmap_init(&t->map, n)) {
        rcgc_trial_free(t);
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        rcgc_ptrmap_put(&t->map, rcgc_payload(objs[i]), i);
        maybe_poll(t, i);
    }
    return true;
}

bool rcgc_trial_init_indexed(rcgc_trial *t, rcgc__header **objs, uint32_t n, uint32_t gens,
                             const uint32_t base[4], bool poll)
{
    if (!rcgc_use_pages())
        return rcgc_trial_init(t, objs, n, poll);
    if (!trial_arrays(t, objs, n, poll))
        return false;
    t->gens = gens;
    memcpy(t->base, base, sizeof t->base);
    /* Members outside pages (large objects from malloc) go in the map. */
    uint32_t elsewhere = 0;
    for (uint32_t i = 0; i < n; i++) {
        elsewhere += !rcgc_pages_hold(rcgc_payload(objs[i]));
        maybe_poll(t, i);
    }
    if (elsewhere > 0) {
        if (!rcgc_ptrmap_init(&t->map, elsewhere)) {
            rcgc_trial_free(t);
            return false;
        }
        for (uint32_t i = 0; i < n; i++)
            if (!rcgc_pages_hold(rcgc_payload(objs[i])))
                rcgc_ptrmap_put(&t->map, rcgc_payload(objs[i]), i);
    }
    return true;
}

/* C3: the member a slot's value names, or UINT32_MAX. With indexed
 * membership, a value in a page is a block of some heap, so its header
 * is readable whatever became of it (pages stay mapped until shutdown):
 * it is a member exactly when it is live, of a generation with members,
 * and the member its gc_index names is itself. A stale or racing index
 * selects nothing, since only the identity check is trusted; the members'
 * own indices do not change during the collection (young members': only
 * this thread writes them; old members': only the collector, which is
 * running this). A block that becomes a new object meanwhile (user code
 * allocating during a young plain reclaim) has an address no member has,
 * since every member stays allocated until the collection's last pass.
 * Relaxed loads: gc_bits and gc_index are only ever written with atomic
 * stores (objects.md, O2), and a non-member's are only compared. Anything
 * else is looked up in the map, which without indexing holds every
 * member. */
static inline uint32_t member_of(const rcgc_trial *t, const void *v)
{
    if (t->gens != 0 && rcgc_pages_hold(v)) {
        const rcgc__header *h = rcgc__hdr(v);
        uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
        if ((bits >> RCGC_MAGIC_SHIFT) != RCGC_MAGIC_LIVE ||
            !(t->gens & (1u << (bits & RCGC_GEN_MASK))))
            return UINT32_MAX;
        uint32_t i = rcgc_index_get(h) + t->base[bits & RCGC_GEN_MASK];
        return i < t->n && t->objs[i] == h ? i : UINT32_MAX;
    }
    return t->map.keys != NULL ? rcgc_ptrmap_get(&t->map, v) : UINT32_MAX;
}

void rcgc_free_polling(void *p, size_t bytes)
{
    /* C8: returning detection's side tables to the kernel took about
     * 20 ms at 5 million objects on the development machine, in one munmap
     * per table, during which a pause would wait for the collector. Release
     * the pages 8 MB at a time with a safepoint between, then free the (now
     * cheap) block. madvise's result does not matter: free releases
     * whatever it left. */
    const size_t step = (size_t)8 << 20;
    if (p != NULL && bytes >= 2 * step) {
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
        uintptr_t end = ((uintptr_t)p + bytes) & ~(page - 1);
        for (; a + step <= end; a += step) {
            madvise((void *)a, step, MADV_DONTNEED);
            rcgc_safepoint();
        }
    }
    free(p);
}

void rcgc_trial_free(rcgc_trial *t)
{
    if (t->poll) {
        size_t cap = t->map.mask + 1;
        rcgc_free_polling(t->map.keys, t->map.keys != NULL ? cap * sizeof *t->map.keys : 0);
        rcgc_free_polling(t->map.vals, t->map.vals != NULL ? cap * sizeof *t->map.vals : 0);
        t->map.keys = NULL;
        t->map.vals = NULL;
        rcgc_free_polling(t->refs, (size_t)t->n * sizeof *t->refs);
        rcgc_free_polling(t->stack, (size_t)t->n * sizeof *t->stack);
        t->refs = NULL;
        t->stack = NULL;
    }
    rcgc_ptrmap_free(&t->map);
    free(t->refs);
    free(t->reached);
    free(t->stack);
    t->refs = NULL;
    t->reached = NULL;
    t->stack = NULL;
}

int64_t rcgc_total_count(rcgc__header *h)
{
    /* Exact when the world is stopped (the pause orders every earlier
     * write), an estimate otherwise, which the collectors never trust on
     * its own (C4). Acquire: free on x86, and it narrows what the C6
     * argument assumes of the platform. */
    int32_t v = __atomic_load_n(&h->shared, __ATOMIC_ACQUIRE);
    int64_t n = rcgc_shared_count(v);
    if (!(v & RCGC__SHARED_MERGED))
        n += rcgc_local_count(__atomic_load_n(&h->ol, __ATOMIC_ACQUIRE));
    return n;
}

static void subtract_visit(void **slot, void *ctx)
{
    rcgc_trial *t = ctx;
    uint32_t j = member_of(t, rcgc_slot_get(slot));
    if (j != UINT32_MAX)
        t->refs[j]--;
}

void rcgc_trial_counts_subtract(rcgc_trial *t, bool (*root)(rcgc__header *h))
{
    /* refs[] starts at zero (calloc): each member adds its own count and
     * subtracts one for each of its slots that names a member, in any
     * order, so the two steps share one pass over the members. */
    for (uint32_t i = 0; i < t->n; i++) {
        rcgc__header *h = t->objs[i];
        t->refs[i] += root(h) ? RCGC_TRIAL_ROOT : rcgc_total_count(h);
        rcgc_type_get(h)->traverse(rcgc_payload(h), subtract_visit, t);
        maybe_poll(t, i);
    }
}

static void mark_visit(void **slot, void *ctx)
{
    rcgc_trial *t = ctx;
    uint32_t j = member_of(t, rcgc_slot_get(slot));
    if (j != UINT32_MAX && !t->reached[j]) {
        t->reached[j] = 1;
        t->stack[t->sp++] = j;
    }
}

static void drain_marks(rcgc_trial *t)
{
    while (t->sp > 0) {
        rcgc__header *h = t->objs[t->stack[--t->sp]];
        rcgc_type_get(h)->traverse(rcgc_payload(h), mark_visit, t);
        /* The count runs across drains: a heap of small rings drains four
         * objects at a time, and a per-drain count never reached a poll
         * (the 5M-rings benchmark saw 200 to 590 ms without one). */
        maybe_poll(t, ++t->marked);
    }
}

void rcgc_trial_mark(rcgc_trial *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        maybe_poll(t, i);
        if (t->refs[i] > 0 && !t->reached[i]) {
            t->reached[i] = 1;
            t->stack[t->sp++] = i;
            drain_marks(t);
        }
    }
}

void rcgc_trial_rescue(rcgc_trial *t, uint32_t i)
{
    if (t->reached[i])
        return;
    t->reached[i] = 1;
    t->stack[t->sp++] = i;
    drain_marks(t);
}

/* C7, the plain reclaim of a young set (young.c): the unreached members,
 * whose types have neither finalize nor destroy, so no user code runs on
 * them and nothing needs pinning or marking. Their slots are read with
 * relaxed loads and not cleared: no other thread reads a young object's
 * slots (C5), and the members are freed right after. A slot's value that
 * is an unreached member is dropped without counting (its memory goes
 * with the set); member_of recognises it by its trial position, which
 * the members keep (the survivors have left: back into the table with a
 * new index, or promoted, and member_of tells either apart). Anything
 * else is released, which may free non-members through the ordinary
 * deallocation loop; their user code cannot reach the set, which nothing
 * outside it references. */
static void reclaim_visit(void **slot, void *ctx)
{
    rcgc_trial *t = ctx;
    void *v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (v == NULL)
        return;
    uint32_t j = member_of(t, v);
    if (j != UINT32_MAX && !t->reached[j])
        return;
    rcgc_decref(v);
}

size_t rcgc_trial_reclaim(rcgc_trial *t, rcgc__heap *self)
{
    size_t m = 0;
    for (uint32_t i = 0; i < t->n; i++)
        if (!t->reached[i])
            rcgc_type_get(t->objs[i])->traverse(rcgc_payload(t->objs[i]), reclaim_visit, t);
    for (uint32_t i = 0; i < t->n; i++)
        if (!t->reached[i]) {
            rcgc_object_free(self, t->objs[i]);
            m++;
        }
    return m;
}

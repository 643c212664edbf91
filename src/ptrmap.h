/* ptrmap.h: a private map from object addresses to dense indices.
 *
 * Purpose: collections must test "is this child one of the objects being
 * examined, and which one?" without reading the child's header, because a
 * child outside the examined set may be freed by another thread at any
 * moment (docs/design/cycles.md, C3). An open-addressing table keyed by the
 * address answers that from the collector's own memory. It is filled once
 * per collection and read by one thread, so it needs no locking, which is
 * why it is a few lines here rather than liburcu's lock-free hash table.
 */
#ifndef RCGC_PTRMAP_H
#define RCGC_PTRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rcgc_ptrmap {
    uintptr_t *keys;   /* 0: empty */
    uint32_t *vals;
    size_t mask;       /* capacity - 1 (a power of two) */
} rcgc_ptrmap;

/* Prepares m for n keys. Returns false on allocation failure. */
bool rcgc_ptrmap_init(rcgc_ptrmap *m, size_t n);
void rcgc_ptrmap_free(rcgc_ptrmap *m);

static inline size_t rcgc_ptrmap_slot(const rcgc_ptrmap *m, uintptr_t k)
{
    /* Payloads are 16-byte aligned: drop the low bits, then a
     * multiplicative hash spreads neighbours. */
    return (size_t)(((k >> 4) * 0x9E3779B97F4A7C15ull) >> 17) & m->mask;
}

static inline void rcgc_ptrmap_put(rcgc_ptrmap *m, const void *p, uint32_t v)
{
    uintptr_t k = (uintptr_t)p;
    size_t i = rcgc_ptrmap_slot(m, k);
    while (m->keys[i] != 0 && m->keys[i] != k)
        i = (i + 1) & m->mask;
    m->keys[i] = k;
    m->vals[i] = v;
}

/* The index stored for p, or UINT32_MAX. */
static inline uint32_t rcgc_ptrmap_get(const rcgc_ptrmap *m, const void *p)
{
    uintptr_t k = (uintptr_t)p;
    if (k == 0)
        return UINT32_MAX;
    size_t i = rcgc_ptrmap_slot(m, k);
    for (;;) {
        uintptr_t got = m->keys[i];
        if (got == k)
            return m->vals[i];
        if (got == 0)
            return UINT32_MAX;
        i = (i + 1) & m->mask;
    }
}

#endif

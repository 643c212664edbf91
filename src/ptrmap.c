/* ptrmap.c: allocation of the collector's private address map (ptrmap.h). */
#include "ptrmap.h"

#include <stdlib.h>

bool rcgc_ptrmap_init(rcgc_ptrmap *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n + 16)
        cap <<= 1;
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    m->mask = cap - 1;
    if (m->keys == NULL || m->vals == NULL) {
        rcgc_ptrmap_free(m);
        return false;
    }
    return true;
}

void rcgc_ptrmap_free(rcgc_ptrmap *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->mask = 0;
}

/* checks.c: misuse diagnostics.
 *
 * Purpose: with api checks on (the default, also in release builds) misuse
 * of the API aborts with a message naming the call and the object's type,
 * instead of corrupting the heap silently. The checks sit on slow paths
 * only: the inline fast paths stay a load, a compare and a plain add.
 *
 * Design: docs/design/objects.md, O8 (what is checked, at which level).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The type name of obj, if its header looks alive; never dereferences a
 * type pointer from a header whose magic is wrong. */
static const char *type_name(const void *obj)
{
    if (obj == NULL)
        return NULL;
    const rcgc__header *h = rcgc__hdr(obj);
    /* Relaxed: a diagnostic snapshot. */
    uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
    if ((bits >> RCGC_MAGIC_SHIFT) != RCGC_MAGIC_LIVE || h->type == NULL ||
        h->type->name == NULL)
        return NULL;
    return h->type->name;
}

_Noreturn void rcgc_fatal(const char *call, const void *obj, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = type_name(obj);
    if (obj != NULL)
        fprintf(stderr, "rcgc: fatal: %s(%p, type %s): %s\n", call, obj,
                name ? name : "?", msg);
    else
        fprintf(stderr, "rcgc: fatal: %s: %s\n", call, msg);
    fflush(stderr);
    abort();
}

void rcgc_check_object(const char *call, const void *obj)
{
    if (!rcgc_api_checks() || obj == NULL)
        return;
    if (((uintptr_t)obj & 15u) != 0)
        rcgc_fatal(call, obj, "not an object allocated by rcgc (misaligned pointer)");
    const rcgc__header *h = rcgc__hdr(obj);
    /* Relaxed: a diagnostic snapshot of the magic byte. */
    uint32_t magic = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED) >> RCGC_MAGIC_SHIFT;
    if (magic == RCGC_MAGIC_DEAD)
        rcgc_fatal(call, obj, "use of a dead object (it was already freed)");
    if (magic != RCGC_MAGIC_LIVE)
        rcgc_fatal(call, obj, "not an object allocated by rcgc (bad header)");
}

rcgc__heap *rcgc_require_running(const char *call, const void *obj, const char *in_blocking)
{
    rcgc__heap *heap = rcgc__tls_self.heap;
    if (heap == NULL) {
        if (rcgc_api_checks())
            rcgc_fatal(call, obj, "called from a thread that is not attached "
                                  "(call rcgc_thread_attach first)");
        return NULL;
    }
    if (heap->in_blocking && (rcgc_api_checks() || in_blocking != NULL))
        rcgc_fatal(call, obj, "%s",
                   in_blocking ? in_blocking : "managed objects touched inside a blocking region");
    return heap;
}

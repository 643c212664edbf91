/* weakref.c: the seed's example, in C.
 *
 *     class Obj:
 *         def __del__(self): print("finalized")
 *     o = Obj(); r = weakref.ref(o)
 *     print(r())        # the object
 *     del o             # finalized
 *     print(r())        # None
 *
 * and the same with the object in a reference cycle, freed by a full
 * collection. Exits non-zero if anything differs from that script.
 */
#include <rcgc.h>

#include <stdio.h>

typedef struct obj {
    void *other;   /* a slot, for the cycle */
    const char *name;
} obj;

static int finalized;

static void obj_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((obj *)o)->other, ctx);
}

static void obj_finalize(void *o)
{
    printf("  finalized %s\n", ((obj *)o)->name);
    finalized++;
}

static const rcgc_type obj_type = {"Obj", obj_traverse, obj_finalize, NULL};

static void on_clear(rcgc_weakref *wr, void *arg)
{
    (void)wr;
    printf("  callback: %s cleared\n", (const char *)arg);
}

static int show(rcgc_weakref *r)
{
    obj *o = rcgc_weakref_get(r); /* a strong reference, or NULL */
    printf("  r() -> %s\n", o ? o->name : "None");
    int alive = o != NULL;
    rcgc_decref(o);
    return alive;
}

int main(void)
{
    rcgc_init(NULL);
    rcgc_thread_attach();
    int ok = 1;

    printf("o = Obj(); r = weakref.ref(o)\n");
    obj *o = rcgc_alloc(&obj_type, sizeof(obj));
    o->name = "o";
    rcgc_weakref *r = rcgc_weakref_new(o, on_clear, "r");
    ok &= show(r) == 1;
    printf("del o\n");
    rcgc_decref(o);
    ok &= finalized == 1;
    ok &= show(r) == 0;
    rcgc_weakref_free(r);

    printf("a.other = b; b.other = a; r = weakref.ref(a); del a, b; gc.collect()\n");
    obj *a = rcgc_alloc(&obj_type, sizeof(obj)), *b = rcgc_alloc(&obj_type, sizeof(obj));
    a->name = "a";
    b->name = "b";
    rcgc_store(a, &a->other, b);
    rcgc_store(b, &b->other, a);
    r = rcgc_weakref_new(a, on_clear, "r");
    rcgc_decref(a);
    rcgc_decref(b);
    ok &= show(r) == 1; /* a cycle: still there until collected */
    rcgc_collect(2);
    ok &= finalized == 3;
    ok &= show(r) == 0;
    rcgc_weakref_free(r);

    rcgc_collect(2);
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    ok &= s.live_objects == 0 && s.finalized == 3;
    printf("%s\n", ok ? "as in the Python original" : "MISMATCH");
    rcgc_shutdown();
    return ok ? 0 : 1;
}

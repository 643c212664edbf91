/* weakref_dead_link.c: reproducer of a library bug found by rcgc-stress:
 * an object with weak references that dies by count while other deaths sit
 * behind it on the thread's dead list is never destroyed, and its weak
 * reference goes on answering it.
 *
 * Found by: rcgc-stress --threads 1 --seconds 3 --seed 7 --verify 1 (and
 * any run with weak references and verification): "FINDING not-freed".
 *
 * Cause (src/objects.c, src/weakref.c): rcgc_dead_link reuses the dead
 * object's `shared` word as the dead-list link; dead_pop reads the link but
 * leaves it in `shared`; the dealloc loop then calls rcgc_weakref_death,
 * which re-reads the count with rcgc_total_count(h) to see whether a weak
 * get revived the object (W3 step 1), and takes the link (a pointer to the
 * next dead object) for a count: the death is "cancelled", MERGED is set on
 * a count that is really a pointer, and the object lives forever.
 *
 * The scenario: a node holds two leaves; the second has a weak reference.
 * Dropping the node kills both leaves from its slot release; the second is
 * pushed on the dead list in front of the first, so its link is not NULL.
 *
 * Use: build against the public header (stress/meson.build builds it as
 * <build>/stress/weakref_dead_link) and run it: status 0 once fixed, 1 with
 * "destroyed 2 of 3" while the bug is there.
 */
#include <rcgc.h>

#include <stdio.h>

typedef struct node {
    void *a, *b;
} node;

static long destroyed;

static void traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((node *)o)->a, ctx);
    visit(&((node *)o)->b, ctx);
}

static void destroy(void *o)
{
    (void)o;
    destroyed++;
}

static const rcgc_type node_type = {"node", traverse, NULL, destroy};
static const rcgc_type leaf_type = {"leaf", NULL, NULL, destroy};

int main(void)
{
    rcgc_init(NULL);
    rcgc_thread_attach();
    node *c = rcgc_alloc(&node_type, sizeof *c);
    void *x = rcgc_alloc(&leaf_type, 16);
    void *y = rcgc_alloc(&leaf_type, 16);
    rcgc_store(c, &c->a, x);
    rcgc_store(c, &c->b, y);
    rcgc_weakref *wr = rcgc_weakref_new(y, NULL, NULL);
    rcgc_decref(x);
    rcgc_decref(y);
    rcgc_decref(c);   /* kills c, then x, then y (pushed in front of x) */
    rcgc_collect(2);
    void *got = rcgc_weakref_get(wr);
    printf("destroyed %ld of 3; the weak reference answers %p (expected NULL)\n", destroyed, got);
    int bad = destroyed != 3 || got != NULL;
    rcgc_weakref_free(wr);
    rcgc_shutdown();
    printf("%s\n", bad ? "BUG: the weakly referenced leaf was never destroyed" : "ok");
    return bad;
}

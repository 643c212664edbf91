/* cancelled_death_uaf.c: reproducer of a library bug behind what
 * rcgc-stress found with seed 997047089812 (`--threads 4 --seconds 1800`):
 * a release build crashed in rcgc_block_alloc after 22 s, a debugoptimized
 * build reported "FINDING double-destroy" for an fnode, the ASan build a
 * heap-use-after-free in rcgc_weakref_dying through a stale merge-queue
 * entry, and at fce9a4f one in the collector's ingest_into; this program
 * isolates one use after free on that path (the others are probably its
 * symptoms; rerun the seed once it is fixed).
 *
 * Cause (src/objects.c, rcgc_dead_link and revived_run; src/weakref.c,
 * rcgc_weakref_dying): a young tracked object with a weak reference reaches
 * count zero on its owner; a get on another thread counts it before the
 * death is decided, so rcgc_weakref_dying cancels the death (CANCELLED) and
 * rcgc_dead_link puts the object on the owner's `revived` list, to be moved
 * to generation 1 later by revived_run (rcgc_old_adopt). That entry holds
 * no reference: the getter drops its reference meanwhile, the object dies
 * again on the getter's thread and is freed, and then the owner's dealloc
 * loop runs revived_run on the freed object (rcgc_set_gen writes its
 * header, and the promotion reported to the collector names freed memory).
 * A fix: pin a cancelled object with a reference of its own, taken in
 * rcgc_weakref_dying under the lock, until revived_run has adopted it, and
 * drop that reference there.
 *
 * The scenario: each round the main thread drops its only reference to a
 * new node while a getter gets its weak reference four times, dropping each
 * reference at once (stress/repro/pingpong.h).
 *
 * Use: built by stress/meson.build as <build>/stress/cancelled_death_uaf;
 * run the AddressSanitizer build's (`meson setup -Db_sanitize=address`):
 * status 0 and "ok" once fixed; while the bug is there ASan reports a
 * heap-use-after-free in rcgc_old_adopt called from revived_run, usually
 * within a second. A release build corrupts memory instead (a crash later,
 * or nothing visible).
 */
#include "pingpong.h"

#include <stdio.h>

enum { ROUNDS = 1000000 };

typedef struct node {
    void *slot;
} node;

static void traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((node *)o)->slot, ctx);
}

static const rcgc_type node_type = {"node", traverse, NULL, NULL};

static long gets_answered;

static void answer(rcgc_weakref *wr)
{
    for (int k = 0; k < 4; k++) {
        void *p = rcgc_weakref_get(wr);
        gets_answered += p != NULL;
        rcgc_decref(p);
    }
}

int main(void)
{
    struct getter_args g = {ROUNDS, answer};
    pthread_t t = start_getter(&g);
    for (long i = 0; i < ROUNDS; i++) {
        rcgc_weakref_free(weak_round(i, rcgc_alloc(&node_type, sizeof(node))));
    }
    join_getter(t);
    printf("ok: %d rounds, %ld gets answered\n", ROUNDS, gets_answered);
    return 0;
}

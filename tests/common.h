/* common.h: object types shared by the tests. */
#ifndef RCGC_TEST_COMMON_H
#define RCGC_TEST_COMMON_H

#include "check.h"
#include <rcgc.h>
#include <stdatomic.h>

typedef struct node {
    void *a;
    void *b;
    long id;
} node;

static _Atomic long destroyed;

static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx)
{
    node *n = obj;
    visit(&n->a, ctx);
    visit(&n->b, ctx);
}

static void node_destroy(void *obj)
{
    (void)obj;
    atomic_fetch_add(&destroyed, 1);
}

static const rcgc_type node_type = {"node", node_traverse, NULL, node_destroy};

static inline node *node_new(long id)
{
    node *n = rcgc_alloc(&node_type, sizeof(node));
    if (n != NULL)
        n->id = id;
    return n;
}

static inline void test_init(void)
{
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0) {
        printf("Bail out! rcgc_init or rcgc_thread_attach failed\n");
        exit(1);
    }
}

static inline uint64_t live_objects(void)
{
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    return s.live_objects;
}

#endif

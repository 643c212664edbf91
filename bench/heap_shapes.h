/* heap_shapes.h: the live-heap shapes of the pause benchmarks, the same
 * for rcgc (pause_heap.c) and bdwgc (pause_bdwgc.c); bench/cpython_cycles.py
 * builds them in Python.
 *
 * Purpose: a full collection's pause depends on the shape of what is live
 * (bdwgc's anchor: 37 to 547 ms with 5 million live 32-byte objects,
 * "depending on shape"), so every manager is measured on the same three:
 *
 *   tree   one balanced binary tree of exactly n nodes (left subtree
 *          (n - 1) / 2 nodes, right the rest), held by its root;
 *   list   one singly linked chain of n nodes, held by its head;
 *   rings  n / 4 rings of 4 nodes, each held from a root array.
 *
 * A node is 32 bytes of payload: two reference fields and two longs. The
 * includer supplies the three operations as static functions before
 * including this file:
 *
 *   static void *shape_node(void);                  new node, one reference
 *   static void shape_link(void *from, int field, void *to);
 *        moves the caller's reference to `to` into from's field 0 or 1
 *   static void shape_close_ring(void *last, void *first);
 *        stores a NEW reference to `first` into last's field 0 (the
 *        caller keeps its own, which goes into the root array)
 *   static void **shape_roots(size_t n);             a root array (zeroed)
 *
 * and gets shape_build(name, n, &roots, &nroots): returns the single root
 * (tree, list) or NULL with the ring roots in *roots (rings); NULL with
 * *nroots == 0 for an unknown shape name.
 */
#ifndef RCGC_BENCH_HEAP_SHAPES_H
#define RCGC_BENCH_HEAP_SHAPES_H

#include <stddef.h>
#include <string.h>

typedef struct shape_node_t {
    void *a, *b;
    long x, y;
} shape_node_t;

static void *shape_tree(size_t n)
{
    if (n == 0)
        return NULL;
    void *node = shape_node();
    size_t left = (n - 1) / 2;
    void *l = shape_tree(left);
    void *r = shape_tree(n - 1 - left);
    if (l != NULL)
        shape_link(node, 0, l);
    if (r != NULL)
        shape_link(node, 1, r);
    return node;
}

static void *shape_list(size_t n)
{
    void *head = NULL;
    for (size_t i = 0; i < n; i++) {
        void *node = shape_node();
        if (head != NULL)
            shape_link(node, 0, head);
        head = node;
    }
    return head;
}

static void **shape_rings(size_t n, size_t *nroots)
{
    *nroots = n / 4;
    void **roots = shape_roots(*nroots);
    for (size_t i = 0; i < *nroots; i++) {
        void *first = shape_node(), *prev = first;
        for (int k = 1; k < 4; k++) {
            void *node = shape_node();
            shape_link(prev, 0, node); /* prev holds node; keep it borrowed */
            prev = node;
        }
        /* Close the ring: prev's field takes a new reference to first, and
         * the root array keeps the caller's. */
        roots[i] = first;
        shape_close_ring(prev, first);
    }
    return roots;
}

static void *shape_build(const char *name, size_t n, void ***roots, size_t *nroots)
{
    *roots = NULL;
    *nroots = 1;
    if (strcmp(name, "tree") == 0)
        return shape_tree(n);
    if (strcmp(name, "list") == 0)
        return shape_list(n);
    if (strcmp(name, "rings") == 0) {
        *roots = shape_rings(n, nroots);
        return NULL;
    }
    *nroots = 0;
    return NULL;
}

#endif /* RCGC_BENCH_HEAP_SHAPES_H */

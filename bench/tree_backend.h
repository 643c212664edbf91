/* tree_backend.h: one tree-node interface over four memory managers, so
 * that the same workload source (gcbench.c, binarytrees.c) is compiled
 * once per manager into its own executable.
 *
 * Purpose: GCBench and binary-trees are measured with rcgc and with what a
 * user would pick instead. Exactly one of these is defined on the compiler
 * command line (bench/meson.build does it):
 *
 *   BENCH_BACKEND_RCGC      rcgc: rcgc_alloc, rcgc_store, rcgc_decref; a
 *                           tree dies by count when its root is dropped.
 *   BENCH_BACKEND_MALLOC    glibc malloc; a tree is freed explicitly, node
 *                           by node, when its root is dropped.
 *   BENCH_BACKEND_MIMALLOC  mi_malloc/mi_free, the same explicit frees.
 *   BENCH_BACKEND_BDWGC     the Boehm collector (GC_MALLOC); dropping a
 *                           root does nothing, GC_gcollect's business.
 *
 * bdwgc and mimalloc each replace or wrap malloc for their whole process,
 * so each lives in an executable of its own and rcgc is never linked with
 * either (bench/meson.build).
 *
 * A node's first two fields are its slots (left, right); a workload may
 * make nodes bigger (GCBench adds two ints). Use: bk_init() once on the
 * main thread, bk_thread_attach()/bk_thread_detach() around the life of
 * every other thread that builds trees, bk_blocking_begin()/end() around
 * a main thread's pthread_join (rcgc must never wait on a thread that
 * reaches no safepoint), bk_shutdown() at the end. bk_bottom_up builds a
 * complete tree, bk_count counts its nodes. Ownership: bk_node and
 * bk_blob return one reference to the caller; bk_node and bk_set_child
 * take over the references passed in (children); bk_drop releases one.
 */
#ifndef RCGC_BENCH_TREE_BACKEND_H
#define RCGC_BENCH_TREE_BACKEND_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(BENCH_BACKEND_RCGC) + defined(BENCH_BACKEND_MALLOC) + \
        defined(BENCH_BACKEND_MIMALLOC) + defined(BENCH_BACKEND_BDWGC) != 1
#error "define exactly one BENCH_BACKEND_*"
#endif

/* The slots every node starts with. */
typedef struct bk_slots {
    void *left, *right;
} bk_slots;

/* ==================================================================== */
#if defined(BENCH_BACKEND_RCGC)

#include <rcgc.h>

static void bk_node_traverse(void *obj, rcgc_visit_fn visit, void *ctx)
{
    visit(&((bk_slots *)obj)->left, ctx);
    visit(&((bk_slots *)obj)->right, ctx);
}

static const rcgc_type bk_node_type = {"bench.node", bk_node_traverse, NULL, NULL};
static const rcgc_type bk_blob_type = {"bench.blob", NULL, NULL, NULL};

/* Slots are read with rcgc_load (a borrowed reference; the trees here are
 * written by one thread only). */
static inline void *bk_left(const void *n)
{
    return rcgc_load(&((const bk_slots *)n)->left);
}

static inline void *bk_right(const void *n)
{
    return rcgc_load(&((const bk_slots *)n)->right);
}

static inline const char *bk_name(void)
{
    return "rcgc";
}

static inline int bk_init(void)
{
    return rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0 ? -1 : 0;
}

static inline void bk_thread_attach(void)
{
    rcgc_thread_attach();
}

static inline void bk_thread_detach(void)
{
    rcgc_thread_detach();
}

static inline void bk_blocking_begin(void)
{
    rcgc_blocking_begin();
}

static inline void bk_blocking_end(void)
{
    rcgc_blocking_end();
}

static inline void bk_shutdown(void)
{
    rcgc_shutdown();
}

/* Moves the caller's reference to `child` into the (NULL) slot. Slots are
 * written only with rcgc_store, as the contract requires. */
static inline void bk_set_child(void *parent, int right, void *child)
{
    bk_slots *s = parent;
    rcgc_store(parent, right ? &s->right : &s->left, child);
    rcgc_decref(child);
}

static inline void *bk_node(size_t size, void *left, void *right)
{
    void *n = rcgc_alloc(&bk_node_type, size);
    if (n == NULL)
        abort();
    if (left != NULL)
        bk_set_child(n, 0, left);
    if (right != NULL)
        bk_set_child(n, 1, right);
    return n;
}

static inline void bk_drop(void *n)
{
    rcgc_decref(n); /* the whole tree dies by count, iteratively */
}

static inline void *bk_blob(size_t bytes)
{
    void *p = rcgc_alloc(&bk_blob_type, bytes);
    if (p == NULL)
        abort();
    return p;
}

static inline void bk_drop_blob(void *p)
{
    rcgc_decref(p);
}

/* ==================================================================== */
#else /* bdwgc, glibc malloc, mimalloc: plain pointers, no thread duties */

static inline void bk_thread_attach(void) {}
static inline void bk_thread_detach(void) {}
static inline void bk_blocking_begin(void) {}
static inline void bk_blocking_end(void) {}
static inline void bk_shutdown(void) {}

static inline void *bk_left(const void *n)
{
    return ((const bk_slots *)n)->left;
}

static inline void *bk_right(const void *n)
{
    return ((const bk_slots *)n)->right;
}

static inline void bk_set_child(void *parent, int right, void *child)
{
    bk_slots *s = parent;
    if (right)
        s->right = child;
    else
        s->left = child;
}

#if defined(BENCH_BACKEND_BDWGC)

#define GC_THREADS 1 /* pthread_create is redirected: threads are registered */
#include <gc.h>

static inline const char *bk_name(void)
{
    return "bdwgc";
}

static inline int bk_init(void)
{
    GC_INIT();
    return 0;
}

static inline void *bk_node(size_t size, void *left, void *right)
{
    bk_slots *n = GC_MALLOC(size); /* zeroed by the collector */
    if (n == NULL)
        abort();
    n->left = left;
    n->right = right;
    return n;
}

static inline void bk_drop(void *n)
{
    (void)n; /* garbage from here on; the collector finds it */
}

static inline void *bk_blob(size_t bytes)
{
    void *p = GC_MALLOC_ATOMIC(bytes); /* holds no pointers: not scanned */
    if (p == NULL)
        abort();
    memset(p, 0, bytes);
    return p;
}

static inline void bk_drop_blob(void *p)
{
    (void)p;
}

#else /* explicit free */

#if defined(BENCH_BACKEND_MIMALLOC)
#include <mimalloc.h>
static inline void *bk_raw_alloc(size_t n)
{
    return mi_malloc(n);
}
static inline void bk_raw_free(void *p)
{
    mi_free(p);
}
static inline const char *bk_name(void)
{
    return "mimalloc";
}
#else
static inline void *bk_raw_alloc(size_t n)
{
    return malloc(n);
}
static inline void bk_raw_free(void *p)
{
    free(p);
}
static inline const char *bk_name(void)
{
    return "malloc";
}
#endif

static inline int bk_init(void)
{
    return 0;
}

/* Every field written, none left to a calloc: glibc's calloc skips the
 * per-thread cache and would handicap the baseline. */
static inline void *bk_node(size_t size, void *left, void *right)
{
    bk_slots *n = bk_raw_alloc(size);
    if (n == NULL)
        abort();
    n->left = left;
    n->right = right;
    if (size > sizeof *n)
        memset(n + 1, 0, size - sizeof *n);
    return n;
}

/* Frees a whole tree, children first (trees here are at most 24 deep). */
static void bk_drop(void *n)
{
    if (n == NULL)
        return;
    bk_drop(bk_left(n));
    bk_drop(bk_right(n));
    bk_raw_free(n);
}

static inline void *bk_blob(size_t bytes)
{
    void *p = bk_raw_alloc(bytes);
    if (p == NULL)
        abort();
    memset(p, 0, bytes);
    return p;
}

static inline void bk_drop_blob(void *p)
{
    bk_raw_free(p);
}

#endif /* explicit free */
#endif /* backends */

/* ==================================================================== */
/* Trees, the same for every backend                                     */
/* ==================================================================== */

/* A complete tree of the given depth built bottom-up (children first,
 * handed to their parent's allocation), nodes of `size` bytes. */
static void *bk_bottom_up(size_t size, int depth)
{
    if (depth <= 0)
        return bk_node(size, NULL, NULL);
    void *l = bk_bottom_up(size, depth - 1);
    void *r = bk_bottom_up(size, depth - 1);
    return bk_node(size, l, r);
}

/* The number of nodes of a tree (recursive: the trees here are shallow). */
static long bk_count(const void *n)
{
    return n == NULL ? 0 : 1 + bk_count(bk_left(n)) + bk_count(bk_right(n));
}

#endif /* RCGC_BENCH_TREE_BACKEND_H */

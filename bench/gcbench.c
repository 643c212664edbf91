/* gcbench.c: GCBench, the classic single-threaded tree allocation
 * benchmark, compiled once per memory manager (tree_backend.h):
 * gcbench_rcgc, _malloc, _mimalloc, _bdwgc.
 *
 * Purpose: issue 6's second macro workload (anchors: 0.092 s mimalloc,
 * 0.164 s glibc, 0.202 s bdwgc on a 2-core machine). The workload, written
 * from its well-known description, with its usual parameters:
 *   - build a temporary "stretch" tree of depth 18 and drop it;
 *   - build a long-lived tree of depth 16 top-down and keep it, and a
 *     long-lived array of 500,000 doubles (half of them written);
 *   - for depth d = 4, 6, ..., 16: build 2 * nodes(18) / nodes(d) trees of
 *     depth d top-down (each node allocated empty, its children stored into
 *     it afterwards, then filled in recursively), dropping each; then as
 *     many bottom-up (children first, passed to the parent's allocation);
 *   - check that the long-lived tree and array are still intact, drop
 *     them.
 * A node holds two slots and two ints (24 bytes of payload). nodes(d) is
 * 2^(d+1) - 1.
 *
 * Usage: gcbench_<backend> [stretch-depth]   (default 18; the long-lived
 * and largest trees are 2 less). Prints the per-depth times, then
 * `@ time_s` (everything, including the final drops) and `@ nodes`.
 */
#include "tree_backend.h"

#include "bench_util.h"

#include <stdint.h>

typedef struct gnode {
    void *left, *right; /* the slots (bk_slots) */
    int32_t i, j;
} gnode;

enum { ARRAY_SIZE = 500000, MIN_DEPTH = 4 };

static long tree_size(int depth)
{
    return (2L << depth) - 1;
}

/* Top-down: the node exists first, its children are stored into it. */
static void populate(int depth, void *node)
{
    if (depth <= 0)
        return;
    depth--;
    void *l = bk_node(sizeof(gnode), NULL, NULL);
    void *r = bk_node(sizeof(gnode), NULL, NULL);
    bk_set_child(node, 0, l); /* the node now holds them: l, r borrowed */
    bk_set_child(node, 1, r);
    populate(depth, l);
    populate(depth, r);
}

static long construction(int depth, int stretch_depth)
{
    long iters = 2 * tree_size(stretch_depth) / tree_size(depth);
    printf("creating %ld trees of depth %d\n", iters, depth);
    uint64_t t0 = bench_now_ns();
    for (long i = 0; i < iters; i++) {
        void *t = bk_node(sizeof(gnode), NULL, NULL);
        populate(depth, t);
        bk_drop(t);
    }
    double top_down = bench_seconds_since(t0);
    t0 = bench_now_ns();
    for (long i = 0; i < iters; i++)
        bk_drop(bk_bottom_up(sizeof(gnode), depth));
    printf("  top down %.1f ms, bottom up %.1f ms\n", top_down * 1e3,
           bench_seconds_since(t0) * 1e3);
    return 2 * iters * tree_size(depth);
}

int main(int argc, char **argv)
{
    int stretch_depth = (int)bench_arg_long(argc, argv, 1, 18);
    if (stretch_depth < MIN_DEPTH + 2 || stretch_depth > 24)
        bench_die(argv[0], "stretch depth between 6 and 24");
    int long_lived_depth = stretch_depth - 2, max_depth = stretch_depth - 2;
    if (bk_init() != 0)
        bench_die(argv[0], "initialisation failed");

    uint64_t t0 = bench_now_ns();
    long nodes = tree_size(stretch_depth);
    bk_drop(bk_bottom_up(sizeof(gnode), stretch_depth));

    void *long_lived = bk_node(sizeof(gnode), NULL, NULL);
    populate(long_lived_depth, long_lived);
    nodes += tree_size(long_lived_depth);
    double *array = bk_blob(ARRAY_SIZE * sizeof(double));
    for (int i = 1; i < ARRAY_SIZE / 2; i++)
        array[i] = 1.0 / i;

    for (int d = MIN_DEPTH; d <= max_depth; d += 2)
        nodes += construction(d, stretch_depth);

    if (bk_count(long_lived) != tree_size(long_lived_depth) || array[1000] != 1.0 / 1000)
        bench_die(argv[0], "the long-lived data did not survive");
    bk_drop(long_lived);
    bk_drop_blob(array);
    double secs = bench_seconds_since(t0);

    printf("%s: %.3f s, %ld nodes\n", bk_name(), secs, nodes);
    bench_result("time_s", secs);
    bench_result("nodes", (double)nodes);
    bk_shutdown();
    return 0;
}

/* binarytrees.c: the multithreaded binary-trees workload, compiled once
 * per memory manager (tree_backend.h): binarytrees_rcgc, _malloc,
 * _mimalloc, _bdwgc.
 *
 * Purpose: the allocation-heavy macro benchmark of issue 6 (the targets
 * name depth 21 on 2 threads). The workload, from its well-known
 * description: with max = max(depth, min + 2) and min = 4, build and check
 * a "stretch" tree of depth max + 1 and drop it; build a long-lived tree of
 * depth max; then for every depth d = min, min + 2, ..., max build
 * 2^(max - d + min) trees of depth d bottom-up, walk each to count its
 * nodes, and drop it; finally walk the long-lived tree. The per-depth work
 * is cut into chunks that the worker threads take from a shared counter, so
 * every thread builds and frees its own trees (for rcgc: every count
 * operation is the owner's). The check sums are compared with their exact
 * values (a tree of depth d has 2^(d+1) - 1 nodes); a mismatch exits 1.
 *
 * Usage: binarytrees_<backend> [depth [threads]]   (default 21 2)
 * Prints the classic report lines, then `@ time_s`, `@ nodes` (nodes
 * allocated), `@ nodes_per_s` (bench_util.h).
 */
#include "tree_backend.h"

#include "bench_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum { MIN_DEPTH = 4, MAX_THREADS = 256, MAX_DEPTHS = 32 };

typedef struct chunk {
    int depth;
    long trees;
} chunk;

typedef struct worker {
    pthread_t thread;
    long check[MAX_DEPTHS]; /* per depth; read by main after the join */
} worker;

static chunk *chunks;
static long nchunks;
static atomic_long next_chunk;
static worker workers[MAX_THREADS];

static void *work(void *arg)
{
    worker *w = arg;
    bk_thread_attach();
    for (;;) {
        /* Relaxed: the chunk table was written before the threads were
         * created (pthread_create orders it); the counter only hands out
         * distinct indexes. */
        long i = atomic_fetch_add_explicit(&next_chunk, 1, memory_order_relaxed);
        if (i >= nchunks)
            break;
        long c = 0;
        for (long t = 0; t < chunks[i].trees; t++) {
            void *tree = bk_bottom_up(sizeof(bk_slots), chunks[i].depth);
            c += bk_count(tree);
            bk_drop(tree);
        }
        w->check[chunks[i].depth] += c;
    }
    bk_thread_detach();
    return NULL;
}

static long tree_nodes(int depth)
{
    return (2L << depth) - 1;
}

int main(int argc, char **argv)
{
    int depth = (int)bench_arg_long(argc, argv, 1, 21);
    int threads = (int)bench_arg_long(argc, argv, 2, 2);
    if (depth > 24 || threads > MAX_THREADS)
        bench_die(argv[0], "depth at most 24, at most 256 threads");
    int max_depth = depth > MIN_DEPTH + 2 ? depth : MIN_DEPTH + 2;
    if (bk_init() != 0)
        bench_die(argv[0], "initialisation failed");

    /* Chunks: each depth cut into about 8 pieces per thread (at most 16). */
    chunks = malloc(sizeof *chunks * (size_t)(MAX_DEPTHS * 16 * threads));
    if (chunks == NULL)
        bench_die(argv[0], "out of memory");
    long nodes = 0;
    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + MIN_DEPTH);
        long per = iters / (8L * threads);
        if (per < 1)
            per = 1;
        for (long done = 0; done < iters; done += per)
            chunks[nchunks++] = (chunk){d, iters - done < per ? iters - done : per};
        nodes += iters * tree_nodes(d);
    }

    uint64_t t0 = bench_now_ns();
    void *stretch = bk_bottom_up(sizeof(bk_slots), max_depth + 1);
    long stretch_check = bk_count(stretch);
    bk_drop(stretch);
    printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, stretch_check);

    void *long_lived = bk_bottom_up(sizeof(bk_slots), max_depth);

    for (int t = 0; t < threads; t++)
        if (pthread_create(&workers[t].thread, NULL, work, &workers[t]) != 0)
            bench_die(argv[0], "pthread_create failed");
    bk_blocking_begin(); /* joining: never delay a pause */
    for (int t = 0; t < threads; t++)
        pthread_join(workers[t].thread, NULL);
    bk_blocking_end();

    int ok = stretch_check == tree_nodes(max_depth + 1);
    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + MIN_DEPTH), c = 0;
        for (int t = 0; t < threads; t++)
            c += workers[t].check[d];
        ok &= c == iters * tree_nodes(d);
        printf("%ld\t trees of depth %d\t check: %ld\n", iters, d, c);
    }
    long long_check = bk_count(long_lived);
    ok &= long_check == tree_nodes(max_depth);
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, long_check);
    bk_drop(long_lived);
    double secs = bench_seconds_since(t0);

    nodes += tree_nodes(max_depth + 1) + tree_nodes(max_depth);
    printf("%s, depth %d, %d threads: %.3f s, %.1f M nodes/s\n", bk_name(), depth, threads,
           secs, (double)nodes / secs / 1e6);
    bench_result("time_s", secs);
    bench_result("nodes", (double)nodes);
    bench_result("nodes_per_s", (double)nodes / secs);
    bk_shutdown();
    free(chunks);
    if (!ok)
        bench_die(argv[0], "check sums do not match the tree sizes");
    return 0;
}

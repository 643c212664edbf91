/* binarytrees_contract.c: a held-out binary-trees, written only against
 * the public contract (the calls of api-contract.md, through <rcgc.h>) and
 * linked with the shared library, as an outside program would be.
 *
 * Purpose: issue 6's "done when" clause: this program must run no slower
 * than glibc malloc with explicit free and in at most half bdwgc's time
 * (bench/run.py runs it next to binarytrees_malloc and binarytrees_bdwgc at
 * the same depth and thread count). It shares no code with the other
 * benchmarks, not even bench/bench_util.h, and uses nothing of rcgc beyond
 * rcgc_init, rcgc_thread_attach/detach, rcgc_alloc, rcgc_store, rcgc_load,
 * rcgc_decref, rcgc_blocking_begin/end and rcgc_shutdown, so it also builds
 * outside the tree:
 *
 *   cc -O2 -std=c11 bench/binarytrees_contract.c $(pkg-config --cflags --libs rcgc)
 *
 * The workload (the well-known description): min depth 4, max depth
 * max(N, 6); a stretch tree of depth max + 1 is built, checked, dropped; a
 * long-lived tree of depth max is built; for each depth d from 4 to max in
 * steps of 2, 2^(max - d + 4) trees of depth d are built bottom-up, checked
 * (node count) and dropped; then the long-lived tree is checked. Each of T
 * threads takes every T-th tree of every depth. Check sums must equal the
 * exact node counts, or the program exits 1.
 *
 * Usage: binarytrees_contract [depth [threads]]   (default 21 2)
 * Prints the classic lines, then `@ time_s <seconds>` and
 * `@ nodes_per_s <rate>` for bench/run.py.
 */
#define _POSIX_C_SOURCE 200112L

#include <rcgc.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct tree_node {
    void *left;
    void *right;
} tree_node;

static void tree_node_traverse(void *obj, rcgc_visit_fn visit, void *ctx)
{
    tree_node *n = obj;
    visit(&n->left, ctx);
    visit(&n->right, ctx);
}

static const rcgc_type tree_node_type = {"binarytrees.node", tree_node_traverse, NULL, NULL};

static tree_node *new_node(tree_node *left, tree_node *right)
{
    tree_node *n = rcgc_alloc(&tree_node_type, sizeof *n);
    if (n == NULL) {
        perror("rcgc_alloc");
        exit(1);
    }
    if (left != NULL) {
        /* The slot takes its own reference; ours is then released. */
        rcgc_store(n, &n->left, left);
        rcgc_decref(left);
        rcgc_store(n, &n->right, right);
        rcgc_decref(right);
    }
    return n;
}

static tree_node *make(int depth)
{
    if (depth == 0)
        return new_node(NULL, NULL);
    tree_node *l = make(depth - 1);
    tree_node *r = make(depth - 1);
    return new_node(l, r);
}

static long count(tree_node *n)
{
    tree_node *l = rcgc_load(&n->left);
    if (l == NULL)
        return 1;
    return 1 + count(l) + count(rcgc_load(&n->right));
}

enum { MIN_DEPTH = 4, MAX_THREADS = 64, MAX_DEPTH = 24 };

static int max_depth, nthreads;

typedef struct job {
    pthread_t id;
    int index;
    long sums[MAX_DEPTH + 1];
} job;

static void *worker(void *arg)
{
    job *j = arg;
    if (rcgc_thread_attach() != 0) {
        fprintf(stderr, "rcgc_thread_attach failed\n");
        exit(1);
    }
    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + MIN_DEPTH);
        for (long i = j->index; i < iterations; i += nthreads) {
            tree_node *t = make(d);
            j->sums[d] += count(t);
            rcgc_decref(t);
        }
    }
    rcgc_thread_detach();
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 21;
    nthreads = argc > 2 ? atoi(argv[2]) : 2;
    if (n < 0 || n > MAX_DEPTH - 1 || nthreads < 1 || nthreads > MAX_THREADS) {
        fprintf(stderr, "usage: %s [depth <= %d [threads <= %d]]\n", argv[0], MAX_DEPTH - 1,
                MAX_THREADS);
        return 2;
    }
    max_depth = n > MIN_DEPTH + 2 ? n : MIN_DEPTH + 2;
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0) {
        fprintf(stderr, "rcgc_init or rcgc_thread_attach failed\n");
        return 1;
    }

    double start = now();
    int ok = 1;
    tree_node *stretch = make(max_depth + 1);
    long c = count(stretch);
    rcgc_decref(stretch);
    ok &= c == (2L << (max_depth + 1)) - 1;
    printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1, c);

    tree_node *long_lived = make(max_depth);

    static job jobs[MAX_THREADS];
    for (int t = 0; t < nthreads; t++) {
        jobs[t].index = t;
        if (pthread_create(&jobs[t].id, NULL, worker, &jobs[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    /* This thread waits in a blocking region: it must not hold up the
     * collector's pauses while it is parked in pthread_join. */
    rcgc_blocking_begin();
    for (int t = 0; t < nthreads; t++)
        pthread_join(jobs[t].id, NULL);
    rcgc_blocking_end();

    long nodes = (2L << (max_depth + 1)) - 1 + (2L << max_depth) - 1;
    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + MIN_DEPTH), sum = 0;
        for (int t = 0; t < nthreads; t++)
            sum += jobs[t].sums[d];
        ok &= sum == iterations * ((2L << d) - 1);
        nodes += iterations * ((2L << d) - 1);
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, sum);
    }
    c = count(long_lived);
    ok &= c == (2L << max_depth) - 1;
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, c);
    rcgc_decref(long_lived);
    double secs = now() - start;

    printf("rcgc (contract only, shared library), depth %d, %d threads: %.3f s\n", n, nthreads,
           secs);
    printf("@ time_s %.9g\n@ nodes_per_s %.9g\n", secs, (double)nodes / secs);
    rcgc_shutdown();
    if (!ok) {
        fprintf(stderr, "check sums do not match the tree sizes\n");
        return 1;
    }
    return 0;
}

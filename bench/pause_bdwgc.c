/* pause_bdwgc.c: the Boehm collector's full-collection pause against the
 * size of the live heap, on the shapes of heap_shapes.h.
 *
 * Purpose: the baseline of bench/pause_heap.c (issue 6's anchor: a full
 * bdwgc collection with 5 million live 32-byte objects paused 37 to 547 ms
 * depending on shape). Builds LIVE 32-byte objects (GC_MALLOC) in SHAPE,
 * then times REPS calls of GC_gcollect(). bdwgc stops every thread for the
 * whole of a full collection's marking (this program has one thread, and
 * the collector may use its parallel markers), so the time of the call is
 * the pause. Linked with bdwgc only: it replaces nothing for anyone else.
 *
 * Usage: pause_bdwgc [live [shape [reps]]]   (default 5000000 tree 3)
 * Results (bench_util.h): `@ pause_ms` (median), `@ pause_max_ms`,
 * `@ build_s`.
 */
#define GC_THREADS 1
#include <gc.h>

#include "bench_util.h"

static void *shape_node(void)
{
    void *n = GC_MALLOC(32); /* zeroed */
    if (n == NULL)
        bench_die("pause_bdwgc", "GC_MALLOC failed");
    return n;
}

static void shape_link(void *from, int field, void *to)
{
    ((void **)from)[field ? 1 : 0] = to;
}

static void shape_close_ring(void *last, void *first)
{
    ((void **)last)[0] = first;
}

/* The root array is itself collected memory, held from a static root. */
static void **shape_roots(size_t n)
{
    void **r = GC_MALLOC((n ? n : 1) * sizeof *r);
    if (r == NULL)
        bench_die("pause_bdwgc", "GC_MALLOC failed");
    return r;
}

#include "heap_shapes.h"

enum { MAX_REPS = 64 };

/* Roots in the data segment, which the collector scans. External linkage
 * and read after the collections (count_live), so the compiler cannot drop
 * the stores. */
void *bench_root;
void **bench_roots;

/* Nodes reachable from n: along field 0 in a loop (lists, rings: stop at
 * `stop`), into field 1 by recursion (trees: log-deep). */
static size_t count_from(void *n, void *stop)
{
    size_t c = 0;
    while (n != NULL) {
        c++;
        void *b = ((void **)n)[1];
        if (b != NULL)
            c += count_from(b, NULL);
        n = ((void **)n)[0];
        if (n == stop)
            break;
    }
    return c;
}

/* Every node still reachable (a collection that freed live objects would
 * make the pause meaningless). */
static size_t count_live(size_t nroots)
{
    if (bench_roots == NULL)
        return count_from(bench_root, NULL);
    size_t c = 0;
    for (size_t i = 0; i < nroots; i++)
        c += count_from(bench_roots[i], bench_roots[i]);
    return c;
}

int main(int argc, char **argv)
{
    long live = bench_arg_long(argc, argv, 1, 5000000);
    const char *shape = argc > 2 ? argv[2] : "tree";
    int reps = (int)bench_arg_long(argc, argv, 3, 3);
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    GC_INIT();

    uint64_t t0 = bench_now_ns();
    size_t nroots;
    bench_root = shape_build(shape, (size_t)live, &bench_roots, &nroots);
    if (nroots == 0)
        bench_die(argv[0], "unknown shape (tree, list or rings)");
    double build_s = bench_seconds_since(t0);

    double pause[MAX_REPS], longest = 0;
    for (int r = 0; r < reps; r++) {
        t0 = bench_now_ns();
        GC_gcollect();
        pause[r] = bench_seconds_since(t0) * 1e3;
        if (pause[r] > longest)
            longest = pause[r];
    }
    double med = bench_median(pause, reps);
    size_t expect = bench_roots != NULL ? nroots * 4 : (size_t)live;
    if (count_live(nroots) != expect)
        bench_die(argv[0], "live objects were lost");
    printf("bdwgc %d.%d.%d: %ld live objects (%s, 32 bytes), built in %.2f s; GC_gcollect %.1f ms "
           "median, %.1f ms longest (%d markers, heap %zu MB)\n",
           GC_VERSION_MAJOR, GC_VERSION_MINOR, GC_VERSION_MICRO, live, shape, build_s, med,
           longest, GC_get_parallel() + 1, GC_get_heap_size() >> 20);
    bench_result("pause_ms", med);
    bench_result("pause_max_ms", longest);
    bench_result("build_s", build_s);
    return 0;
}

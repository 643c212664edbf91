/* cycles_rcgc.c: how fast rcgc frees cyclic garbage, on the shape that
 * bench/cpython_cycles.py gives CPython's gc.collect().
 *
 * Purpose: issue 6's cyclic-garbage throughput (target: at least twice
 * CPython 3.11's gc.collect(), whose anchor is 23 million objects/s). Each
 * repetition, with automatic collection disabled (as gc.disable() in the
 * Python script): allocate PAIRS 2-node cycles (a <-> b, one slot each,
 * 16-byte payload), drop every reference to them, then time one explicit
 * collection and divide the objects it freed by its duration:
 *
 *   full   rcgc_collect(2): the gathering pause, detection on the
 *          background collector, the confirming pause and the reclaim
 *          (the analogue of gc.collect(), which is a full collection);
 *   young  rcgc_collect(0): the same garbage, still in the thread's young
 *          generation, freed by the thread's own young collection.
 *
 * The longest stop-the-world pause of the full collections (rcgc_get_stats)
 * is printed too. A collection that frees fewer than all the objects exits
 * 1 (a failure of the library, not a slow result).
 *
 * Usage: cycles_rcgc [objects [repetitions]]   (default 1000000 5)
 * Results: `@ full_objects_per_s`, `@ young_objects_per_s` (medians),
 * `@ full_s`, `@ young_s`, `@ pause_max_ms`.
 */
#include <rcgc.h>

#include "bench_util.h"

typedef struct cnode {
    void *other;
    long value;
} cnode;

static void cnode_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((cnode *)o)->other, ctx);
}

static const rcgc_type cnode_type = {"cycles.node", cnode_traverse, NULL, NULL};

static void make_garbage(long pairs)
{
    for (long i = 0; i < pairs; i++) {
        cnode *a = rcgc_alloc(&cnode_type, sizeof *a);
        cnode *b = rcgc_alloc(&cnode_type, sizeof *b);
        if (a == NULL || b == NULL)
            bench_die("cycles_rcgc", "rcgc_alloc failed");
        rcgc_store(a, &a->other, b);
        rcgc_store(b, &b->other, a);
        rcgc_decref(a);
        rcgc_decref(b);
    }
}

/* Builds the garbage and times one collection of `generation`; returns
 * objects freed per second. */
static double run_once(long objects, int generation, double *secs)
{
    make_garbage(objects / 2);
    uint64_t t0 = bench_now_ns();
    size_t freed = rcgc_collect(generation);
    *secs = bench_seconds_since(t0);
    if ((long)freed < objects / 2 * 2)
        bench_die("cycles_rcgc", "the collection did not free every cycle");
    return (double)freed / *secs;
}

enum { MAX_REPS = 64 };

int main(int argc, char **argv)
{
    long objects = bench_arg_long(argc, argv, 1, 1000000);
    int reps = (int)bench_arg_long(argc, argv, 2, 5);
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0)
        bench_die(argv[0], "rcgc_init or rcgc_thread_attach failed");
    rcgc_disable();

    double full[MAX_REPS], full_s[MAX_REPS], young[MAX_REPS], young_s[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        full[r] = run_once(objects, 2, &full_s[r]);
        young[r] = run_once(objects, 0, &young_s[r]);
        printf("repetition %d: full %.1f ms (%.1f M objects/s), young %.1f ms (%.1f M objects/s)\n",
               r + 1, full_s[r] * 1e3, full[r] / 1e6, young_s[r] * 1e3, young[r] / 1e6);
    }
    rcgc_stats st = {.size = sizeof st};
    rcgc_get_stats(&st);
    double mf = bench_median(full, reps), my = bench_median(young, reps);
    printf("%ld objects in 2-cycles: rcgc_collect(2) %.1f M objects/s, rcgc_collect(0) %.1f M "
           "objects/s (medians of %d); longest pause %.3f ms\n",
           objects, mf / 1e6, my / 1e6, reps, (double)st.pause_max_ns / 1e6);
    bench_result("full_objects_per_s", mf);
    bench_result("young_objects_per_s", my);
    bench_result("full_s", bench_median(full_s, reps));
    bench_result("young_s", bench_median(young_s, reps));
    bench_result("pause_max_ms", (double)st.pause_max_ns / 1e6);
    rcgc_shutdown();
    return 0;
}

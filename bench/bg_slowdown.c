/* bg_slowdown.c: how much the background collector slows the program
 * down while it works.
 *
 * Purpose: issue 6's last target (the mutator slowdown while background
 * collection runs: under 10%). The main thread builds LIVE objects (rings
 * of 4, heap_shapes.h) and makes them old, then runs the same fixed amount
 * of mutator work in three modes, interleaved REPS times (so a slow phase
 * of a shared machine hits all modes alike):
 *
 *   disabled  rcgc_disable(): no young or background collection at all;
 *   auto      the defaults: young collections and threshold-triggered
 *             background collections (the live heap is old and stable, so
 *             the background collector has little to do);
 *   busy      as auto, plus a thread asking for full collections back to
 *             back for the whole run: the background collector examines
 *             the live heap continuously, on the other CPU, and stops the
 *             world to confirm and to gather.
 *
 * The work, in units: build a binary tree of depth 4 bottom-up (31 nodes,
 * rcgc_store for every child), walk it, drop it (it dies by count), and
 * take and drop a reference to 4 live objects (the owner's counts). The
 * slowdown is median(busy) / median(disabled) - 1.
 *
 * Usage: bg_slowdown [live [units [reps]]]   (default 2000000 300000 5)
 * Results (bench_util.h): `@ disabled_s`, `@ auto_s`, `@ busy_s` (medians),
 * `@ slowdown_busy`, `@ slowdown_auto` (fractions), `@ busy_full_collections`;
 * and the CPU time the mutator thread itself got (CLOCK_THREAD_CPUTIME_ID):
 * `@ disabled_cpu_s`, `@ busy_cpu_s`, `@ slowdown_busy_cpu`; `@ busy_paused_s`,
 * the stop-the-world time during a busy run (rcgc_get_stats). Wall time
 * beyond CPU time is time the thread was stopped or found no CPU free.
 */
#include <rcgc.h>

#include "bench_util.h"

#include "rcgc_bench.h"


/* ------------------------------------------------------------------ */

static void *tree(int depth)
{
    void *n = shape_node();
    if (depth > 0) {
        shape_link(n, 0, tree(depth - 1));
        shape_link(n, 1, tree(depth - 1));
    }
    return n;
}

static long walk(const void *n)
{
    if (n == NULL)
        return 0;
    const shape_node_t *s = n;
    return 1 + walk(rcgc_load(&s->a)) + walk(rcgc_load(&s->b));
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The fixed mutator work; returns its duration in seconds (wall clock),
 * and in *cpu the CPU time the thread got meanwhile. */
static double work(long units, void **roots, size_t nroots, double *cpu)
{
    double c0 = thread_cpu_s();
    uint64_t t0 = bench_now_ns();
    long nodes = 0;
    size_t r = 0;
    for (long u = 0; u < units; u++) {
        void *t = tree(4);
        nodes += walk(t);
        rcgc_decref(t);
        for (int k = 0; k < 4; k++) {
            r = (r + 7919) % nroots;
            rcgc_incref(roots[r]);
            rcgc_decref(roots[r]);
        }
    }
    double s = bench_seconds_since(t0);
    *cpu = thread_cpu_s() - c0;
    if (nodes != units * 31)
        bench_die("bg_slowdown", "a tree walk found the wrong number of nodes");
    return s;
}

enum { MAX_REPS = 64 };

int main(int argc, char **argv)
{
    long live = bench_arg_long(argc, argv, 1, 2000000);
    long units = bench_arg_long(argc, argv, 2, 300000);
    int reps = (int)bench_arg_long(argc, argv, 3, 5);
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0)
        bench_die(argv[0], "rcgc_init or rcgc_thread_attach failed");
    void **roots;
    size_t nroots;
    shape_build("rings", (size_t)(live < 4 ? 4 : live), &roots, &nroots);
    rcgc_collect(2); /* the live heap is old from here on */

    long full_collections = 0;
    double dis[MAX_REPS], aut[MAX_REPS], busy[MAX_REPS];
    double dis_cpu[MAX_REPS], aut_cpu[MAX_REPS], busy_cpu[MAX_REPS], busy_paused[MAX_REPS];
    for (int i = 0; i < reps; i++) {
        rcgc_disable();
        dis[i] = work(units, roots, nroots, &dis_cpu[i]);
        rcgc_enable();
        aut[i] = work(units, roots, nroots, &aut_cpu[i]);

        rcgc_stats s0 = {.size = sizeof s0}, s1 = {.size = sizeof s1};
        rcgc_get_stats(&s0);
        bench_pusher pusher;
        bench_pusher_start(&pusher);
        busy[i] = work(units, roots, nroots, &busy_cpu[i]);
        rcgc_get_stats(&s1);
        busy_paused[i] = (double)(s1.pause_total_ns - s0.pause_total_ns) / 1e9;
        bench_pusher_request_stop(&pusher);
        full_collections += bench_pusher_join(&pusher);
        printf("repetition %d: disabled %.3f s (cpu %.3f), auto %.3f s (cpu %.3f), busy %.3f s "
               "(cpu %.3f, paused %.3f)\n",
               i + 1, dis[i], dis_cpu[i], aut[i], aut_cpu[i], busy[i], busy_cpu[i],
               busy_paused[i]);
    }
    double d = bench_median(dis, reps), a = bench_median(aut, reps), b = bench_median(busy, reps);
    printf("%ld live objects, %ld units of work: disabled %.3f s, auto %.3f s (%+.1f%%), busy "
           "%.3f s (%+.1f%%), %ld full collections while busy\n",
           live, units, d, a, (a / d - 1) * 100, b, (b / d - 1) * 100, full_collections);
    bench_result("disabled_s", d);
    bench_result("auto_s", a);
    bench_result("busy_s", b);
    bench_result("slowdown_auto", a / d - 1);
    bench_result("slowdown_busy", b / d - 1);
    bench_result("busy_full_collections", (double)full_collections);
    double dc = bench_median(dis_cpu, reps), bc = bench_median(busy_cpu, reps);
    printf("mutator thread CPU time: disabled %.3f s, busy %.3f s (%+.1f%%): the rest of the "
           "wall-clock slowdown is time the thread waited (pauses, or no CPU free)\n",
           dc, bc, (bc / dc - 1) * 100);
    bench_result("disabled_cpu_s", dc);
    bench_result("busy_cpu_s", bc);
    bench_result("slowdown_busy_cpu", bc / dc - 1);
    bench_result("busy_paused_s", bench_median(busy_paused, reps));
    for (size_t i = 0; i < nroots; i++)
        rcgc_decref(roots[i]);
    free(roots);
    rcgc_shutdown();
    return 0;
}

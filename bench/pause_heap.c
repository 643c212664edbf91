/* pause_heap.c: rcgc's pauses against the size of the live heap.
 *
 * Purpose: issue 6's pause measurement (target: the longest pause with 5
 * million live objects under 1 ms; compared with bdwgc's full collection,
 * bench/pause_bdwgc.c, and CPython's gc.collect(), bench/cpython_cycles.py,
 * on the same shapes, heap_shapes.h). One process per heap size:
 *
 *   1. build LIVE objects (32-byte payloads) in SHAPE on the main thread
 *      and make them old with rcgc_collect(2) (timed: the first full
 *      collection examines them all);
 *   2. for SECONDS, a mutator thread makes cyclic garbage (rings of 2 to 9
 *      nodes, most dropped at once, every KEEP-th (default 64) kept in a
 *      window of the last 1000 kept ones before it is dropped, so that
 *      some garbage is promoted and dies old: the background collector,
 *      not the young collection, has to find that part; KEEP 0 keeps
 *      none), and records every gap between
 *      two of its iterations; meanwhile a second thread
 *      asks for full collections back to back, so the background
 *      collector examines the whole live heap again and again and every
 *      confirming pause falls inside the mutator's run;
 *   3. the same mutator loop with malloc and free and no rcgc, for as long
 *      (at most 2 s):
 *      the machine's own jitter (a busy 2-vCPU machine stalls on its own).
 *
 * Results (bench_util.h): `@ pause_max_ms` (rcgc_get_stats: the longest
 * stop-the-world pause of the whole run, building included;
 * `@ pause_max_build_ms` the longest of steps 1 alone), `@ pause_ttsp_max_ms`
 * `@ pause_work_max_ms` and `@ pause_held_max_ms` (what pauses are made of:
 * the longest time to safepoint, the longest time from every thread
 * stopped to the pause's end, the longest time a thread was held stopped;
 * rcgc_stats, safepoints.md S10), `@ pauses`
 * and `@ pause_mean_ms` (step 2), `@ gap_max_ms` and `@ gaps_over_1ms`
 * (the mutator's), `@ jitter_gap_max_ms` (step 3), `@ full_collections`
 * and `@ full_ms_max` (their duration, from the collection callbacks),
 * `@ build_s`, `@ first_full_s`.
 *
 * Usage: pause_heap [live [seconds [shape [keep]]]]
 *        (default 5000000 3 tree 64)
 * PAUSELOG=1 in the environment logs every collection that paused the
 * world for more than 1 ms (on stderr).
 */
#include <rcgc.h>

#include "bench_util.h"

#include <pthread.h>
#include <stdatomic.h>

#include "rcgc_bench.h"


/* ------------------------------------------------------------------ */

enum { WINDOW = 1000 };

static long keep_every = 64; /* 0: all the mutator's garbage dies young */

static bench_pusher pusher;
static double seconds = 3.0;

typedef struct gaps {
    uint64_t longest, over_1ms, iterations;
} gaps;

static void gap_note(gaps *g, uint64_t gap)
{
    if (gap > g->longest)
        g->longest = gap;
    if (gap > 1000000)
        g->over_1ms++;
    g->iterations++;
}

static void *ring(int n)
{
    void *first = shape_node(), *prev = first;
    for (int i = 1; i < n; i++) {
        void *x = shape_node();
        shape_link(prev, 0, x);
        prev = x;
    }
    shape_close_ring(prev, first);
    return first;
}

static gaps mutator_gaps;

static void *mutator(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    void *window[WINDOW] = {0};
    uint64_t end = bench_now_ns() + (uint64_t)(seconds * 1e9), last = bench_now_ns();
    for (long k = 0; last < end; k++) {
        void *r = ring(2 + (int)(k % 8));
        if (keep_every > 0 && k % keep_every == 0) {
            void **slot = &window[(k / keep_every) % WINDOW];
            rcgc_decref(*slot); /* NULL at first: nothing */
            *slot = r;
        } else {
            rcgc_decref(r);
        }
        uint64_t t = bench_now_ns();
        gap_note(&mutator_gaps, t - last);
        last = t;
    }
    for (int i = 0; i < WINDOW; i++)
        rcgc_decref(window[i]);
    bench_pusher_request_stop(&pusher);
    rcgc_thread_detach();
    return NULL;
}

/* Longest full collection during step 2 (written by the collector thread
 * or the pusher, read by main after the joins). */
static _Atomic uint64_t full_ns_max;
static _Atomic int measuring;

static void on_gc(const rcgc_gc_info *info, void *arg)
{
    (void)arg;
    if (info->phase == RCGC_GC_END && info->pause_ns > 1000000 && getenv("PAUSELOG") != NULL)
        fprintf(stderr, "generation %d collection: %llu examined, %llu freed, %.3f ms, paused %.3f ms\n",
                info->generation, (unsigned long long)info->examined,
                (unsigned long long)info->freed, (double)info->duration_ns / 1e6,
                (double)info->pause_ns / 1e6);
    /* Relaxed throughout: statistics, read after pthread_join. */
    if (info->phase != RCGC_GC_END || info->generation != 2 ||
        !atomic_load_explicit(&measuring, memory_order_relaxed))
        return;
    uint64_t prev = atomic_load_explicit(&full_ns_max, memory_order_relaxed);
    while (info->duration_ns > prev &&
           !atomic_compare_exchange_weak_explicit(&full_ns_max, &prev, info->duration_ns,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Step 3: the same loop shape with malloc/free (a ring of n blocks). */
static void jitter(double secs, gaps *g)
{
    void *window[WINDOW][9] = {{0}};
    uint64_t end = bench_now_ns() + (uint64_t)(secs * 1e9), last = bench_now_ns();
    for (long k = 0; last < end; k++) {
        void *ring[9];
        int n = 2 + (int)(k % 8);
        for (int i = 0; i < n; i++) {
            ring[i] = malloc(64);
            memset(ring[i], 0, 64);
        }
        void **w = keep_every > 0 && k % keep_every == 0 ? window[(k / keep_every) % WINDOW] : NULL;
        for (int i = 0; i < 9; i++) {
            if (w != NULL) {
                free(w[i]);
                w[i] = i < n ? ring[i] : NULL;
            } else if (i < n) {
                free(ring[i]);
            }
        }
        uint64_t t = bench_now_ns();
        gap_note(g, t - last);
        last = t;
    }
    for (int k = 0; k < WINDOW; k++)
        for (int i = 0; i < 9; i++)
            free(window[k][i]);
}

int main(int argc, char **argv)
{
    long live = bench_arg_long(argc, argv, 1, 5000000);
    seconds = bench_arg_double(argc, argv, 2, 3.0);
    const char *shape = argc > 3 ? argv[3] : "tree";
    if (argc > 4)
        keep_every = atol(argv[4]) > 0 ? atol(argv[4]) : 0;
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0)
        bench_die(argv[0], "rcgc_init or rcgc_thread_attach failed");

    rcgc_gc_callback_add(on_gc, NULL);
    uint64_t t0 = bench_now_ns();
    void **roots;
    size_t nroots;
    void *root = shape_build(shape, (size_t)live, &roots, &nroots);
    if (nroots == 0)
        bench_die(argv[0], "unknown shape (tree, list or rings)");
    double build_s = bench_seconds_since(t0);
    t0 = bench_now_ns();
    rcgc_collect(2); /* everything live is old now */
    double first_full_s = bench_seconds_since(t0);

    rcgc_stats before = {.size = sizeof before};
    rcgc_get_stats(&before);
    /* Relaxed: read by the callback; a collection straddling the switch
     * counts or not, either is fine. */
    atomic_store_explicit(&measuring, 1, memory_order_relaxed);
    pthread_t m;
    bench_pusher_start(&pusher);
    if (pthread_create(&m, NULL, mutator, NULL) != 0)
        bench_die(argv[0], "pthread_create failed");
    rcgc_blocking_begin();
    pthread_join(m, NULL);
    rcgc_blocking_end();
    long full_collections = bench_pusher_join(&pusher);
    atomic_store_explicit(&measuring, 0, memory_order_relaxed);
    rcgc_stats after = {.size = sizeof after};
    rcgc_get_stats(&after);

    gaps base = {0};
    rcgc_blocking_begin();
    jitter(seconds < 2 ? seconds : 2, &base);
    rcgc_blocking_end();

    uint64_t npauses = after.pauses - before.pauses;
    double pause_mean_ms =
        npauses ? (double)(after.pause_total_ns - before.pause_total_ns) / 1e6 / (double)npauses
                : 0.0;
    printf("live objects         %ld (%s, 32-byte payloads), built in %.2f s, first full "
           "collection %.2f s\n",
           live, shape, build_s, first_full_s);
    printf("full collections     %ld back to back in %.1f s, longest %.1f ms\n", full_collections,
           seconds, (double)atomic_load(&full_ns_max) / 1e6);
    printf("stop-the-world       %llu pauses, mean %.3f ms; longest of the run %.3f ms "
           "(%.3f ms while building)\n",
           (unsigned long long)npauses, pause_mean_ms, (double)after.pause_max_ns / 1e6,
           (double)before.pause_max_ns / 1e6);
    printf("  made of            longest time to safepoint %.3f ms, longest work with every "
           "thread stopped %.3f ms; longest hold of a thread %.3f ms\n",
           (double)after.pause_ttsp_max_ns / 1e6, (double)after.pause_work_max_ns / 1e6,
           (double)after.pause_held_max_ns / 1e6);
    printf("mutator gaps         longest %.3f ms, %llu over 1 ms, %.0f iterations/s\n",
           (double)mutator_gaps.longest / 1e6, (unsigned long long)mutator_gaps.over_1ms,
           (double)mutator_gaps.iterations / seconds);
    printf("machine jitter       longest %.3f ms, %llu over 1 ms (same loop, malloc/free)\n",
           (double)base.longest / 1e6, (unsigned long long)base.over_1ms);
    bench_result("pause_max_ms", (double)after.pause_max_ns / 1e6);
    bench_result("pause_max_build_ms", (double)before.pause_max_ns / 1e6);
    bench_result("pause_ttsp_max_ms", (double)after.pause_ttsp_max_ns / 1e6);
    bench_result("pause_held_max_ms", (double)after.pause_held_max_ns / 1e6);
    bench_result("pause_work_max_ms", (double)after.pause_work_max_ns / 1e6);
    bench_result("pauses", (double)npauses);
    bench_result("pause_mean_ms", pause_mean_ms);
    bench_result("gap_max_ms", (double)mutator_gaps.longest / 1e6);
    bench_result("gaps_over_1ms", (double)mutator_gaps.over_1ms);
    bench_result("jitter_gap_max_ms", (double)base.longest / 1e6);
    bench_result("full_collections", (double)full_collections);
    bench_result("full_ms_max", (double)atomic_load(&full_ns_max) / 1e6);
    bench_result("build_s", build_s);
    bench_result("first_full_s", first_full_s);

    rcgc_decref(root);
    for (size_t i = 0; roots != NULL && i < nroots; i++)
        rcgc_decref(roots[i]);
    free(roots);
    rcgc_shutdown();
    return 0;
}

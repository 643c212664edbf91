/* pause_churn.c: do pauses grow with the heap? (issue 3's criterion)
 *
 * Builds LIVE objects in rings of 4 (default 2 million), promotes them to
 * the old generations, then runs for SECONDS (default 3):
 *   - a churn thread that makes cyclic garbage (rings of 2..9 nodes,
 *     dropped at once) and records every gap between two of its loop
 *     iterations: the longest, and how many exceed 1 ms;
 *   - with RCGC_BENCH_FORCE_FULL set, also a thread that asks for full
 *     collections back to back, so that the background collector examines
 *     all the live objects concurrently while the churn goes on (each
 *     confirmation pause then hits the churn thread). On a 2-vCPU machine
 *     this also takes a whole CPU from the churn thread.
 * GAPLOG=1 prints every gap over 1 ms and every collection over 2 ms.
 * Prints the gaps, the collections done and the longest stop-the-world
 * pause from rcgc's statistics, and the verdict against the target
 * (longest gap < 10 ms, at most 5 gaps > 1 ms). Exits 0 either way.
 *
 * Usage: pause_churn [live [seconds]]
 */
#include <rcgc.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct node {
    void *next;
    long v;
} node;

static void node_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((node *)o)->next, ctx);
}

static const rcgc_type node_type = {"node", node_traverse, NULL, NULL};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static node *ring(int n)
{
    node *first = rcgc_alloc(&node_type, sizeof(node)), *prev = first;
    for (int i = 1; i < n; i++) {
        node *x = rcgc_alloc(&node_type, sizeof(node));
        rcgc_store(prev, &prev->next, x);
        rcgc_decref(x);
        prev = x;
    }
    rcgc_store(prev, &prev->next, first);
    return first;
}

static _Atomic int stop;
static double seconds = 3.0;
static uint64_t max_gap, gaps_over_1ms, iterations, garbage_made;

static void *churn(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    uint64_t end = now_ns() + (uint64_t)(seconds * 1e9), last = now_ns();
    int k = 0;
    while (last < end) {
        int n = 2 + (k++ % 8);
        rcgc_decref(ring(n));
        garbage_made += (uint64_t)n;
        iterations++;
        uint64_t t = now_ns(), gap = t - last;
        if (gap > max_gap)
            max_gap = gap;
        if (gap > 1000000) {
            gaps_over_1ms++;
            if (getenv("GAPLOG")) {
                rcgc_stats st = {.size = sizeof st};
                rcgc_get_stats(&st);
                fprintf(stderr, "gap %.3f ms at %.3f s: pauses %llu young %llu full %llu\n", gap / 1e6,
                        (double)(t - (end - (uint64_t)(seconds * 1e9))) / 1e9,
                        (unsigned long long)st.pauses, (unsigned long long)st.gen[0].collections,
                        (unsigned long long)st.gen[2].collections);
            }
        }
        last = t;
    }
    atomic_store(&stop, 1);
    rcgc_thread_detach();
    return NULL;
}

/* The machine's own jitter: the same loop shape with malloc and free, no
 * rcgc, measured in the same run (a virtual machine's vCPU can stall for
 * milliseconds on its own). */
static void baseline(double secs, uint64_t *longest, uint64_t *over)
{
    uint64_t end = now_ns() + (uint64_t)(secs * 1e9), last = now_ns();
    void *blocks[10];
    int k = 0;
    *longest = *over = 0;
    while (last < end) {
        int n = 2 + (k++ % 8);
        for (int i = 0; i < n; i++)
            blocks[i] = calloc(1, 56);
        for (int i = 0; i < n; i++)
            free(blocks[i]);
        uint64_t t = now_ns(), gap = t - last;
        if (gap > *longest)
            *longest = gap;
        if (gap > 1000000)
            (*over)++;
        last = t;
    }
}

static _Atomic long full_collections;
static _Atomic uint64_t young_max_ns;

static void on_gc(const rcgc_gc_info *info, void *arg)
{
    (void)arg;
    if (info->phase == RCGC_GC_END && info->generation == 0 &&
        info->duration_ns > atomic_load(&young_max_ns))
        atomic_store(&young_max_ns, info->duration_ns);
    if (getenv("GAPLOG") && info->phase == RCGC_GC_END && info->duration_ns > 2000000)
        fprintf(stderr, "gen %d collection: %llu examined, %llu freed, %.3f ms\n", info->generation,
                (unsigned long long)info->examined, (unsigned long long)info->freed,
                info->duration_ns / 1e6);
}

static void *collector_pusher(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    while (!atomic_load(&stop)) {
        rcgc_collect(2);
        atomic_fetch_add(&full_collections, 1);
    }
    rcgc_thread_detach();
    return NULL;
}

int main(int argc, char **argv)
{
    long live = argc > 1 ? atol(argv[1]) : 2000000;
    if (argc > 2)
        seconds = atof(argv[2]);
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0)
        return 1;
    long nrings = live / 4;
    node **roots = malloc((size_t)nrings * sizeof *roots);
    uint64_t t0 = now_ns();
    for (long i = 0; i < nrings; i++)
        roots[i] = ring(4);
    rcgc_collect(2); /* everything live is old now */
    double build_s = (double)(now_ns() - t0) / 1e9;
    rcgc_stats before = {.size = sizeof before};
    rcgc_get_stats(&before);

    pthread_t c, p;
    rcgc_gc_callback_add(on_gc, NULL);
    rcgc_blocking_begin();
    pthread_create(&c, NULL, churn, NULL);
    int push = getenv("RCGC_BENCH_FORCE_FULL") != NULL;
    if (push)
        pthread_create(&p, NULL, collector_pusher, NULL);
    pthread_join(c, NULL);
    if (push)
        pthread_join(p, NULL);
    rcgc_blocking_end();

    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    uint64_t base_longest, base_over;
    rcgc_blocking_begin();
    baseline(seconds, &base_longest, &base_over);
    rcgc_blocking_end();
    printf("live objects            %ld (in rings of 4, old generations; built in %.2f s)\n",
           nrings * 4, build_s);
    printf("churn                   %.1f s, %" PRIu64 " rings, %" PRIu64 " garbage objects\n",
           seconds, iterations, garbage_made);
    printf("full collections        %ld forced (RCGC_BENCH_FORCE_FULL); %" PRIu64 " young collections\n",
           atomic_load(&full_collections), s.gen[0].collections - before.gen[0].collections);
    printf("stop-the-world pauses   %" PRIu64 ", longest %.3f ms (since start), mean %.3f ms\n",
           s.pauses - before.pauses, (double)s.pause_max_ns / 1e6,
           s.pauses > before.pauses
               ? (double)(s.pause_total_ns - before.pause_total_ns) / 1e6 /
                     (double)(s.pauses - before.pauses)
               : 0.0);
    printf("young collections       longest %.3f ms (on the churn thread)\n",
           (double)atomic_load(&young_max_ns) / 1e6);
    printf("churn thread gaps       longest %.3f ms, %" PRIu64 " over 1 ms\n",
           (double)max_gap / 1e6, gaps_over_1ms);
    printf("baseline (malloc/free)  longest %.3f ms, %" PRIu64 " over 1 ms (same loop, no rcgc: "
           "the machine's jitter)\n",
           (double)base_longest / 1e6, base_over);
    int met = max_gap < 10000000 && gaps_over_1ms <= 5;
    printf("target (longest < 10 ms, at most 5 over 1 ms): %s\n", met ? "met" : "NOT met");
    for (long i = 0; i < nrings; i++)
        rcgc_decref(roots[i]);
    rcgc_collect(2);
    free(roots);
    rcgc_shutdown();
    return 0;
}

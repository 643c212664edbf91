/* trace.c: what the collector did, for people watching it.
 *
 * Purpose: three views of the same events, all off by default.
 *  - RCGC_TRACE=1 (config.trace): one line per collection on stderr, as
 *    Go's gctrace does: its number, time since init, generation, thread,
 *    objects examined and freed, pause and total time, live heap.
 *  - RCGC_TRACE_FILE=path (config.trace_file): every collection phase of
 *    every thread as Chrome trace-event JSON ("X" complete events, one row
 *    per thread, named by "M" metadata events), which Perfetto
 *    (ui.perfetto.dev) and chrome://tracing open. tools/trace_svg.py
 *    draws the same file as an SVG timeline.
 *  - rcgc_stats_json: the statistics as one JSON object.
 * Both trace switches are read from the environment even when rcgc_init is
 * given a config (the person running a program may trace it without its
 * cooperation); the config fields turn them on from code.
 *
 * Cost when off: one relaxed load of a flag at the end of each collection
 * phase (never on an allocation or count path).
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tracer {
    pthread_mutex_t mu;          /* the file, `first`, `named` */
    FILE *file;
    bool first;                  /* no event written yet */
    unsigned char named[512];    /* bitmap: heap ids whose row is named */
    uint64_t t0_ns;              /* rcgc_init's time: the origin */
    int pid;
    /* Collections traced so far (the gctrace line's number). */
    atomic_uint_fast64_t seq;
    /* Bit 0: lines on stderr; bit 1: the file. Relaxed: set by
     * rcgc_trace_init before rcgc_init publishes the world (release), and
     * cleared by rcgc_trace_shutdown once no thread is attached. */
    atomic_int on;
} tr = {.mu = PTHREAD_MUTEX_INITIALIZER};

enum { TRACE_LINES = 1, TRACE_FILE = 2 };

static int tracing(void)
{
    /* Relaxed: see the field. */
    return atomic_load_explicit(&tr.on, memory_order_relaxed);
}

int rcgc_trace_init(const rcgc_config *c)
{
    int on = c->trace ? TRACE_LINES : 0;
    const char *path = c->trace_file;
    const char *e = getenv("RCGC_TRACE");
    if (e != NULL && *e != '\0') {
        if (strcmp(e, "1") == 0)
            on |= TRACE_LINES;
        else if (strcmp(e, "0") != 0)
            return EINVAL;
    }
    e = getenv("RCGC_TRACE_FILE");
    if (e != NULL && *e != '\0')
        path = e;
    tr.t0_ns = rcgc_now_ns();
    tr.pid = (int)getpid();
    atomic_store_explicit(&tr.seq, 0, memory_order_relaxed); /* see the field */
    memset(tr.named, 0, sizeof tr.named);
    if (path != NULL && *path != '\0') {
        tr.file = fopen(path, "w");
        if (tr.file == NULL)
            return errno ? errno : EIO;
        fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", tr.file);
        tr.first = true;
        on |= TRACE_FILE;
    }
    atomic_store_explicit(&tr.on, on, memory_order_relaxed); /* see the field */
    return 0;
}

void rcgc_trace_shutdown(void)
{
    atomic_store_explicit(&tr.on, 0, memory_order_relaxed); /* see the field */
    pthread_mutex_lock(&tr.mu);
    if (tr.file != NULL) {
        fputs("\n]}\n", tr.file);
        fclose(tr.file);
        tr.file = NULL;
    }
    pthread_mutex_unlock(&tr.mu);
}

/* ==================================================================== */
/* Chrome trace events                                                   */
/* ==================================================================== */

static uint32_t my_tid(void)
{
    rcgc__heap *h = rcgc__tls_self.heap;
    return h != NULL ? h->id : 0;
}

/* Under tr.mu: one event, comma-separated from the previous one. */
static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
    fputs(tr.first ? "\n" : ",\n", tr.file);
    tr.first = false;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(tr.file, fmt, ap);
    va_end(ap);
}

/* Under tr.mu: names the calling thread's row the first time it appears. */
static void name_row(uint32_t tid)
{
    if (tid >= sizeof tr.named * 8 || (tr.named[tid / 8] & (1u << (tid % 8))))
        return;
    tr.named[tid / 8] |= (unsigned char)(1u << (tid % 8));
    bool collector = rcgc_is_collector_thread();
    emit("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%" PRIu32
         ",\"args\":{\"name\":\"%s %" PRIu32 "\"}}",
         tr.pid, tid, collector ? "rcgc collector, heap" : "mutator, heap", tid);
    emit("{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":%" PRIu32
         ",\"args\":{\"sort_index\":%" PRIu32 "}}",
         tr.pid, tid, collector ? 0 : tid + 1);
}

void rcgc_trace_span(const char *name, uint64_t start_ns, uint64_t end_ns, uint64_t a,
                     uint64_t b)
{
    if (!(tracing() & TRACE_FILE))
        return;
    uint32_t tid = my_tid();
    double ts = (double)(start_ns - tr.t0_ns) / 1e3;
    double dur = (double)(end_ns - start_ns) / 1e3;
    pthread_mutex_lock(&tr.mu);
    if (tr.file != NULL) {
        name_row(tid);
        emit("{\"name\":\"%s\",\"cat\":\"gc\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,"
             "\"pid\":%d,\"tid\":%" PRIu32 ",\"args\":{\"objects\":%" PRIu64
             ",\"freed\":%" PRIu64 "}}",
             name, ts, dur, tr.pid, tid, a, b);
    }
    pthread_mutex_unlock(&tr.mu);
}

/* ==================================================================== */
/* One line per collection                                               */
/* ==================================================================== */

void rcgc_trace_collection(int generation, uint64_t examined, uint64_t freed, uint64_t start_ns,
                           uint64_t ns, uint64_t pause_ns)
{
    int on = tracing();
    if (on & TRACE_FILE)
        rcgc_trace_span(generation == 0 ? "young collection"
                        : generation == 1 ? "collection gen 1"
                                          : "full collection",
                        start_ns, start_ns + ns, examined, freed);
    if (!(on & TRACE_LINES))
        return;
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    /* Relaxed: a sequence number for humans. */
    uint64_t k = atomic_fetch_add_explicit(&tr.seq, 1, memory_order_relaxed) + 1;
    fprintf(stderr,
            "rcgc: gc %" PRIu64 " @%.3fs gen%d T%" PRIu32 "%s: %" PRIu64 " examined, %" PRIu64
            " freed; pause %.3f ms, total %.3f ms; live %" PRIu64 " objects, %.1f MB\n",
            k, (double)(start_ns - tr.t0_ns) / 1e9, generation, my_tid(),
            rcgc_is_collector_thread() ? " (collector)" : "", examined, freed,
            (double)pause_ns / 1e6, (double)ns / 1e6, s.live_objects,
            (double)s.live_bytes / (1024.0 * 1024.0));
}

/* ==================================================================== */
/* Statistics as JSON                                                    */
/* ==================================================================== */

size_t rcgc_stats_json(const rcgc_stats *stats, char *buf, size_t size)
{
    rcgc_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    if (stats == NULL)
        rcgc_get_stats(&s);
    else
        memcpy(&s, stats, stats->size < sizeof s ? stats->size : sizeof s);
    char gens[3][160];
    for (int g = 0; g < 3; g++)
        snprintf(gens[g], sizeof gens[g],
                 "{\"collections\":%" PRIu64 ",\"examined\":%" PRIu64 ",\"freed\":%" PRIu64 "}",
                 s.gen[g].collections, s.gen[g].examined, s.gen[g].freed);
    int n = snprintf(
        buf, size,
        "{\"live_objects\":%" PRIu64 ",\"live_bytes\":%" PRIu64 ",\"allocated_objects\":%" PRIu64
        ",\"freed_objects\":%" PRIu64 ",\"finalized\":%" PRIu64 ",\"merges\":%" PRIu64
        ",\"queued\":%" PRIu64 ",\"pauses\":%" PRIu64 ",\"pause_total_ns\":%" PRIu64
        ",\"pause_max_ns\":%" PRIu64 ",\"threads_attached\":%" PRIu64 ",\"heaps\":%" PRIu64
        ",\"young_skipped\":%" PRIu64 ",\"pause_ttsp_max_ns\":%" PRIu64
        ",\"pause_held_max_ns\":%" PRIu64 ",\"pause_work_max_ns\":%" PRIu64
        ",\"gen\":[%s,%s,%s]}",
        s.live_objects, s.live_bytes, s.allocated_objects, s.freed_objects, s.finalized,
        s.merges, s.queued, s.pauses, s.pause_total_ns, s.pause_max_ns,
        (uint64_t)s.threads_attached, (uint64_t)s.heaps, s.young_skipped, s.pause_ttsp_max_ns,
        s.pause_held_max_ns, s.pause_work_max_ns, gens[0], gens[1], gens[2]);
    return n < 0 ? 0 : (size_t)n;
}

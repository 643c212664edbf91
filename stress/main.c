/* main.c: rcgc-stress, the randomized stress test of rcgc with an oracle.
 *
 * Purpose: starts --threads workers (worker.c) that perform random
 * operations on a shared graph for --seconds, restarts those that exit,
 * prints a progress line every few seconds, and every --verify seconds
 * parks the workers and checks the whole graph against the oracle (graph.c,
 * verify_graph). At the end it drops every root, collects until nothing
 * more is freed, and checks exact counts: every object allocated was
 * destroyed, every object with a finalizer was finalized exactly once, weak
 * references whose referent died had their callback run once, and the
 * library's statistics agree. Any finding prints its name, the object and
 * what was seen, and the process exits with status 1.
 *
 * Use: rcgc-stress --threads 4 --seconds 20 --seed 7 (see --help and
 * docs/reliability.md). The seed is printed first; a run replays from it as
 * far as the scheduling of the threads allows.
 */
#include "stress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

options opt;
_Atomic uint64_t driver_beat;

const char *const op_names[OP_COUNT] = {
    "alloc", "store", "load", "pop", "send", "recv", "drop", "cycle", "break",
    "weak", "wget", "wfree", "grave", "block", "collect", "toggle", "freeze", "exit",
};

static const unsigned default_weight[OP_COUNT] = {
    [OP_ALLOC] = 1800, [OP_STORE] = 1600, [OP_LOAD] = 1500, [OP_POP] = 500,
    [OP_SEND] = 350, [OP_RECV] = 350, [OP_DROP] = 1000, [OP_CYCLE] = 300,
    [OP_BREAK] = 400, [OP_WEAK] = 200, [OP_WGET] = 400, [OP_WFREE] = 100,
    [OP_GRAVE] = 100, [OP_BLOCK] = 40, [OP_COLLECT] = 8, [OP_TOGGLE] = 3,
    [OP_FREEZE] = 1, [OP_EXIT] = 1,
};

const char *const inject_names[INJ_COUNT] = {
    "none", "extra-decref", "missing-incref", "use-after-drop", "leak",
    "finalize-twice", "destroy-twice", "weak-dead", "weak-null-live", "hang",
};

enum { DEFAULT_THRESHOLD0 = 700, DEFAULT_THRESHOLD1 = 5000, DEFAULT_THRESHOLD2 = 20000 };

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ===================================================================== */
/* Options                                                               */
/* ===================================================================== */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rcgc-stress [options]\n"
            "  --threads N       worker threads (default 4, at most %d)\n"
            "  --seconds S       how long the workers run (default 10)\n"
            "  --seed X          the run's seed (default: from the clock; always printed)\n"
            "  --mix OP=W,...    operation weights, relative (defaults below)\n"
            "  --resurrect PCT   share of finalizers that resurrect their object (default 25)\n"
            "  --max-live N      above N live objects, allocations unlink instead (default 200000)\n"
            "  --progress S      seconds between progress lines (default 5)\n"
            "  --verify S        seconds between whole-graph verifications, workers parked\n"
            "                    (default 10; 0: only the final one)\n"
            "  --watchdog S      no operation and no step of the driver for S seconds is a\n"
            "                    finding, \"hang\" (default 60; 0: off)\n"
            "  --finalize MODE   background (default): finalizers run where the library\n"
            "                    runs them; on-demand: queued, worker 0 runs them\n"
            "  --threshold0 N, --threshold1 N, --threshold2 N\n"
            "                    collection thresholds (default %d, %d, %d)\n"
            "  --help            this text\n"
            "operations (default weight):\n",
            MAX_WORKERS, DEFAULT_THRESHOLD0, DEFAULT_THRESHOLD1, DEFAULT_THRESHOLD2);
    static const char *const what[OP_COUNT] = {
        [OP_ALLOC] = "allocate a node, fnode, leaf or fleaf into a local",
        [OP_STORE] = "store a local (or NULL) into a slot: private, shared (locked) or a hub's",
        [OP_LOAD] = "walk down slots with borrowed loads (locked load+incref from shared ones)",
        [OP_POP] = "pop a reference out of a slot onto the stack, then use it",
        [OP_SEND] = "hand a local to another worker through its queue",
        [OP_RECV] = "take an object from this worker's queue",
        [OP_DROP] = "drop a local",
        [OP_CYCLE] = "build a ring: garbage, through a shared object, handed over, frozen",
        [OP_BREAK] = "store NULL into a slot (breaks cycles)",
        [OP_WEAK] = "make a weak reference (half with a callback) to a local",
        [OP_WGET] = "get a weak reference of the shared table",
        [OP_WFREE] = "free a weak reference of the shared table",
        [OP_GRAVE] = "take resurrected objects out of the graveyard",
        [OP_BLOCK] = "blocking region around a sleep or a wait on the own queue",
        [OP_COLLECT] = "rcgc_collect(0) 80%, (1) 17%, (2) 3%",
        [OP_TOGGLE] = "rcgc_disable, rcgc_enable some 50-550 operations later",
        [OP_FREEZE] = "rcgc_freeze, rcgc_unfreeze some 100-1100 operations later",
        [OP_EXIT] = "exit the thread (objects handed on); a new one attaches in its place",
    };
    for (int i = 0; i < OP_COUNT; i++)
        fprintf(f, "  %-8s %5u  %s\n", op_names[i], default_weight[i], what[i]);
    fprintf(f, "exit status: 0 no finding; 1 a finding (lines \"rcgc-stress: FINDING ...\");\n"
               "2 bad usage; 3 an error that is not a finding (out of memory).\n");
}

static _Noreturn void bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "rcgc-stress: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    usage(stderr);
    exit(2);
}

static uint64_t parse_u64(const char *s, const char *name)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || *s == '-')
        bad_usage("bad number for %s", name);
    return v;
}

/* A number from lo to hi for option `name`. */
static uint64_t parse_range(const char *s, const char *name, uint64_t lo, uint64_t hi)
{
    uint64_t v = parse_u64(s, name);
    if (v < lo || v > hi)
        bad_usage("value out of range for %s", name);
    return v;
}

static double parse_seconds(const char *s, const char *name)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e7)
        bad_usage("bad number of seconds for %s", name);
    return v;
}

static void parse_mix(const char *s)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        bad_usage("--mix too long: %s", s);
    strcpy(buf, s);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL)
            bad_usage("--mix wants OP=WEIGHT, not %s", item);
        *eq = '\0';
        int op = -1;
        for (int i = 0; i < OP_COUNT; i++)
            if (strcmp(item, op_names[i]) == 0)
                op = i;
        if (op < 0)
            bad_usage("--mix: no operation named %s", item);
        opt.weight[op] = (unsigned)parse_range(eq + 1, "--mix", 0, 1000000);
    }
}

static void append(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(opt.replay + *len, sizeof opt.replay - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n < sizeof opt.replay - *len ? (size_t)n : sizeof opt.replay - *len - 1;
}

/* The command that replays this run: every setting that differs from its
 * default, and always threads, seconds and seed. */
static void make_replay(const char *argv0)
{
    size_t len = 0;
    append(&len, "%s --threads %u --seconds %g --seed %llu", argv0, opt.threads, opt.seconds,
           (unsigned long long)opt.seed);
    const char *sep = " --mix ";
    for (int i = 0; i < OP_COUNT; i++)
        if (opt.weight[i] != default_weight[i]) {
            append(&len, "%s%s=%u", sep, op_names[i], opt.weight[i]);
            sep = ",";
        }
    if (opt.resurrect_pct != 25)
        append(&len, " --resurrect %u", opt.resurrect_pct);
    if (opt.max_live != 200000)
        append(&len, " --max-live %llu", (unsigned long long)opt.max_live);
    static const uint32_t dflt[3] = {DEFAULT_THRESHOLD0, DEFAULT_THRESHOLD1, DEFAULT_THRESHOLD2};
    for (int g = 0; g < 3; g++)
        if (opt.threshold[g] != dflt[g])
            append(&len, " --threshold%d %u", g, opt.threshold[g]);
    if (opt.progress_s != 5)
        append(&len, " --progress %g", opt.progress_s);
    if (opt.verify_s != 10)
        append(&len, " --verify %g", opt.verify_s);
    if (opt.watchdog_s != 60)
        append(&len, " --watchdog %g", opt.watchdog_s);
    if (opt.on_demand)
        append(&len, " --finalize on-demand");
    if (opt.inject != INJ_NONE)
        append(&len, " --inject-bug %s", inject_names[opt.inject]);
}

static void parse_options(int argc, char **argv)
{
    opt.threads = 4;
    opt.seconds = 10;
    opt.seed = mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
                     (uint64_t)(now_s() * 1e9)) % 1000000000000ull;
    memcpy(opt.weight, default_weight, sizeof opt.weight);
    opt.resurrect_pct = 25;
    opt.max_live = 200000;
    opt.progress_s = 5;
    opt.verify_s = 10;
    opt.watchdog_s = 60;
    opt.threshold[0] = DEFAULT_THRESHOLD0;
    opt.threshold[1] = DEFAULT_THRESHOLD1;
    opt.threshold[2] = DEFAULT_THRESHOLD2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char name[32];
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq != NULL && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            a = name;
            v = eq + 1;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (v == NULL) {
            if (i + 1 >= argc)
                bad_usage("%s wants a value", a);
            v = argv[++i];
        }
        if (strcmp(a, "--threads") == 0) {
            opt.threads = (unsigned)parse_range(v, a, 1, MAX_WORKERS);
        } else if (strcmp(a, "--seconds") == 0) {
            opt.seconds = parse_seconds(v, a);
        } else if (strcmp(a, "--seed") == 0) {
            opt.seed = parse_u64(v, a);
        } else if (strcmp(a, "--mix") == 0) {
            parse_mix(v);
        } else if (strcmp(a, "--resurrect") == 0) {
            opt.resurrect_pct = (unsigned)parse_range(v, a, 0, 100);
        } else if (strcmp(a, "--max-live") == 0) {
            opt.max_live = parse_u64(v, a);
        } else if (strcmp(a, "--progress") == 0) {
            opt.progress_s = parse_seconds(v, a);
            if (opt.progress_s < 0.1)
                bad_usage("--progress: at least 0.1, not %s", v);
        } else if (strcmp(a, "--verify") == 0) {
            opt.verify_s = parse_seconds(v, a);
        } else if (strcmp(a, "--watchdog") == 0) {
            opt.watchdog_s = parse_seconds(v, a);
        } else if (strncmp(a, "--threshold", 11) == 0 && a[11] >= '0' && a[11] <= '2' &&
                   a[12] == '\0') {
            opt.threshold[a[11] - '0'] = (uint32_t)parse_range(v, a, a[11] == '0', UINT32_MAX);
        } else if (strcmp(a, "--finalize") == 0) {
            if (strcmp(v, "on-demand") == 0)
                opt.on_demand = true;
            else if (strcmp(v, "background") == 0)
                opt.on_demand = false;
            else
                bad_usage("--finalize: background or on-demand, not %s", v);
        } else if (strcmp(a, "--inject-bug") == 0) {
            opt.inject = -1;
            for (int k = 1; k < INJ_COUNT; k++)
                if (strcmp(v, inject_names[k]) == 0)
                    opt.inject = k;
            if (opt.inject < 0)
                bad_usage("--inject-bug: no such kind %s", v);
        } else {
            bad_usage("unknown option %s", a);
        }
    }
    unsigned total = 0;
    for (int i = 0; i < OP_COUNT; i++)
        total += opt.weight[i];
    if (total == 0 || total - opt.weight[OP_EXIT] == 0)
        bad_usage("--mix: every weight is zero%s", "");
    make_replay(argv[0]);
}

/* ===================================================================== */
/* Workers                                                               */
/* ===================================================================== */

static uint64_t next_token = TOKEN_FIRST;
static unsigned thread_starts;

static void spawn(worker *w, unsigned index)
{
    w->index = index;
    w->incarnation = w->started ? w->incarnation + 1 : 0;
    w->token = next_token++;
    w->rng = mix64(opt.seed ^ mix64(((uint64_t)index << 32) | w->incarnation));
    w->nops = 0;
    w->disabled_left = w->frozen_left = 0;
    w->joined = false;
    /* Relaxed: the thread does not exist yet; pthread_create orders it. */
    atomic_store_explicit(&w->done, false, memory_order_relaxed);
    worker_started();
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0)
        fatal_error("pthread_create: %s", strerror(rc));
    w->started = true;
    thread_starts++;
}

static uint64_t total_ops(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < opt.threads; i++)
        for (int o = 0; o < OP_COUNT; o++)
            /* Relaxed: a statistic. */
            n += atomic_load_explicit(&workers[i].ops[o], memory_order_relaxed);
    return n;
}

/* One step of the driver, for the watchdog. */
static void beat(void)
{
    /* Relaxed: a progress count, read by the watchdog only. */
    atomic_fetch_add_explicit(&driver_beat, 1, memory_order_relaxed);
}

/* Ends the run with a "hang" finding when neither a worker nor the driver
 * has made progress for --watchdog seconds: a deadlock (the library's, or
 * a lock of this program held across a safepoint) or a livelock would
 * otherwise stop the run, and a CI job, for good. Not attached: it only
 * reads counters. */
static void *watchdog_main(void *arg)
{
    (void)arg;
    uint64_t last = UINT64_MAX;
    double since = now_s();
    for (;;) {
        struct timespec nap = {0, 250000000};
        nanosleep(&nap, NULL);
        /* Relaxed: see beat. */
        uint64_t p = total_ops() + atomic_load_explicit(&driver_beat, memory_order_relaxed);
        double t = now_s();
        if (p != last) {
            last = p;
            since = t;
        } else if (t - since >= opt.watchdog_s) {
            char per[MAX_WORKERS * 24] = "";
            size_t len = 0;
            for (unsigned i = 0; i < opt.threads && len < sizeof per; i++) {
                uint64_t n = 0;
                for (int o = 0; o < OP_COUNT; o++)
                    /* Relaxed: a statistic. */
                    n += atomic_load_explicit(&workers[i].ops[o], memory_order_relaxed);
                int k = snprintf(per + len, sizeof per - len, " %llu", (unsigned long long)n);
                len += k > 0 ? (size_t)k : 0;
            }
            finding("hang", 0, -1,
                    "no worker finished an operation and the driver made no step for %.0f s "
                    "(a deadlock or a livelock); operations per worker so far:%s",
                    t - since, per);
        }
    }
}

static void get_stats(rcgc_stats *s)
{
    memset(s, 0, sizeof *s);
    s->size = sizeof *s;
    rcgc_get_stats(s);
}

static void progress(double t, double dt, uint64_t *last_ops)
{
    rcgc_stats s;
    get_stats(&s);
    uint64_t ops = total_ops();
    printf("[%7.1fs] ops %llu (%.0fk/s) | collections gen0 %llu gen1 %llu gen2 %llu | "
           "live %llu (oracle %llu) | pauses %llu, longest %.3f ms | thread starts %u\n",
           t, (unsigned long long)ops, dt > 0 ? (double)(ops - *last_ops) / dt / 1e3 : 0.0,
           (unsigned long long)s.gen[0].collections, (unsigned long long)s.gen[1].collections,
           (unsigned long long)s.gen[2].collections, (unsigned long long)s.live_objects,
           (unsigned long long)count_live(), (unsigned long long)s.pauses,
           (double)s.pause_max_ns / 1e6, thread_starts);
    *last_ops = ops;
}

/* Joins a worker whose work is done: its thread may still be detaching
 * (at thread exit), which can drop references. */
static void join_done(worker *w)
{
    if (!w->joined) {
        pthread_join(w->thread, NULL);
        w->joined = true;
    }
}

/* Parks every worker, verifies the graph (its roots include the workers'
 * locals), and lets them go on. Called in a blocking region. Workers that
 * exited are joined first, so that nothing of theirs runs meanwhile; the
 * driver's loop starts their successors afterwards. */
static void verify_parked(double t)
{
    static ref locals[MAX_WORKERS * NLOCAL];
    park_request();
    for (unsigned i = 0; i < opt.threads; i++)
        /* Relaxed: see worker_finished. */
        if (atomic_load_explicit(&workers[i].done, memory_order_relaxed))
            join_done(&workers[i]);
    rcgc_blocking_end();
    size_t n = 0;
    for (unsigned i = 0; i < opt.threads; i++)
        for (unsigned j = 0; j < NLOCAL; j++)
            locals[n++] = workers[i].locals[j];
    char when[64];
    snprintf(when, sizeof when, "verification at %.1f s", t);
    beat();
    uint64_t reached = verify_graph(locals, n, when);
    beat();
    printf("[%7.1fs] verified: %llu objects reachable, every one checked, none alive beyond\n",
           t, (unsigned long long)reached);
    rcgc_blocking_begin();
    park_release();
}

static void run_workers(void)
{
    double t0 = now_s(), last = t0;
    double next_progress = t0 + opt.progress_s;
    double next_verify = opt.verify_s > 0 ? t0 + opt.verify_s : 1e300;
    uint64_t last_ops = 0;
    for (unsigned i = 0; i < opt.threads; i++)
        spawn(&workers[i], i);
    for (;;) {
        struct timespec nap = {0, 5000000};
        nanosleep(&nap, NULL);
        beat();
        double t = now_s();
        /* Relaxed: flags set by workers; the joins below order the rest. */
        if (t - t0 >= opt.seconds || atomic_load_explicit(&stop_flag, memory_order_relaxed))
            break;
        for (unsigned i = 0; i < opt.threads; i++)
            /* Relaxed: see worker_finished. */
            if (atomic_load_explicit(&workers[i].done, memory_order_relaxed)) {
                join_done(&workers[i]);
                spawn(&workers[i], i);
            }
        /* Relaxed: a hint for op_alloc. */
        atomic_store_explicit(&over_cap, count_live() > opt.max_live, memory_order_relaxed);
        if (t >= next_verify) {
            verify_parked(t - t0);
            next_verify = now_s() + opt.verify_s;
        }
        if (t >= next_progress) {
            progress(t - t0, t - last, &last_ops);
            last = t;
            next_progress += opt.progress_s;
        }
    }
    /* Relaxed: see worker_main. */
    atomic_store_explicit(&stop_flag, true, memory_order_relaxed);
    for (unsigned i = 0; i < opt.threads; i++)
        join_done(&workers[i]);
    progress(now_s() - t0, now_s() - last, &last_ops);
}

/* ===================================================================== */
/* The end of the run                                                    */
/* ===================================================================== */

static bool report_not_freed(uint64_t id, unsigned st, void *ctx)
{
    uint64_t *reported = ctx;
    if ((*reported)++ < 20)
        finding_soft("not-freed", id, (int)(st >> ST_KIND_SHIFT),
                     "never destroyed (oracle state %#x) after every root was dropped and "
                     "rcgc_collect(2) freed nothing more", st);
    return true;
}

/* Drops every root and collects until a full collection frees nothing and
 * no finalizer resurrected anything. Returns the number of rounds. */
static unsigned final_collections(void)
{
    drop_roots();
    for (unsigned round = 1; round <= 100; round++) {
        beat();
        size_t freed = rcgc_collect(2);
        size_t ran = rcgc_run_finalizers();
        uint64_t resurrected = grave_drain();
        if (freed == 0 && ran == 0 && resurrected == 0)
            return round;
    }
    finding_soft("not-freed", 0, -1, "100 full collections, and each still freed something");
    return 100;
}

static void check_weak_table(void)
{
    for (unsigned i = 0; i < WTAB; i++) {
        wentry e = wtab[i];
        if (e.wr == NULL)
            continue;
        obj *p = rcgc_weakref_get(e.wr);
        if (p != NULL) {
            finding_soft("weak-answered-dead", e.ref_id, (int)e.ref_kind,
                         "weak reference %llu still answers an object after the end",
                         (unsigned long long)e.serial);
            rcgc_decref(p);
        }
        unsigned st = table_get(&weak_table, e.serial);
        if ((st & W_HAS_CB) && !(st & W_CB_RAN))
            finding_soft("weak-callback-missing", e.ref_id, (int)e.ref_kind,
                         "its weak reference %llu was never freed, yet its callback never ran",
                         (unsigned long long)e.serial);
        free_weak(e);
        wtab[i] = (wentry){NULL, 0, 0, 0};
    }
    if (count_get(C_WEAK_NEW) != count_get(C_WEAK_FREE))
        finding_soft("weak-count", 0, -1, "%llu weak references made, %llu freed",
                     (unsigned long long)count_get(C_WEAK_NEW),
                     (unsigned long long)count_get(C_WEAK_FREE));
}

static void check_counts(void)
{
    uint64_t live = count_live();
    if (live != 0) {
        uint64_t reported = 0;
        table_scan(&objects_table, ST_ALLOCATED, ST_DESTROYED, report_not_freed, &reported);
        finding_soft("not-freed", 0, -1, "%llu objects allocated and never destroyed",
                     (unsigned long long)live);
    }
    for (unsigned k = 0; k < K_COUNT; k++) {
        uint64_t a = count_get(C_ALLOC + k), f = count_get(C_FINAL + k);
        uint64_t want = kind_finalizes(k) ? a : 0;
        if (f != want)
            finding_soft("finalize-count", 0, -1, "%s: %llu allocated, %llu finalized, expected %llu",
                         kind_names[k], (unsigned long long)a, (unsigned long long)f,
                         (unsigned long long)want);
    }
}

/* The library's own statistics against the oracle's. Old objects' memory
 * goes back through the collector in batches, so live_objects may lag its
 * destroy a little: collect again a few times before calling it a finding. */
static void check_stats(const rcgc_stats *base)
{
    uint64_t alloc = 0, fin = 0;
    for (unsigned k = 0; k < K_COUNT; k++) {
        alloc += count_get(C_ALLOC + k);
        fin += count_get(C_FINAL + k);
    }
    rcgc_stats s;
    for (int tries = 0;; tries++) {
        get_stats(&s);
        if (s.live_objects == base->live_objects || tries == 50)
            break;
        beat();
        rcgc_collect(2);
        struct timespec nap = {0, 10000000};
        nanosleep(&nap, NULL);
    }
    if (s.live_objects != base->live_objects)
        finding_soft("stats", 0, -1, "rcgc_get_stats: live_objects %llu, %llu at the start",
                     (unsigned long long)s.live_objects, (unsigned long long)base->live_objects);
    if (s.allocated_objects - base->allocated_objects != alloc)
        finding_soft("stats", 0, -1, "rcgc_get_stats: %llu objects allocated, the oracle made %llu",
                     (unsigned long long)(s.allocated_objects - base->allocated_objects),
                     (unsigned long long)alloc);
    if (s.freed_objects - base->freed_objects != alloc)
        finding_soft("stats", 0, -1, "rcgc_get_stats: %llu objects freed of %llu allocated",
                     (unsigned long long)(s.freed_objects - base->freed_objects),
                     (unsigned long long)alloc);
    if (s.finalized - base->finalized != fin)
        finding_soft("stats", 0, -1, "rcgc_get_stats: %llu finalize calls, the oracle saw %llu",
                     (unsigned long long)(s.finalized - base->finalized),
                     (unsigned long long)fin);
    for (int g = 0; g <= 3; g++)
        if (rcgc_get_count(g) != 0)
            finding_soft("stats", 0, -1, "rcgc_get_count(%d) answers %zu with nothing alive", g,
                         rcgc_get_count(g));
}

static void summary(double secs, unsigned rounds)
{
    rcgc_stats s;
    get_stats(&s);
    printf("rcgc-stress: summary: %.1f s, %u workers, %u thread starts, %llu operations\n", secs,
           opt.threads, thread_starts, (unsigned long long)total_ops());
    printf("  operations:");
    for (int o = 0; o < OP_COUNT; o++) {
        uint64_t n = 0;
        for (unsigned i = 0; i < opt.threads; i++)
            /* Relaxed: every worker has been joined. */
            n += atomic_load_explicit(&workers[i].ops[o], memory_order_relaxed);
        printf(" %s %llu", op_names[o], (unsigned long long)n);
    }
    printf("\n  objects (allocated/destroyed/finalized):");
    for (unsigned k = 0; k < K_COUNT; k++)
        printf(" %s %llu/%llu/%llu", kind_names[k], (unsigned long long)count_get(C_ALLOC + k),
               (unsigned long long)count_get(C_DESTROY + k),
               (unsigned long long)count_get(C_FINAL + k));
    printf("; resurrected %llu\n", (unsigned long long)count_get(C_RESURRECT));
    printf("  weak references: %llu made, %llu freed, gets %llu answered / %llu NULL, "
           "%llu callbacks\n",
           (unsigned long long)count_get(C_WEAK_NEW), (unsigned long long)count_get(C_WEAK_FREE),
           (unsigned long long)count_get(C_WEAK_HIT), (unsigned long long)count_get(C_WEAK_NULL),
           (unsigned long long)count_get(C_WEAK_CB));
    printf("  collections: gen0 %llu, gen1 %llu, gen2 %llu (freed %llu, %llu, %llu); "
           "%llu pauses, %.1f ms in all, longest %.3f ms; final rounds %u\n",
           (unsigned long long)s.gen[0].collections, (unsigned long long)s.gen[1].collections,
           (unsigned long long)s.gen[2].collections, (unsigned long long)s.gen[0].freed,
           (unsigned long long)s.gen[1].freed, (unsigned long long)s.gen[2].freed,
           (unsigned long long)s.pauses, (double)s.pause_total_ns / 1e6,
           (double)s.pause_max_ns / 1e6, rounds);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_options(argc, argv);
    printf("rcgc-stress: seed %llu\n", (unsigned long long)opt.seed);
    printf("rcgc-stress: %s\n", opt.replay);
    /* Room for ids: generous for the run's length; chunks whose objects
     * all died are given back, so this is address space, not memory. */
    size_t cap = (size_t)1 << 28;
    while (cap < ((size_t)1 << 38) && (double)cap < opt.seconds * 4e6)
        cap <<= 1;
    if (!table_init(&objects_table, cap) || !table_init(&weak_table, cap / 4))
        fatal_error("cannot reserve the oracle tables");

    rcgc_config c;
    rcgc_config_init(&c);
    c.threshold0 = opt.threshold[0];
    c.threshold1 = opt.threshold[1];
    c.threshold2 = opt.threshold[2];
    if (opt.on_demand) {
        c.finalize_mode = RCGC_FINALIZE_ON_DEMAND;
        c.finalize_notify = finalize_notify;
    }
    int rc = rcgc_init(&c);
    if (rc != 0)
        fatal_error("rcgc_init: %s", strerror(rc));
    rcgc_stats base;
    get_stats(&base);
    if (rcgc_gc_callback_add(gc_callback, NULL) != 0)
        fatal_error("rcgc_gc_callback_add failed");
    rc = rcgc_thread_attach();
    if (rc != 0)
        fatal_error("rcgc_thread_attach: %s", strerror(rc));
    graph_init();

    if (opt.watchdog_s > 0) {
        pthread_t dog;
        if (pthread_create(&dog, NULL, watchdog_main, NULL) != 0)
            fatal_error("cannot start the watchdog thread");
        pthread_detach(dog);
    }
    double t0 = now_s();
    rcgc_blocking_begin();
    run_workers();
    rcgc_blocking_end();
    double secs = now_s() - t0;
    /* Relaxed: set by workers that have been joined. */
    if (atomic_load_explicit(&ids_exhausted, memory_order_relaxed))
        printf("rcgc-stress: the oracle's id space is used up: the run ended early\n");

    rcgc_enable();
    char when[64];
    snprintf(when, sizeof when, "final verification at %.1f s", secs);
    beat();
    uint64_t reached = verify_graph(NULL, 0, when);
    printf("[%7.1fs] verified: %llu objects reachable, every one checked, none alive beyond\n",
           secs, (unsigned long long)reached);
    beat();
    unsigned rounds = final_collections();
    beat();
    check_counts();
    check_weak_table();
    check_stats(&base);
    beat();
    summary(secs, rounds);
    rcgc_gc_callback_remove(gc_callback, NULL);
    rcgc_shutdown();
    graph_fini();
    table_fini(&objects_table);
    table_fini(&weak_table);
    uint64_t n = findings_count();
    if (n != 0) {
        printf("rcgc-stress: FAIL: %llu findings; seed %llu; replay with: %s\n",
               (unsigned long long)n, (unsigned long long)opt.seed, opt.replay);
        return 1;
    }
    printf("rcgc-stress: PASS: no finding (seed %llu)\n", (unsigned long long)opt.seed);
    return 0;
}

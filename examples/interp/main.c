/* main.c: rcgc-interp's command line, the script runner and the final
 * accounting.
 *
 *   rcgc-interp [--threads N] [--repeat N] [--quiet] [--finalize MODE]
 *               [--stats-json] script.scm...
 *
 * Every script runs in a fresh global environment on one of N interpreter
 * threads (attached to rcgc); its scripts may spawn more. A script whose
 * text has a line "; expect: TEXT" passes when its last value, written,
 * is TEXT. The main thread waits for the scripts, runs the finalizers that
 * rcgc queues for it (on-demand finalization, the default), and at the
 * end, with every root dropped and after full collections, checks that
 * every object the scripts made was freed: rcgc's live object count is
 * back to what it was before the scripts (plus the symbols they interned,
 * which are immortal), and the interpreter's own allocation and
 * destruction tallies agree with rcgc's statistics, type by type. The exit
 * status is 0 only if every script passed and every object is accounted
 * for.
 */
#include "interp.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Scripts                                                             */
/* ------------------------------------------------------------------ */

struct script {
    const char *path;
    int repetition;
    /* Guarded by mu (a leaf lock: never held across an rcgc call). */
    pthread_mutex_t mu;
    sbuf out;
    char *thread_error;       /* the first error on a thread it spawned */
    char **finalized;         /* names logged by resource finalizers */
    size_t n_finalized, cap_finalized;
    _Atomic uint64_t weak_cleared;
    /* Written by the thread that runs the script. */
    char *expect;
    sbuf result;
    char *error;
    int worker;
    double seconds;
};

static _Thread_local struct script *tl_script;

struct script *current_script(void)
{
    return tl_script;
}

void set_current_script(struct script *s)
{
    tl_script = s;
}

void script_output(struct script *s, const char *text, size_t len)
{
    pthread_mutex_lock(&s->mu);
    sb_put(&s->out, text, len);
    pthread_mutex_unlock(&s->mu);
}

void script_thread_error(struct script *s, const char *msg)
{
    pthread_mutex_lock(&s->mu);
    if (s->thread_error == NULL)
        s->thread_error = strdup(msg);
    pthread_mutex_unlock(&s->mu);
}

/* Counted for the accounting: every resource is finalized exactly once. */
static _Atomic uint64_t finalizer_calls;

void script_log_finalized(struct script *s, const char *name, size_t len)
{
    /* Relaxed: a tally read after every thread was joined. */
    atomic_fetch_add_explicit(&finalizer_calls, 1, memory_order_relaxed);
    char *copy = strndup(name, len);
    pthread_mutex_lock(&s->mu);
    if (s->n_finalized == s->cap_finalized) {
        size_t cap = s->cap_finalized ? s->cap_finalized * 2 : 16;
        char **v = realloc(s->finalized, cap * sizeof *v);
        if (v != NULL) {
            s->finalized = v;
            s->cap_finalized = cap;
        }
    }
    if (copy != NULL && s->n_finalized < s->cap_finalized)
        s->finalized[s->n_finalized++] = copy;
    else
        free(copy);
    pthread_mutex_unlock(&s->mu);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void *script_finalized_list(struct script *s)
{
    /* Copy the names under the lock, build the list after it (allocation
     * is a safepoint, never under a lock that others take while running). */
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_finalized;
    char **names = malloc((n ? n : 1) * sizeof *names);
    for (size_t i = 0; names != NULL && i < n; i++)
        names[i] = strdup(s->finalized[i]);
    pthread_mutex_unlock(&s->mu);
    if (names == NULL)
        return fail("finalized: out of memory");
    qsort(names, n, sizeof *names, cmp_str);
    void *list = NULL;
    for (size_t i = n; i-- > 0;) {
        void *str = make_string(names[i] ? names[i] : "?", names[i] ? strlen(names[i]) : 1);
        void *p = cons(str, list);
        rcgc_decref(str);
        rcgc_decref(list);
        list = p;
        free(names[i]);
    }
    free(names);
    return list;
}

void script_weak_cleared(struct script *s)
{
    /* Relaxed: a counter; the script reads it after (collect), which
     * waited for the callbacks (a join or a condition variable orders). */
    atomic_fetch_add_explicit(&s->weak_cleared, 1, memory_order_relaxed);
}

uint64_t script_weak_cleared_count(struct script *s)
{
    /* Relaxed: see script_weak_cleared. */
    return atomic_load_explicit(&s->weak_cleared, memory_order_relaxed);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    sbuf b = {NULL, 0, 0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_put(&b, chunk, n);
    fclose(f);
    if (b.p == NULL)
        sb_put(&b, "", 0);
    *len = b.len;
    return b.p;
}

/* The text after "; expect: " on its own line, if any. */
static char *find_expect(const char *text)
{
    static const char key[] = "; expect: ";
    for (const char *line = text; line != NULL && *line != '\0';) {
        if (strncmp(line, key, sizeof key - 1) == 0) {
            const char *v = line + sizeof key - 1;
            size_t n = strcspn(v, "\r\n");
            while (n > 0 && v[n - 1] == ' ')
                n--;
            return strndup(v, n);
        }
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads and evaluates one script; its last value goes to s->result. */
static void run_script(struct script *s)
{
    double t0 = now_s();
    size_t len;
    char *text = read_file(s->path, &len);
    if (text == NULL) {
        sbuf b = {NULL, 0, 0};
        sb_printf(&b, "cannot read %s: %s", s->path, strerror(errno));
        s->error = b.p;
        return;
    }
    s->expect = find_expect(text);
    set_current_script(s);
    void *forms = read_all(text, len);
    free(text);
    if (forms == ERR) {
        s->error = strdup(err_msg());
        return;
    }
    void *global = new_frame(NULL);
    void *result = K_VOID;
    for (void *f = forms; f != NULL; f = code_cdr(f)) {
        void *r = eval(code_car(f), global);
        rcgc_decref(result);
        result = r;
        if (r == ERR) {
            s->error = strdup(err_msg());
            break;
        }
    }
    /* Dropping the program and the global frame leaves the closures and
     * records the script made, cycles included, for rcgc to reclaim. */
    rcgc_decref(forms);
    rcgc_decref(global);
    if (result != ERR)
        print_value(&s->result, result, 1);
    rcgc_decref(result);
    set_current_script(NULL);
    s->seconds = now_s() - t0;
}

/* A script passed: no error anywhere and the expected value, if any. */
static int script_passed(const struct script *s)
{
    return s->error == NULL && s->thread_error == NULL &&
           (s->expect == NULL || (s->result.p != NULL && strcmp(s->result.p, s->expect) == 0));
}

/* ------------------------------------------------------------------ */
/* Workers and the main thread's loop                                  */
/* ------------------------------------------------------------------ */

typedef struct options {
    int threads, repeat, quiet, stats_json;
    int finalize_mode;
} options;

static struct {
    struct script *jobs;
    size_t n_jobs;
    _Atomic size_t next;   /* the next job to take */
    const options *opt;
    pthread_mutex_t print_mu;
} run;

/* The main thread's wake-up: interpreter threads finishing, rcgc's
 * finalize_notify, and scripts waiting in (collect) for the finalizers. A
 * leaf lock: held only around plain C data, never across an rcgc call, and
 * taken by attached threads inside blocking regions when they wait on it. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, done_cv;
    int notified;
    int running;              /* script workers and spawned threads */
    uint64_t requested, done;
} ctl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
         0, 0, 0, 0};

void thread_started(void)
{
    pthread_mutex_lock(&ctl.mu);
    ctl.running++;
    pthread_mutex_unlock(&ctl.mu);
}

void thread_finished(void)
{
    pthread_mutex_lock(&ctl.mu);
    ctl.running--;
    pthread_cond_signal(&ctl.wake);
    pthread_mutex_unlock(&ctl.mu);
}

void attach_thread(void)
{
    int rc = rcgc_thread_attach();
    if (rc != 0) {
        fprintf(stderr, "rcgc-interp: rcgc_thread_attach: %s\n", strerror(rc));
        exit(3);
    }
}

/* rcgc's finalize_notify: may run on any thread, inside rcgc_decref or
 * rcgc_alloc, or on the collector; it only signals. */
static void finalize_notify(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ctl.mu);
    ctl.notified = 1;
    pthread_cond_signal(&ctl.wake);
    pthread_mutex_unlock(&ctl.mu);
}

void wait_for_finalizers(void)
{
    if (run.opt->finalize_mode != RCGC_FINALIZE_ON_DEMAND)
        return; /* rcgc_collect(2) ran them already */
    rcgc_blocking_begin();
    pthread_mutex_lock(&ctl.mu);
    uint64_t ticket = ++ctl.requested;
    pthread_cond_signal(&ctl.wake);
    while (ctl.done < ticket)
        pthread_cond_wait(&ctl.done_cv, &ctl.mu);
    pthread_mutex_unlock(&ctl.mu);
    rcgc_blocking_end();
    /* The objects finalized are freed by the next full collection. */
    rcgc_collect(2);
}

static void print_report(struct script *s)
{
    pthread_mutex_lock(&run.print_mu);
    /* Threads the script spawned and did not join may still write its
     * output and its thread error. */
    pthread_mutex_lock(&s->mu);
    if (run.opt->repeat > 1)
        printf("--- %s #%d (thread %d, %.2f s)\n", s->path, s->repetition + 1, s->worker,
               s->seconds);
    else
        printf("--- %s (thread %d, %.2f s)\n", s->path, s->worker, s->seconds);
    if (!run.opt->quiet && s->out.len > 0) {
        for (const char *line = s->out.p; *line != '\0';) {
            size_t n = strcspn(line, "\n");
            printf("  %.*s\n", (int)n, line);
            line += n + (line[n] == '\n');
        }
    }
    if (s->error != NULL)
        printf("error: %s\n", s->error);
    if (s->thread_error != NULL)
        printf("error in a spawned thread: %s\n", s->thread_error);
    if (s->error == NULL) {
        printf("=> %s", s->result.p ? s->result.p : "");
        if (s->expect == NULL)
            printf("\n");
        else if (script_passed(s))
            printf("   (as expected)\n");
        else
            printf("   FAILED: expected %s\n", s->expect);
    }
    fflush(stdout);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&run.print_mu);
}

static void *worker_main(void *arg)
{
    int id = (int)(uintptr_t)arg;
    attach_thread();
    for (;;) {
        /* Relaxed: only the uniqueness of each ticket matters; the jobs
         * array was written before the workers were created. */
        size_t i = atomic_fetch_add_explicit(&run.next, 1, memory_order_relaxed);
        if (i >= run.n_jobs)
            break;
        struct script *s = &run.jobs[i];
        s->worker = id;
        run_script(s);
        print_report(s);
    }
    rcgc_thread_detach();
    thread_finished();
    return NULL;
}

/* The main thread while interpreter threads run: waits (in a blocking
 * region), runs the queued finalizers when rcgc says there are some, and
 * answers the scripts waiting for them. Returns when no interpreter thread
 * is left (a spawned thread that outlives its script may still collect). */
static void main_loop(void)
{
    for (;;) {
        rcgc_blocking_begin();
        pthread_mutex_lock(&ctl.mu);
        while (!ctl.notified && ctl.running > 0 && ctl.requested == ctl.done)
            pthread_cond_wait(&ctl.wake, &ctl.mu);
        ctl.notified = 0;
        uint64_t requested = ctl.requested;
        int left = ctl.running;
        pthread_mutex_unlock(&ctl.mu);
        rcgc_blocking_end();
        if (run.opt->finalize_mode == RCGC_FINALIZE_ON_DEMAND)
            rcgc_run_finalizers(); /* everything queued until now, and more */
        pthread_mutex_lock(&ctl.mu);
        ctl.done = requested;
        pthread_cond_broadcast(&ctl.done_cv);
        pthread_mutex_unlock(&ctl.mu);
        if (left == 0)
            return;
    }
}

/* ------------------------------------------------------------------ */
/* Accounting                                                          */
/* ------------------------------------------------------------------ */

typedef struct snapshot {
    rcgc_stats st;
    tally t;
    uint64_t finalizer_calls;
} snapshot;

static void take_snapshot(snapshot *s)
{
    s->st.size = sizeof s->st;
    rcgc_get_stats(&s->st);
    tally_get(&s->t);
    /* Relaxed: read after the threads that count were joined. */
    s->finalizer_calls = atomic_load_explicit(&finalizer_calls, memory_order_relaxed);
}

static void print_stats(const rcgc_stats *st)
{
    static const char *const gen_name[3] = {"young (gen 0)", "gen 1", "full (gen 2)"};
    printf("rcgc statistics\n");
    printf("  objects      allocated %" PRIu64 ", freed %" PRIu64 ", live %" PRIu64
           " (%" PRIu64 " bytes)\n",
           st->allocated_objects, st->freed_objects, st->live_objects, st->live_bytes);
    for (int g = 0; g < 3; g++)
        printf("  %-13s %" PRIu64 " collections, %" PRIu64 " objects examined, %" PRIu64
               " freed\n",
               gen_name[g], st->gen[g].collections, st->gen[g].examined, st->gen[g].freed);
    printf("  pauses       %" PRIu64 ", total %.3f ms, longest %.3f ms\n", st->pauses,
           (double)st->pause_total_ns / 1e6, (double)st->pause_max_ns / 1e6);
    printf("  finalized    %" PRIu64 "; counts merged %" PRIu64 ", queued to owners %" PRIu64
           "; thread heaps %" PRIu64 "\n",
           st->finalized, st->merges, st->queued, st->heaps);
}

/* Compares the run's tallies with rcgc's statistics; prints a line per
 * mismatch and returns how many there were. */
static int account(const snapshot *b, const snapshot *a)
{
    int bad = 0;
    uint64_t alloc = 0, destroyed = 0, immortal = 0;
    printf("objects made by the scripts, by type\n");
    printf("  %-10s %12s %12s %9s\n", "type", "allocated", "destroyed", "immortal");
    for (int t = 0; t < T_COUNT; t++) {
        uint64_t na = a->t.allocated[t] - b->t.allocated[t];
        uint64_t nd = a->t.destroyed[t] - b->t.destroyed[t];
        uint64_t ni = a->t.immortal[t] - b->t.immortal[t];
        alloc += na;
        destroyed += nd;
        immortal += ni;
        if (na == 0 && nd == 0)
            continue;
        printf("  %-10s %12" PRIu64 " %12" PRIu64 " %9" PRIu64 "\n", tag_name(t), na, nd, ni);
        if (na != nd + ni) {
            printf("MISMATCH: %s: %" PRIu64 " allocated, %" PRIu64 " destroyed, %" PRIu64
                   " immortal: %" PRId64 " unaccounted for\n",
                   tag_name(t), na, nd, ni, (int64_t)(na - nd - ni));
            bad++;
        }
    }
    uint64_t r_alloc = a->st.allocated_objects - b->st.allocated_objects;
    uint64_t r_freed = a->st.freed_objects - b->st.freed_objects;
    if (r_alloc != alloc) {
        printf("MISMATCH: rcgc allocated %" PRIu64 " objects, the interpreter %" PRIu64 "\n",
               r_alloc, alloc);
        bad++;
    }
    if (r_freed != destroyed) {
        printf("MISMATCH: rcgc freed %" PRIu64 " objects, the interpreter destroyed %" PRIu64 "\n",
               r_freed, destroyed);
        bad++;
    }
    if (a->st.live_objects != b->st.live_objects + immortal) {
        printf("MISMATCH: %" PRIu64 " live objects, expected %" PRIu64 " (%" PRIu64
               " before the scripts + %" PRIu64 " made immortal)\n",
               a->st.live_objects, b->st.live_objects + immortal, b->st.live_objects, immortal);
        bad++;
    }
    uint64_t resources = a->t.allocated[T_RESOURCE] - b->t.allocated[T_RESOURCE];
    uint64_t fin = a->finalizer_calls - b->finalizer_calls;
    uint64_t r_fin = a->st.finalized - b->st.finalized;
    if (fin != resources || r_fin != resources) {
        printf("MISMATCH: %" PRIu64 " resources, %" PRIu64 " finalizer calls, rcgc counted %" PRIu64
               "\n", resources, fin, r_fin);
        bad++;
    }
    if (rcgc_get_leaked() != 0) {
        printf("MISMATCH: rcgc kept %zu leaked objects\n", rcgc_get_leaked());
        bad++;
    }
    if (bad == 0)
        printf("accounting: ok: all %" PRIu64 " objects the scripts made were freed "
               "(%" PRIu64 " symbols stay, immortal); %" PRIu64 " finalizers ran once each; "
               "%" PRIu64 " objects live, as before the scripts\n",
               destroyed, immortal, fin, b->st.live_objects);
    return bad;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: rcgc-interp [options] script.scm...\n"
        "\n"
        "A small multithreaded Scheme whose memory is managed by rcgc. Runs each\n"
        "script in its own global environment on a pool of interpreter threads,\n"
        "prints what it printed and its last value, then rcgc's statistics, and\n"
        "checks that every object the scripts made was freed.\n"
        "\n"
        "options:\n"
        "  -t, --threads N     run up to N scripts at once, each on its own thread\n"
        "                      (default 1); scripts may (spawn) more threads\n"
        "  -r, --repeat N      run every script N times (default 1)\n"
        "  -q, --quiet         do not print the scripts' own output\n"
        "  -f, --finalize MODE on-demand (default): rcgc queues finalizers and weak\n"
        "                      reference callbacks and the main thread runs them;\n"
        "                      background: rcgc runs them (collector thread, or the\n"
        "                      thread that dropped the last reference)\n"
        "  -j, --stats-json    also print rcgc's statistics as JSON\n"
        "  -h, --help          this text\n"
        "\n"
        "A script line \"; expect: TEXT\" makes the script pass only if its last\n"
        "value, as (write) prints it, is TEXT.\n"
        "\n"
        "environment: RCGC_TRACE=1 prints a line per collection on stderr,\n"
        "RCGC_TRACE_FILE=path writes a Chrome trace, and every other RCGC_*\n"
        "variable applies too (docs/configuration.md); --finalize wins over\n"
        "RCGC_FINALIZE.\n"
        "\n"
        "exit status: 0 when every script passed and every object is accounted\n"
        "for; 1 otherwise; 2 for a usage error.\n");
}

static int parse_count(const char *s, int max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, options *opt)
{
    static const struct option longopts[] = {
        {"threads", required_argument, NULL, 't'}, {"repeat", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},         {"finalize", required_argument, NULL, 'f'},
        {"stats-json", no_argument, NULL, 'j'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *opt = (options){1, 1, 0, 0, RCGC_FINALIZE_ON_DEMAND};
    int c;
    while ((c = getopt_long(argc, argv, "t:r:qf:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (parse_count(optarg, 256, &opt->threads) != 0) {
                fprintf(stderr, "rcgc-interp: --threads wants 1 to 256\n");
                return 2;
            }
            break;
        case 'r':
            if (parse_count(optarg, 100000, &opt->repeat) != 0) {
                fprintf(stderr, "rcgc-interp: --repeat wants 1 to 100000\n");
                return 2;
            }
            break;
        case 'q':
            opt->quiet = 1;
            break;
        case 'f':
            if (strcmp(optarg, "on-demand") == 0) {
                opt->finalize_mode = RCGC_FINALIZE_ON_DEMAND;
            } else if (strcmp(optarg, "background") == 0) {
                opt->finalize_mode = RCGC_FINALIZE_BACKGROUND;
            } else {
                fprintf(stderr, "rcgc-interp: --finalize wants on-demand or background\n");
                return 2;
            }
            break;
        case 'j':
            opt->stats_json = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Joins a thread that is finished or about to be, in a blocking region. */
static void join_worker(pthread_t t)
{
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
}

/* With every root dropped: full collections until nothing is left to free
 * or to finalize (on demand, a finalized object is freed by the next
 * collection). Bounded; the accounting that follows is exact either way. */
static void collect_everything(void)
{
    for (int round = 0; round < 8; round++) {
        size_t freed = rcgc_collect(2);
        size_t ran = rcgc_run_finalizers();
        if (freed == 0 && ran == 0)
            return;
    }
}

static void print_json(void)
{
    size_t n = rcgc_stats_json(NULL, NULL, 0);
    char *buf = malloc(n + 1);
    if (buf == NULL)
        return;
    rcgc_stats_json(NULL, buf, n + 1);
    printf("%s\n", buf);
    free(buf);
}

int main(int argc, char **argv)
{
    options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc != 0)
        return rc;

    rcgc_config config;
    rcgc_config_init(&config);
    if (rcgc_config_from_env(&config) != 0) {
        fprintf(stderr, "rcgc-interp: an RCGC_* variable has an invalid value\n");
        return 2;
    }
    config.finalize_mode = opt.finalize_mode;
    config.finalize_notify = finalize_notify;
    rc = rcgc_init(&config);
    if (rc != 0) {
        fprintf(stderr, "rcgc-interp: rcgc_init: %s\n", strerror(rc));
        return 1;
    }
    attach_thread();
    values_init();
    eval_init();
    builtins_init();
    concurrency_init();

    snapshot before, after;
    take_snapshot(&before);

    size_t n_scripts = (size_t)(argc - optind);
    run.n_jobs = n_scripts * (size_t)opt.repeat;
    run.jobs = calloc(run.n_jobs, sizeof *run.jobs);
    run.opt = &opt;
    pthread_mutex_init(&run.print_mu, NULL);
    if (run.jobs == NULL) {
        fprintf(stderr, "rcgc-interp: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < run.n_jobs; i++) {
        run.jobs[i].path = argv[optind + (int)(i % n_scripts)];
        run.jobs[i].repetition = (int)(i / n_scripts);
        pthread_mutex_init(&run.jobs[i].mu, NULL);
    }
    size_t n_workers = (size_t)opt.threads < run.n_jobs ? (size_t)opt.threads : run.n_jobs;
    pthread_t *workers = calloc(n_workers, sizeof *workers);
    double t0 = now_s();
    for (size_t i = 0; i < n_workers; i++) {
        thread_started();
        if (workers == NULL || start_thread(worker_main, (void *)(i + 1), &workers[i]) != 0) {
            fprintf(stderr, "rcgc-interp: cannot start interpreter threads\n");
            return 1;
        }
    }
    main_loop();
    for (size_t i = 0; i < n_workers; i++)
        join_worker(workers[i]);
    free(workers);
    join_stray_threads();
    double elapsed = now_s() - t0;

    collect_everything();
    take_snapshot(&after);

    int passed = 0;
    for (size_t i = 0; i < run.n_jobs; i++)
        passed += script_passed(&run.jobs[i]);
    printf("=== %zu script run%s on %zu thread%s in %.2f s: %d passed, %zu failed\n",
           run.n_jobs, run.n_jobs == 1 ? "" : "s", n_workers, n_workers == 1 ? "" : "s",
           elapsed, passed, run.n_jobs - (size_t)passed);
    print_stats(&after.st);
    if (opt.stats_json)
        print_json();
    int bad = account(&before, &after);

    for (size_t i = 0; i < run.n_jobs; i++) {
        struct script *s = &run.jobs[i];
        sb_free(&s->out);
        sb_free(&s->result);
        free(s->expect);
        free(s->error);
        free(s->thread_error);
        for (size_t k = 0; k < s->n_finalized; k++)
            free(s->finalized[k]);
        free(s->finalized);
        pthread_mutex_destroy(&s->mu);
    }
    free(run.jobs);
    rcgc_shutdown();
    return (size_t)passed == run.n_jobs && bad == 0 ? 0 : 1;
}

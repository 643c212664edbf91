/* test_fault.c: the fault-injection sweep (built only with
 * -Dfault_injection=true; docs/design/objects.md, O9).
 *
 * For n = 1, 2, ... the workload below runs in a child process of its own
 * with the n-th allocation point failing (src/fault.c counts every malloc,
 * calloc, realloc and aligned_alloc of the library and every object of
 * rcgc_alloc, on every thread), until a run in which no failure was
 * injected: the workload then needed fewer than n points. Every run must
 *   - report the failure to its caller where the API has a way to say it
 *     (rcgc_init and rcgc_thread_attach: ENOMEM; rcgc_alloc and
 *     rcgc_weakref_new: NULL with errno ENOMEM), and never report one that
 *     was not injected;
 *   - leave the heap consistent: rcgc_verify_heap passes, and after two full
 *     collections every object allocated successfully has been destroyed
 *     exactly once and every finalizable one finalized exactly once
 *     (exact counts), with no live object left;
 *   - or abort at one of the two sites documented as unrecoverable (the
 *     collector's generation tables and its inbox, O9), with their message.
 * A second test fails the creation of the collector thread: rcgc_init
 * reports it and a later rcgc_init succeeds. A third fails, one at a time,
 * the allocation points of a second thread's rcgc_thread_attach, counted
 * on that thread alone (the sweep reaches them only when the collector
 * thread's allocations do not take the n-th point first).
 *
 * Work that a failure defers (a collection that cannot allocate its
 * tables, finalizers that cannot be queued) is done by the next
 * collection, hence the second full collection.
 */
#define RCGC_FAULT_SOURCE 1 /* this file's own calls are not counted */
#include "child.h"
#include "common.h"
#include "../src/internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Types: every destroy and finalize is counted                        */
/* ------------------------------------------------------------------ */

static _Atomic long finalized;

static void fin_finalize(void *obj)
{
    (void)obj;
    atomic_fetch_add(&finalized, 1);
}

static const rcgc_type fin_type = {"fin", node_traverse, fin_finalize, node_destroy};
static const rcgc_type leaf_type = {"leaf", NULL, NULL, node_destroy};

/* What a child reports to the parent. */
typedef struct result {
    int init_rc, init_retry_rc;
    int attach_rc, attach_retry_rc;
    int thread_attach_rc;
    long alloc_ok, alloc_enomem, alloc_other;
    long fin_ok;
    long wr_ok, wr_enomem, wr_other;
    long destroyed, finalized;
    uint64_t live, allocated, freed;
    size_t verified;
    uint64_t points, injected;
} result;

static result r;

/* ------------------------------------------------------------------ */
/* The workload                                                        */
/* ------------------------------------------------------------------ */

static void *make(const rcgc_type *t, long id)
{
    errno = 0;
    node *n = rcgc_alloc(t, sizeof(node));
    if (n == NULL) {
        if (errno == ENOMEM)
            r.alloc_enomem++;
        else
            r.alloc_other++;
        return NULL;
    }
    n->id = id;
    r.alloc_ok++;
    if (t == &fin_type)
        r.fin_ok++;
    return n;
}

/* A ring of k objects of type t; returns one reference to a member, or
 * NULL when none could be made. Members that could not be made are left
 * out (the ring is shorter). */
static node *ring(const rcgc_type *t, int k, long id)
{
    node *first = NULL, *prev = NULL;
    for (int i = 0; i < k; i++) {
        node *n = make(t, id + i);
        if (n == NULL)
            continue;
        if (prev != NULL) {
            rcgc_store(prev, &prev->a, n);
            rcgc_decref(prev);
        } else {
            first = n;
            rcgc_incref(first);
        }
        prev = n;
    }
    if (prev != NULL) {
        rcgc_store(prev, &prev->a, first);
        rcgc_decref(prev);
    }
    return first;
}

static rcgc_weakref *weak(void *obj)
{
    if (obj == NULL)
        return NULL;
    errno = 0;
    rcgc_weakref *wr = rcgc_weakref_new(obj, NULL, NULL);
    if (wr == NULL) {
        if (errno == ENOMEM)
            r.wr_enomem++;
        else
            r.wr_other++;
    } else {
        r.wr_ok++;
    }
    return wr;
}

#define HANDED 24
static void *handed[HANDED];
static void *returned[8];

/* The second thread: drops what main handed over (non-owner decrements,
 * merge queues), makes garbage of its own, and hands some objects back.
 * Its attach may fail (reported), in which case main drops them all. */
static void *second(void *arg)
{
    (void)arg;
    r.thread_attach_rc = rcgc_thread_attach();
    if (r.thread_attach_rc != 0)
        return NULL;
    for (int i = 0; i < HANDED; i++) {
        rcgc_decref(handed[i]);
        handed[i] = NULL;
    }
    for (int i = 0; i < 6; i++)
        rcgc_decref(ring(&node_type, 3, 1000 + 10 * i));
    rcgc_collect(0);
    for (int i = 0; i < 8; i++)
        returned[i] = make(i % 2 ? &leaf_type : &node_type, 2000 + i);
    rcgc_thread_detach();
    return NULL;
}

static void workload(void)
{
    /* A chain of 32 held by its head, built with stores. */
    node *head = make(&node_type, 0);
    for (int i = 1; head != NULL && i < 32; i++) {
        node *n = make(i % 3 ? &node_type : &leaf_type, i);
        if (n != NULL) {
            rcgc_store(head, &head->b, n);
            rcgc_decref(n);
        }
    }
    rcgc_weakref *wrs[16];
    int nw = 0;
    wrs[nw++] = weak(head);
    /* Garbage cycles, some finalizable, some with weak references. */
    for (int i = 0; i < 10; i++)
        rcgc_decref(ring(&node_type, 2 + i % 3, 100 + 10 * i));
    for (int i = 0; i < 4; i++)
        rcgc_decref(ring(&fin_type, 2, 200 + 10 * i));
    for (int i = 0; i < 4; i++) {
        node *g = ring(&node_type, 3, 300 + 10 * i);
        wrs[nw++] = weak(g);
        rcgc_decref(g);
    }
    rcgc_collect(0);
    rcgc_collect(1);
    /* Objects for the second thread: references handed over. */
    for (int i = 0; i < HANDED; i++)
        handed[i] = make(i % 4 ? &node_type : &leaf_type, 400 + i);
    pthread_t t;
    if (pthread_create(&t, NULL, second, NULL) != 0) {
        printf("Bail out! pthread_create\n");
        _exit(1);
    }
    rcgc_blocking_begin(); /* the second thread may stop the world */
    pthread_join(t, NULL);
    rcgc_blocking_end();
    for (int i = 0; i < HANDED; i++)
        rcgc_decref(handed[i]); /* its attach failed: ours to drop */
    for (int i = 0; i < 8; i++) {
        wrs[nw++] = weak(returned[i]);
        rcgc_decref(returned[i]);
    }
    for (int i = 0; i < nw; i++) {
        void *o = rcgc_weakref_get(wrs[i]);
        rcgc_decref(o);
    }
    rcgc_decref(head);
    for (int i = 0; i < nw; i++)
        rcgc_weakref_free(wrs[i]);
    rcgc_collect(2);
    rcgc_collect(2);
}

/* One run, in a child: the n-th point fails (0: none). Exits 0 after
 * writing the result to `fd`, or dies. */
static void run_one(uint64_t n, int fd)
{
    rcgc_config c;
    rcgc_config_init(&c);
    rcgc_fault_set(n, 0);
    r.init_rc = rcgc_init(&c);
    r.init_retry_rc = r.init_rc == 0 ? 0 : rcgc_init(&c);
    if (r.init_retry_rc == 0) {
        r.attach_rc = rcgc_thread_attach();
        r.attach_retry_rc = r.attach_rc == 0 ? 0 : rcgc_thread_attach();
        if (r.attach_retry_rc == 0) {
            workload();
            r.verified = rcgc_verify_heap();
            rcgc_stats s = {.size = sizeof s};
            rcgc_get_stats(&s);
            r.live = s.live_objects;
            r.allocated = s.allocated_objects;
            r.freed = s.freed_objects;
        }
    }
    r.destroyed = atomic_load(&destroyed);
    r.finalized = atomic_load(&finalized);
    r.points = rcgc_fault_points();
    r.injected = rcgc_fault_injected();
    if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
        _exit(2);
    _exit(0);
}

typedef struct run_outcome {
    child_outcome c;
    result r;
} run_outcome;

static void run_child(void *arg, int fd)
{
    run_one(*(uint64_t *)arg, fd);
}

static void sweep_point(uint64_t n, run_outcome *o)
{
    child_run(run_child, &n, &o->r, sizeof o->r, &o->c);
}

/* The documented unrecoverable sites (cycles.c; objects.md, O9). */
static bool documented_abort(const run_outcome *o)
{
    return WIFSIGNALED(o->c.status) && WTERMSIG(o->c.status) == SIGABRT &&
           (strstr(o->c.err, "rcgc: fatal: rcgc (collector): out of memory growing a generation "
                           "table") != NULL ||
            strstr(o->c.err, "rcgc: fatal: rcgc (collector): out of memory growing the "
                           "collector's inbox") != NULL);
}

/* Everything a completed run must satisfy; prints what it found. */
static bool run_ok(uint64_t n, const run_outcome *o)
{
    const result *x = &o->r;
    long reported = (x->init_rc != 0) + (x->attach_rc != 0) + (x->thread_attach_rc != 0) +
                    x->alloc_enomem + x->wr_enomem;
    bool ok = WIFEXITED(o->c.status) && WEXITSTATUS(o->c.status) == 0 && o->c.got == sizeof *x &&
              x->injected <= 1 && reported <= (long)x->injected &&
              (x->init_rc == 0 || x->init_rc == ENOMEM) && x->init_retry_rc == 0 &&
              (x->attach_rc == 0 || x->attach_rc == ENOMEM) && x->attach_retry_rc == 0 &&
              (x->thread_attach_rc == 0 || x->thread_attach_rc == ENOMEM) &&
              x->alloc_other == 0 && x->wr_other == 0 && x->destroyed == x->alloc_ok &&
              x->finalized == x->fin_ok && x->live == 0 &&
              x->allocated == (uint64_t)x->alloc_ok && x->freed == (uint64_t)x->alloc_ok &&
              x->verified == 0;
    if (!ok)
        printf("# n=%" PRIu64 ": status %d got %d injected %" PRIu64 " init %d/%d attach %d/%d "
               "thread %d alloc ok %ld enomem %ld other %ld fin %ld/%ld wr ok %ld enomem %ld "
               "destroyed %ld live %" PRIu64 " allocated %" PRIu64 " freed %" PRIu64
               " verified %zu\n# stderr: %s\n",
               n, o->c.status, o->c.got == sizeof *x, x->injected, x->init_rc, x->init_retry_rc, x->attach_rc,
               x->attach_retry_rc, x->thread_attach_rc, x->alloc_ok, x->alloc_enomem,
               x->alloc_other, x->finalized, x->fin_ok, x->wr_ok, x->wr_enomem, x->destroyed,
               x->live, x->allocated, x->freed, x->verified, o->c.err);
    return ok;
}

static void test_sweep(void)
{
    run_outcome o;
    /* The reference run: nothing fails; how many points the workload has. */
    sweep_point(0, &o);
    CHECK(run_ok(0, &o));
    CHECK_EQ(o.r.injected, 0);
    printf("# the workload passes %" PRIu64 " allocation points, %ld objects\n", o.r.points,
           o.r.alloc_ok);
    const uint64_t reference = o.r.points;
    long runs = 0, bad = 0, aborts = 0, completed_with_fault = 0, missed = 0;
    long saw_init = 0, saw_attach = 0, saw_thread = 0, saw_alloc = 0, saw_wr = 0;
    uint64_t n;
    for (n = 1; n < 100000; n++) {
        sweep_point(n, &o);
        runs++;
        if (documented_abort(&o)) {
            aborts++;
            continue;
        }
        if (!run_ok(n, &o)) {
            bad++;
            continue;
        }
        if (o.r.injected == 0) {
            /* The workload needed fewer than n points. Their number varies
             * a little with the collector thread's timing: done once past
             * the reference run's count. */
            if (n > reference)
                break;
            missed++;
            continue;
        }
        completed_with_fault++;
        saw_init += o.r.init_rc == ENOMEM;
        saw_attach += o.r.attach_rc == ENOMEM;
        saw_thread += o.r.thread_attach_rc == ENOMEM;
        saw_alloc += o.r.alloc_enomem > 0;
        saw_wr += o.r.wr_enomem > 0;
    }
    printf("# %ld runs up to n=%" PRIu64 ": %ld completed with the failure injected, %ld aborted "
           "at documented sites, %ld needed fewer points; reported by rcgc_init %ld, "
           "rcgc_thread_attach %ld (main) %ld (second thread), rcgc_alloc %ld, "
           "rcgc_weakref_new %ld\n",
           runs, n, completed_with_fault, aborts, missed, saw_init, saw_attach, saw_thread,
           saw_alloc, saw_wr);
    CHECK_EQ(bad, 0);
    CHECK(n < 100000);
    /* Every way of reporting was exercised. */
    CHECK(saw_init > 0);
    CHECK(saw_attach > 0);
    /* A second thread's attach is not asserted here: whether the n-th
     * point falls in it depends on the collector thread's timing (under
     * load its allocations can take every such n). test_second_thread_attach
     * fails that attach's own points, deterministically. */
    CHECK(saw_alloc > 0);
    CHECK(saw_wr > 0);
}

/* The collector thread cannot be created: rcgc_init reports it, the
 * library stays uninitialised, and the next rcgc_init succeeds. */
static void thread_child(void *arg, int fd)
{
    (void)arg;
    (void)fd;
    rcgc_fault_set(0, 1);
    int rc1 = rcgc_init(NULL);
    int attach = rcgc_thread_attach(); /* not initialised: EINVAL */
    int rc2 = rcgc_init(NULL);
    int attach2 = rcgc_thread_attach();
    node *x = node_new(1);
    rcgc_decref(ring(&node_type, 3, 10));
    size_t freed = x != NULL ? rcgc_collect(2) : 0;
    rcgc_decref(x);
    rcgc_thread_detach();
    rcgc_shutdown();
    int ok = rc1 == EAGAIN && attach == EINVAL && rc2 == 0 && attach2 == 0 && x != NULL &&
             freed == 3 && atomic_load(&destroyed) == 4 && rcgc_fault_injected() == 1;
    _exit(ok ? 0 : 1);
}

static void test_thread_creation(void)
{
    child_outcome o;
    child_run(thread_child, NULL, NULL, 0, &o);
    CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
}

/* A second thread's rcgc_thread_attach, each of its own allocation
 * points failing in turn (rcgc_fault_set_local: counted on that thread
 * only, so the collector's allocations meanwhile cannot take the point,
 * as they can in the sweep). Every injected failure is either reported
 * (ENOMEM, after which a plain retry attaches) or absorbed by an attach
 * that then works; the thread allocates and collects after each attach;
 * at the end every object is destroyed exactly once. */
typedef struct attach_probe {
    int reported, absorbed, other, retry_failed, steps;
    long made;
} attach_probe;

static void probe_use_thread(attach_probe *p)
{
    node *x = make(&node_type, 5000 + p->steps);
    p->made += x != NULL;
    node *g = ring(&node_type, 3, 6000 + 10 * p->steps);
    p->made += g != NULL ? 3 : 0;
    rcgc_decref(g);
    rcgc_collect(0);
    rcgc_decref(x);
}

static void *attach_probe_thread(void *arg)
{
    attach_probe *p = arg;
    for (uint64_t k = 1; k < 256; k++) {
        p->steps = (int)k;
        uint64_t before = rcgc_fault_injected();
        rcgc_fault_set_local(k);
        int rc = rcgc_thread_attach();
        rcgc_fault_set_local(0);
        bool injected = rcgc_fault_injected() != before;
        if (rc == 0) {
            probe_use_thread(p);
            rcgc_thread_detach();
            if (!injected)
                return NULL; /* the attach needs fewer than k points */
            p->absorbed++;
            continue;
        }
        if (rc != ENOMEM || !injected) {
            p->other++;
            continue;
        }
        p->reported++;
        if (rcgc_thread_attach() != 0) {
            p->retry_failed++;
            continue;
        }
        probe_use_thread(p);
        rcgc_thread_detach();
    }
    p->steps = -1; /* never attached without a failure */
    return NULL;
}

static void attach_child(void *arg, int fd)
{
    (void)arg;
    attach_probe p = {0};
    int ok = rcgc_init(NULL) == 0 && rcgc_thread_attach() == 0;
    rcgc_fault_set(0, 0);
    pthread_t t;
    if (ok && pthread_create(&t, NULL, attach_probe_thread, &p) == 0) {
        rcgc_blocking_begin(); /* the probe's collections may stop the world */
        pthread_join(t, NULL);
        rcgc_blocking_end();
        rcgc_collect(2);
        rcgc_collect(2);
    }
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    long live = (long)s.live_objects, destroyed_n = atomic_load(&destroyed);
    fprintf(stderr, "steps %d reported %d absorbed %d other %d retry_failed %d made %ld "
            "destroyed %ld live %ld\n", p.steps, p.reported, p.absorbed, p.other, p.retry_failed,
            p.made, destroyed_n, live);
    rcgc_thread_detach();
    rcgc_shutdown();
    ok = ok && p.steps > 1 && p.reported > 0 && p.other == 0 && p.retry_failed == 0 &&
         destroyed_n == p.made && live == 0;
    (void)fd;
    _exit(ok ? 0 : 1);
}

static void test_second_thread_attach(void)
{
    child_outcome o;
    child_run(attach_child, NULL, NULL, 0, &o);
    printf("# second thread's attach: %s", o.err);
    CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
}

int main(void)
{
    test_thread_creation();
    test_second_thread_attach();
    test_sweep();
    return check_done();
}

/* test_fork.c: fork() in a multithreaded program (safepoints.md, S9).
 *
 * Worker threads publish rings of objects, then churn: they make and drop
 * cyclic garbage, collect every generation, and sleep in blocking regions,
 * while the main thread forks three times. In each child only the main
 * thread exists: the workers' heaps are orphaned as if their threads had
 * detached, and the background collector runs again. The child uses the
 * published objects the workers made (reads, counts, stores into them),
 * makes cycles of its own, collects, starts and joins a thread of its own,
 * and checks exact counts by type: everything it made and everything the
 * workers published is destroyed, exactly once. The parent checks each
 * child's exit status and carries on: after the forks it stops the
 * workers, drops what they published and checks its own exact counts.
 *
 * Objects a worker held only on its stack at the fork are unreachable in
 * the child and never freed there (a forked child cannot know of them);
 * the counts below leave the churned type out for that reason.
 */
#include "common.h"
#include "../src/internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 3
#define RINGS 8 /* per worker, each of 2 objects */
#define FORKS 3

static _Atomic long pub_destroyed, kid_destroyed, churn_destroyed, churn_made, after_destroyed;

static void pub_destroy(void *o)
{
    (void)o;
    atomic_fetch_add(&pub_destroyed, 1);
}
static void kid_destroy(void *o)
{
    (void)o;
    atomic_fetch_add(&kid_destroyed, 1);
}
static void churn_destroy(void *o)
{
    (void)o;
    atomic_fetch_add(&churn_destroyed, 1);
}

static const rcgc_type pub_type = {"pub", node_traverse, NULL, pub_destroy};
static const rcgc_type kid_type = {"kid", node_traverse, NULL, kid_destroy};
static void after_destroy(void *o)
{
    (void)o;
    atomic_fetch_add(&after_destroyed, 1);
}

static const rcgc_type churn_type = {"churn", node_traverse, NULL, churn_destroy};
/* The parent's garbage between forks (a later child inherits it). */
static const rcgc_type after_type = {"after", node_traverse, NULL, after_destroy};

static node *make(const rcgc_type *t, long id)
{
    node *n = rcgc_alloc(t, sizeof(node));
    if (n == NULL) {
        printf("Bail out! rcgc_alloc\n");
        _exit(1);
    }
    n->id = id;
    if (t == &churn_type)
        atomic_fetch_add(&churn_made, 1);
    return n;
}

/* a <-> b; returns our reference to a (b held only by a). */
static node *pair(const rcgc_type *t, long id)
{
    node *a = make(t, id), *b = make(t, id + 1);
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_decref(b);
    return a;
}

static node *published[WORKERS][RINGS];
static _Atomic int ready, stop;

static void *worker(void *arg)
{
    long w = (long)(intptr_t)arg;
    if (rcgc_thread_attach() != 0) {
        printf("Bail out! attach\n");
        _exit(1);
    }
    for (int k = 0; k < RINGS; k++)
        published[w][k] = pair(&pub_type, 1000 * (w + 1) + 2 * k);
    atomic_fetch_add(&ready, 1);
    for (long i = 0; !atomic_load(&stop); i++) {
        node *keep = make(&churn_type, i);
        for (int j = 0; j < 20; j++)
            rcgc_decref(pair(&churn_type, j));
        rcgc_store(keep, &keep->b, pair(&churn_type, -1));
        rcgc_decref(keep->b); /* the pair's own reference; keep holds it */
        rcgc_decref(keep);
        if (i % 7 == 0)
            rcgc_collect((int)(i % 3));
        if (w == 0 && i % 5 == 0) {
            rcgc_blocking_begin();
            usleep(200);
            rcgc_blocking_end();
        }
        rcgc_safepoint();
    }
    rcgc_thread_detach();
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The child                                                           */
/* ------------------------------------------------------------------ */

static void *child_thread(void *arg)
{
    (void)arg;
    if (rcgc_thread_attach() != 0)
        return (void *)1;
    for (int i = 0; i < 10; i++)
        rcgc_decref(pair(&kid_type, 500 + 2 * i));
    rcgc_collect(0);
    rcgc_thread_detach();
    return NULL;
}

/* Returns 0 when every check passed, else the number of the first that
 * failed (the child's exit status). */
static int child_checks(void)
{
    long pub0 = atomic_load(&pub_destroyed), kid0 = atomic_load(&kid_destroyed);
    if (!rcgc_thread_is_attached())
        return 10;
    /* The new collector thread answers a request only once attached (it
     * does not count itself among the attached threads). */
    rcgc_collect(1);
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    if (s.threads_attached != 1)
        return 11;
    /* The workers' objects: read, counted by a thread that is not their
     * owner (their heaps are orphans now), given a new slot value. */
    long kids = 0;
    for (int w = 0; w < WORKERS; w++)
        for (int k = 0; k < RINGS; k++) {
            node *a = published[w][k];
            node *b = rcgc_load(&a->a);
            if (a->id != 1000 * (w + 1) + 2 * k || b->id != a->id + 1 ||
                rcgc_load(&b->a) != a)
                return 12;
            rcgc_incref(b);
            rcgc_weakref *wr = rcgc_weakref_new(b, NULL, NULL);
            node *got = rcgc_weakref_get(wr);
            if (got != b)
                return 13;
            rcgc_decref(got);
            rcgc_weakref_free(wr);
            node *kid = make(&kid_type, 9000 + k);
            kids++;
            rcgc_store(b, &b->b, kid);
            rcgc_decref(kid);
            rcgc_decref(b);
        }
    /* Cycles of the child's own. */
    for (int i = 0; i < 50; i++)
        rcgc_decref(pair(&kid_type, 2 * i));
    kids += 100;
    pthread_t t;
    void *tr = (void *)1;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0)
        return 14;
    rcgc_blocking_begin();
    pthread_join(t, &tr);
    rcgc_blocking_end();
    if (tr != NULL)
        return 15;
    kids += 20;
    rcgc_collect(2);
    if (atomic_load(&kid_destroyed) - kid0 != kids - WORKERS * RINGS) {
        fprintf(stderr, "kids destroyed %ld of %ld, young %zu, gen1 %zu gen2 %zu\n",
                atomic_load(&kid_destroyed) - kid0, kids - WORKERS * RINGS, rcgc_get_count(0),
                rcgc_get_count(1), rcgc_get_count(2));
        return 16; /* the kids stored into published objects live on */
    }
    if (atomic_load(&pub_destroyed) != pub0)
        return 17;
    /* Drop what the workers published: all of it is garbage now. */
    for (int w = 0; w < WORKERS; w++)
        for (int k = 0; k < RINGS; k++)
            rcgc_decref(published[w][k]);
    rcgc_collect(2);
    if (atomic_load(&pub_destroyed) - pub0 != 2 * WORKERS * RINGS)
        return 18;
    if (atomic_load(&kid_destroyed) - kid0 != kids)
        return 19;
    rcgc_verify_heap();
    return 0;
}

/* ------------------------------------------------------------------ */
/* The parent                                                          */
/* ------------------------------------------------------------------ */

int main(void)
{
    test_init();
    pthread_t t[WORKERS];
    for (long w = 0; w < WORKERS; w++)
        pthread_create(&t[w], NULL, worker, (void *)(intptr_t)w);
    rcgc_blocking_begin();
    while (atomic_load(&ready) < WORKERS)
        usleep(1000);
    rcgc_blocking_end();
    for (int f = 0; f < FORKS; f++) {
        rcgc_blocking_begin();
        usleep(20000); /* let the workers churn and collect */
        rcgc_blocking_end();
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(60);
            _exit(child_checks());
        }
        CHECK(pid > 0);
        int status = -1;
        rcgc_blocking_begin();
        waitpid(pid, &status, 0);
        rcgc_blocking_end();
        if (!CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            printf("# child %d: status %#x (exit %d)\n", f, status,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        /* The parent carries on: the world still runs and collects. */
        node *p = pair(&after_type, 7000 + 2 * f);
        rcgc_decref(p);
    }
    atomic_store(&stop, 1);
    rcgc_blocking_begin();
    for (int w = 0; w < WORKERS; w++)
        pthread_join(t[w], NULL);
    rcgc_blocking_end();
    for (int w = 0; w < WORKERS; w++)
        for (int k = 0; k < RINGS; k++)
            rcgc_decref(published[w][k]);
    rcgc_collect(2);
    CHECK_EQ(atomic_load(&pub_destroyed), 2 * WORKERS * RINGS);
    CHECK_EQ(atomic_load(&kid_destroyed), 0);
    CHECK_EQ(atomic_load(&after_destroyed), 2 * FORKS);
    CHECK_EQ(atomic_load(&churn_destroyed), atomic_load(&churn_made));
    CHECK_EQ(live_objects(), 0);
    CHECK_EQ(rcgc_verify_heap(), 0);
    rcgc_thread_detach();
    rcgc_shutdown();
    return check_done();
}

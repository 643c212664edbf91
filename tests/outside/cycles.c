/* cycles.c: issue 3's acceptance program, written only against the public
 * contract (<rcgc.h>) and built outside the tree with pkg-config.
 *
 * Four threads make garbage rings, doubly linked lists, self-loops and
 * rings that span threads, while keeping live rings. After rcgc_collect(2)
 * exactly the garbage has been destroyed and the live rings are intact;
 * after dropping them and collecting again, everything has been destroyed.
 * Prints "N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L /* pthread barriers under -std=c11 */
#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

typedef struct node {
    void *a, *b;
    long owner;
    int dead;
} node;

static _Atomic long destroyed, made_garbage, twice;

static void traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((node *)o)->a, ctx);
    visit(&((node *)o)->b, ctx);
}

static void destroy(void *o)
{
    if (((node *)o)->dead++)
        atomic_fetch_add(&twice, 1);
    atomic_fetch_add(&destroyed, 1);
}

static const rcgc_type node_type = {"node", traverse, NULL, destroy};

static node *mk(long owner)
{
    node *n = rcgc_alloc(&node_type, sizeof(node));
    n->owner = owner;
    return n;
}

static node *ring(long n, long owner)
{
    node *first = mk(owner), *prev = first;
    for (long i = 1; i < n; i++) {
        node *x = mk(owner);
        rcgc_store(prev, &prev->a, x);
        rcgc_decref(x);
        prev = x;
    }
    rcgc_store(prev, &prev->a, first);
    return first;
}

static node *dlist(long n, long owner)
{
    node *first = mk(owner), *prev = first;
    for (long i = 1; i < n; i++) {
        node *x = mk(owner);
        rcgc_store(prev, &prev->a, x);
        rcgc_store(x, &x->b, prev);
        rcgc_decref(x);
        prev = x;
    }
    return first;
}

enum { THREADS = 4, ROUNDS = 2000, LIVE = 16 };
static node *halves[THREADS][ROUNDS];
static node *live[THREADS][LIVE];
static pthread_barrier_t bar;

static void wait_all(void)
{
    rcgc_blocking_begin();
    pthread_barrier_wait(&bar);
    rcgc_blocking_end();
}

static void *worker(void *arg)
{
    long me = (long)(intptr_t)arg;
    rcgc_thread_attach();
    for (int r = 0; r < ROUNDS; r++) {
        long n = 1 + r % 7;
        rcgc_decref(ring(n, me)); /* n == 1: a self-loop */
        rcgc_decref(dlist(n + 1, me));
        atomic_fetch_add(&made_garbage, 2 * n + 1);
        halves[me][r] = mk(me);
        if (r < LIVE)
            live[me][r] = ring(3, me);
    }
    wait_all();
    /* Rings across threads: mine -> mid -> next thread's -> its mid -> ... */
    int nb = (int)(me + 1) % THREADS;
    for (int r = 0; r < ROUNDS; r++) {
        node *mid = mk(me);
        rcgc_store(halves[me][r], &halves[me][r]->b, mid);
        rcgc_store(mid, &mid->a, halves[nb][r]);
        rcgc_decref(mid);
    }
    wait_all();
    for (int r = 0; r < ROUNDS; r++)
        rcgc_decref(halves[me][r]);
    atomic_fetch_add(&made_garbage, 2 * ROUNDS);
    rcgc_thread_detach();
    return NULL;
}

static int passed, failed;

static void expect(int ok, const char *what, long got, long want)
{
    if (ok)
        passed++;
    else
        failed++;
    printf("%s: %s (got %ld, want %ld)\n", ok ? "ok" : "FAIL", what, got, want);
}

int main(void)
{
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    pthread_barrier_init(&bar, NULL, THREADS);
    pthread_t t[THREADS];
    rcgc_blocking_begin();
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    expect(destroyed == made_garbage, "exactly the garbage destroyed", destroyed, made_garbage);
    long intact = 0;
    for (int i = 0; i < THREADS; i++)
        for (int r = 0; r < LIVE; r++) {
            node *x = live[i][r], *y = rcgc_load(&x->a), *z = rcgc_load(&y->a);
            intact += rcgc_load(&z->a) == x && !x->dead && !y->dead && !z->dead && x->owner == i;
        }
    expect(intact == THREADS * LIVE, "live rings intact", intact, THREADS * LIVE);
    for (int i = 0; i < THREADS; i++)
        for (int r = 0; r < LIVE; r++)
            rcgc_decref(live[i][r]);
    rcgc_collect(2);
    long all = made_garbage + THREADS * LIVE * 3;
    expect(destroyed == all, "then everything destroyed", destroyed, all);
    expect(twice == 0, "nothing destroyed twice", twice, 0);
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    expect(s.live_objects == 0, "no live objects", (long)s.live_objects, 0);
    pthread_barrier_destroy(&bar);
    rcgc_shutdown();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

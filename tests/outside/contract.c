/* contract.c: issue 2's acceptance program, written only against the
 * public contract (<rcgc.h>), built outside the source tree with
 * `pkg-config --cflags --libs rcgc` (see .ci/run).
 *
 * 1. A producer thread hands 200k two-node structures to a consumer and
 *    exits without detaching while the consumer still holds some.
 * 2. Four threads hammer one object's count.
 * 3. A ten-million-node chain is dropped at once.
 * Every object must be destroyed exactly once: each has a destroyed flag
 * checked and set by its destroy function. Prints "N passed, N failed".
 */
#include <rcgc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct pair {
    void *first;
    void *second;
    long id;
    int dead;
} pair;

static _Atomic long destroyed, double_destroy;

static void pair_traverse(void *obj, rcgc_visit_fn visit, void *ctx)
{
    pair *p = obj;
    visit(&p->first, ctx);
    visit(&p->second, ctx);
}

static void pair_destroy(void *obj)
{
    pair *p = obj;
    if (p->dead++)
        atomic_fetch_add(&double_destroy, 1);
    atomic_fetch_add(&destroyed, 1);
}

static const rcgc_type pair_type = {"pair", pair_traverse, NULL, pair_destroy};

static int passed, failed;

static void expect(int ok, const char *what, long got, long want)
{
    if (ok) {
        passed++;
        printf("ok: %s\n", what);
    } else {
        failed++;
        printf("FAIL: %s (got %ld, want %ld)\n", what, got, want);
    }
}

/* A mutex-protected hand-off queue. The consumer waits in a blocking
 * region, as the contract asks of a thread that may block. */
#define QCAP 4096
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *items[QCAP];
    long head, tail;
    int done;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

static void q_put(void *p)
{
    rcgc_blocking_begin();
    pthread_mutex_lock(&q.mu);
    while (q.tail - q.head == QCAP)
        pthread_cond_wait(&q.cv, &q.mu);
    rcgc_blocking_end();
    q.items[q.tail++ % QCAP] = p;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
}

static void *q_get(void)
{
    rcgc_blocking_begin();
    pthread_mutex_lock(&q.mu);
    while (q.tail == q.head && !q.done)
        pthread_cond_wait(&q.cv, &q.mu);
    rcgc_blocking_end();
    void *p = NULL;
    if (q.tail != q.head) {
        p = q.items[q.head++ % QCAP];
        pthread_cond_broadcast(&q.cv);
    }
    pthread_mutex_unlock(&q.mu);
    return p;
}

#define STRUCTURES 200000L

static void *producer(void *arg)
{
    (void)arg;
    if (rcgc_thread_attach() != 0)
        abort();
    for (long i = 0; i < STRUCTURES; i++) {
        pair *a = rcgc_alloc(&pair_type, sizeof(pair));
        pair *b = rcgc_alloc(&pair_type, sizeof(pair));
        a->id = b->id = i;
        rcgc_store(a, &a->first, b);
        rcgc_decref(b);
        q_put(a);
    }
    pthread_mutex_lock(&q.mu);
    q.done = 1;
    pthread_cond_broadcast(&q.cv);
    pthread_mutex_unlock(&q.mu);
    return NULL; /* exits attached, on purpose */
}

static void *target;

static void *hammer(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    for (int i = 0; i < 2000000; i++) {
        rcgc_incref(target);
        rcgc_decref(target);
        if ((i & 4095) == 0)
            rcgc_safepoint();
    }
    rcgc_decref(target); /* the reference the main thread gave us */
    rcgc_thread_detach();
    return NULL;
}

int main(void)
{
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0) {
        printf("FAIL: init\n0 passed, 1 failed\n");
        return 1;
    }

    /* 1. Producer/consumer, the producer exits attached. */
    pthread_t t;
    pthread_create(&t, NULL, producer, NULL);
    static void *held[STRUCTURES];
    long nheld = 0, got = 0;
    void *p;
    while ((p = q_get()) != NULL) {
        got++;
        if (got % 4 == 0)
            held[nheld++] = p;
        else
            rcgc_decref(p);
    }
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    expect(got == STRUCTURES, "consumer received every structure", got, STRUCTURES);
    long intact = 0;
    for (long i = 0; i < nheld; i++) {
        pair *a = held[i];
        pair *b = rcgc_load(&a->first);
        intact += b != NULL && b->id == a->id && !b->dead && !a->dead;
    }
    expect(intact == nheld, "held structures intact after the producer exited", intact, nheld);
    rcgc_collect(2);
    expect(destroyed == 2 * (STRUCTURES - nheld), "dropped structures destroyed",
           destroyed, 2 * (STRUCTURES - nheld));
    for (long i = 0; i < nheld; i++)
        rcgc_decref(held[i]);
    rcgc_collect(2);
    expect(destroyed == 2 * STRUCTURES, "all 400k objects destroyed", destroyed, 2 * STRUCTURES);

    /* 2. Four threads hammer one object's count (three non-owners and the
     * owner). Each non-owner holds a reference it drops at the end. */
    long before = destroyed;
    target = rcgc_alloc(&pair_type, sizeof(pair));
    pthread_t h[3];
    for (int i = 0; i < 3; i++) {
        rcgc_incref(target);
        pthread_create(&h[i], NULL, hammer, NULL);
    }
    for (int i = 0; i < 2000000; i++) {
        rcgc_incref(target);
        rcgc_decref(target);
    }
    expect(destroyed == before, "hammered object alive while referenced", destroyed - before, 0);
    rcgc_decref(target);
    rcgc_blocking_begin();
    for (int i = 0; i < 3; i++)
        pthread_join(h[i], NULL);
    rcgc_blocking_end();
    rcgc_collect(2);
    expect(destroyed - before == 1, "hammered object destroyed once", destroyed - before, 1);

    /* 3. A ten-million-node chain, dropped at once. */
    before = destroyed;
    const long n = 10000000;
    pair *head = rcgc_alloc(&pair_type, sizeof(pair));
    pair *cur = head;
    for (long i = 1; i < n; i++) {
        pair *next = rcgc_alloc(&pair_type, sizeof(pair));
        rcgc_store(cur, &cur->second, next);
        rcgc_decref(next);
        cur = next;
    }
    rcgc_decref(head);
    expect(destroyed - before == n, "ten-million-node chain destroyed", destroyed - before, n);

    expect(double_destroy == 0, "no object destroyed twice", double_destroy, 0);
    rcgc_collect(2);
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    expect(s.live_objects == 0, "no live objects left", (long)s.live_objects, 0);
    rcgc_shutdown();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

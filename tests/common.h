/* common.h: object types shared by the tests. */
#ifndef RCGC_TEST_COMMON_H
#define RCGC_TEST_COMMON_H

#include "check.h"
#include <rcgc.h>
#include <stdatomic.h>

typedef struct node {
    void *a;
    void *b;
    long id;
} node;

static _Atomic long destroyed;

static void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx)
{
    node *n = obj;
    visit(&n->a, ctx);
    visit(&n->b, ctx);
}

static void node_destroy(void *obj)
{
    (void)obj;
    atomic_fetch_add(&destroyed, 1);
}

static const rcgc_type node_type = {"node", node_traverse, NULL, node_destroy};

static inline node *node_new(long id)
{
    node *n = rcgc_alloc(&node_type, sizeof(node));
    if (n != NULL)
        n->id = id;
    return n;
}

/* A 2-cycle a <-> b (through slot a); returns our reference to a, b held
 * only by a. */
static inline node *node_ring2(long ida, long idb)
{
    node *a = node_new(ida), *b = node_new(idb);
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_decref(b);
    return a;
}

static inline void test_init(void)
{
    if (rcgc_init(NULL) != 0 || rcgc_thread_attach() != 0) {
        printf("Bail out! rcgc_init or rcgc_thread_attach failed\n");
        exit(1);
    }
}

static inline uint64_t live_objects(void)
{
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    return s.live_objects;
}

#endif

/* ------------------------------------------------------------------ */
/* A channel of pointers between threads (plain pthreads). Waiting is  */
/* done inside a blocking region, so a waiting thread never delays a   */
/* pause. The mutex orders the hand-off (a happens-before edge).       */
/* ------------------------------------------------------------------ */

#include <pthread.h>

typedef struct chan {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void **items;
    size_t head, tail, cap;
    int closed;
} chan;

static inline void chan_init(chan *c, size_t cap)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->items = calloc(cap, sizeof(void *));
    c->head = c->tail = 0;
    c->cap = cap;
    c->closed = 0;
}

static inline void chan_destroy(chan *c)
{
    free(c->items);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
}

static inline void chan_lock(chan *c)
{
    if (rcgc_thread_is_attached()) {
        rcgc_blocking_begin();
        pthread_mutex_lock(&c->mu);
        rcgc_blocking_end();
    } else {
        pthread_mutex_lock(&c->mu);
    }
}

static inline void chan_wait(chan *c)
{
    if (rcgc_thread_is_attached()) {
        rcgc_blocking_begin();
        pthread_cond_wait(&c->cv, &c->mu);
        rcgc_blocking_end();
    } else {
        pthread_cond_wait(&c->cv, &c->mu);
    }
}

static inline void chan_send(chan *c, void *p)
{
    chan_lock(c);
    while (c->tail - c->head == c->cap)
        chan_wait(c);
    c->items[c->tail++ % c->cap] = p;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static inline void chan_close(chan *c)
{
    chan_lock(c);
    c->closed = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Returns 0 when the channel is closed and empty. */
static inline int chan_recv(chan *c, void **out)
{
    chan_lock(c);
    while (c->tail == c->head && !c->closed)
        chan_wait(c);
    int got = c->tail != c->head;
    if (got) {
        *out = c->items[c->head++ % c->cap];
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return got;
}

static inline uint64_t test_seed(void)
{
    const char *s = getenv("RCGC_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 0x9e3779b97f4a7c15ull;
    printf("# seed %llu (set RCGC_TEST_SEED to replay)\n", (unsigned long long)seed);
    return seed;
}

static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

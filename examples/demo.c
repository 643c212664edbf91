/* demo.c: rcgc in a few lines. Four worker threads build linked records,
 * pass half of them to the next worker through a mailbox, and drop the
 * rest; receivers drop what they get. Objects die the moment their last
 * reference goes, on whichever thread drops it, and the statistics at the
 * end account for every one of them. */
#include <rcgc.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

typedef struct record {
    void *next;   /* a slot: a reference to another record */
    long value;
} record;

static _Atomic long destroyed;

static void record_traverse(void *obj, rcgc_visit_fn visit, void *ctx)
{
    visit(&((record *)obj)->next, ctx);
}

static void record_destroy(void *obj)
{
    (void)obj;
    atomic_fetch_add_explicit(&destroyed, 1, memory_order_relaxed);
}

static const rcgc_type record_type = {"record", record_traverse, NULL, record_destroy};

enum { WORKERS = 4, ROUNDS = 50000, CHAIN = 4 };

/* A one-slot mailbox per worker. */
static struct {
    pthread_mutex_t mu;
    void *item;
} box[WORKERS];

/* Hands p to worker i, or drops it here if i's box is still full. */
static void box_put(int i, void *p)
{
    pthread_mutex_lock(&box[i].mu);
    if (box[i].item == NULL) {
        box[i].item = p;
        p = NULL;
    }
    pthread_mutex_unlock(&box[i].mu);
    rcgc_decref(p); /* NULL when handed over */
}

static void *box_take(int i)
{
    pthread_mutex_lock(&box[i].mu);
    void *p = box[i].item;
    box[i].item = NULL;
    pthread_mutex_unlock(&box[i].mu);
    return p;
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    rcgc_thread_attach();
    for (int r = 0; r < ROUNDS; r++) {
        record *head = NULL;
        for (int k = 0; k < CHAIN; k++) {
            record *x = rcgc_alloc(&record_type, sizeof(record));
            x->value = k;
            rcgc_store(x, &x->next, head);
            rcgc_decref(head);
            head = x;
        }
        if (r % 2)
            box_put((me + 1) % WORKERS, head); /* a neighbour drops it */
        else
            rcgc_decref(head);                 /* dies here, now */
        rcgc_decref(box_take(me));
    }
    rcgc_thread_detach();
    return NULL;
}

int main(void)
{
    rcgc_init(NULL);
    rcgc_thread_attach();
    for (int i = 0; i < WORKERS; i++) {
        pthread_mutex_init(&box[i].mu, NULL);
    }
    pthread_t t[WORKERS];
    rcgc_blocking_begin();
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
    rcgc_blocking_end();
    for (int i = 0; i < WORKERS; i++)
        rcgc_decref(box_take(i));
    rcgc_collect(2);

    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    printf("rcgc demo: %d threads, %d records each\n", WORKERS, ROUNDS * CHAIN);
    printf("  allocated            %" PRIu64 "\n", s.allocated_objects);
    printf("  freed                %" PRIu64 " (destroy ran %ld times)\n", s.freed_objects,
           atomic_load(&destroyed));
    printf("  live                 %" PRIu64 " objects, %" PRIu64 " bytes\n", s.live_objects,
           s.live_bytes);
    printf("  handed to owners     %" PRIu64 " (merged %" PRIu64 ")\n", s.queued, s.merges);
    printf("  pauses               %" PRIu64 " (longest %" PRIu64 " us)\n", s.pauses,
           s.pause_max_ns / 1000);
    int ok = s.live_objects == 0 && s.freed_objects == s.allocated_objects &&
             (uint64_t)atomic_load(&destroyed) == s.freed_objects;
    printf("  every object freed exactly once: %s\n", ok ? "yes" : "NO");
    rcgc_shutdown();
    return ok ? 0 : 1;
}

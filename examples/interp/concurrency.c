/* concurrency.c: threads, channels, weak references and finalizable
 * resources for scripts.
 *
 *   (spawn thunk)        a new thread (attached to rcgc) calls thunk;
 *                        returns a thread handle
 *   (join t)             waits for it (in a blocking region); its result
 *   (make-channel n)     a channel buffering up to n values
 *   (send! ch v)         waits while the channel is full
 *   (receive ch)         waits while it is empty
 *   (make-weak v)        a weak reference; (weak-get w): v or #f
 *   (weak-cleared)       how many of this script's weak references were
 *                        cleared (counted by their rcgc callback)
 *   (make-resource name) an object whose type has a finalizer, which logs
 *                        name; (finalized): the sorted names logged so far
 *
 * Objects handed through a channel or to a spawned thread are owned by
 * the thread that made them and usually die on another: the case rcgc's
 * biased counting sends through its merge queues. A channel's lock is
 * taken inside a blocking region (a thread waiting for it counts as
 * stopped), and its condition waits are blocking regions too, so a thread
 * that holds the lock may reach a safepoint without stalling a pause.
 */
#include "interp.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

int start_thread(void *(*fn)(void *), void *arg, void *thread_out)
{
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0)
        return rc;
    /* Deep recursion (MAX_DEPTH nested evaluations) needs a large stack;
     * it is only address space until touched. */
    pthread_attr_setstacksize(&attr, (size_t)256 << 20);
    rc = pthread_create(thread_out, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc;
}

/* Every spawned thread, so that the ones a script never joins are joined
 * at the end. `claimed`: someone has joined or is joining it. The mutex
 * guards plain C data only and is never held across an rcgc call. */
static struct {
    pthread_mutex_t mu;
    struct spawned { pthread_t tid; int claimed; } *v;
    size_t n, cap;
} reg = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

typedef struct start {
    void *thunk;        /* owned */
    thread_obj *handle; /* owned */
    struct script *script;
} start;

static void *spawned_main(void *arg)
{
    start *st = arg;
    attach_thread();
    set_current_script(st->script);
    void *r = apply(st->thunk, 0, NULL);
    if (r == ERR)
        script_thread_error(st->script, err_msg());
    ref_set(st->handle, &st->handle->result, r); /* ERR is immortal */
    rcgc_decref(r);
    rcgc_decref(st->thunk);   /* usually owned by the spawner: a non-owner */
    rcgc_decref(st->handle);  /* decrement, merged through its queue */
    free(st);
    rcgc_thread_detach();
    thread_finished();
    return NULL;
}

static void *p_spawn(int argc, void **argv)
{
    (void)argc;
    if (!is_procedure(argv[0]))
        return fail("spawn: not a procedure");
    start *st = malloc(sizeof *st);
    if (st == NULL)
        return fail("spawn: out of memory");
    thread_obj *h = obj_new(T_THREAD, sizeof *h);
    rcgc_incref(argv[0]);
    rcgc_incref(h);
    *st = (start){argv[0], h, current_script()};
    pthread_mutex_lock(&reg.mu);
    int rc = 0;
    if (reg.n == reg.cap) {
        size_t cap = reg.cap ? reg.cap * 2 : 16;
        struct spawned *v = realloc(reg.v, cap * sizeof *v);
        if (v == NULL)
            rc = ENOMEM;
        else
            reg.v = v, reg.cap = cap;
    }
    if (rc == 0) {
        h->entry = reg.n; /* before the handle is published */
        thread_started();
        rc = start_thread(spawned_main, st, &reg.v[reg.n].tid);
        if (rc == 0)
            reg.v[reg.n++].claimed = 0;
        else
            thread_finished();
    }
    pthread_mutex_unlock(&reg.mu);
    if (rc != 0) {
        rcgc_decref(st->thunk);
        rcgc_decref(st->handle);
        free(st);
        rcgc_decref(h);
        return fail("spawn: cannot start a thread: %s", strerror(rc));
    }
    return h;
}

/* Joins thread tid in a blocking region: we may wait long, and the thread
 * we wait for may need a pause to finish. */
static void join_blocking(pthread_t tid)
{
    rcgc_blocking_begin();
    pthread_join(tid, NULL);
    rcgc_blocking_end();
}

static void *p_join(int argc, void **argv)
{
    (void)argc;
    thread_obj *h = argv[0];
    if (!has_tag(h, T_THREAD))
        return fail("join: not a thread");
    pthread_mutex_lock(&reg.mu);
    struct spawned *e = &reg.v[h->entry];
    int claimed = e->claimed;
    e->claimed = 1;
    pthread_t tid = e->tid;
    pthread_mutex_unlock(&reg.mu);
    if (claimed)
        return fail("join: thread already joined");
    join_blocking(tid);
    void *r = ref_get(h, &h->result);
    return r == ERR ? fail("join: the thread failed (its error is reported above)") : r;
}

void join_stray_threads(void)
{
    for (;;) {
        pthread_mutex_lock(&reg.mu);
        size_t i = 0;
        while (i < reg.n && reg.v[i].claimed)
            i++;
        int found = i < reg.n;
        pthread_t tid = found ? reg.v[i].tid : (pthread_t)0;
        if (found)
            reg.v[i].claimed = 1;
        pthread_mutex_unlock(&reg.mu);
        if (!found)
            break;
        join_blocking(tid);
    }
}

/* ------------------------------------------------------------------ */
/* Channels                                                            */
/* ------------------------------------------------------------------ */

struct chan_sync {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    size_t head, count;
};

void chan_destroy(void *o)
{
    struct chan_sync *s = ((chan_obj *)o)->sync;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->not_empty);
    pthread_cond_destroy(&s->not_full);
    free(s);
    tally_destroyed(T_CHANNEL);
}

static void *p_make_channel(int argc, void **argv)
{
    (void)argc;
    if (!has_tag(argv[0], T_INT) || ((int_obj *)argv[0])->v < 1 ||
        ((int_obj *)argv[0])->v > 65536)
        return fail("make-channel: capacity must be an integer from 1 to 65536");
    size_t cap = (size_t)((int_obj *)argv[0])->v;
    struct chan_sync *s = calloc(1, sizeof *s);
    if (s == NULL)
        return fail("make-channel: out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->not_empty, NULL);
    pthread_cond_init(&s->not_full, NULL);
    chan_obj *c = obj_new(T_CHANNEL, sizeof *c + cap * sizeof(void *));
    c->cap = cap; /* before publication: traverse reads it */
    c->sync = s;
    return c;
}

static void chan_lock(struct chan_sync *s)
{
    rcgc_blocking_begin();
    pthread_mutex_lock(&s->mu);
    rcgc_blocking_end();
}

static void chan_wait(pthread_cond_t *cond, struct chan_sync *s)
{
    rcgc_blocking_begin();
    pthread_cond_wait(cond, &s->mu);
    rcgc_blocking_end();
}

static void *p_send(int argc, void **argv)
{
    (void)argc;
    chan_obj *c = argv[0];
    if (!has_tag(c, T_CHANNEL))
        return fail("send!: not a channel");
    struct chan_sync *s = c->sync;
    chan_lock(s);
    while (s->count == c->cap)
        chan_wait(&s->not_full, s);
    rcgc_store(c, &c->items[(s->head + s->count) % c->cap], argv[1]); /* was NULL */
    s->count++;
    pthread_cond_signal(&s->not_empty);
    pthread_mutex_unlock(&s->mu);
    return K_VOID;
}

static void *p_receive(int argc, void **argv)
{
    (void)argc;
    chan_obj *c = argv[0];
    if (!has_tag(c, T_CHANNEL))
        return fail("receive: not a channel");
    struct chan_sync *s = c->sync;
    chan_lock(s);
    while (s->count == 0)
        chan_wait(&s->not_empty, s);
    void *v = rcgc_load(&c->items[s->head]);
    rcgc_incref(v);                            /* ours now */
    rcgc_store(c, &c->items[s->head], NULL);   /* not the last reference */
    s->head = (s->head + 1) % c->cap;
    s->count--;
    pthread_cond_signal(&s->not_full);
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* ------------------------------------------------------------------ */
/* Weak references and finalizable resources                           */
/* ------------------------------------------------------------------ */

/* Runs once per cleared weak reference, on whichever thread rcgc chose
 * (the one that dropped the referent, the collector, or, on demand, the
 * main thread): it only counts. */
static void weak_cleared_cb(rcgc_weakref *wr, void *arg)
{
    (void)wr;
    script_weak_cleared(arg);
}

void weak_destroy(void *o)
{
    rcgc_weakref_free(((weak_obj *)o)->wr);
    tally_destroyed(T_WEAK);
}

static void *p_make_weak(int argc, void **argv)
{
    (void)argc;
    if (argv[0] == NULL)
        return fail("make-weak: () has no identity");
    rcgc_weakref *wr = rcgc_weakref_new(argv[0], weak_cleared_cb, current_script());
    if (wr == NULL)
        return fail("make-weak: %s", strerror(errno));
    weak_obj *w = obj_new(T_WEAK, sizeof *w);
    w->wr = wr;
    return w;
}

static void *p_weak_get(int argc, void **argv)
{
    (void)argc;
    if (!has_tag(argv[0], T_WEAK))
        return fail("weak-get: not a weak reference");
    void *v = rcgc_weakref_get(((weak_obj *)argv[0])->wr);
    return v != NULL ? v : K_FALSE;
}

static void *p_weak_cleared(int argc, void **argv)
{
    (void)argc;
    (void)argv;
    return make_int((int64_t)script_weak_cleared_count(current_script()));
}

/* The finalizer of resources: logs the name in the owning script's log.
 * It runs on an attached thread while the resource is still alive, so it
 * may read its slots; it touches no lock that is held across rcgc calls. */
void resource_finalize(void *o)
{
    str_obj *name = rcgc_load(&((resource_obj *)o)->name); /* immutable */
    script_log_finalized(((resource_obj *)o)->owner, name->s, name->len);
}

static void *p_make_resource(int argc, void **argv)
{
    (void)argc;
    if (!has_tag(argv[0], T_STRING))
        return fail("make-resource: the name must be a string");
    resource_obj *r = obj_new(T_RESOURCE, sizeof *r);
    rcgc_store(r, &r->name, argv[0]);
    r->owner = current_script();
    return r;
}

static void *p_finalized(int argc, void **argv)
{
    (void)argc;
    (void)argv;
    return script_finalized_list(current_script());
}

void concurrency_init(void)
{
    define_prim("spawn", p_spawn, 1, 1);
    define_prim("join", p_join, 1, 1);
    define_prim("make-channel", p_make_channel, 1, 1);
    define_prim("send!", p_send, 2, 2);
    define_prim("receive", p_receive, 1, 1);
    define_prim("make-weak", p_make_weak, 1, 1);
    define_prim("weak-get", p_weak_get, 1, 1);
    define_prim("weak-cleared", p_weak_cleared, 0, 0);
    define_prim("make-resource", p_make_resource, 1, 1);
    define_prim("finalized", p_finalized, 0, 0);
}

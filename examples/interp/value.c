/* value.c: the interpreter's object types as rcgc types, the allocation and
 * destruction tallies that the final accounting checks, the slot locks,
 * the symbol table and the immortal constants.
 *
 * Use: values_init() once on an attached thread before anything else; then
 * obj_new(tag, size) for every object (never rcgc_alloc directly, so that
 * the tallies see it), ref_get/ref_set for slots other threads may store
 * into, intern() for symbols.
 */
#include "interp.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/* Traverse functions report exactly the slots of each payload. They may
 * run on the background collector thread at any time (rcgc.h): they read
 * only payload fields whose addresses are fixed for the object's life (a
 * vector's `n`, a channel's `cap`, written before publication) and call
 * nothing. */
static void sym_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((sym_obj *)o)->prim, ctx);
}

static void pair_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    pair_obj *p = o;
    visit(&p->car, ctx);
    visit(&p->cdr, ctx);
}

static void frame_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    frame_obj *f = o;
    visit(&f->parent, ctx);
    visit(&f->vars, ctx);
}

static void binding_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    binding_obj *b = o;
    visit(&b->sym, ctx);
    visit(&b->value, ctx);
    visit(&b->next, ctx);
}

static void closure_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    closure_obj *c = o;
    visit(&c->params, ctx);
    visit(&c->body, ctx);
    visit(&c->env, ctx);
    visit(&c->name, ctx);
}

static void vec_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    vec_obj *v = o;
    for (size_t i = 0; i < v->n; i++)
        visit(&v->items[i], ctx);
}

static void dict_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    /* The entries live in a vector object that dict-set! replaces when it
     * grows, never in a realloc'd buffer: the one slot is all there is. */
    visit(&((dict_obj *)o)->table, ctx);
}

static void chan_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    chan_obj *c = o;
    for (size_t i = 0; i < c->cap; i++)
        visit(&c->items[i], ctx);
}

static void thread_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((thread_obj *)o)->result, ctx);
}

static void resource_traverse(void *o, rcgc_visit_fn visit, void *ctx)
{
    visit(&((resource_obj *)o)->name, ctx);
}

/* Relaxed counters: each is a sum read only after every thread that
 * touched it was joined (pthread_join orders the increments before the
 * read); no other memory is published through them. */
static _Atomic uint64_t n_allocated[T_COUNT], n_destroyed[T_COUNT], n_immortal[T_COUNT];

void tally_destroyed(enum tag t)
{
    /* Relaxed: see above. */
    atomic_fetch_add_explicit(&n_destroyed[t], 1, memory_order_relaxed);
}

/* The destroy of every type without resources of its own. */
static void count_destroy(void *o)
{
    tally_destroyed(((obj *)o)->tag);
}

static const rcgc_type types[T_COUNT] = {
    [T_SINGLETON] = {"constant", NULL, NULL, count_destroy},
    [T_INT] = {"int", NULL, NULL, count_destroy},
    [T_STRING] = {"string", NULL, NULL, count_destroy},
    [T_SYMBOL] = {"symbol", sym_traverse, NULL, count_destroy},
    [T_PAIR] = {"pair", pair_traverse, NULL, count_destroy},
    [T_FRAME] = {"frame", frame_traverse, NULL, count_destroy},
    [T_BINDING] = {"binding", binding_traverse, NULL, count_destroy},
    [T_CLOSURE] = {"closure", closure_traverse, NULL, count_destroy},
    [T_PRIM] = {"primitive", NULL, NULL, count_destroy},
    [T_VECTOR] = {"vector", vec_traverse, NULL, count_destroy},
    [T_DICT] = {"dict", dict_traverse, NULL, count_destroy},
    [T_CHANNEL] = {"channel", chan_traverse, NULL, chan_destroy},
    [T_THREAD] = {"thread", thread_traverse, NULL, count_destroy},
    [T_WEAK] = {"weak", NULL, NULL, weak_destroy},
    [T_RESOURCE] = {"resource", resource_traverse, resource_finalize, count_destroy},
};

const char *tag_name(enum tag t)
{
    return types[t].name;
}

void *obj_new(enum tag t, size_t size)
{
    obj *o = rcgc_alloc(&types[t], size);
    if (o == NULL) {
        fprintf(stderr, "rcgc-interp: cannot allocate a %s of %zu bytes: %s\n",
                types[t].name, size, strerror(errno));
        exit(3);
    }
    o->tag = (uint32_t)t;
    /* Relaxed: see n_allocated above. */
    atomic_fetch_add_explicit(&n_allocated[t], 1, memory_order_relaxed);
    return o;
}

void obj_immortalize(void *v)
{
    rcgc_immortalize(v);
    /* Relaxed: see n_allocated above. */
    atomic_fetch_add_explicit(&n_immortal[((obj *)v)->tag], 1, memory_order_relaxed);
}

void tally_get(tally *out)
{
    for (int t = 0; t < T_COUNT; t++) {
        /* Relaxed: read after the threads were joined (see above). */
        out->allocated[t] = atomic_load_explicit(&n_allocated[t], memory_order_relaxed);
        out->destroyed[t] = atomic_load_explicit(&n_destroyed[t], memory_order_relaxed);
        out->immortal[t] = atomic_load_explicit(&n_immortal[t], memory_order_relaxed);
    }
}

/* ------------------------------------------------------------------ */
/* Slot locks                                                          */
/* ------------------------------------------------------------------ */

enum { STRIPES = 256 };
static struct {
    pthread_mutex_t mu;
    char pad[64 - sizeof(pthread_mutex_t) % 64];
} stripes[STRIPES];

static pthread_mutex_t *stripe_of(const void *container)
{
    uintptr_t a = (uintptr_t)container >> 4;
    return &stripes[(a * 0x9E3779B97F4A7C15ull) >> 56].mu;
}

void slot_lock(const void *container)
{
    pthread_mutex_lock(stripe_of(container));
}

void slot_unlock(const void *container)
{
    pthread_mutex_unlock(stripe_of(container));
}

void *ref_get(void *container, void *const *slot)
{
    slot_lock(container);
    void *v = rcgc_load(slot);
    rcgc_incref(v);
    slot_unlock(container);
    return v;
}

void ref_set(void *container, void **slot, void *value)
{
    slot_lock(container);
    /* Keep the old value alive past the unlock: its death (a destroy, a
     * finalizer, a cascade of releases) must not run under our lock. */
    void *old = rcgc_load(slot);
    rcgc_incref(old);
    rcgc_store(container, slot, value);
    slot_unlock(container);
    rcgc_decref(old);
}

void *pair_car(void *p)
{
    pair_obj *q = p;
    if (q->o.flags & PAIR_CONSTANT) {
        void *v = rcgc_load(&q->car);
        rcgc_incref(v);
        return v;
    }
    return ref_get(q, &q->car);
}

void *pair_cdr(void *p)
{
    pair_obj *q = p;
    if (q->o.flags & PAIR_CONSTANT) {
        void *v = rcgc_load(&q->cdr);
        rcgc_incref(v);
        return v;
    }
    return ref_get(q, &q->cdr);
}

/* ------------------------------------------------------------------ */
/* Constants, numbers, strings, pairs                                  */
/* ------------------------------------------------------------------ */

static void *konst_table[KI_COUNT];
void *const *const konst = konst_table;

enum { SMALL_MIN = -1024, SMALL_MAX = 1023 };
static void *small_ints[SMALL_MAX - SMALL_MIN + 1];

void *make_int(int64_t v)
{
    if (v >= SMALL_MIN && v <= SMALL_MAX)
        return small_ints[v - SMALL_MIN]; /* immortal: no count to take */
    int_obj *i = obj_new(T_INT, sizeof *i);
    i->v = v;
    return i;
}

void *make_string(const char *s, size_t len)
{
    str_obj *o = obj_new(T_STRING, sizeof *o + len + 1);
    o->len = len;
    memcpy(o->s, s, len);
    o->s[len] = '\0';
    return o;
}

void *make_bool(int b)
{
    return b ? K_TRUE : K_FALSE;
}

void *cons(void *car, void *cdr)
{
    pair_obj *p = obj_new(T_PAIR, sizeof *p);
    rcgc_store(p, &p->car, car);
    rcgc_store(p, &p->cdr, cdr);
    return p;
}

void *cons_constant(void *car, void *cdr)
{
    pair_obj *p = cons(car, cdr);
    p->o.flags = PAIR_CONSTANT; /* before anyone else can see p */
    return p;
}

/* ------------------------------------------------------------------ */
/* Symbols                                                             */
/* ------------------------------------------------------------------ */

/* An open-addressing set of immortal symbols. Its mutex is held across an
 * allocation (a safepoint), so it is only ever taken inside a blocking
 * region: a thread waiting for it counts as stopped and cannot hold up a
 * pause that the holder's allocation takes part in. */
static struct {
    pthread_mutex_t mu;
    sym_obj **slots;
    size_t cap, count;
} symtab = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static sym_obj **sym_find(const char *name, size_t len)
{
    size_t mask = symtab.cap - 1;
    for (size_t i = hash_bytes(name, len) & mask;; i = (i + 1) & mask) {
        sym_obj *s = symtab.slots[i];
        if (s == NULL || (s->len == len && memcmp(s->name, name, len) == 0))
            return &symtab.slots[i];
    }
}

static void sym_grow(void)
{
    size_t old_cap = symtab.cap;
    sym_obj **old = symtab.slots;
    symtab.cap = old_cap ? old_cap * 2 : 256;
    symtab.slots = calloc(symtab.cap, sizeof *symtab.slots);
    if (symtab.slots == NULL) {
        fprintf(stderr, "rcgc-interp: out of memory (symbol table)\n");
        exit(3);
    }
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] != NULL)
            *sym_find(old[i]->name, old[i]->len) = old[i];
    free(old);
}

void *intern(const char *name, size_t len)
{
    rcgc_blocking_begin();
    pthread_mutex_lock(&symtab.mu);
    rcgc_blocking_end();
    if (symtab.count * 2 >= symtab.cap)
        sym_grow();
    sym_obj **slot = sym_find(name, len);
    if (*slot == NULL) {
        sym_obj *s = obj_new(T_SYMBOL, sizeof *s + len + 1);
        s->len = len;
        memcpy(s->name, name, len);
        s->name[len] = '\0';
        obj_immortalize(s); /* before any other thread can see it */
        *slot = s;
        symtab.count++;
    }
    sym_obj *s = *slot;
    pthread_mutex_unlock(&symtab.mu);
    return s;
}

/* ------------------------------------------------------------------ */

void values_init(void)
{
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i].mu, NULL);
    for (int i = 0; i < KI_COUNT; i++) {
        konst_table[i] = obj_new(T_SINGLETON, sizeof(obj));
        obj_immortalize(konst_table[i]);
    }
    for (int64_t v = SMALL_MIN; v <= SMALL_MAX; v++) {
        int_obj *i = obj_new(T_INT, sizeof *i);
        i->v = v;
        obj_immortalize(i);
        small_ints[v - SMALL_MIN] = i;
    }
}

/* Unit tests for objects.c: allocation, death by count, finalize and
 * resurrection, destroy order, long chains, immortal objects. Single
 * threaded; exact counts. */
#include "common.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static void *resurrect_into;
static _Atomic long fin_calls;

static void fin_resurrect(void *obj)
{
    atomic_fetch_add(&fin_calls, 1);
    /* Resurrect: store a new reference somewhere reachable (a root). */
    rcgc_incref(obj);
    resurrect_into = obj;
}

static void fin_plain(void *obj)
{
    (void)obj;
    atomic_fetch_add(&fin_calls, 1);
}

static const rcgc_type resurrecting = {"resurrecting", node_traverse, fin_resurrect, node_destroy};
static const rcgc_type finalizable = {"finalizable", node_traverse, fin_plain, node_destroy};
static const rcgc_type leaf = {"leaf", NULL, NULL, node_destroy};

static void test_alloc_basics(void)
{
    node *n = node_new(1);
    CHECK(n != NULL);
    CHECK(((uintptr_t)n & 15u) == 0);
    CHECK(n->a == NULL && n->b == NULL);
    CHECK(rcgc_type_of(n) == &node_type);
    CHECK_EQ(live_objects(), 1);
    long before = destroyed;
    rcgc_decref(n);
    CHECK_EQ(destroyed - before, 1);
    CHECK_EQ(live_objects(), 0);

    errno = 0;
    CHECK(rcgc_alloc(NULL, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(rcgc_alloc(&leaf, SIZE_MAX - 8) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(rcgc_alloc(&leaf, (size_t)1 << 46) == NULL && errno == ENOMEM);
    CHECK_EQ(live_objects(), 0);
    void *z = rcgc_alloc(&leaf, 0);
    CHECK(z != NULL);
    rcgc_decref(z);
    rcgc_incref(NULL);
    rcgc_decref(NULL);
}

static void test_slots_released(void)
{
    long before = destroyed;
    node *a = node_new(1), *b = node_new(2), *c = node_new(3);
    rcgc_store(a, &a->a, b);
    rcgc_store(a, &a->b, c);
    rcgc_decref(b);
    rcgc_decref(c);
    CHECK(rcgc_load(&a->a) == b);
    CHECK_EQ(destroyed - before, 0);
    /* Overwrite a slot: the old value dies. */
    rcgc_store(a, &a->b, NULL);
    CHECK_EQ(destroyed - before, 1);
    rcgc_decref(a);
    CHECK_EQ(destroyed - before, 3);
    CHECK_EQ(live_objects(), 0);
}

static void test_store_same_value(void)
{
    long before = destroyed;
    node *a = node_new(1), *b = node_new(2);
    rcgc_store(a, &a->a, b);
    rcgc_decref(b);
    /* Storing the value a slot already holds must not free it. */
    rcgc_store(a, &a->a, rcgc_load(&a->a));
    CHECK_EQ(destroyed - before, 0);
    CHECK(((node *)rcgc_load(&a->a))->id == 2);
    rcgc_decref(a);
    CHECK_EQ(destroyed - before, 2);
}

static void test_long_chain(void)
{
    /* Two million nodes, dropped from the head: no recursion (constant C
     * stack). The contract program (tests/outside) drops ten million. */
    const long n = 2 * 1000 * 1000;
    long before = destroyed;
    node *head = node_new(0);
    node *cur = head;
    for (long i = 1; i < n; i++) {
        node *next = node_new(i);
        rcgc_store(cur, &cur->a, next);
        rcgc_decref(next);
        cur = next;
    }
    CHECK_EQ(live_objects(), (uint64_t)n);
    rcgc_decref(head);
    CHECK_EQ(destroyed - before, n);
    /* Promoted nodes are destroyed at once; their memory goes back through
     * the collector (cycles.md, C1): collect to account for it. */
    rcgc_collect(2);
    CHECK_EQ(live_objects(), 0);
}

static void test_finalize_once(void)
{
    long before = destroyed;
    fin_calls = 0;
    node *f = rcgc_alloc(&finalizable, sizeof(node));
    node *child = node_new(7);
    rcgc_store(f, &f->a, child);
    rcgc_decref(child);
    rcgc_decref(f);
    CHECK_EQ(fin_calls, 1);
    CHECK_EQ(destroyed - before, 2);
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    CHECK(s.finalized >= 1);
}

static void test_resurrection(void)
{
    long before = destroyed;
    fin_calls = 0;
    node *r = rcgc_alloc(&resurrecting, sizeof(node));
    node *child = node_new(9);
    rcgc_store(r, &r->a, child);
    rcgc_decref(child);
    rcgc_decref(r);
    /* Finalizer ran and resurrected: nothing destroyed, object intact. */
    CHECK_EQ(fin_calls, 1);
    CHECK_EQ(destroyed - before, 0);
    CHECK(resurrect_into == r);
    CHECK(((node *)rcgc_load(&r->a))->id == 9);
    /* Dropped again: freed without a second finalize. */
    void *again = resurrect_into;
    resurrect_into = NULL;
    rcgc_decref(again);
    CHECK_EQ(fin_calls, 1);
    CHECK_EQ(destroyed - before, 2);
}

/* Immortal objects are never freed: keep it reachable, as a runtime keeps
 * its constants, so LeakSanitizer does not report it. */
static node *imm;

static void test_immortal(void)
{
    long before = destroyed;
    imm = node_new(42);
    CHECK_EQ(rcgc_immortalize(imm), 0);
    CHECK(rcgc_is_immortal(imm));
    for (int i = 0; i < 1000; i++)
        rcgc_decref(imm);
    for (int i = 0; i < 10; i++)
        rcgc_incref(imm);
    CHECK_EQ(destroyed - before, 0);
    CHECK(imm->id == 42);
    CHECK_EQ(rcgc_immortalize(NULL), EINVAL);
    CHECK(!rcgc_is_immortal(NULL));
}

static void test_many_refs(void)
{
    long before = destroyed;
    node *n = node_new(1);
    for (int i = 0; i < 100000; i++)
        rcgc_incref(n);
    for (int i = 0; i < 100000; i++)
        rcgc_decref(n);
    CHECK_EQ(destroyed - before, 0);
    rcgc_decref(n);
    CHECK_EQ(destroyed - before, 1);
}

/* refcount.md R10: the owner's 16-bit count moves half of itself to the
 * shared count each time it would wrap, and keeps the object owned (no
 * merge); a non-owner's decrements then consume the moved references,
 * and past them queue, as any non-owner's; the object dies at exactly the
 * last of 3 * 65536 + 1 references. */
static node *spilled;

static void *drop_many(void *arg)
{
    rcgc_thread_attach();
    for (long i = 0; i < (long)(intptr_t)arg; i++)
        rcgc_decref(spilled);
    rcgc_thread_detach();
    return NULL;
}

static void test_local_spill(void)
{
    const long refs = 3L * 65536, by_other = 100000;
    long before = destroyed;
    rcgc_stats s0 = {.size = sizeof s0}, s1 = {.size = sizeof s1};
    spilled = node_new(7);
    rcgc_get_stats(&s0);
    for (long i = 0; i < refs; i++)
        rcgc_incref(spilled);
    rcgc_get_stats(&s1);
    CHECK_EQ(s1.merges, s0.merges); /* still owned */
    CHECK(!rcgc_is_immortal(spilled));
    pthread_t t;
    pthread_create(&t, NULL, drop_many, (void *)(intptr_t)by_other);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    for (long i = 0; i < refs - by_other; i++)
        rcgc_decref(spilled);
    rcgc_safepoint(); /* the queue entries, if any, merged */
    CHECK_EQ(destroyed - before, 0);
    CHECK(spilled->id == 7);
    rcgc_decref(spilled);
    rcgc_safepoint();
    CHECK_EQ(destroyed - before, 1);
}

/* R10: a shared count at the high mark (2^27 references; set here in
 * the header, as counting that far would take seconds) makes the next
 * non-owner increment immortalize the object, tracked or not, so the
 * 32-bit word never wraps. */
static node *high[2];

static void *incref_high(void *arg)
{
    (void)arg;
    rcgc_thread_attach();
    for (int i = 0; i < 2; i++)
        rcgc_incref(high[i]);
    rcgc_thread_detach();
    return NULL;
}

static void test_shared_high(void)
{
    long before = destroyed;
    high[0] = node_new(8);
    high[1] = rcgc_alloc(&leaf, sizeof(node));
    for (int i = 0; i < 2; i++) {
        /* Relaxed: nothing else touches the objects yet. */
        __atomic_store_n(&rcgc__hdr(high[i])->shared, RCGC__SHARED_HIGH, __ATOMIC_RELAXED);
        CHECK(!rcgc_is_immortal(high[i]));
    }
    pthread_t t;
    pthread_create(&t, NULL, incref_high, NULL);
    rcgc_blocking_begin();
    pthread_join(t, NULL);
    rcgc_blocking_end();
    for (int i = 0; i < 2; i++) {
        CHECK(rcgc_is_immortal(high[i]));
        rcgc_decref(high[i]);
    }
    CHECK_EQ(destroyed - before, 0);
}

/* objects.md O2: the header holds a type's id in the library's type
 * table. Objects of 300 distinct descriptors, allocated in rounds that
 * overflow the heap's 16-entry type cache, each give its own descriptor
 * back, and every one dies exactly once. */
static void test_many_types(void)
{
    enum { TYPES = 300, ROUNDS = 4 };
    static rcgc_type types[TYPES];
    static char names[TYPES][8];
    static void *objs[ROUNDS][TYPES];
    for (int i = 0; i < TYPES; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        types[i] = (rcgc_type){names[i], i % 2 ? node_traverse : NULL, NULL, node_destroy};
    }
    long before = destroyed;
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < TYPES; i++)
            objs[r][i] = rcgc_alloc(&types[i], sizeof(node));
    int right = 0;
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < TYPES; i++)
            right += objs[r][i] != NULL && rcgc_type_of(objs[r][i]) == &types[i] &&
                     rcgc_is_tracked(objs[r][i]) == (i % 2);
    CHECK_EQ(right, ROUNDS * TYPES);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < TYPES; i++)
            rcgc_decref(objs[r][i]);
    CHECK_EQ(destroyed - before, ROUNDS * TYPES);
}

static void test_leaf_and_payload(void)
{
    long before = destroyed;
    char *p = rcgc_alloc(&leaf, 1000);
    CHECK(p != NULL);
    int zero = 1;
    for (int i = 0; i < 1000; i++)
        zero &= p[i] == 0;
    CHECK(zero);
    memset(p, 0xff, 1000);
    rcgc_decref(p);
    CHECK_EQ(destroyed - before, 1);
}

int main(void)
{
    test_init();
    test_alloc_basics();
    test_slots_released();
    test_store_same_value();
    test_long_chain();
    test_finalize_once();
    test_resurrection();
    test_immortal();
    test_many_refs();
    test_local_spill();
    test_shared_high();
    test_many_types();
    test_leaf_and_payload();
    CHECK_EQ(rcgc_collect(2), 0);
    rcgc_shutdown();
    return check_done();
}

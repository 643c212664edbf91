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
    test_leaf_and_payload();
    CHECK_EQ(rcgc_collect(2), 0);
    rcgc_shutdown();
    return check_done();
}

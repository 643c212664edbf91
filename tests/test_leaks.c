/* debug_leaks: garbage cycles are kept, reported by type name, counted,
 * never freed; objects dying by count still die. */
#include "common.h"

int main(void)
{
    rcgc_config c;
    rcgc_config_init(&c);
    c.debug_leaks = 1;
    if (rcgc_init(&c) != 0 || rcgc_thread_attach() != 0)
        return 1;
    node *a = node_new(1), *b = node_new(2);
    rcgc_store(a, &a->a, b);
    rcgc_store(b, &b->a, a);
    rcgc_decref(b);
    rcgc_decref(a);
    rcgc_decref(node_new(3)); /* dies by count: not a leak */
    CHECK_EQ(destroyed, 1);
    rcgc_collect(0);  /* young: found, kept */
    CHECK_EQ(destroyed, 1);
    CHECK_EQ(rcgc_get_leaked(), 2);
    node *c1 = node_new(4);
    rcgc_store(c1, &c1->a, c1);
    rcgc_collect(0);  /* promoted: live */
    rcgc_decref(c1);
    rcgc_collect(2);  /* old: found, kept */
    CHECK_EQ(destroyed, 1);
    CHECK_EQ(rcgc_get_leaked(), 3);
    CHECK_EQ(rcgc_get_count(3), 3); /* kept in the permanent generation */
    rcgc_collect(2);  /* never reported twice */
    CHECK_EQ(rcgc_get_leaked(), 3);
    rcgc_shutdown();
    return check_done();
}

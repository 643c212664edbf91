/* test_misuse.c: death tests for the misuse diagnostics (objects.md, O8).
 *
 * Each case runs in a child process of its own (this parent never
 * initialises rcgc, so every fork is of a single-threaded process): the
 * child sets rcgc up, commits one misuse, and must die by SIGABRT with a
 * message on stderr naming the call and the object's type, read back here
 * through a pipe. Cases that must not abort (a double attach reports
 * EBUSY; checks off reports EPERM) exit 0 with nothing on stderr. Cases of
 * a level the build did not compile in (meson option `checks`) are
 * skipped, as are the dead-object cases under AddressSanitizer and
 * ThreadSanitizer, which report the use after free themselves before
 * rcgc's check can run.
 */
#include "child.h"
#include "common.h"
#include "../src/internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

/* Sanitizer builds report a use after free themselves, before rcgc's
 * dead-object check runs. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

/* ------------------------------------------------------------------ */
/* Running a case in a child                                           */
/* ------------------------------------------------------------------ */

static void call_case(void *fn, int fd)
{
    (void)fd;
    ((void (*)(void))fn)();
}

static void run_child(void (*fn)(void), child_outcome *o)
{
    child_run(call_case, (void *)fn, NULL, 0, o);
}

/* The child died by SIGABRT and its stderr holds every one of `want`
 * (NULL-terminated). */
static void expect_abort(const char *name, void (*fn)(void), const char *const *want)
{
    child_outcome o;
    run_child(fn, &o);
    printf("# %s: %s", name, o.err[0] ? o.err : "(nothing on stderr)\n");
    CHECK(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT);
    for (int i = 0; want[i] != NULL; i++)
        if (!CHECK(strstr(o.err, want[i]) != NULL))
            printf("#   missing: %s\n", want[i]);
}

/* The child exited 0 and wrote nothing on stderr. */
static void expect_clean(const char *name, void (*fn)(void))
{
    child_outcome o;
    run_child(fn, &o);
    printf("# %s: exit status %d, stderr: %s\n", name,
           WIFEXITED(o.status) ? WEXITSTATUS(o.status) : -1, o.err);
    CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
    CHECK_EQ(strlen(o.err), 0);
}

static void skip(const char *name, const char *why)
{
    check_count++;
    printf("ok %d - %s # SKIP %s\n", check_count, name, why);
}

/* ------------------------------------------------------------------ */
/* Child set-up                                                        */
/* ------------------------------------------------------------------ */

static void child_init(int checks, bool attach)
{
    rcgc_config c;
    rcgc_config_init(&c);
    c.checks = checks;
    if (rcgc_init(&c) != 0 || (attach && rcgc_thread_attach() != 0))
        _exit(100);
}

/* A child whose own checks fail exits with a distinctive status, which the
 * parent's SIGABRT check then reports. */
static void child_require(bool ok)
{
    if (!ok)
        _exit(101);
}

static void *run_on_thread(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    void *ret = NULL;
    if (pthread_create(&t, NULL, fn, arg) != 0 || pthread_join(t, &ret) != 0)
        _exit(102);
    return ret;
}

static void *attached_decref(void *obj)
{
    if (rcgc_thread_attach() != 0)
        _exit(103);
    rcgc_decref(obj);
    rcgc_thread_detach();
    return NULL;
}

static void *attached_decref_twice(void *obj)
{
    if (rcgc_thread_attach() != 0)
        _exit(103);
    rcgc_decref(obj);
    rcgc_decref(obj);
    rcgc_thread_detach();
    return NULL;
}

static void *unattached_incref(void *obj)
{
    rcgc_incref(obj);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* The cases                                                           */
/* ------------------------------------------------------------------ */

/* Owner path: another thread dropped a reference the owner still counted
 * on; the owner's last decrement then finds the merged count below zero. */
static void case_below_zero_owner(void)
{
    child_init(1, true);
    node *x = node_new(1);
    run_on_thread(attached_decref, x); /* queued to us: shared -1 */
    rcgc_decref(x);                    /* local 1 -> 0: merge finds -1 */
}

/* Non-owner path: two decrements by another thread against one owner
 * reference; the merge of the queued counts finds -1. */
static void case_below_zero_nonowner(void)
{
    child_init(1, true);
    node *x = node_new(2);
    run_on_thread(attached_decref_twice, x);
    rcgc_safepoint(); /* merges the queue */
}

static void case_dead_incref(void)
{
    child_init(1, true);
    node *x = node_new(3);
    rcgc_decref(x);
    rcgc_incref(x);
}

static void case_dead_type_of(void)
{
    child_init(1, true);
    node *x = node_new(4);
    rcgc_decref(x);
    (void)rcgc_type_of(x);
}

/* Objects that never hold references: freed at once when they die (a
 * tracked old object's memory waits for the collector, O9's neighbour). */
static const rcgc_type leaf_type = {"leaf", NULL, NULL, NULL};

/* A merged object (owner 0) whose last reference this thread dropped on
 * the non-owner path: the next decrement finds it dead. */
static void case_dead_nonowner(void)
{
    child_init(1, true);
    void *x = rcgc_alloc(&leaf_type, 16);
    rcgc_incref(x);
    run_on_thread(attached_decref, x); /* queued: shared -1 */
    rcgc_safepoint();                  /* merged: local 2 - 1, owner 0 */
    rcgc_decref(x);                    /* non-owner path: count 0, freed */
    rcgc_decref(x);                    /* non-owner path again: dead */
}

static _Alignas(16) long not_an_object[8];

static void case_foreign_incref(void)
{
    child_init(1, true);
    rcgc_incref(&not_an_object[4]);
}

static void case_foreign_store(void)
{
    child_init(1, true);
    node *x = node_new(6);
    rcgc_store(x, &x->a, &not_an_object[4]);
}

static void case_misaligned_decref(void)
{
    child_init(1, true);
    node *x = node_new(7);
    rcgc_decref((char *)x + 8);
}

static void case_unattached_alloc(void)
{
    child_init(1, false);
    (void)node_new(8);
}

static void case_unattached_incref(void)
{
    child_init(1, true);
    node *x = node_new(9);
    run_on_thread(unattached_incref, x);
}

static void case_blocking_end_alone(void)
{
    child_init(1, true);
    rcgc_blocking_end();
}

static void case_blocking_twice(void)
{
    child_init(1, true);
    rcgc_blocking_begin();
    rcgc_blocking_begin();
}

static void case_alloc_in_blocking(void)
{
    child_init(1, true);
    rcgc_blocking_begin();
    (void)node_new(10);
}

/* Not a death: the contract reports a double attach with EBUSY at every
 * level, and the thread stays attached. */
static void case_double_attach(void)
{
    child_init(1, true);
    child_require(rcgc_thread_attach() == EBUSY);
    child_require(rcgc_thread_is_attached() == 1);
    node *x = node_new(11);
    child_require(x != NULL);
    rcgc_decref(x);
    rcgc_thread_detach();
    child_require(rcgc_thread_is_attached() == 0);
    rcgc_shutdown();
}

/* Not a death: with checks at 0 the unattached caller gets NULL + EPERM. */
static void case_checks_off(void)
{
    child_init(0, false);
    errno = 0;
    child_require(node_new(12) == NULL && errno == EPERM);
    rcgc_shutdown();
}

/* The header of an object, for the cases that corrupt one on purpose. The
 * empty asm hides the pointer's origin from the compiler, which would
 * otherwise warn that the header lies outside the payload it knows of. */
static rcgc__header *header_of(void *obj)
{
    uintptr_t p = (uintptr_t)obj;
    __asm__("" : "+r"(p));
    return (rcgc__header *)(p - sizeof(rcgc__header));
}

/* Internal level: a young object whose index was corrupted is caught
 * when it dies: here an index of the (empty) young table, where both
 * objects are in the heap's window (cycles.md C15) or the table. */
static void case_internal_young(void)
{
    child_init(2, true);
    node *x = node_new(13), *y = node_new(14);
    header_of(y)->gc_index = header_of(x)->gc_index < 0x80000000u ? header_of(x)->gc_index + 7 : 0;
    rcgc_decref(y);
}

/* rcgc_verify_heap (any level, callable from tests): exact counts of what
 * it checked, and a corrupted count caught. */
static void case_verify_counts(void)
{
    child_init(1, true);
    rcgc_disable();
    node *objs[20];
    for (int i = 0; i < 20; i++)
        objs[i] = node_new(i);
    child_require(rcgc_verify_heap() == 20);
    /* Another thread's decrement of three objects we hold twice: three
     * merge-queue entries (one per object), checked besides the 20. */
    for (int i = 0; i < 3; i++)
        rcgc_incref(objs[i]);
    for (int i = 0; i < 3; i++)
        run_on_thread(attached_decref, objs[i]);
    child_require(rcgc_verify_heap() == 23);
    /* Merged (local 2 - 1): they leave the young generation (C1). */
    rcgc_safepoint();
    child_require(rcgc_verify_heap() == 17);
    for (int i = 0; i < 20; i++)
        rcgc_decref(objs[i]);
    child_require(rcgc_verify_heap() == 0);
    rcgc_thread_detach();
    rcgc_shutdown();
}

static void case_verify_corrupt(void)
{
    child_init(1, true);
    rcgc_disable();
    node *x = node_new(15);
    (void)node_new(16);
    /* The owner word's count to 0, its owner id kept. */
    __atomic_store_n(&header_of(x)->ol, __atomic_load_n(&header_of(x)->ol, __ATOMIC_RELAXED) & 0xFFFFu,
                     __ATOMIC_RELAXED);
    rcgc_verify_heap();
}

int main(void)
{
    const bool api = RCGC_CHECKS_MAX >= 1, internal = RCGC_CHECKS_MAX >= 2;
    struct {
        const char *name;
        void (*fn)(void);
        bool needs_api, dead;
        const char *want[4];
    } cases[] = {
        {"decref below zero, owner", case_below_zero_owner, true, false,
         {"rcgc: fatal: rcgc_decref(", ", type node): reference count below zero"}},
        {"decref below zero, non-owner", case_below_zero_nonowner, true, false,
         {"rcgc: fatal: rcgc_decref(", ", type node): reference count below zero"}},
        {"incref of a dead object", case_dead_incref, true, true,
         {"rcgc: fatal: rcgc_incref(", ", type node): use of a dead object"}},
        {"type_of a dead object", case_dead_type_of, true, true,
         {"rcgc: fatal: rcgc_type_of(", ", type node): use of a dead object"}},
        {"non-owner decref of a dead object", case_dead_nonowner, true, true,
         {"rcgc: fatal: rcgc_decref(", ", type leaf): use of a dead object"}},
        {"incref of a pointer rcgc never made", case_foreign_incref, true, false,
         {"rcgc: fatal: rcgc_incref(", ", type ?): not an object allocated by rcgc (bad header)"}},
        {"store of a pointer rcgc never made", case_foreign_store, true, false,
         {"rcgc: fatal: rcgc_incref(", ", type ?): not an object allocated by rcgc"}},
        {"decref of a misaligned pointer", case_misaligned_decref, true, false,
         {"rcgc: fatal: rcgc_decref(", "not an object allocated by rcgc (misaligned pointer)"}},
        {"alloc from an unattached thread", case_unattached_alloc, true, false,
         {"rcgc: fatal: rcgc_alloc(type node): called from a thread that is not attached"}},
        {"incref from an unattached thread", case_unattached_incref, true, false,
         {"rcgc: fatal: rcgc_incref(", ", type node): called from a thread that is not attached"}},
        {"blocking_end without begin", case_blocking_end_alone, false, false,
         {"rcgc: fatal: rcgc_blocking_end: called without rcgc_blocking_begin"}},
        {"blocking_begin twice", case_blocking_twice, false, false,
         {"rcgc: fatal: rcgc_blocking_begin: already in a blocking region"}},
        {"alloc inside a blocking region", case_alloc_in_blocking, true, false,
         {"rcgc: fatal: rcgc_alloc(type node): managed objects touched inside a blocking region"}},
        {"verify_heap finds a zero local count", case_verify_corrupt, false, false,
         {"rcgc: fatal: rcgc_verify_heap(", ", type node): young object of heap ",
          "local 0"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].needs_api && !api)
            skip(cases[i].name, "api checks not compiled in (-Dchecks=none)");
#ifdef SANITIZER_BUILD
        else if (cases[i].dead)
            skip(cases[i].name, "the sanitizer reports the use after free first");
#endif
        else
            expect_abort(cases[i].name, cases[i].fn, cases[i].want);
    }
    if (internal)
        expect_abort("internal: corrupt young table", case_internal_young,
                     (const char *const[]){"rcgc: fatal: rcgc_decref(",
                                           ", type node): internal: young table of heap ",
                                           NULL});
    else
        skip("internal: corrupt young table", "internal checks not compiled in");
    expect_clean("double attach reports EBUSY", case_double_attach);
    expect_clean("checks off: EPERM", case_checks_off);
    expect_clean("verify_heap counts", case_verify_counts);
    return check_done();
}

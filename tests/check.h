/* check.h: a tiny TAP producer for rcgc's tests.
 *
 * Each test program prints a TAP plan and one line per check, so meson
 * (protocol: 'tap') counts every assertion. A failed check prints what was
 * expected and what was seen; the program's exit code is the number of
 * failures (capped). Checks are expressions, never statements.
 */
#ifndef RCGC_TEST_CHECK_H
#define RCGC_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int check_count, check_failed;

static inline int check_true(int ok, const char *expr, const char *file, int line)
{
    check_count++;
    if (!ok)
        check_failed++;
    printf("%s %d - %s (%s:%d)\n", ok ? "ok" : "not ok", check_count, expr, file, line);
    fflush(stdout);
    return ok;
}

static inline int check_eq_u64(uint64_t got, uint64_t want, const char *expr,
                               const char *file, int line)
{
    int ok = check_true(got == want, expr, file, line);
    if (!ok)
        printf("#   got %" PRIu64 ", want %" PRIu64 "\n", got, want);
    return ok;
}

#define CHECK(e) check_true(!!(e), #e, __FILE__, __LINE__)
#define CHECK_EQ(got, want) \
    check_eq_u64((uint64_t)(got), (uint64_t)(want), #got " == " #want, __FILE__, __LINE__)

static inline int check_done(void)
{
    printf("1..%d\n", check_count);
    return check_failed > 255 ? 255 : check_failed;
}

#endif

/* bench_util.h: small helpers shared by the C benchmark programs in bench/.
 *
 * Purpose: one clock, one argument parser and one result format for every
 * macro workload, so that bench/run.py can read them all the same way.
 * Each program prints a human-readable report and, for every figure the
 * runner uses, one machine line:
 *
 *   @ <name> <value>
 *
 * (bench_result). Names are lower-case words joined by '_'; values are
 * plain decimal numbers in the unit the name ends with (_s, _ms, _ns,
 * _per_s, or a count). Everything here is static inline: include it from
 * one .c file per executable; it has no state of its own.
 */
#ifndef RCGC_BENCH_UTIL_H
#define RCGC_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double bench_seconds_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0) / 1e9;
}

/* argv[i] as a positive long, or `fallback` when absent or malformed. */
static inline long bench_arg_long(int argc, char **argv, int i, long fallback)
{
    if (i >= argc)
        return fallback;
    char *end;
    long v = strtol(argv[i], &end, 10);
    return (argv[i][0] != '\0' && *end == '\0' && v > 0) ? v : fallback;
}

/* argv[i] as a positive double, or `fallback`. */
static inline double bench_arg_double(int argc, char **argv, int i, double fallback)
{
    if (i >= argc)
        return fallback;
    char *end;
    double v = strtod(argv[i], &end);
    return (argv[i][0] != '\0' && *end == '\0' && v > 0) ? v : fallback;
}

/* One machine-readable result line (see the header comment). */
static inline void bench_result(const char *name, double value)
{
    printf("@ %s %.9g\n", name, value);
    fflush(stdout);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n-1] (sorts v); 0 for n == 0. */
static inline double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Exits with a message: for failures of the benchmark itself (an API call
 * that failed, a check sum that does not match), never for a slow result. */
static inline _Noreturn void bench_die(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s\n", prog, what);
    exit(1);
}

#endif /* RCGC_BENCH_UTIL_H */

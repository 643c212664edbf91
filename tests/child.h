/* child.h: runs a piece of a test in a child process of its own.
 *
 * For tests whose cases must die (misuse aborts, test_misuse.c) or must
 * start from a fresh library (the fault-injection sweep, test_fault.c):
 * the child runs fn(arg, fd) with its stderr sent through a pipe, and may
 * write a result to fd through another; the parent collects both and the
 * child's wait status. The parent must not have initialised rcgc (so that
 * every fork is of a single-threaded process). A child that hangs is
 * killed by SIGALRM after 60 seconds, which its status then shows.
 */
#ifndef RCGC_TEST_CHILD_H
#define RCGC_TEST_CHILD_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct child_outcome {
    int status;       /* from waitpid */
    size_t got;       /* bytes of result read */
    char err[4096];   /* the child's stderr, NUL-terminated */
} child_outcome;

static inline void child_pipe(int fd[2])
{
    if (pipe(fd) != 0) {
        printf("Bail out! pipe\n");
        exit(1);
    }
}

/* Reads fd until end of file into buf (at most size bytes); returns the
 * number read. */
static inline size_t child_read_all(int fd, void *buf, size_t size)
{
    size_t n = 0;
    ssize_t r;
    while (n < size && (r = read(fd, (char *)buf + n, size - n)) > 0)
        n += (size_t)r;
    return n;
}

static inline void child_run(void (*fn)(void *arg, int fd), void *arg, void *result,
                             size_t size, child_outcome *o)
{
    int res[2], err[2];
    child_pipe(res);
    child_pipe(err);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("Bail out! fork\n");
        exit(1);
    }
    if (pid == 0) {
        close(res[0]);
        close(err[0]);
        dup2(err[1], 2);
        close(err[1]);
        alarm(60);
        fn(arg, res[1]);
        _exit(0);
    }
    close(res[1]);
    close(err[1]);
    o->got = child_read_all(res[0], result, size);
    size_t n = child_read_all(err[0], o->err, sizeof o->err - 1);
    o->err[n] = '\0';
    close(res[0]);
    close(err[0]);
    waitpid(pid, &o->status, 0);
}

#endif

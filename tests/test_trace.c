/* test_trace.c: RCGC_TRACE lines, the Chrome trace file and the JSON
 * statistics (src/trace.c).
 *
 * The gctrace lines go to stderr, which the test points at a temporary
 * file: exactly one line per collection counted by rcgc_get_stats. The
 * trace file must be one JSON document (checked by the test's own small
 * scanner: balanced brackets outside strings, the closing "]}") holding the
 * phases of the collections that ran. rcgc_stats_json behaves like
 * snprintf.
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static long count(const char *hay, const char *needle)
{
    long k = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        k++;
    return k;
}

/* Brackets balance outside strings and the document ends with "]}". */
static int json_shape_ok(const char *s)
{
    int depth = 0, in_str = 0;
    for (const char *p = s; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth < 0)
                return 0;
        }
    }
    const char *end = s + strlen(s);
    while (end > s && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    return depth == 0 && !in_str && end - s >= 2 && end[-2] == ']' && end[-1] == '}';
}

static void test_trace(void)
{
    char lines[] = "/tmp/rcgc-trace-lines-XXXXXX", events[] = "/tmp/rcgc-trace-events-XXXXXX";
    int lfd = mkstemp(lines), efd = mkstemp(events);
    close(efd);
    fflush(stderr);
    int saved = dup(2);
    dup2(lfd, 2);

    rcgc_config c;
    rcgc_config_init(&c);
    c.trace = 1;
    c.trace_file = events;
    CHECK_EQ(rcgc_init(&c), 0);
    rcgc_thread_attach();
    for (int i = 0; i < 10; i++)
        rcgc_decref(node_ring2(i, i));
    rcgc_collect(0);
    /* Rings that survive a young collection (generation 1), then become
     * garbage: the full collection's detection and confirming pause find
     * them (garbage still young would be freed by its young collection). */
    void *keep[10];
    for (int i = 0; i < 10; i++)
        keep[i] = node_ring2(i, i);
    rcgc_collect(0);
    for (int i = 0; i < 10; i++)
        rcgc_decref(keep[i]);
    rcgc_collect(2);
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    rcgc_shutdown();

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(lfd);

    uint64_t collections = s.gen[0].collections + s.gen[1].collections + s.gen[2].collections;
    char *l = slurp(lines);
    CHECK(l != NULL);
    CHECK(collections >= 2);
    CHECK_EQ(count(l, "rcgc: gc "), collections);
    CHECK_EQ(count(l, " gen0 "), s.gen[0].collections);
    CHECK_EQ(count(l, " gen2 "), s.gen[2].collections);
    CHECK(strstr(l, "examined") && strstr(l, "pause") && strstr(l, "live"));
    char *e = slurp(events);
    CHECK(e != NULL && json_shape_ok(e));
    CHECK_EQ(count(e, "\"young collection\""), s.gen[0].collections);
    CHECK_EQ(count(e, "\"full collection\""), s.gen[2].collections);
    CHECK(count(e, "\"pause: confirm\"") >= 1);
    CHECK(count(e, "\"detect (concurrent)\"") >= 1);
    CHECK(count(e, "\"thread_name\"") >= 2); /* the mutator and the collector */
    free(l);
    free(e);
    unlink(lines);
    unlink(events);
}

static void test_env(void)
{
    setenv("RCGC_TRACE", "yes", 1);
    CHECK_EQ(rcgc_init(NULL), EINVAL);
    setenv("RCGC_TRACE", "0", 1);
    setenv("RCGC_TRACE_FILE", "/nonexistent-dir/x.json", 1);
    CHECK_EQ(rcgc_init(NULL), ENOENT);
    unsetenv("RCGC_TRACE_FILE");
    unsetenv("RCGC_TRACE");
}

static void test_json(void)
{
    test_init();
    rcgc_decref(node_new(1));
    rcgc_stats s = {.size = sizeof s};
    rcgc_get_stats(&s);
    size_t need = rcgc_stats_json(&s, NULL, 0);
    char *buf = malloc(need + 1);
    CHECK_EQ(rcgc_stats_json(&s, buf, need + 1), need);
    CHECK_EQ(strlen(buf), need);
    CHECK(json_shape_ok(buf)); /* balanced; it ends with the "gen" array */
    CHECK(buf[0] == '{' && buf[need - 1] == '}');
    char want[64];
    snprintf(want, sizeof want, "\"allocated_objects\":%llu", (unsigned long long)s.allocated_objects);
    CHECK(strstr(buf, want) != NULL);
    CHECK(strstr(buf, "\"gen\":[{\"collections\":") != NULL);
    /* Truncated like snprintf: NUL-terminated, same length reported. */
    char small[8];
    CHECK_EQ(rcgc_stats_json(&s, small, sizeof small), need);
    CHECK_EQ(strlen(small), sizeof small - 1);
    CHECK(rcgc_stats_json(NULL, buf, need + 1) > 0); /* fresh statistics */
    free(buf);
    rcgc_shutdown();
}

int main(void)
{
    test_trace();
    test_env();
    test_json();
    return check_done();
}

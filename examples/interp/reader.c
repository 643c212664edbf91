/* reader.c: turns the text of a script into data: integers, strings,
 * symbols, #t/#f and lists (with dotted tails and 'quote). Every pair it
 * makes is constant (program text and literals are never mutated), so the
 * evaluator walks code without locks.
 *
 * Use: void *forms = read_all(text, len); a list of the data, or ERR.
 */
#include "interp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *p, *end;
    int line;
    int depth;
} reader;

enum { MAX_NESTING = 1000 };

/* A growable C array of owned references, used while reading a list. */
typedef struct items {
    void **v;
    size_t n, cap;
} items;

static int items_push(items *it, void *x)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        void **v = realloc(it->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        it->v = v;
        it->cap = cap;
    }
    it->v[it->n++] = x;
    return 0;
}

static void items_drop(items *it)
{
    for (size_t i = 0; i < it->n; i++)
        rcgc_decref(it->v[i]);
    free(it->v);
}

/* Builds the constant list it[0..n) . tail and releases the items. */
static void *items_to_list(items *it, void *tail)
{
    void *list = tail; /* owned */
    for (size_t i = it->n; i-- > 0;) {
        void *p = cons_constant(it->v[i], list);
        rcgc_decref(list);
        rcgc_decref(it->v[i]);
        list = p;
    }
    free(it->v);
    return list;
}

static void skip_space(reader *r)
{
    while (r->p < r->end) {
        char c = *r->p;
        if (c == ';') {
            while (r->p < r->end && *r->p != '\n')
                r->p++;
        } else if (isspace((unsigned char)c)) {
            if (c == '\n')
                r->line++;
            r->p++;
        } else {
            return;
        }
    }
}

static int is_delimiter(char c)
{
    return isspace((unsigned char)c) || c == '(' || c == ')' || c == '"' || c == ';' ||
           c == '\'';
}

static void *read_datum(reader *r);

static void *read_list(reader *r)
{
    int line = r->line;
    items it = {NULL, 0, 0};
    void *tail = NULL;
    for (;;) {
        skip_space(r);
        if (r->p >= r->end) {
            items_drop(&it);
            return fail("line %d: unterminated list", line);
        }
        if (*r->p == ')') {
            r->p++;
            break;
        }
        if (*r->p == '.' && r->p + 1 < r->end && is_delimiter(r->p[1]) && it.n > 0) {
            r->p++;
            tail = read_datum(r);
            skip_space(r);
            if (tail == ERR || r->p >= r->end || *r->p != ')') {
                rcgc_decref(tail);
                items_drop(&it);
                return tail == ERR ? ERR : fail("line %d: bad dotted list", r->line);
            }
            r->p++;
            break;
        }
        void *x = read_datum(r);
        if (x == ERR) {
            items_drop(&it);
            return ERR;
        }
        if (items_push(&it, x) != 0) {
            rcgc_decref(x);
            items_drop(&it);
            return fail("out of memory reading a list");
        }
    }
    void *list = items_to_list(&it, tail);
    rcgc_decref(tail);
    return list;
}

static void *read_string(reader *r)
{
    sbuf b = {NULL, 0, 0};
    int line = r->line;
    r->p++; /* the opening quote */
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c == '\n')
            r->line++;
        if (c == '\\' && r->p < r->end) {
            c = *r->p++;
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
        }
        sb_put(&b, &c, 1);
    }
    if (r->p >= r->end) {
        sb_free(&b);
        return fail("line %d: unterminated string", line);
    }
    r->p++;
    void *s = make_string(b.p ? b.p : "", b.len);
    sb_free(&b);
    return s;
}

static void *read_atom(reader *r)
{
    const char *start = r->p;
    while (r->p < r->end && !is_delimiter(*r->p))
        r->p++;
    size_t len = (size_t)(r->p - start);
    if (len == 2 && start[0] == '#' && (start[1] == 't' || start[1] == 'f'))
        return make_bool(start[1] == 't');
    size_t i = (start[0] == '-' || start[0] == '+') && len > 1 ? 1 : 0;
    size_t digits = i;
    while (digits < len && isdigit((unsigned char)start[digits]))
        digits++;
    if (digits == len && i < len) {
        int64_t v = 0;
        for (size_t k = i; k < len; k++) {
            if (__builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, start[k] - '0', &v))
                return fail("line %d: integer literal too large", r->line);
        }
        return make_int(start[0] == '-' ? -v : v);
    }
    return intern(start, len);
}

static void *read_datum(reader *r)
{
    skip_space(r);
    if (r->p >= r->end)
        return fail("line %d: unexpected end of text", r->line);
    if (r->depth >= MAX_NESTING)
        return fail("line %d: nesting too deep", r->line);
    char c = *r->p;
    void *x;
    r->depth++;
    if (c == '(') {
        r->p++;
        x = read_list(r);
    } else if (c == ')') {
        x = fail("line %d: unexpected ')'", r->line);
    } else if (c == '"') {
        x = read_string(r);
    } else if (c == '\'') {
        r->p++;
        void *q = read_datum(r);
        if (q == ERR) {
            x = ERR;
        } else {
            void *tail = cons_constant(q, NULL);
            x = cons_constant(intern("quote", 5), tail);
            rcgc_decref(tail);
            rcgc_decref(q);
        }
    } else {
        x = read_atom(r);
    }
    r->depth--;
    return x;
}

void *read_all(const char *text, size_t len)
{
    reader r = {text, text + len, 1, 0};
    items it = {NULL, 0, 0};
    for (;;) {
        skip_space(&r);
        if (r.p >= r.end)
            break;
        void *x = read_datum(&r);
        if (x == ERR || items_push(&it, x) != 0) {
            if (x != ERR)
                rcgc_decref(x);
            items_drop(&it);
            return x == ERR ? ERR : fail("out of memory reading the script");
        }
        rcgc_safepoint();
    }
    return items_to_list(&it, NULL);
}

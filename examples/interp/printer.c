/* printer.c: text buffers, the external representation of values (write
 * and display) and structural equality (equal?).
 *
 * Use: sbuf b = {0}; print_value(&b, v, 1); ... b.p ...; sb_free(&b).
 * Lists are walked through owned references taken under the slot locks
 * (another thread may set-cdr! them meanwhile); a cyclic or huge structure
 * is cut short with "..." rather than followed forever.
 */
#include "interp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            fprintf(stderr, "rcgc-interp: out of memory (text buffer)\n");
            exit(3);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void sb_free(sbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

enum { PRINT_DEPTH = 64, PRINT_ITEMS = 1000 };

static void print_rec(sbuf *b, void *v, int write, int depth);

static void print_string(sbuf *b, const str_obj *s, int write)
{
    if (!write) {
        sb_put(b, s->s, s->len);
        return;
    }
    sb_put(b, "\"", 1);
    for (size_t i = 0; i < s->len; i++) {
        char c = s->s[i];
        if (c == '"' || c == '\\')
            sb_put(b, "\\", 1);
        if (c == '\n')
            sb_put(b, "\\n", 2);
        else
            sb_put(b, &c, 1);
    }
    sb_put(b, "\"", 1);
}

static void print_list(sbuf *b, void *p, int write, int depth)
{
    sb_put(b, "(", 1);
    rcgc_incref(p);
    int n = 0;
    while (is_pair(p)) {
        if (n > 0)
            sb_put(b, " ", 1);
        if (n++ == PRINT_ITEMS) {
            sb_put(b, "...", 3);
            rcgc_decref(p);
            p = NULL;
            break;
        }
        void *car = pair_car(p);
        print_rec(b, car, write, depth + 1);
        rcgc_decref(car);
        void *next = pair_cdr(p);
        rcgc_decref(p);
        p = next;
    }
    if (p != NULL) {
        sb_put(b, " . ", 3);
        print_rec(b, p, write, depth + 1);
        rcgc_decref(p);
    }
    sb_put(b, ")", 1);
}

static void print_vector(sbuf *b, vec_obj *v, int write, int depth)
{
    sb_put(b, "#(", 2);
    for (size_t i = 0; i < v->n; i++) {
        if (i > 0)
            sb_put(b, " ", 1);
        if (i == PRINT_ITEMS) {
            sb_put(b, "...", 3);
            break;
        }
        void *x = ref_get(v, &v->items[i]);
        print_rec(b, x, write, depth + 1);
        rcgc_decref(x);
    }
    sb_put(b, ")", 1);
}

static void print_rec(sbuf *b, void *v, int write, int depth)
{
    if (depth > PRINT_DEPTH) {
        sb_put(b, "...", 3);
        return;
    }
    if (v == NULL) {
        sb_put(b, "()", 2);
        return;
    }
    switch (tag_of(v)) {
    case T_SINGLETON:
        sb_printf(b, "%s", v == K_TRUE ? "#t" : v == K_FALSE ? "#f" : v == K_VOID ? "#<void>" : "#<error>");
        break;
    case T_INT:
        sb_printf(b, "%" PRId64, ((int_obj *)v)->v);
        break;
    case T_STRING:
        print_string(b, v, write);
        break;
    case T_SYMBOL:
        sb_put(b, ((sym_obj *)v)->name, ((sym_obj *)v)->len);
        break;
    case T_PAIR:
        print_list(b, v, write, depth);
        break;
    case T_VECTOR:
        print_vector(b, v, write, depth);
        break;
    case T_CLOSURE: {
        sym_obj *name = rcgc_load(&((closure_obj *)v)->name); /* immutable */
        sb_printf(b, "#<procedure %s>", name ? name->name : "anonymous");
        break;
    }
    case T_PRIM:
        sb_printf(b, "#<primitive %s>", ((prim_obj *)v)->name);
        break;
    case T_DICT: {
        dict_obj *d = v;
        slot_lock(d);
        size_t n = d->count;
        slot_unlock(d);
        sb_printf(b, "#<dict %zu>", n);
        break;
    }
    case T_RESOURCE: {
        str_obj *name = rcgc_load(&((resource_obj *)v)->name); /* immutable */
        sb_printf(b, "#<resource %s>", name->s);
        break;
    }
    default:
        sb_printf(b, "#<%s>", tag_name(tag_of(v)));
        break;
    }
}

void print_value(sbuf *b, void *v, int write)
{
    print_rec(b, v, write, 0);
}

enum { EQUAL_DEPTH = 1000, EQUAL_ITEMS = 1000000 };

static int equal_rec(void *a, void *b, int depth, long *budget);

/* Compares two lists element by element, iterating along the cdrs. */
static int equal_lists(void *a, void *b, int depth, long *budget)
{
    rcgc_incref(a);
    rcgc_incref(b);
    int same = 1;
    while (same && is_pair(a) && is_pair(b) && --*budget >= 0) {
        void *ca = pair_car(a), *cb = pair_car(b);
        same = equal_rec(ca, cb, depth + 1, budget);
        rcgc_decref(ca);
        rcgc_decref(cb);
        void *na = pair_cdr(a), *nb = pair_cdr(b);
        rcgc_decref(a);
        rcgc_decref(b);
        a = na;
        b = nb;
    }
    same = same && *budget >= 0 && (a == b || (!is_pair(a) && !is_pair(b) &&
                                               equal_rec(a, b, depth + 1, budget)));
    rcgc_decref(a);
    rcgc_decref(b);
    return same;
}

static int equal_rec(void *a, void *b, int depth, long *budget)
{
    if (a == b)
        return 1;
    if (a == NULL || b == NULL || tag_of(a) != tag_of(b) || depth > EQUAL_DEPTH ||
        --*budget < 0)
        return 0;
    switch (tag_of(a)) {
    case T_INT:
        return ((int_obj *)a)->v == ((int_obj *)b)->v;
    case T_STRING: {
        str_obj *x = a, *y = b;
        return x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
    }
    case T_PAIR:
        return equal_lists(a, b, depth, budget);
    case T_VECTOR: {
        vec_obj *x = a, *y = b;
        if (x->n != y->n)
            return 0;
        for (size_t i = 0; i < x->n; i++) {
            void *p = ref_get(x, &x->items[i]), *q = ref_get(y, &y->items[i]);
            int same = equal_rec(p, q, depth + 1, budget);
            rcgc_decref(p);
            rcgc_decref(q);
            if (!same)
                return 0;
        }
        return 1;
    }
    default:
        return 0;
    }
}

int values_equal(void *a, void *b)
{
    long budget = EQUAL_ITEMS;
    return equal_rec(a, b, 0, &budget);
}

/* builtins.c: the primitive procedures: numbers, predicates, lists,
 * strings, vectors, dictionaries, output, errors and (collect).
 *
 * Use: builtins_init() once at start-up (after values_init and eval_init)
 * binds every primitive to its name. A primitive gets its arguments
 * borrowed and returns an owned value or ERR. Every slot another thread
 * may store into is read through pair_car/pair_cdr/ref_get and written
 * through ref_set (value.c); dictionaries take their lock for the probe and
 * never allocate while holding it.
 */
#include "interp.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static int get_int(void *v, const char *who, int64_t *out)
{
    if (!has_tag(v, T_INT)) {
        fail("%s: not an integer", who);
        return -1;
    }
    *out = ((int_obj *)v)->v;
    return 0;
}

/* Builds a list front to back: the pairs are ours until `head` is handed
 * out, so their cdrs are written without locks. */
typedef struct list_builder {
    void *head;       /* owned */
    pair_obj *last;   /* borrowed: held by the list */
} list_builder;

static void lb_add(list_builder *lb, void *v)
{
    pair_obj *p = cons(v, NULL);
    if (lb->head == NULL) {
        lb->head = p;
    } else {
        rcgc_store(lb->last, &lb->last->cdr, p);
        rcgc_decref(p);
    }
    lb->last = p;
}

/* Steps an owned list cursor to the next pair; returns the car (owned). */
static void *next_item(void **cursor)
{
    void *car = pair_car(*cursor);
    void *next = pair_cdr(*cursor);
    rcgc_decref(*cursor);
    *cursor = next;
    return car;
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */
/* ------------------------------------------------------------------ */

static void *arith(int argc, void **argv, int op, const char *who)
{
    int64_t acc, v;
    if (argc == 0)
        return make_int(op == '*' ? 1 : 0);
    if (get_int(argv[0], who, &acc) != 0)
        return ERR;
    if (argc == 1 && op == '-')
        return acc == INT64_MIN ? fail("-: integer overflow") : make_int(-acc);
    for (int i = 1; i < argc; i++) {
        if (get_int(argv[i], who, &v) != 0)
            return ERR;
        int over = op == '+' ? __builtin_add_overflow(acc, v, &acc)
                 : op == '-' ? __builtin_sub_overflow(acc, v, &acc)
                             : __builtin_mul_overflow(acc, v, &acc);
        if (over)
            return fail("%s: integer overflow", who);
    }
    return make_int(acc);
}

static void *p_add(int argc, void **argv) { return arith(argc, argv, '+', "+"); }
static void *p_sub(int argc, void **argv) { return arith(argc, argv, '-', "-"); }
static void *p_mul(int argc, void **argv) { return arith(argc, argv, '*', "*"); }

static void *divide(void **argv, int op, const char *who)
{
    int64_t a, b;
    if (get_int(argv[0], who, &a) != 0 || get_int(argv[1], who, &b) != 0)
        return ERR;
    if (b == 0)
        return fail("%s: division by zero", who);
    if (a == INT64_MIN && b == -1)
        return op == 'q' ? fail("%s: integer overflow", who) : make_int(0);
    int64_t q = a / b, r = a % b;
    if (op == 'm' && r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return make_int(op == 'q' ? q : r);
}

static void *p_quotient(int argc, void **argv) { (void)argc; return divide(argv, 'q', "quotient"); }
static void *p_remainder(int argc, void **argv) { (void)argc; return divide(argv, 'r', "remainder"); }
static void *p_modulo(int argc, void **argv) { (void)argc; return divide(argv, 'm', "modulo"); }

/* Chained comparison: (< a b c) is a < b and b < c. */
static void *compare(int argc, void **argv, int op, const char *who)
{
    int64_t a, b;
    if (get_int(argv[0], who, &a) != 0)
        return ERR;
    int ok = 1;
    for (int i = 1; i < argc; i++, a = b) {
        if (get_int(argv[i], who, &b) != 0)
            return ERR;
        ok = ok && (op == '=' ? a == b : op == '<' ? a < b : op == '>' ? a > b
                   : op == 'l' ? a <= b : a >= b);
    }
    return make_bool(ok);
}

static void *p_eq_num(int argc, void **argv) { return compare(argc, argv, '=', "="); }
static void *p_lt(int argc, void **argv) { return compare(argc, argv, '<', "<"); }
static void *p_gt(int argc, void **argv) { return compare(argc, argv, '>', ">"); }
static void *p_le(int argc, void **argv) { return compare(argc, argv, 'l', "<="); }
static void *p_ge(int argc, void **argv) { return compare(argc, argv, 'g', ">="); }

static void *extreme(int argc, void **argv, int want_max, const char *who)
{
    int64_t best, v;
    if (get_int(argv[0], who, &best) != 0)
        return ERR;
    for (int i = 1; i < argc; i++) {
        if (get_int(argv[i], who, &v) != 0)
            return ERR;
        if (want_max ? v > best : v < best)
            best = v;
    }
    return make_int(best);
}

static void *p_min(int argc, void **argv) { return extreme(argc, argv, 0, "min"); }
static void *p_max(int argc, void **argv) { return extreme(argc, argv, 1, "max"); }

static void *p_abs(int argc, void **argv)
{
    (void)argc;
    int64_t v;
    if (get_int(argv[0], "abs", &v) != 0)
        return ERR;
    return v == INT64_MIN ? fail("abs: integer overflow") : make_int(v < 0 ? -v : v);
}

static void *int_test(void *v, int op, const char *who)
{
    int64_t x;
    if (get_int(v, who, &x) != 0)
        return ERR;
    return make_bool(op == 'z' ? x == 0 : op == 'e' ? x % 2 == 0 : x % 2 != 0);
}

static void *p_zero(int argc, void **argv) { (void)argc; return int_test(argv[0], 'z', "zero?"); }
static void *p_even(int argc, void **argv) { (void)argc; return int_test(argv[0], 'e', "even?"); }
static void *p_odd(int argc, void **argv) { (void)argc; return int_test(argv[0], 'o', "odd?"); }

/* ------------------------------------------------------------------ */
/* Predicates and equality                                             */
/* ------------------------------------------------------------------ */

static void *p_null(int argc, void **argv) { (void)argc; return make_bool(argv[0] == NULL); }
static void *p_pairp(int argc, void **argv) { (void)argc; return make_bool(is_pair(argv[0])); }
static void *p_numberp(int argc, void **argv) { (void)argc; return make_bool(has_tag(argv[0], T_INT)); }
static void *p_stringp(int argc, void **argv) { (void)argc; return make_bool(has_tag(argv[0], T_STRING)); }
static void *p_symbolp(int argc, void **argv) { (void)argc; return make_bool(has_tag(argv[0], T_SYMBOL)); }
static void *p_procp(int argc, void **argv) { (void)argc; return make_bool(is_procedure(argv[0])); }
static void *p_vectorp(int argc, void **argv) { (void)argc; return make_bool(has_tag(argv[0], T_VECTOR)); }
static void *p_dictp(int argc, void **argv) { (void)argc; return make_bool(has_tag(argv[0], T_DICT)); }
static void *p_not(int argc, void **argv) { (void)argc; return make_bool(!truthy(argv[0])); }
static void *p_eq(int argc, void **argv) { (void)argc; return make_bool(argv[0] == argv[1]); }

static int eqv(void *a, void *b)
{
    return a == b || (has_tag(a, T_INT) && has_tag(b, T_INT) &&
                      ((int_obj *)a)->v == ((int_obj *)b)->v);
}

static void *p_eqv(int argc, void **argv) { (void)argc; return make_bool(eqv(argv[0], argv[1])); }
static void *p_equal(int argc, void **argv) { (void)argc; return make_bool(values_equal(argv[0], argv[1])); }

/* ------------------------------------------------------------------ */
/* Pairs and lists                                                     */
/* ------------------------------------------------------------------ */

static void *p_cons(int argc, void **argv) { (void)argc; return cons(argv[0], argv[1]); }

static void *p_car(int argc, void **argv)
{
    (void)argc;
    return is_pair(argv[0]) ? pair_car(argv[0]) : fail("car: not a pair");
}

static void *p_cdr(int argc, void **argv)
{
    (void)argc;
    return is_pair(argv[0]) ? pair_cdr(argv[0]) : fail("cdr: not a pair");
}

static void *set_field(void **argv, int car, const char *who)
{
    pair_obj *p = argv[0];
    if (!is_pair(p))
        return fail("%s: not a pair", who);
    if (p->o.flags & PAIR_CONSTANT)
        return fail("%s: cannot modify a literal (quoted) list", who);
    ref_set(p, car ? &p->car : &p->cdr, argv[1]);
    return K_VOID;
}

static void *p_set_car(int argc, void **argv) { (void)argc; return set_field(argv, 1, "set-car!"); }
static void *p_set_cdr(int argc, void **argv) { (void)argc; return set_field(argv, 0, "set-cdr!"); }

static void *p_list(int argc, void **argv)
{
    void *list = NULL;
    for (int i = argc; i-- > 0;) {
        void *p = cons(argv[i], list);
        rcgc_decref(list);
        list = p;
    }
    return list;
}

static void *p_length(int argc, void **argv)
{
    (void)argc;
    void *cur = argv[0];
    rcgc_incref(cur);
    int64_t n = 0;
    while (is_pair(cur)) {
        void *next = pair_cdr(cur);
        rcgc_decref(cur);
        cur = next;
        if (++n % 4096 == 0)
            rcgc_safepoint();
    }
    int proper = cur == NULL;
    rcgc_decref(cur);
    return proper ? make_int(n) : fail("length: not a proper list");
}

static void *p_reverse(int argc, void **argv)
{
    (void)argc;
    void *cur = argv[0], *out = NULL;
    rcgc_incref(cur);
    while (is_pair(cur)) {
        void *x = next_item(&cur);
        void *p = cons(x, out);
        rcgc_decref(x);
        rcgc_decref(out);
        out = p;
    }
    rcgc_decref(cur);
    return out;
}

/* (append l1 ... ln): copies all but the last list, shares the last. */
static void *p_append(int argc, void **argv)
{
    if (argc == 0)
        return NULL;
    list_builder lb = {NULL, NULL};
    for (int i = 0; i < argc - 1; i++) {
        void *cur = argv[i];
        rcgc_incref(cur);
        while (is_pair(cur)) {
            void *x = next_item(&cur);
            lb_add(&lb, x);
            rcgc_decref(x);
        }
        rcgc_decref(cur);
    }
    if (lb.head == NULL) {
        rcgc_incref(argv[argc - 1]);
        return argv[argc - 1];
    }
    rcgc_store(lb.last, &lb.last->cdr, argv[argc - 1]);
    return lb.head;
}

static void *p_list_ref(int argc, void **argv)
{
    (void)argc;
    int64_t k;
    if (get_int(argv[1], "list-ref", &k) != 0)
        return ERR;
    void *cur = argv[0];
    rcgc_incref(cur);
    for (; k > 0 && is_pair(cur); k--) {
        void *next = pair_cdr(cur);
        rcgc_decref(cur);
        cur = next;
    }
    void *r = is_pair(cur) && k == 0 ? pair_car(cur) : fail("list-ref: index out of range");
    rcgc_decref(cur);
    return r;
}

/* map, for-each, filter over one list; fold over one list. */
enum walk { W_MAP, W_FOR_EACH, W_FILTER };

static void *walk_list(void *f, void *list, enum walk how)
{
    list_builder lb = {NULL, NULL};
    void *cur = list;
    rcgc_incref(cur);
    while (is_pair(cur)) {
        void *x = next_item(&cur);
        void *r = apply(f, 1, &x);
        if (r == ERR) {
            rcgc_decref(x);
            rcgc_decref(cur);
            rcgc_decref(lb.head);
            return ERR;
        }
        if (how == W_MAP)
            lb_add(&lb, r);
        else if (how == W_FILTER && truthy(r))
            lb_add(&lb, x);
        rcgc_decref(r);
        rcgc_decref(x);
    }
    rcgc_decref(cur);
    return how == W_FOR_EACH ? K_VOID : lb.head;
}

static void *p_map(int argc, void **argv) { (void)argc; return walk_list(argv[0], argv[1], W_MAP); }
static void *p_for_each(int argc, void **argv) { (void)argc; return walk_list(argv[0], argv[1], W_FOR_EACH); }
static void *p_filter(int argc, void **argv) { (void)argc; return walk_list(argv[0], argv[1], W_FILTER); }

/* (fold f init list): (f (f (f init x1) x2) x3). */
static void *p_fold(int argc, void **argv)
{
    (void)argc;
    void *acc = argv[1], *cur = argv[2];
    rcgc_incref(acc);
    rcgc_incref(cur);
    while (is_pair(cur)) {
        void *args[2] = {acc, next_item(&cur)};
        void *r = apply(argv[0], 2, args);
        rcgc_decref(args[0]);
        rcgc_decref(args[1]);
        if (r == ERR) {
            rcgc_decref(cur);
            return ERR;
        }
        acc = r;
    }
    rcgc_decref(cur);
    return acc;
}

/* (apply f list) */
static void *p_apply(int argc, void **argv)
{
    (void)argc;
    enum { MAX_APPLY = 64 };
    void *args[MAX_APPLY];
    int n = 0;
    void *cur = argv[1];
    rcgc_incref(cur);
    while (is_pair(cur) && n < MAX_APPLY)
        args[n++] = next_item(&cur);
    void *r = cur != NULL ? fail("apply: not a proper list of at most %d items", MAX_APPLY)
                          : apply(argv[0], n, args);
    rcgc_decref(cur);
    for (int i = 0; i < n; i++)
        rcgc_decref(args[i]);
    return r;
}

/* (assoc key alist): the first pair whose car is equal? to key, or #f. */
static void *p_assoc(int argc, void **argv)
{
    (void)argc;
    void *cur = argv[1];
    rcgc_incref(cur);
    while (is_pair(cur)) {
        void *entry = next_item(&cur);
        if (is_pair(entry)) {
            void *k = pair_car(entry);
            int hit = values_equal(k, argv[0]);
            rcgc_decref(k);
            if (hit) {
                rcgc_decref(cur);
                return entry;
            }
        }
        rcgc_decref(entry);
    }
    rcgc_decref(cur);
    return K_FALSE;
}

/* ------------------------------------------------------------------ */
/* Strings and symbols                                                 */
/* ------------------------------------------------------------------ */

static void *p_string_append(int argc, void **argv)
{
    sbuf b = {NULL, 0, 0};
    for (int i = 0; i < argc; i++) {
        if (!has_tag(argv[i], T_STRING)) {
            sb_free(&b);
            return fail("string-append: not a string");
        }
        sb_put(&b, ((str_obj *)argv[i])->s, ((str_obj *)argv[i])->len);
    }
    void *s = make_string(b.p ? b.p : "", b.len);
    sb_free(&b);
    return s;
}

static void *p_number_to_string(int argc, void **argv)
{
    (void)argc;
    if (!has_tag(argv[0], T_INT))
        return fail("number->string: not an integer");
    sbuf b = {NULL, 0, 0};
    print_value(&b, argv[0], 0);
    void *s = make_string(b.p, b.len);
    sb_free(&b);
    return s;
}

static void *p_symbol_to_string(int argc, void **argv)
{
    (void)argc;
    sym_obj *s = argv[0];
    return has_tag(s, T_SYMBOL) ? make_string(s->name, s->len) : fail("symbol->string: not a symbol");
}

static void *p_string_to_symbol(int argc, void **argv)
{
    (void)argc;
    str_obj *s = argv[0];
    return has_tag(s, T_STRING) ? intern(s->s, s->len) : fail("string->symbol: not a string");
}

static void *p_string_length(int argc, void **argv)
{
    (void)argc;
    str_obj *s = argv[0];
    return has_tag(s, T_STRING) ? make_int((int64_t)s->len) : fail("string-length: not a string");
}

static void *p_string_eq(int argc, void **argv)
{
    (void)argc;
    if (!has_tag(argv[0], T_STRING) || !has_tag(argv[1], T_STRING))
        return fail("string=?: not a string");
    return make_bool(values_equal(argv[0], argv[1]));
}

/* ------------------------------------------------------------------ */
/* Vectors                                                             */
/* ------------------------------------------------------------------ */

static void *new_vector(size_t n, void *fill)
{
    vec_obj *v = obj_new(T_VECTOR, sizeof *v + n * sizeof(void *));
    v->n = n; /* before publication: traverse reads it */
    for (size_t i = 0; fill != NULL && i < n; i++)
        rcgc_store(v, &v->items[i], fill);
    return v;
}

static void *p_make_vector(int argc, void **argv)
{
    int64_t n;
    if (get_int(argv[0], "make-vector", &n) != 0)
        return ERR;
    if (n < 0 || n > (1 << 24))
        return fail("make-vector: bad length");
    return new_vector((size_t)n, argc > 1 ? argv[1] : NULL);
}

static void *p_vector(int argc, void **argv)
{
    vec_obj *v = new_vector((size_t)argc, NULL);
    for (int i = 0; i < argc; i++)
        rcgc_store(v, &v->items[i], argv[i]);
    return v;
}

static int vec_index(void **argv, const char *who, size_t *out)
{
    int64_t k;
    if (!has_tag(argv[0], T_VECTOR)) {
        fail("%s: not a vector", who);
        return -1;
    }
    if (get_int(argv[1], who, &k) != 0)
        return -1;
    if (k < 0 || (size_t)k >= ((vec_obj *)argv[0])->n) {
        fail("%s: index %lld out of range", who, (long long)k);
        return -1;
    }
    *out = (size_t)k;
    return 0;
}

static void *p_vector_ref(int argc, void **argv)
{
    (void)argc;
    size_t k;
    if (vec_index(argv, "vector-ref", &k) != 0)
        return ERR;
    vec_obj *v = argv[0];
    return ref_get(v, &v->items[k]);
}

static void *p_vector_set(int argc, void **argv)
{
    (void)argc;
    size_t k;
    if (vec_index(argv, "vector-set!", &k) != 0)
        return ERR;
    vec_obj *v = argv[0];
    ref_set(v, &v->items[k], argv[2]);
    return K_VOID;
}

static void *p_vector_length(int argc, void **argv)
{
    (void)argc;
    return has_tag(argv[0], T_VECTOR) ? make_int((int64_t)((vec_obj *)argv[0])->n)
                                      : fail("vector-length: not a vector");
}

/* ------------------------------------------------------------------ */
/* Dictionaries: open addressing in a vector of 2 * capacity slots     */
/* (key, value), replaced by a larger one when three quarters full.   */
/* ------------------------------------------------------------------ */

static uint64_t key_hash(void *k)
{
    if (has_tag(k, T_INT))
        return (uint64_t)((int_obj *)k)->v * 0x9E3779B97F4A7C15ull;
    if (has_tag(k, T_STRING)) {
        uint64_t h = 1469598103934665603ull;
        str_obj *s = k;
        for (size_t i = 0; i < s->len; i++)
            h = (h ^ (unsigned char)s->s[i]) * 1099511628211ull;
        return h;
    }
    return ((uintptr_t)k >> 4) * 0x9E3779B97F4A7C15ull;
}

static int key_eq(void *a, void *b)
{
    if (has_tag(a, T_STRING) && has_tag(b, T_STRING))
        return values_equal(a, b);
    return eqv(a, b);
}

/* The index of k's entry, or of the empty entry where it would go. The
 * caller holds the dictionary's lock; keys are immutable once stored. */
static size_t dict_probe(vec_obj *t, void *k)
{
    size_t cap = t->n / 2, mask = cap - 1;
    for (size_t i = key_hash(k) >> 7 & mask;; i = (i + 1) & mask) {
        void *key = rcgc_load(&t->items[2 * i]);
        if (key == NULL || key_eq(key, k))
            return i;
    }
}

static int check_dict(void **argv, const char *who)
{
    if (!has_tag(argv[0], T_DICT)) {
        fail("%s: not a dictionary", who);
        return -1;
    }
    if (argv[1] == NULL) {
        fail("%s: () cannot be a key", who);
        return -1;
    }
    return 0;
}

static void *p_make_dict(int argc, void **argv)
{
    (void)argc;
    (void)argv;
    dict_obj *d = obj_new(T_DICT, sizeof *d);
    void *t = new_vector(16, NULL); /* 8 entries */
    rcgc_store(d, &d->table, t);
    rcgc_decref(t);
    return d;
}

/* (dict-ref d key [default]): the value, default, or an error. */
static void *p_dict_ref(int argc, void **argv)
{
    if (check_dict(argv, "dict-ref") != 0)
        return ERR;
    dict_obj *d = argv[0];
    slot_lock(d);
    vec_obj *t = rcgc_load(&d->table);
    size_t i = dict_probe(t, argv[1]);
    void *v = NULL;
    int found = rcgc_load(&t->items[2 * i]) != NULL;
    if (found) {
        v = rcgc_load(&t->items[2 * i + 1]);
        rcgc_incref(v);
    }
    slot_unlock(d);
    if (found)
        return v;
    if (argc > 2) {
        rcgc_incref(argv[2]);
        return argv[2];
    }
    sbuf b = {NULL, 0, 0};
    print_value(&b, argv[1], 1);
    fail("dict-ref: no key %s", b.p);
    sb_free(&b);
    return ERR;
}

static void *p_dict_has(int argc, void **argv)
{
    (void)argc;
    if (check_dict(argv, "dict-has?") != 0)
        return ERR;
    dict_obj *d = argv[0];
    slot_lock(d);
    vec_obj *t = rcgc_load(&d->table);
    int found = rcgc_load(&t->items[2 * dict_probe(t, argv[1])]) != NULL;
    slot_unlock(d);
    return make_bool(found);
}

/* Moves every entry of t into the empty table nt (both under d's lock). */
static void dict_rehash(vec_obj *t, vec_obj *nt)
{
    for (size_t i = 0; i < t->n / 2; i++) {
        void *k = rcgc_load(&t->items[2 * i]);
        if (k == NULL)
            continue;
        size_t j = dict_probe(nt, k);
        rcgc_store(nt, &nt->items[2 * j], k);
        rcgc_store(nt, &nt->items[2 * j + 1], rcgc_load(&t->items[2 * i + 1]));
    }
}

static void *p_dict_set(int argc, void **argv)
{
    (void)argc;
    if (check_dict(argv, "dict-set!") != 0)
        return ERR;
    dict_obj *d = argv[0];
    for (;;) {
        slot_lock(d);
        vec_obj *t = rcgc_load(&d->table);
        size_t i = dict_probe(t, argv[1]);
        if (rcgc_load(&t->items[2 * i]) != NULL) { /* replace the value */
            void *old = rcgc_load(&t->items[2 * i + 1]);
            rcgc_incref(old); /* it dies, if it does, after the unlock */
            rcgc_store(t, &t->items[2 * i + 1], argv[2]);
            slot_unlock(d);
            rcgc_decref(old);
            return K_VOID;
        }
        if ((d->count + 1) * 4 <= t->n / 2 * 3) {
            rcgc_store(t, &t->items[2 * i], argv[1]);
            rcgc_store(t, &t->items[2 * i + 1], argv[2]);
            d->count++;
            slot_unlock(d);
            return K_VOID;
        }
        size_t n = t->n * 2;
        slot_unlock(d);
        vec_obj *nt = new_vector(n, NULL); /* allocation: outside the lock */
        slot_lock(d);
        if (rcgc_load(&d->table) == t) {
            dict_rehash(t, nt);
            rcgc_incref(t); /* the old table dies after the unlock */
            rcgc_store(d, &d->table, nt);
        } else {
            t = NULL; /* someone else grew it: try again */
        }
        slot_unlock(d);
        rcgc_decref(t);
        rcgc_decref(nt);
    }
}

static void *p_dict_count(int argc, void **argv)
{
    (void)argc;
    if (!has_tag(argv[0], T_DICT))
        return fail("dict-count: not a dictionary");
    dict_obj *d = argv[0];
    slot_lock(d);
    size_t n = d->count;
    slot_unlock(d);
    return make_int((int64_t)n);
}

/* (dict-keys d): the keys, in table order. The list is built after the
 * lock is dropped (building allocates): a key slot, once set, is never
 * written again (there is no removal), so reading it from the table we
 * hold is safe; a key inserted meanwhile may or may not be listed. */
static void *p_dict_keys(int argc, void **argv)
{
    (void)argc;
    if (!has_tag(argv[0], T_DICT))
        return fail("dict-keys: not a dictionary");
    dict_obj *d = argv[0];
    slot_lock(d);
    vec_obj *t = rcgc_load(&d->table);
    rcgc_incref(t);
    slot_unlock(d);
    list_builder lb = {NULL, NULL};
    for (size_t i = 0; i < t->n / 2; i++) {
        void *k = rcgc_load(&t->items[2 * i]);
        if (k != NULL)
            lb_add(&lb, k);
    }
    rcgc_decref(t);
    return lb.head;
}

/* ------------------------------------------------------------------ */
/* Output, errors, collection                                          */
/* ------------------------------------------------------------------ */

static void *output(void *v, int write)
{
    sbuf b = {NULL, 0, 0};
    print_value(&b, v, write);
    script_output(current_script(), b.p, b.len);
    sb_free(&b);
    return K_VOID;
}

static void *p_display(int argc, void **argv) { (void)argc; return output(argv[0], 0); }
static void *p_write(int argc, void **argv) { (void)argc; return output(argv[0], 1); }

static void *p_newline(int argc, void **argv)
{
    (void)argc;
    (void)argv;
    script_output(current_script(), "\n", 1);
    return K_VOID;
}

/* (error message irritant ...) */
static void *p_error(int argc, void **argv)
{
    sbuf b = {NULL, 0, 0};
    print_value(&b, argv[0], 0);
    for (int i = 1; i < argc; i++) {
        sb_put(&b, " ", 1);
        print_value(&b, argv[i], 1);
    }
    fail("%s", b.p);
    sb_free(&b);
    return ERR;
}

/* (assert value [message]) */
static void *p_assert(int argc, void **argv)
{
    if (truthy(argv[0]))
        return K_VOID;
    sbuf b = {NULL, 0, 0};
    if (argc > 1)
        print_value(&b, argv[1], 0);
    fail("assertion failed%s%s", argc > 1 ? ": " : "", argc > 1 ? b.p : "");
    sb_free(&b);
    return ERR;
}

/* (collect): a full collection; returns when every object that was
 * garbage has been freed, its finalizer (if any) having run. */
static void *p_collect(int argc, void **argv)
{
    (void)argc;
    (void)argv;
    rcgc_collect(2);
    wait_for_finalizers();
    return K_VOID;
}

/* ------------------------------------------------------------------ */

void define_prim(const char *name, prim_fn fn, int min_args, int max_args)
{
    prim_obj *p = obj_new(T_PRIM, sizeof *p);
    p->name = name;
    p->fn = fn;
    p->min_args = min_args;
    p->max_args = max_args;
    obj_immortalize(p);
    sym_obj *s = intern(name, strlen(name));
    rcgc_store(s, &s->prim, p); /* before any script thread exists */
}

void builtins_init(void)
{
    static const struct {
        const char *name;
        prim_fn fn;
        int min, max;
    } table[] = {
        {"+", p_add, 0, -1}, {"-", p_sub, 1, -1}, {"*", p_mul, 0, -1},
        {"quotient", p_quotient, 2, 2}, {"remainder", p_remainder, 2, 2},
        {"modulo", p_modulo, 2, 2}, {"=", p_eq_num, 1, -1}, {"<", p_lt, 1, -1},
        {">", p_gt, 1, -1}, {"<=", p_le, 1, -1}, {">=", p_ge, 1, -1},
        {"min", p_min, 1, -1}, {"max", p_max, 1, -1}, {"abs", p_abs, 1, 1},
        {"zero?", p_zero, 1, 1}, {"even?", p_even, 1, 1}, {"odd?", p_odd, 1, 1},
        {"null?", p_null, 1, 1}, {"pair?", p_pairp, 1, 1}, {"number?", p_numberp, 1, 1},
        {"string?", p_stringp, 1, 1}, {"symbol?", p_symbolp, 1, 1},
        {"procedure?", p_procp, 1, 1}, {"vector?", p_vectorp, 1, 1},
        {"dict?", p_dictp, 1, 1}, {"not", p_not, 1, 1}, {"eq?", p_eq, 2, 2},
        {"eqv?", p_eqv, 2, 2}, {"equal?", p_equal, 2, 2},
        {"cons", p_cons, 2, 2}, {"car", p_car, 1, 1}, {"cdr", p_cdr, 1, 1},
        {"set-car!", p_set_car, 2, 2}, {"set-cdr!", p_set_cdr, 2, 2},
        {"list", p_list, 0, -1}, {"length", p_length, 1, 1}, {"reverse", p_reverse, 1, 1},
        {"append", p_append, 0, -1}, {"list-ref", p_list_ref, 2, 2},
        {"map", p_map, 2, 2}, {"for-each", p_for_each, 2, 2}, {"filter", p_filter, 2, 2},
        {"fold", p_fold, 3, 3}, {"apply", p_apply, 2, 2}, {"assoc", p_assoc, 2, 2},
        {"string-append", p_string_append, 0, -1},
        {"number->string", p_number_to_string, 1, 1},
        {"symbol->string", p_symbol_to_string, 1, 1},
        {"string->symbol", p_string_to_symbol, 1, 1},
        {"string-length", p_string_length, 1, 1}, {"string=?", p_string_eq, 2, 2},
        {"make-vector", p_make_vector, 1, 2}, {"vector", p_vector, 0, -1},
        {"vector-ref", p_vector_ref, 2, 2}, {"vector-set!", p_vector_set, 3, 3},
        {"vector-length", p_vector_length, 1, 1},
        {"make-dict", p_make_dict, 0, 0}, {"dict-ref", p_dict_ref, 2, 3},
        {"dict-set!", p_dict_set, 3, 3}, {"dict-has?", p_dict_has, 2, 2},
        {"dict-count", p_dict_count, 1, 1}, {"dict-keys", p_dict_keys, 1, 1},
        {"display", p_display, 1, 1}, {"write", p_write, 1, 1},
        {"newline", p_newline, 0, 0}, {"error", p_error, 1, -1},
        {"assert", p_assert, 1, 2}, {"collect", p_collect, 0, 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        define_prim(table[i].name, table[i].fn, table[i].min, table[i].max);
}

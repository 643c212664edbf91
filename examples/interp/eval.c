/* eval.c: environments, closures and the evaluator.
 *
 * An environment is a chain of frame objects; a frame holds a linked list
 * of binding objects (symbol, value, next). A closure holds its parameter
 * list, its body (both program text) and the frame it was made in, so a
 * closure defined in a frame and stored there is a reference cycle:
 * frame -> binding -> closure -> frame. Those cycles are what rcgc's cycle
 * collector reclaims when a script or a call drops them.
 *
 * Concurrency: a frame is shared by every closure made in it, and closures
 * travel between threads (spawn, channels). A binding's value is read and
 * written under the slot lock of the binding (value.c); the chain of
 * bindings is only ever extended at its head, under the frame's lock, by a
 * node that points to the old head, so a walk along it needs no lock: every
 * node it reaches stays referenced by the frame it is walking.
 *
 * Use: eval(expr, frame) and apply(procedure, argc, argv); both return an
 * owned value or ERR. eval is properly tail-recursive for if, cond, case
 * bodies, begin, let forms, and/or, when/unless and calls of closures.
 */
#include "interp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static _Thread_local char err_buf[512];
static _Thread_local int depth;

void *fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return ERR;
}

const char *err_msg(void)
{
    return err_buf;
}

static const char *sym_name(const void *s)
{
    return has_tag(s, T_SYMBOL) ? ((const sym_obj *)s)->name : "?";
}

/* ------------------------------------------------------------------ */
/* Special forms                                                       */
/* ------------------------------------------------------------------ */

enum special {
    SF_NONE, SF_QUOTE, SF_IF, SF_DEFINE, SF_SET, SF_LAMBDA, SF_LET, SF_LETSTAR,
    SF_LETREC, SF_BEGIN, SF_COND, SF_ELSE, SF_AND, SF_OR, SF_WHEN, SF_UNLESS,
    SF_COUNT
};

static const char *const special_names[SF_COUNT] = {
    [SF_QUOTE] = "quote", [SF_IF] = "if", [SF_DEFINE] = "define", [SF_SET] = "set!",
    [SF_LAMBDA] = "lambda", [SF_LET] = "let", [SF_LETSTAR] = "let*",
    [SF_LETREC] = "letrec", [SF_BEGIN] = "begin", [SF_COND] = "cond",
    [SF_ELSE] = "else", [SF_AND] = "and", [SF_OR] = "or", [SF_WHEN] = "when",
    [SF_UNLESS] = "unless",
};

void eval_init(void)
{
    /* Symbols are immortal and `special` is written here, on the main
     * thread, before any script thread is created (pthread_create orders
     * it before their reads). */
    for (int i = 1; i < SF_COUNT; i++) {
        sym_obj *s = intern(special_names[i], strlen(special_names[i]));
        s->special = i;
    }
}

static int special_of(const void *head)
{
    return has_tag(head, T_SYMBOL) ? ((const sym_obj *)head)->special : SF_NONE;
}

/* Program text helpers (constant lists: borrowed, no locks). */
static int code_length(void *list)
{
    int n = 0;
    while (is_pair(list)) {
        n++;
        list = code_cdr(list);
    }
    return list == NULL ? n : -1;
}

static void *code_nth(void *list, int n)
{
    while (n-- > 0)
        list = code_cdr(list);
    return code_car(list);
}

/* ------------------------------------------------------------------ */
/* Environments                                                        */
/* ------------------------------------------------------------------ */

void *new_frame(void *parent)
{
    frame_obj *f = obj_new(T_FRAME, sizeof *f);
    rcgc_store(f, &f->parent, parent);
    return f;
}

static binding_obj *new_binding(void *sym, void *value)
{
    binding_obj *b = obj_new(T_BINDING, sizeof *b);
    rcgc_store(b, &b->sym, sym);
    rcgc_store(b, &b->value, value);
    return b;
}

/* Links b at the head of f's bindings. Caller holds f's slot lock, or f is
 * not yet visible to another thread. No object dies here: the old head
 * stays referenced by b->next. */
static void link_binding(frame_obj *f, binding_obj *b)
{
    rcgc_store(b, &b->next, rcgc_load(&f->vars));
    rcgc_store(f, &f->vars, b);
}

/* Adds a binding to a frame no other thread can see yet. */
static void frame_add(frame_obj *f, void *sym, void *value)
{
    binding_obj *b = new_binding(sym, value);
    link_binding(f, b);
    rcgc_decref(b);
}

/* The binding of sym in f alone (borrowed), or NULL. Lock-free: see the
 * comment at the top of this file. */
static binding_obj *frame_find(frame_obj *f, void *sym)
{
    for (binding_obj *b = rcgc_load(&f->vars); b != NULL; b = rcgc_load(&b->next))
        if (rcgc_load(&b->sym) == sym)
            return b;
    return NULL;
}

/* The binding of sym in env or its parents (borrowed: env holds it). */
static binding_obj *env_find(void *env, void *sym)
{
    for (frame_obj *f = env; f != NULL; f = rcgc_load(&f->parent)) {
        binding_obj *b = frame_find(f, sym);
        if (b != NULL)
            return b;
    }
    return NULL;
}

static void *env_lookup(void *env, void *sym)
{
    binding_obj *b = env_find(env, sym);
    if (b != NULL)
        return ref_get(b, &b->value);
    void *prim = rcgc_load(&((sym_obj *)sym)->prim); /* written at start-up */
    if (prim != NULL)
        return prim; /* immortal */
    return fail("unbound variable: %s", sym_name(sym));
}

void env_define(void *frame, void *sym, void *value)
{
    frame_obj *f = frame;
    binding_obj *nb = new_binding(sym, value); /* allocated before locking */
    slot_lock(f);
    binding_obj *b = frame_find(f, sym);
    if (b == NULL)
        link_binding(f, nb);
    slot_unlock(f);
    if (b != NULL)
        ref_set(b, &b->value, value);
    rcgc_decref(nb); /* linked: the frame holds it; else it dies here */
}

static void *env_set(void *env, void *sym, void *value)
{
    binding_obj *b = env_find(env, sym);
    if (b == NULL)
        return fail("set!: unbound variable: %s", sym_name(sym));
    ref_set(b, &b->value, value);
    return K_VOID;
}

/* ------------------------------------------------------------------ */
/* Closures                                                            */
/* ------------------------------------------------------------------ */

static void *make_closure(void *params, void *body, void *env, void *name)
{
    closure_obj *c = obj_new(T_CLOSURE, sizeof *c);
    rcgc_store(c, &c->params, params);
    rcgc_store(c, &c->body, body);
    rcgc_store(c, &c->env, env);
    rcgc_store(c, &c->name, name);
    return c;
}

int is_procedure(const void *v)
{
    return has_tag(v, T_CLOSURE) || has_tag(v, T_PRIM);
}

/* A new frame binding c's parameters to argv, or ERR. */
static void *bind_args(closure_obj *c, int argc, void **argv)
{
    frame_obj *f = new_frame(rcgc_load(&c->env));
    void *params = rcgc_load(&c->params);
    int i = 0;
    for (; is_pair(params); params = code_cdr(params), i++) {
        if (i == argc) {
            rcgc_decref(f);
            return fail("%s: too few arguments (%d)", sym_name(rcgc_load(&c->name)), argc);
        }
        frame_add(f, code_car(params), argv[i]);
    }
    if (params != NULL) { /* a rest parameter: the remaining arguments */
        void *rest = NULL;
        for (int k = argc; k-- > i;) {
            void *p = cons(argv[k], rest);
            rcgc_decref(rest);
            rest = p;
        }
        frame_add(f, params, rest);
        rcgc_decref(rest);
    } else if (i < argc) {
        rcgc_decref(f);
        return fail("%s: too many arguments (%d)", sym_name(rcgc_load(&c->name)), argc);
    }
    return f;
}

/* Evaluates every expression of body but the last, which it stores in
 * *last (borrowed) for the caller to evaluate in tail position. 1: *last
 * set; 0: empty body; -1: an error was raised. */
static int eval_but_last(void *body, void *env, void **last)
{
    if (body == NULL)
        return 0;
    for (;;) {
        if (!is_pair(body)) {
            fail("malformed body");
            return -1;
        }
        void *next = code_cdr(body);
        if (next == NULL) {
            *last = code_car(body);
            return 1;
        }
        void *r = eval(code_car(body), env);
        if (r == ERR)
            return -1;
        rcgc_decref(r);
        body = next;
    }
}

static int check_prim_arity(prim_obj *p, int argc)
{
    if (argc < p->min_args || (p->max_args >= 0 && argc > p->max_args)) {
        fail("%s: wrong number of arguments (%d)", p->name, argc);
        return -1;
    }
    return 0;
}

void *apply(void *f, int argc, void **argv)
{
    if (has_tag(f, T_PRIM)) {
        prim_obj *p = f;
        return check_prim_arity(p, argc) != 0 ? ERR : p->fn(argc, argv);
    }
    if (!has_tag(f, T_CLOSURE)) {
        sbuf b = {NULL, 0, 0};
        print_value(&b, f, 1);
        fail("not a procedure: %s", b.p);
        sb_free(&b);
        return ERR;
    }
    void *frame = bind_args(f, argc, argv);
    if (frame == ERR)
        return ERR;
    void *last, *r;
    switch (eval_but_last(rcgc_load(&((closure_obj *)f)->body), frame, &last)) {
    case 1:
        r = eval(last, frame);
        break;
    case 0:
        rcgc_incref(K_VOID);
        r = K_VOID;
        break;
    default:
        r = ERR;
        break;
    }
    rcgc_decref(frame);
    return r;
}

/* ------------------------------------------------------------------ */
/* The evaluator                                                       */
/* ------------------------------------------------------------------ */

enum { INLINE_ARGS = 8 };

/* Evaluates the operands in `rest` into argv (owned references). Returns
 * argc, or -1 after an error (nothing left to release). *heap is set when
 * argv had to be malloc'd. */
static int eval_operands(void *rest, void *env, void **inl, void ***argv_out)
{
    int n = code_length(rest);
    if (n < 0) {
        fail("malformed call");
        return -1;
    }
    void **argv = n <= INLINE_ARGS ? inl : malloc((size_t)n * sizeof *argv);
    if (argv == NULL) {
        fail("out of memory (arguments)");
        return -1;
    }
    for (int i = 0; i < n; i++, rest = code_cdr(rest)) {
        argv[i] = eval(code_car(rest), env);
        if (argv[i] == ERR) {
            while (i-- > 0)
                rcgc_decref(argv[i]);
            if (argv != inl)
                free(argv);
            return -1;
        }
    }
    *argv_out = argv;
    return n;
}

static void release_operands(int argc, void **argv, void **inl)
{
    for (int i = 0; i < argc; i++)
        rcgc_decref(argv[i]);
    if (argv != inl)
        free(argv);
}

/* The state of one eval call: the expression, the environment, and the
 * references that keep them alive after a tail call replaced the caller's
 * (the frame of the closure called, and the closure, whose body holds the
 * expression). */
typedef struct tail {
    void *x, *env;
    void *own_env, *own_fn;
} tail;

static void tail_enter(tail *t, void *fn, void *frame, void *body_last)
{
    rcgc_decref(t->own_env);
    rcgc_decref(t->own_fn);
    t->own_env = t->env = frame;
    t->own_fn = fn;
    t->x = body_last;
}

/* Evaluates a let-style binding list ((name init) ...) into a new frame
 * whose parent is env. Sequential (let*, letrec): inits see the new frame. */
static void *eval_bindings(void *bindings, void *env, int sequential)
{
    frame_obj *f = new_frame(env);
    for (; is_pair(bindings); bindings = code_cdr(bindings)) {
        void *bnd = code_car(bindings);
        if (code_length(bnd) != 2 || !has_tag(code_car(bnd), T_SYMBOL)) {
            rcgc_decref(f);
            return fail("malformed let binding");
        }
        void *v = eval(code_nth(bnd, 1), sequential ? (void *)f : env);
        if (v == ERR) {
            rcgc_decref(f);
            return ERR;
        }
        if (sequential)
            env_define(f, code_car(bnd), v);
        else
            frame_add(f, code_car(bnd), v);
        rcgc_decref(v);
    }
    return f;
}

/* (let name ((var init) ...) body...): a frame holding `name`, bound to a
 * closure over that frame (a cycle), then a call of it. Returns the
 * closure and sets *argc and *argv to the evaluated inits, or ERR. */
static void *named_let(void *x, void *env, void **inl, void ***argv, int *argc)
{
    void *name = code_nth(x, 1), *bindings = code_nth(x, 2);
    void *vars = NULL; /* the parameter list, built back to front */
    void *inits = NULL;
    int n = code_length(bindings);
    if (n < 0)
        return fail("malformed named let");
    for (int i = n; i-- > 0;) {
        void *bnd = code_nth(bindings, i);
        if (code_length(bnd) != 2 || !has_tag(code_car(bnd), T_SYMBOL)) {
            rcgc_decref(vars);
            rcgc_decref(inits);
            return fail("malformed let binding");
        }
        void *v = cons_constant(code_car(bnd), vars);
        rcgc_decref(vars);
        vars = v;
        void *e = cons_constant(code_nth(bnd, 1), inits);
        rcgc_decref(inits);
        inits = e;
    }
    *argc = eval_operands(inits, env, inl, argv);
    rcgc_decref(inits);
    if (*argc < 0) {
        rcgc_decref(vars);
        return ERR;
    }
    void *frame = new_frame(env);
    void *fn = make_closure(vars, code_cdr(code_cdr(code_cdr(x))), frame, name);
    env_define(frame, name, fn);
    rcgc_decref(frame);
    rcgc_decref(vars);
    return fn;
}

/* Continues with the body of closure fn in frame (both owned, handed over)
 * in tail position. 1: t updated, continue; 0: *r set. */
static int enter_body(tail *t, void *fn, void *frame, void **r)
{
    void *last;
    int k = eval_but_last(rcgc_load(&((closure_obj *)fn)->body), frame, &last);
    if (k != 1) {
        rcgc_decref(frame);
        rcgc_decref(fn);
        *r = k == 0 ? K_VOID : ERR;
        return 0;
    }
    tail_enter(t, fn, frame, last);
    return 1;
}

/* Continues with body in a new frame (owned, or ERR) whose parent is the
 * current environment; the body's text stays owned by whoever owns the
 * current expression. */
static int enter_block(tail *t, void *frame, void *body, void **r)
{
    if (frame == ERR) {
        *r = ERR;
        return 0;
    }
    void *last;
    int k = eval_but_last(body, frame, &last);
    if (k != 1) {
        rcgc_decref(frame);
        *r = k == 0 ? K_VOID : ERR;
        return 0;
    }
    rcgc_decref(t->own_env);
    t->own_env = t->env = frame;
    t->x = last;
    return 1;
}

/* Continues with body in the current environment. */
static int enter_seq(tail *t, void *body, void **r)
{
    void *last;
    int k = eval_but_last(body, t->env, &last);
    if (k != 1) {
        *r = k == 0 ? K_VOID : ERR;
        return 0;
    }
    t->x = last;
    return 1;
}

static int bad_syntax(int sf, void **r)
{
    *r = fail("malformed %s", special_names[sf]);
    return 0;
}

/* and/or: every operand but the last evaluated here; stops at the first
 * value equal to `stop` in truth, else continues with the last. */
static int eval_logic(tail *t, int stop_on_true, void **r)
{
    void *rest = code_cdr(t->x);
    if (rest == NULL) {
        *r = make_bool(!stop_on_true);
        return 0;
    }
    for (; code_cdr(rest) != NULL; rest = code_cdr(rest)) {
        void *v = eval(code_car(rest), t->env);
        if (v == ERR || truthy(v) == stop_on_true) {
            *r = v;
            return 0;
        }
        rcgc_decref(v);
    }
    t->x = code_car(rest);
    return 1;
}

static int eval_cond(tail *t, void **r)
{
    for (void *clauses = code_cdr(t->x); clauses != NULL; clauses = code_cdr(clauses)) {
        void *clause = code_car(clauses);
        if (!is_pair(clause) || code_length(clause) < 0)
            return bad_syntax(SF_COND, r);
        void *test = code_car(clause);
        if (special_of(test) == SF_ELSE)
            return enter_seq(t, code_cdr(clause), r);
        void *v = eval(test, t->env);
        if (v == ERR) {
            *r = ERR;
            return 0;
        }
        if (truthy(v)) {
            if (code_cdr(clause) == NULL) {
                *r = v;
                return 0;
            }
            rcgc_decref(v);
            return enter_seq(t, code_cdr(clause), r);
        }
        rcgc_decref(v);
    }
    *r = K_VOID;
    return 0;
}

static int eval_define(tail *t, int n, void **r)
{
    void *target = code_nth(t->x, 1);
    if (is_pair(target) && has_tag(code_car(target), T_SYMBOL) && n >= 3) {
        void *name = code_car(target);
        void *fn = make_closure(code_cdr(target), code_cdr(code_cdr(t->x)), t->env, name);
        env_define(t->env, name, fn);
        rcgc_decref(fn);
    } else if (has_tag(target, T_SYMBOL) && n == 3) {
        void *v = eval(code_nth(t->x, 2), t->env);
        if (v == ERR) {
            *r = ERR;
            return 0;
        }
        env_define(t->env, target, v);
        rcgc_decref(v);
    } else {
        return bad_syntax(SF_DEFINE, r);
    }
    *r = K_VOID;
    return 0;
}

static int eval_let(tail *t, int sf, int n, void **r)
{
    void *x = t->x;
    if (n < 3)
        return bad_syntax(sf, r);
    if (sf == SF_LET && has_tag(code_nth(x, 1), T_SYMBOL)) {
        if (n < 4)
            return bad_syntax(sf, r);
        void *inl[INLINE_ARGS], **argv;
        int argc = 0;
        void *fn = named_let(x, t->env, inl, &argv, &argc);
        if (fn == ERR) {
            *r = ERR;
            return 0;
        }
        void *frame = bind_args(fn, argc, argv);
        release_operands(argc, argv, inl);
        if (frame == ERR) {
            rcgc_decref(fn);
            *r = ERR;
            return 0;
        }
        return enter_body(t, fn, frame, r);
    }
    void *frame = eval_bindings(code_nth(x, 1), t->env, sf != SF_LET);
    return enter_block(t, frame, code_cdr(code_cdr(x)), r);
}

/* A special form. 1: t->x (and maybe t->env) is the next expression to
 * evaluate in tail position; 0: *r holds the result (owned) or ERR. */
static int eval_special(tail *t, int sf, void **r)
{
    void *x = t->x;
    int n = code_length(x);
    if (n < 0)
        return bad_syntax(sf, r);
    switch (sf) {
    case SF_QUOTE:
        if (n != 2)
            return bad_syntax(sf, r);
        *r = code_nth(x, 1);
        rcgc_incref(*r);
        return 0;
    case SF_IF: {
        if (n < 3 || n > 4)
            return bad_syntax(sf, r);
        void *c = eval(code_nth(x, 1), t->env);
        if (c == ERR) {
            *r = ERR;
            return 0;
        }
        int yes = truthy(c);
        rcgc_decref(c);
        if (!yes && n == 3) {
            *r = K_VOID;
            return 0;
        }
        t->x = code_nth(x, yes ? 2 : 3);
        return 1;
    }
    case SF_DEFINE:
        return eval_define(t, n, r);
    case SF_SET: {
        if (n != 3 || !has_tag(code_nth(x, 1), T_SYMBOL))
            return bad_syntax(sf, r);
        void *v = eval(code_nth(x, 2), t->env);
        if (v == ERR) {
            *r = ERR;
            return 0;
        }
        *r = env_set(t->env, code_nth(x, 1), v);
        rcgc_decref(v);
        return 0;
    }
    case SF_LAMBDA:
        if (n < 3)
            return bad_syntax(sf, r);
        *r = make_closure(code_nth(x, 1), code_cdr(code_cdr(x)), t->env, NULL);
        return 0;
    case SF_BEGIN:
        return enter_seq(t, code_cdr(x), r);
    case SF_LET:
    case SF_LETSTAR:
    case SF_LETREC:
        return eval_let(t, sf, n, r);
    case SF_COND:
        return eval_cond(t, r);
    case SF_AND:
        return eval_logic(t, 0, r);
    case SF_OR:
        return eval_logic(t, 1, r);
    case SF_WHEN:
    case SF_UNLESS: {
        if (n < 3)
            return bad_syntax(sf, r);
        void *c = eval(code_nth(x, 1), t->env);
        if (c == ERR) {
            *r = ERR;
            return 0;
        }
        int go = truthy(c) == (sf == SF_WHEN);
        rcgc_decref(c);
        if (!go) {
            *r = K_VOID;
            return 0;
        }
        return enter_seq(t, code_cdr(code_cdr(x)), r);
    }
    default:
        return bad_syntax(sf, r);
    }
}

void *eval(void *expr, void *env)
{
    if (++depth > MAX_DEPTH) {
        depth--;
        return fail("recursion too deep (more than %d nested evaluations)", MAX_DEPTH);
    }
    tail t = {expr, env, NULL, NULL};
    void *r;
    for (;;) {
        rcgc_safepoint(); /* a load and a branch, unless rcgc asks */
        void *x = t.x;
        if (x == NULL) {
            r = NULL;
            break;
        }
        uint32_t tg = tag_of(x);
        if (tg == T_SYMBOL) {
            r = env_lookup(t.env, x);
            break;
        }
        if (tg != T_PAIR) {
            rcgc_incref(x);
            r = x;
            break;
        }
        void *head = code_car(x);
        int sf = special_of(head);
        if (sf != SF_NONE) {
            if (eval_special(&t, sf, &r))
                continue;
            break;
        }
        void *f = eval(head, t.env);
        if (f == ERR) {
            r = ERR;
            break;
        }
        void *inl[INLINE_ARGS], **argv;
        int argc = eval_operands(code_cdr(x), t.env, inl, &argv);
        if (argc < 0) {
            rcgc_decref(f);
            r = ERR;
            break;
        }
        if (!has_tag(f, T_CLOSURE)) {
            r = apply(f, argc, argv);
            release_operands(argc, argv, inl);
            rcgc_decref(f);
            break;
        }
        void *frame = bind_args(f, argc, argv);
        release_operands(argc, argv, inl);
        if (frame == ERR) {
            rcgc_decref(f);
            r = ERR;
            break;
        }
        if (enter_body(&t, f, frame, &r))
            continue;
        break;
    }
    depth--;
    rcgc_decref(t.own_env);
    rcgc_decref(t.own_fn);
    return r;
}

/* interp.h: the shared declarations of rcgc-interp, a small multithreaded
 * Scheme whose every object (numbers, strings, pairs, environment frames,
 * closures, vectors, dictionaries, channels, thread handles) is an rcgc
 * object. Written only against the public header <rcgc.h>.
 *
 * How the pieces fit: value.c (object types, allocation tallies, the slot
 * locks, symbols, constants), reader.c (text to data), printer.c (data to
 * text), eval.c (environments, closures, the evaluator), builtins.c (the
 * primitive procedures), concurrency.c (spawn, join, channels, weak
 * references, finalizable resources), main.c (the command line, the script
 * runner and the final accounting). docs/embedding.md walks through it.
 *
 * Reference conventions used everywhere in the interpreter:
 *  - a value returned by a function is an owned reference (the caller
 *    releases it with rcgc_decref), unless the function's comment says
 *    "borrowed";
 *  - arguments are borrowed: the callee takes its own reference if it keeps
 *    the value;
 *  - immortal objects (symbols, small integers, the constants below,
 *    primitives) may be returned without rcgc_incref: counting them is a
 *    no-op anyway;
 *  - ERR (an immortal object) is returned instead of a value when an error
 *    was raised; the message is in the thread's error buffer (err_msg).
 *  - the empty list is NULL.
 */
#ifndef INTERP_H
#define INTERP_H

#include <rcgc.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ */
/* Object layout                                                       */
/* ------------------------------------------------------------------ */

/* Every payload starts with this: the interpreter's own type tag, written
 * once before the object is published, so reading it needs no lock. */
typedef struct obj {
    uint32_t tag;
    uint32_t flags;   /* pair: PAIR_CONSTANT; others: 0 */
} obj;

enum tag {
    T_SINGLETON,  /* #t, #f, the unspecified value, ERR */
    T_INT,
    T_STRING,
    T_SYMBOL,
    T_PAIR,
    T_FRAME,      /* an environment frame */
    T_BINDING,    /* one variable of a frame */
    T_CLOSURE,
    T_PRIM,       /* a primitive procedure (builtins.c) */
    T_VECTOR,
    T_DICT,
    T_CHANNEL,
    T_THREAD,
    T_WEAK,
    T_RESOURCE,
    T_COUNT
};

/* Pairs made by the reader are program text and literals: never mutated,
 * so the evaluator reads them without locks. set-car! refuses them. */
enum { PAIR_CONSTANT = 1 };

typedef struct int_obj { obj o; int64_t v; } int_obj;
typedef struct str_obj { obj o; size_t len; char s[]; } str_obj;
typedef struct sym_obj {
    obj o;
    void *prim;      /* slot: the primitive bound to this name, or NULL */
    int special;     /* a special form's number (eval.c), 0 otherwise */
    size_t len;
    char name[];
} sym_obj;
typedef struct pair_obj { obj o; void *car, *cdr; } pair_obj;
typedef struct frame_obj { obj o; void *parent, *vars; } frame_obj;
typedef struct binding_obj { obj o; void *sym, *value, *next; } binding_obj;
typedef struct closure_obj { obj o; void *params, *body, *env, *name; } closure_obj;

typedef void *(*prim_fn)(int argc, void **argv);
typedef struct prim_obj {
    obj o;
    const char *name;
    prim_fn fn;
    int min_args, max_args;   /* max_args < 0: any number */
} prim_obj;

typedef struct vec_obj { obj o; size_t n; void *items[]; } vec_obj;
typedef struct dict_obj { obj o; void *table; size_t count; } dict_obj;

struct chan_sync;
typedef struct chan_obj {
    obj o;
    struct chan_sync *sync;   /* malloc'd; destroy frees it */
    size_t cap;
    void *items[];            /* a ring of cap slots */
} chan_obj;

typedef struct thread_obj { obj o; void *result; size_t entry; } thread_obj;
typedef struct weak_obj { obj o; rcgc_weakref *wr; } weak_obj;

struct script;
typedef struct resource_obj { obj o; void *name; struct script *owner; } resource_obj;

static inline uint32_t tag_of(const void *v)
{
    return v == NULL ? (uint32_t)T_PAIR : ((const obj *)v)->tag;
}
static inline int is_pair(const void *v) { return v != NULL && ((const obj *)v)->tag == T_PAIR; }
static inline int has_tag(const void *v, enum tag t) { return v != NULL && ((const obj *)v)->tag == t; }

/* ------------------------------------------------------------------ */
/* value.c                                                             */
/* ------------------------------------------------------------------ */

/* The immortal constants, made by values_init: a read-only view of
 * value.c's table (written once, before any script runs). */
enum { KI_TRUE, KI_FALSE, KI_VOID, KI_ERR, KI_COUNT };
extern void *const *const konst;
#define K_TRUE (konst[KI_TRUE])
#define K_FALSE (konst[KI_FALSE])
#define K_VOID (konst[KI_VOID])
#define ERR (konst[KI_ERR])

/* Makes the constants and the small integers (immortal). Attached thread. */
void values_init(void);

/* rcgc_alloc for interpreter type `t`, counted in the tallies. Exits the
 * process when memory runs out (an example program has no better plan). */
void *obj_new(enum tag t, size_t size);

/* rcgc_immortalize, counted in the tallies. */
void obj_immortalize(void *v);

const char *tag_name(enum tag t);

/* Counts a destroyed object of type t: every type's destroy calls it. */
void tally_destroyed(enum tag t);

/* Per-type tallies since the start. */
typedef struct tally {
    uint64_t allocated[T_COUNT];
    uint64_t destroyed[T_COUNT];
    uint64_t immortal[T_COUNT];
} tally;
void tally_get(tally *out);

void *make_int(int64_t v);
void *make_string(const char *s, size_t len);
void *make_bool(int b);
void *cons(void *car, void *cdr);         /* a mutable pair */
void *cons_constant(void *car, void *cdr); /* a reader pair */
void *intern(const char *name, size_t len);
static inline int truthy(const void *v) { return v != K_FALSE; }

/* Slot locks. A slot that other threads may store into while we read it is
 * read and written under the lock of its container (a striped table of
 * mutexes keyed by the container's address), because rcgc_load then
 * rcgc_incref is not safe against a concurrent rcgc_store (rcgc.h). Inside
 * a slot lock nothing may reach a safepoint (no allocation, no blocking,
 * no object death): ref_set drops the replaced value after unlocking. */
void slot_lock(const void *container);
void slot_unlock(const void *container);
void *ref_get(void *container, void *const *slot);
void ref_set(void *container, void **slot, void *value);

/* car and cdr of a pair as owned references (locked unless constant). */
void *pair_car(void *p);
void *pair_cdr(void *p);

/* Borrowed reads of an immutable structure: reader pairs (program text),
 * the first fields of frames and closures. */
static inline void *code_car(void *p) { return rcgc_load(&((pair_obj *)p)->car); }
static inline void *code_cdr(void *p) { return rcgc_load(&((pair_obj *)p)->cdr); }

/* ------------------------------------------------------------------ */
/* Errors (eval.c)                                                     */
/* ------------------------------------------------------------------ */

/* Records a message in the thread's error buffer; returns ERR. */
void *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *err_msg(void);

/* ------------------------------------------------------------------ */
/* reader.c, printer.c                                                 */
/* ------------------------------------------------------------------ */

/* Reads every datum of text into a list (constant pairs); ERR on a syntax
 * error. */
void *read_all(const char *text, size_t len);

typedef struct sbuf { char *p; size_t len, cap; } sbuf;
void sb_put(sbuf *b, const char *s, size_t n);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(sbuf *b);
/* write (strings quoted) or display form of v into b. */
void print_value(sbuf *b, void *v, int write);
/* Structural equality, as equal?. */
int values_equal(void *a, void *b);

/* ------------------------------------------------------------------ */
/* eval.c                                                              */
/* ------------------------------------------------------------------ */

void eval_init(void);
void *new_frame(void *parent);
/* Defines sym in frame (or rebinds it there). */
void env_define(void *frame, void *sym, void *value);
void *eval(void *x, void *env);
void *apply(void *f, int argc, void **argv);
int is_procedure(const void *v);

/* ------------------------------------------------------------------ */
/* builtins.c, concurrency.c                                           */
/* ------------------------------------------------------------------ */

void builtins_init(void);
/* Binds name to a new immortal primitive. */
void define_prim(const char *name, prim_fn fn, int min_args, int max_args);
void concurrency_init(void);
/* Type hooks (value.c's type table). */
void chan_destroy(void *o);
void weak_destroy(void *o);
void resource_finalize(void *o);
/* Joins every spawned thread not joined by its script. */
void join_stray_threads(void);
/* Waits until the finalizers queued so far have run (on demand: on the
 * main thread); nothing to wait for in the background mode. */
void wait_for_finalizers(void);

/* ------------------------------------------------------------------ */
/* main.c: the script a thread works for                               */
/* ------------------------------------------------------------------ */

struct script *current_script(void);
void set_current_script(struct script *s);
/* Appends to the script's output (any of its threads). */
void script_output(struct script *s, const char *text, size_t len);
/* Records an error raised on a thread the script spawned. */
void script_thread_error(struct script *s, const char *msg);
/* The finalizer log of resources and the weak-reference clear counter. */
void script_log_finalized(struct script *s, const char *name, size_t len);
void *script_finalized_list(struct script *s);
void script_weak_cleared(struct script *s);
uint64_t script_weak_cleared_count(struct script *s);

/* Creates a thread with a stack large enough for deep recursion. 0 or an
 * errno value. */
int start_thread(void *(*fn)(void *), void *arg, void *thread_out);
/* Attaches the calling thread to rcgc; exits the process if it cannot. */
void attach_thread(void);
/* The main thread keeps serving finalizers while interpreter threads run:
 * thread_started before creating one (undone by thread_finished if the
 * creation fails), thread_finished as its last act, after detaching. */
void thread_started(void);
void thread_finished(void);

enum { MAX_DEPTH = 20000 };

#endif /* INTERP_H */

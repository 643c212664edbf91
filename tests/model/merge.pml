/* merge.pml: the biased-count merge protocol of rcgc, for spin.
 *
 * What is modelled (docs/design/refcount.md, tags R1-R6 and R9;
 * docs/design/models.md):
 * one heap H with its owner thread (thread 0, heap id HID) owning NOBJ
 * objects, and NNON non-owner threads. The program moves references between
 * threads (a ghost hand-over, no count change: a pointer passed through some
 * channel of the program), takes new ones (incref) and drops them (decref).
 * The owner may poll, enter and leave blocking regions, detach and attach
 * again (adopting its heap from the pool, R8), and finally either detaches
 * or blocks for ever. Non-owners drop everything they hold and end.
 *
 * Each atomic operation of the C code is one Promela step (an `atomic`
 * block holding exactly one access to a shared variable, plus local
 * bookkeeping and ghost updates). Plain loads and stores of `local` are
 * two steps, as in include/rcgc/inline.h. Critical sections under `qlock`
 * are one step: they touch only the queue array (seen by nobody outside
 * qlock) and one variable read outside it (`qlen`, or the pending word), so
 * collapsing them removes no behaviour. Spin's semantics is sequential
 * consistency: the model checks the interleavings; the orders weaker than
 * seq_cst are argued in refcount.md R7 and checked by ThreadSanitizer.
 *
 * Abstracted away: immortal objects and the gc_bits tests of
 * nonowner_touch and rcgc__nonowner_inline (IMMORTAL, DYING, ESCAPED, the
 * api checks), local-count overflow (2^32 references), young and old
 * generations, finalizers and destroy (a free is one ghost step), the
 * queue-growth fallback to a pause (realloc failure), drains by a pauser or
 * rcgc_shutdown, pushes to more than one owning heap, and the non-owners'
 * own heaps (nobody queues to them). Busy-wait loops (rcgc_own_take's
 * yield loop, the R3 window wait) are blocking guards: a wait that can
 * never end shows up as an invalid end state.
 *
 * Ghost state: held[t][o] references held by thread t, refs[o] their sum,
 * entries[o] outstanding queue entries, freed[o].
 *
 * Properties (assertions and end states, checked with -DSAFETY):
 *  - no header access after the free (every access asserts !freed);
 *  - an object is freed only when no thread holds a reference and no entry
 *    is outstanding, and at most once (R6);
 *  - `local` is touched only by the holder of the heap's token (R1), and
 *    is >= 1 while owned (R2); no count goes below zero (R4, R5);
 *  - at most one entry per object at a time (the QUEUED bit, R4);
 *  - at the end (every thread finished): no entry outstanding, the queue
 *    empty (no merge lost, R5), every object with no reference left freed,
 *    and the counts of the others equal to the references held;
 *  - no invalid end state (no deadlock, no wait that never ends).
 *
 * Broken variants (each must make spin report an error):
 *  -DBROKEN_RECHECK  drain_for_absent_owner does not go back to its status
 *                    and qlen check after unlocking (the re-check of R5):
 *                    an entry pushed while the drainer held the token is
 *                    stranded on a blocked owner.
 *  -DBROKEN_LEAVE    rcgc_leave_running does not re-load qlen after storing
 *                    BLOCKED (the owner's half of the Dekker pattern of R5).
 *  -DBROKEN_R3       local zero clears `owner` after publishing MERGED (the
 *                    order before commit 43220b0): a store into freed memory.
 *  -DBROKEN_LOST_DEATH  local zero without R6 case 4 (the code before commit
 *                    6a72db1): when a non-owner's decrement takes the
 *                    unmerged count to zero during the merge, the owner's CAS
 *                    publishes MERGED on a zero count and nobody frees the
 *                    object (models.md, "Finding").
 */

#ifndef NOBJ
#define NOBJ 1          /* objects owned by H (1 or 2) */
#endif
#ifndef NNON
#define NNON 2          /* non-owner threads (1 or 2) */
#endif
#ifndef INCS
#define INCS 1          /* increfs, all threads together */
#endif
#ifndef MOVES
#define MOVES 3         /* hand-overs of a reference between threads, in all */
#endif
#ifndef AWAY
#define AWAY 1          /* the owner's blocking regions and detach/attach trips */
#endif

#define NTHR (NNON + 1)
#define HID 1                     /* heap H's id; thread t runs on heap t + 1 */

/* The shared word (include/rcgc/inline.h, refcount.md "The shared word"). */
#define QUEUED 1
#define MERGED 2
#define ONE 4
#define CNT(v) (((v) - ((v) & 3)) / ONE)   /* rcgc_shared_count */

/* Heap status (src/internal.h); no pauses in this model, so never
 * SUSPENDED or PARKED. */
#define DETACHED 0
#define RUNNING 1
#define BLOCKED 2

#define PENDING_MERGE 2

#define HX(t, o) ((t) * NOBJ + (o))

/* ---- object headers ---- */
byte owner[NOBJ];               /* header.owner: HID or 0 */
short loc[NOBJ];              /* header.local */
short shared[NOBJ];             /* header.shared: count * 4 | MERGED | QUEUED */

/* ---- heap H ---- */
byte status = RUNNING;          /* heap->status */
byte own = 1;                   /* heap->own_lock: 0 free, t + 1 held by thread t */
byte q[NOBJ];                   /* heap->q (object indices) */
byte qn;                        /* heap->qn */
byte qlen;                      /* heap->qlen */
bool pending_ptr = 1;           /* heap->pending != NULL (owner attached) */
byte pending;                   /* the owner thread's TLS pending word */

/* ---- ghosts ---- */
byte held[NTHR * NOBJ];
byte refs[NOBJ];
byte entries[NOBJ];
bool freed[NOBJ];
bool done[NTHR];                /* thread t takes no more references */
byte incs = INCS, moves = MOVES;

/* R6: a free by whoever saw the count reach zero with no entry left. */
inline free_obj(o)
{
    atomic {
        assert(!freed[o]);
        assert(refs[o] == 0);     /* no thread holds a reference */
        assert(entries[o] == 0);  /* no queue entry pins it */
        freed[o] = 1
    }
}

/* merge_entry (refcount.c), R5 steps 1-4; the caller holds the token. */
inline merge_entry(o)
{
    atomic { assert(own == me + 1 && !freed[o]); mv = shared[o] }   /* acquire */
    merging = !(mv & MERGED);
    if
    :: merging ->
        /* R1: local belongs to the token holder. R3: owner cleared
         * before MERGED is published. */
        atomic { assert(own == me + 1 && !freed[o]); mlc = loc[o] }
        atomic { assert(own == me + 1 && !freed[o]); loc[o] = 0 }
        atomic { assert(!freed[o]); owner[o] = 0 }                  /* release */
    :: else
    fi;
    do
    :: if
       :: merging -> assert(mlc + CNT(mv) >= 0);                  /* else rcgc_fatal */
                     mnv = (mlc + CNT(mv)) * ONE | MERGED
       :: else -> mnv = mv & ~QUEUED
       fi;
       atomic {                                                    /* CAS acq_rel */
           assert(!freed[o]);
           if
           :: shared[o] == mv -> shared[o] = mnv; entries[o]--; ok = 1
           :: else -> mv = shared[o]; ok = 0
           fi
       }
       if
       :: ok -> break
       :: else
       fi
    od;
    if
    :: mnv == MERGED -> dead[o] = 1                 /* rcgc_dead_link: R6 case 3 */
    :: else
    fi;
    mv = 0; mnv = 0; mlc = 0; merging = 0; ok = 0
}

/* rcgc_heap_drain: take the whole array under qlock (qlen = 0, relaxed),
 * then merge each entry without qlock. The caller holds the token. */
inline heap_drain()
{
    atomic {
        assert(own == me + 1);
        n = qn; i = 0;
        do
        :: i < n -> snap[i] = q[i]; q[i] = 0; i++
        :: else -> break
        od;
        qn = 0; qlen = 0; i = 0
    }
    do
    :: i < n -> merge_entry(snap[i]); snap[i] = 0; i++
    :: else -> break
    od;
    i = 0; n = 0
}

/* rcgc_dealloc_run on the caller's own heap, after any foreign token was
 * dropped (objects.md O7). */
inline free_dead()
{
    i = 0;
    do
    :: i < NOBJ ->
        if
        :: dead[i] -> free_obj(i); dead[i] = 0
        :: else
        fi;
        i++
    :: else -> break
    od;
    i = 0
}

/* drain_for_absent_owner (refcount.c), R5 "Who drains", pusher's part. */
inline drain_absent()
{
    do
    :: atomic { st = status }                          /* seq_cst */
       if
       :: st == RUNNING -> break                       /* owner drains at its poll */
       :: else ->
          atomic { ql = qlen }                         /* seq_cst */
          if
          :: ql == 0 -> break
          :: else ->
             atomic {                                  /* rcgc_own_try: seq_cst CAS */
                 if
                 :: own == 0 -> own = me + 1; ok = 1
                 :: else -> ok = 0
                 fi
             }
             if
             :: !ok -> break                           /* the holder re-checks */
             :: else ->
                ok = 0;
                heap_drain();
                atomic { assert(own == me + 1); own = 0 }   /* rcgc_own_drop */
                /* seq_cst fence: the model is sequentially consistent */
                free_dead();
#ifdef BROKEN_RECHECK
                break
#else
                skip
#endif
             fi
          fi
       fi
    od;
    st = 0; ql = 0; ok = 0
}

/* queue_push (refcount.c), R4 steps 1-5, with heap H (the only owner). */
inline queue_push(o)
{
    atomic {                  /* lock qlock; append; qlen = qn (seq_cst); unlock */
        assert(!freed[o]);
        q[qn] = o; qn++; qlen = qn
    }
    atomic {                  /* rcgc_heap_set_pending under qlock */
        if
        :: pending_ptr -> pending = pending | PENDING_MERGE
        :: else
        fi
    }
    drain_absent()
}

/* rcgc__decref_slow (refcount.c), R4 steps 2-7. */
inline decref_slow(o)
{
    atomic { assert(!freed[o]); id = owner[o] }       /* relaxed */
    atomic { assert(!freed[o]); v = shared[o] }       /* relaxed */
    do
    :: if
       :: (v & MERGED) ->
          assert(CNT(v) > 0);                          /* else rcgc_fatal */
          nv = v - ONE; queue = 0
       :: !(v & MERGED) && id == 0 ->
          /* R3 window: the merging party cleared owner and is about to
           * publish MERGED; yield and re-load (acquire) until it does. */
          atomic { (shared[o] & MERGED) -> assert(!freed[o]); v = shared[o] };
          retry = 1
       :: !(v & MERGED) && id != 0 ->
          nv = v - ONE;
          if
          :: CNT(nv) < 0 && !(v & QUEUED) -> nv = nv | QUEUED; queue = 1
          :: else -> queue = 0
          fi
       fi;
       if
       :: retry -> retry = 0
       :: else ->
          atomic {                                     /* CAS acq_rel */
              assert(!freed[o]);
              if
              :: shared[o] == v ->
                 shared[o] = nv; ok = 1;
                 held[HX(me, o)]--; refs[o]--;
                 entries[o] = entries[o] + queue;
                 assert(entries[o] <= 1)               /* one entry at a time */
              :: else -> v = shared[o]; ok = 0
              fi
          }
          if
          :: ok -> break
          :: else
          fi
       fi
    od;
    ok = 0;
    if
    :: queue -> assert(id == HID); queue_push(o)       /* R4 step 7: the entry pins it */
    :: !queue && nv == MERGED -> free_obj(o)           /* R6 case 2 */
    :: else
    fi;
    id = 0; v = 0; nv = 0; queue = 0
}

/* rcgc__local_zero (refcount.c), R2. */
inline local_zero(o)
{
    atomic { assert(!freed[o]); v = shared[o] }       /* acquire */
    if
    :: v == 0 -> free_obj(o)                           /* R2 step 2, R6 case 1 */
    :: else ->
#ifndef BROKEN_R3
       atomic { assert(!freed[o]); owner[o] = 0 }     /* R3: release, before the CAS */
#endif
       do
       :: assert(CNT(v) >= 0);                         /* else rcgc_fatal */
          atomic {                                     /* CAS acq_rel */
              assert(!freed[o]);
              if
              :: shared[o] == v -> shared[o] = v | MERGED; ok = 1
              :: else -> v = shared[o]; ok = 0
              fi
          }
          if
          :: ok -> break
          :: else
          fi
       od;
#ifdef BROKEN_R3
       atomic { assert(!freed[o]); owner[o] = 0 }     /* too late: may be freed */
#endif
#ifndef BROKEN_LOST_DEATH
       /* R6 case 4: a non-owner's decrement took the unmerged count to
        * exactly zero between our load and our CAS, so the CAS replaced 0
        * (count zero, no QUEUED): nobody holds a reference and no entry
        * exists; we free it (rcgc_object_died). */
       if
       :: v == 0 -> free_obj(o)
       :: else
       fi;
#endif
       ok = 0
    fi;
    v = 0
}

/* rcgc_incref (inline.h): the owner's plain increment, else a relaxed
 * fetch_add on `shared` (R9's inline path and rcgc__incref_slow alike). */
inline incref(o)
{
    atomic { assert(!freed[o]); id = owner[o] }       /* rcgc__is_owner: relaxed */
    if
    :: id == myid ->
       atomic { assert(own == me + 1 && !freed[o]); n = loc[o] + 1 }   /* R1 */
       atomic { assert(own == me + 1); loc[o] = n; held[HX(me, o)]++; refs[o]++ }
    :: else ->
       atomic { assert(!freed[o]); shared[o] = shared[o] + ONE; held[HX(me, o)]++; refs[o]++ }
    fi;
    id = 0; n = 0
}

/* rcgc_decref (inline.h): the owner's plain decrement; else, for a
 * non-owner, the inline decrement of R9 when it neither kills nor queues
 * (one CAS, no owner id; a failed CAS goes to the slow path); else the
 * slow path. rcgc__nonowner_inline's gc_bits test is always true here (no
 * immortal, dying or unescaped young objects in this model). */
inline decref(o)
{
    atomic { assert(!freed[o]); id = owner[o] }       /* rcgc__is_owner: relaxed */
    if
    :: id == myid ->
       atomic { assert(own == me + 1 && !freed[o]); assert(loc[o] >= 1); n = loc[o] - 1 }   /* R1, R2 */
       atomic { assert(own == me + 1); loc[o] = n; held[HX(me, o)]--; refs[o]-- }
       id = 0;
       if
       :: n == 0 -> n = 0; local_zero(o)
       :: else -> n = 0
       fi
    :: else ->
       id = 0;
       atomic { assert(!freed[o]); v = shared[o] }    /* R9: relaxed load */
       nv = v - ONE;
       if
       :: CNT(nv) >= ((v & MERGED) -> 1 : 0) ->
          atomic {                                     /* R9: CAS acq_rel */
              assert(!freed[o]);
              if
              :: shared[o] == v -> shared[o] = nv; ok = 1; held[HX(me, o)]--; refs[o]--
              :: else -> ok = 0
              fi
          }
       :: else -> ok = 0
       fi;
       v = 0; nv = 0;
       if
       :: ok -> ok = 0
       :: else -> decref_slow(o)
       fi
    fi
}

/* rcgc_drain_self (refcount.c). */
inline drain_self()
{
    atomic { ql = qlen }                               /* relaxed hint */
    if
    :: ql != 0 -> ql = 0; heap_drain(); free_dead()
    :: else
    fi
}

/* rcgc__safepoint_slow (safepoint.c), the PENDING_MERGE part (S2): the
 * inline poll's load and the slow path's exchange as one step. */
inline poll()
{
    atomic { bits = pending; pending = 0 }            /* exchange, acquire */
    if
    :: bits & PENDING_MERGE -> bits = 0; drain_self()
    :: else
    fi;
    bits = 0
}

/* rcgc_enter_running (safepoint.c, S5) without pauses: the CAS
 * BLOCKED -> RUNNING cannot fail. */
inline enter_running()
{
    atomic { assert(status == BLOCKED); status = RUNNING }    /* CAS seq_cst */
    atomic { own == 0 -> own = me + 1 }                        /* rcgc_own_take */
    poll()
}

/* rcgc_leave_running (safepoint.c, S4 steps 1-4; no pause to acknowledge). */
inline leave_running()
{
    do
    :: drain_self();
       atomic { assert(own == me + 1); own = 0 }               /* rcgc_own_drop */
       status = BLOCKED;                                       /* seq_cst */
#ifdef BROKEN_LEAVE
       break
#else
       atomic { ql = qlen };                                   /* seq_cst */
       if
       :: ql == 0 -> break
       :: else -> ql = 0; enter_running()                      /* back in, drain, retry */
       fi
#endif
    od;
    ql = 0
}

/* detach (threads.c): leave running, then under world.lock clear the
 * pending pointer (under qlock) and store DETACHED. */
inline detach()
{
    leave_running();
    pending_ptr = 0;
    status = DETACHED;                                         /* seq_cst */
    pending = 0
}

/* rcgc_thread_attach (threads.c) adopting heap H from the pool (R8). */
inline attach()
{
    status = BLOCKED;                                          /* under world.lock */
    pending_ptr = 1;
    enter_running();
    atomic { if :: pending_ptr -> pending = pending | PENDING_MERGE :: else fi }
}

/* Picks an object that thread me holds a reference to into o. */
inline pick_held()
{
    if
    :: held[HX(me, 0)] > 0 -> o = 0
#if NOBJ > 1
    :: held[HX(me, 1)] > 0 -> o = 1
#endif
    fi
}

#if NOBJ > 1
#define HOLDS(t) (held[HX(t, 0)] + held[HX(t, 1)] > 0)
#else
#define HOLDS(t) (held[HX(t, 0)] > 0)
#endif

#if NNON > 1
#define CANGET(t) (!done[0] && (t) != 0 || !done[1] && (t) != 1 || !done[2] && (t) != 2)
#else
#define CANGET(t) (!done[0] && (t) != 0 || !done[1] && (t) != 1)
#endif

/* The program hands one of its references to another thread that still
 * takes references: a ghost step, no count changes (the reference stays
 * counted where it was counted; refcount.md "The shared word"). */
inline move()
{
    atomic {
        HOLDS(me) && moves > 0 && CANGET(me) ->
        pick_held();
        if
        :: me != 0 && !done[0] -> tgt = 0
        :: me != 1 && !done[1] -> tgt = 1
#if NNON > 1
        :: me != 2 && !done[2] -> tgt = 2
#endif
        fi;
        held[HX(me, o)]--; held[HX(tgt, o)]++; moves--
    };
    tgt = 0; o = 0
}

#define LOCALS \
    byte me = T; byte myid = T + 1; \
    byte o, tgt, id, n, i, st, ql, bits; \
    short v, nv, mv, mnv, mlc; \
    bool ok, queue, retry, merging; \
    byte snap[NOBJ]; bool dead[NOBJ]

proctype Owner()
{
#define T 0
    LOCALS;
#undef T
    byte away = AWAY;
    do
    :: atomic { HOLDS(me) && incs > 0 -> incs--; pick_held() }; incref(o); o = 0
    :: HOLDS(me) -> pick_held(); decref(o); o = 0
    :: move()
    :: poll()
    :: away > 0 ->                       /* rcgc_blocking_begin ... _end */
       away--; poll(); leave_running(); enter_running()
    :: away > 0 ->                       /* rcgc_thread_detach, rcgc_thread_attach */
       away--; detach(); attach()
    :: done[me] = 1;                     /* the end: blocked for ever ... */
       poll(); leave_running(); break
    :: done[me] = 1;                     /* ... or detached */
       detach(); break
    od
}

proctype NonOwner(byte t)
{
#define T t
    LOCALS;
#undef T
    do
    :: atomic { HOLDS(me) && incs > 0 -> incs--; pick_held() }; incref(o); o = 0
    :: HOLDS(me) -> pick_held(); decref(o); o = 0
    :: move()
    :: atomic { !HOLDS(me) -> done[me] = 1 }; break
    od
}

init
{
    byte o;
    atomic {
        /* Each object allocated by the owner: one reference, its own. */
        o = 0;
        do
        :: o < NOBJ -> owner[o] = HID; loc[o] = 1; held[HX(0, o)] = 1; refs[o] = 1; o++
        :: else -> break
        od;
        o = 0;
        run Owner();
        run NonOwner(1);
#if NNON > 1
        run NonOwner(2);
#endif
    }
    (_nr_pr == 1);                       /* every thread has finished */
    atomic {
        assert(qn == 0 && qlen == 0);    /* no merge lost (R5) */
        o = 0;
        do
        :: o < NOBJ ->
           assert(entries[o] == 0);
           if
           :: refs[o] == 0 -> assert(freed[o])
           :: else ->
              assert(!freed[o] && !(shared[o] & QUEUED));
              if
              :: shared[o] & MERGED -> assert(CNT(shared[o]) == refs[o])
              :: else -> assert(owner[o] == HID && loc[o] + CNT(shared[o]) == refs[o])
              fi
           fi;
           o++
        :: else -> break
        od
    }
}

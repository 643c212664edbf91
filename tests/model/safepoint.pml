/* safepoint.pml: rcgc's stop-the-world handshake, for spin.
 *
 * What is modelled (docs/design/safepoints.md, tags S1-S7;
 * docs/design/models.md): a pausing thread (the background collector,
 * thread 0) and NMUT mutators, each on its own heap, with the status words,
 * the ownership tokens, world.lock, pause_lock, the condition variables
 * `acked` and `resumed`, pause_active, waiting, needs_ack, wants_in and the
 * PENDING_PAUSE bit, exactly as src/safepoint.c and src/threads.c use them.
 * Mutators run managed code, poll, enter and leave blocking regions, detach
 * and attach again, for ever; with -DMUT_PAUSE mutator 1 also requests
 * pauses of its own (rcgc_collect, S6). With -DSLEEPER one more mutator
 * runs a while, enters a blocking region and never runs again. With
 * -DRETRIES=n the "entries arrived" re-check of S4 step 4 succeeds at most
 * n times in all (the liveness check needs it bounded: models.md).
 *
 * Atomicity: one Promela step per atomic operation of the C code. A region
 * under world.lock is split into steps wherever it touches a status word
 * or pause_active (read by other threads without the lock); lock-only
 * fields (needs_ack, wants_in, waiting, the condition variables' waiter
 * sets) ride with the neighbouring step, and so do the acquisition and
 * the release of the lock (Lipton's reduction: an acquire moves right, a
 * release moves left). pthread_cond_wait releases the
 * mutex and joins the waiter set in one step, and returns once signalled
 * and the mutex is free; there are no spurious wakeups (every wait in the
 * code is in a predicate loop, so they would only add behaviours the loops
 * absorb), and a signal with no waiter is lost, so a lost wakeup is a
 * deadlock here. rcgc_own_take's try/yield loop is a blocking guard.
 * Spin is sequentially consistent: every status access and pause_active
 * access in the code is seq_cst, which is what the Dekker arguments of S3
 * and S4 need.
 *
 * Abstracted away: merge queues and their drains (merge.pml; the re-check
 * of S4 step 4, "entries arrived", is a nondeterministic choice, which
 * covers every pusher), QSBR and grace periods (S8), fork (S9), the young
 * generation and old-object flushes, the heap pool (a thread that detaches
 * adopts its own heap again), statistics and timing.
 *
 * Ghost state: paused (the world is stopped: from the return of
 * rcgc_pause_begin to the start of rcgc_pause_end), managed[h] (thread h
 * holds its own token as owner, i.e. may run managed code: R1), acking
 * (the pauser has published pause_active and waits for the world to stop).
 *
 * Properties:
 *  safety (-DSAFETY -DNOCLAIM): while paused no mutator is in managed code
 *    and every token is free (S6), every other heap is PARKED, SUSPENDED or
 *    DETACHED when rcgc_pause_begin returns (S3), no heap becomes RUNNING
 *    while paused, the scan never finds PARKED or SUSPENDED (S3), statuses
 *    change only along S1's transitions that the code asserts; no invalid
 *    end state (deadlock).
 *  liveness (-a -f, the ltl claim `completes`): under weak fairness, once a
 *    pause has begun (pause_active published) it completes; with -DSLEEPER
 *    a mutator that blocks and never runs again must not delay it.
 *
 * Broken variants:
 *  -DBROKEN_SUSPEND  the pauser stores SUSPENDED over a heap it read as
 *                    BLOCKED instead of compare-and-swapping it (no re-check
 *                    of the status): a mutator that just went RUNNING runs
 *                    inside the pause.
 *  -DBROKEN_NOACK    rcgc_leave_running does not load pause_active after
 *                    storing BLOCKED (S4 step 6): a thread counted while
 *                    running that then blocks for ever, or detaches, never
 *                    acknowledges, and the pause waits for ever.
 */

#ifndef NMUT
#define NMUT 2
#endif
#ifdef SLEEPER
#define NH (NMUT + 2)
#else
#define NH (NMUT + 1)
#endif

/* Heap status (src/internal.h). */
#define DETACHED 0
#define RUNNING 1
#define BLOCKED 2
#define SUSPENDED 3
#define PARKED 4

#define PENDING_PAUSE 1

#define BIT(t) (1 << (t))

byte wlock;                     /* world.lock: 0 free, t + 1 held by t */
byte plock;                     /* world.pause_lock */
bool pause_active;              /* world.pause_active */
byte waiting;                   /* world.waiting (under world.lock) */
byte acked_w;                   /* waiters on world.acked (bit per thread) */
byte resumed_w;                 /* waiters on world.resumed */

byte status[NH];                /* heap->status */
byte own[NH];                   /* heap->own_lock: 0 free, t + 1 held by t */
bool needs_ack[NH];             /* heap->needs_ack (under world.lock) */
bool wants_in[NH];              /* heap->wants_in (under world.lock) */
bool pending_ptr[NH];           /* heap->pending != NULL */
byte pending[NH];               /* the thread's TLS pending word */

#ifdef RETRIES
byte retries = RETRIES;         /* S4 step 4 finding entries, in all */
#endif

bool paused;                    /* ghost: the world is stopped */
bool acking;                    /* ghost: a begun pause waits for the world */
bool managed[NH];               /* ghost: thread h may run managed code */

ltl completes { [] (acking -> <> !acking) }

inline lock(m)   { atomic { m == 0 -> m = me + 1 } }
inline unlock(m) { atomic { assert(m == me + 1); m = 0 } }

/* pthread_cond_signal: wake one waiter, if any. */
inline cond_signal(cv)
{
    if
    :: cv & BIT(0) -> cv = cv & ~BIT(0)
    :: cv & BIT(1) -> cv = cv & ~BIT(1)
    :: cv & BIT(2) -> cv = cv & ~BIT(2)
    :: cv & BIT(3) -> cv = cv & ~BIT(3)
    :: cv & BIT(4) -> cv = cv & ~BIT(4)
    :: cv == 0 -> skip
    fi
}

/* The second half of pthread_cond_wait(cv, world.lock): once signalled
 * (our bit cleared) and the lock is free, take it. The first half
 * (release the lock and join the waiters) closes the step before it. */
#define WAKE(cv) atomic { (cv & BIT(me)) == 0 && wlock == 0 -> wlock = me + 1 }
#define SLEEP(cv) wlock = 0; cv = cv | BIT(me)

/* rcgc_own_take (threads.c) / rcgc_own_drop (internal.h), by the owner. */
inline own_take()
{
    atomic { own[me] == 0 -> own[me] = me + 1; assert(!paused); managed[me] = 1 }
}
inline own_drop()
{
    atomic { assert(own[me] == me + 1); own[me] = 0; managed[me] = 0 }
}

/* ack_locked (safepoint.c), with world.lock held; r = whether it acked.
 * Part of the caller's step. */
inline ack_locked(st)
{
    if
    :: needs_ack[me] ->
       needs_ack[me] = 0;
       assert(status[me] == RUNNING || status[me] == BLOCKED);
       status[me] = st;                              /* seq_cst */
       waiting--;
       if
       :: waiting == 0 -> cond_signal(acked_w)
       :: else
       fi;
       r = 1
    :: else -> r = 0
    fi
}

/* park (safepoint.c), S3: acknowledge as PARKED and wait for the end. */
inline park()
{
    own_drop();
    atomic { wlock == 0 -> wlock = me + 1; ack_locked(PARKED); if :: !r -> wlock = 0 :: else fi };
    if
    :: r ->
       r = 0;
       do                                            /* status: relaxed, under the lock */
       :: atomic { status[me] == PARKED -> SLEEP(resumed_w) }; WAKE(resumed_w)
       :: atomic { status[me] != PARKED -> wlock = 0 }; break
       od
    :: else
    fi;
    own_take()
}

/* rcgc_safepoint / rcgc__safepoint_slow (S2), PENDING_PAUSE part: the
 * inline load and the slow path's exchange as one step. */
inline poll()
{
    atomic { assert(managed[me]); bits = pending[me]; pending[me] = 0 }
    if
    :: bits & PENDING_PAUSE -> bits = 0; park()
    :: else
    fi
}

/* rcgc_enter_running (safepoint.c), S5 steps 1-3 and 5. */
inline enter_running()
{
    atomic {                                         /* CAS BLOCKED -> RUNNING, seq_cst */
        if
        :: status[me] == BLOCKED -> status[me] = RUNNING; ok = 1; assert(!paused)
        :: else -> ok = 0
        fi
    }
    if
    :: !ok ->
       /* Under world.lock: status read relaxed; pause_active, wants_in. */
       atomic { wlock == 0 -> wlock = me + 1 };
       do
       :: atomic { status[me] == RUNNING -> wants_in[me] = 0; wlock = 0 }; break
       :: atomic {
              status[me] == BLOCKED && !pause_active ->
              status[me] = RUNNING; assert(!paused); wants_in[me] = 0; wlock = 0
          };
          break
       :: atomic {
              !(status[me] == RUNNING || status[me] == BLOCKED && !pause_active) ->
              wants_in[me] = 1; SLEEP(resumed_w)
          };
          WAKE(resumed_w)
       od
    :: else
    fi;
    ok = 0;
    own_take();                                      /* S5 step 3 */
    poll()                                           /* S5 step 5 */
}

/* rcgc_leave_running (safepoint.c), S4. Called running, as owner. */
inline leave_running()
{
    do
    :: /* step 1: drain the own queue (merge.pml) */
       own_drop();                                   /* step 2 */
       atomic { assert(status[me] == RUNNING); status[me] = BLOCKED }   /* step 3, seq_cst */
       if                                            /* step 4: qlen, seq_cst */
       :: break                                      /* empty */
#ifdef RETRIES
       :: atomic { retries > 0 -> retries-- };       /* entries arrived: back in */
          enter_running()
#else
       :: enter_running()                            /* entries arrived: back in */
#endif
       fi
    od;
#ifndef BROKEN_NOACK
    atomic { r = pause_active };                     /* step 6, seq_cst */
    if
    :: r ->                                          /* lock, ack_locked, unlock */
       atomic { wlock == 0 -> wlock = me + 1; ack_locked(SUSPENDED); wlock = 0 }
    :: else
    fi;
#endif
    r = 0
}

inline blocking_begin()
{
    poll();
    leave_running()
}

inline blocking_end()
{
    enter_running()
}

/* detach (threads.c): leave running, then one critical section under
 * world.lock (and qlock for the pending pointer). */
inline detach()
{
    leave_running();
    atomic {
        wlock == 0 ->
        pending_ptr[me] = 0;
        assert(status[me] == BLOCKED || status[me] == SUSPENDED);
        status[me] = DETACHED;                       /* seq_cst */
        needs_ack[me] = 0; wants_in[me] = 0;
        pending[me] = 0
    }
}

/* rcgc_thread_attach (threads.c), adopting our own heap again: one
 * critical section under world.lock, then enter running. */
inline attach()
{
    atomic {
        wlock == 0 ->
        assert(status[me] == DETACHED);
        /* pause_active: relaxed, under world.lock; status: seq_cst */
        status[me] = (pause_active -> SUSPENDED : BLOCKED);
        pending[me] = 0;
        pending_ptr[me] = 1
    }
    enter_running()
}

/* rcgc_pause_begin (safepoint.c), S3 and S6. */
inline pause_begin()
{
    atomic {                                         /* trylock(pause_lock) */
        if
        :: plock == 0 -> plock = me + 1; ok = 1
        :: else -> ok = 0
        fi
    }
    if
    :: !ok ->                                        /* S6: counted as stopped meanwhile */
       leave_running();
       lock(plock);
       enter_running()
    :: else -> ok = 0
    fi;
    /* lock world.lock; pause_active = 1 (seq_cst); waiting = 0 */
    atomic { wlock == 0 -> wlock = me + 1; pause_active = 1; waiting = 0; acking = 1 }
    h = 0;
    do
    :: h < NH && h != me ->
       do
       :: atomic {                                   /* load, seq_cst */
              s = status[h];
              if
              :: s == RUNNING ->                     /* count it; set_pending under qlock */
                 needs_ack[h] = 1; waiting++;
                 if :: pending_ptr[h] -> pending[h] = pending[h] | PENDING_PAUSE :: else fi
              :: else
              fi
          };
          if
          :: s == RUNNING -> break
          :: s == BLOCKED ->
#ifdef BROKEN_SUSPEND
             status[h] = SUSPENDED;                  /* blind store */
             break
#else
             atomic {                                /* CAS BLOCKED -> SUSPENDED, seq_cst */
                 if
                 :: status[h] == BLOCKED -> status[h] = SUSPENDED; ok = 1
                 :: else -> ok = 0
                 fi
             }
             if
             :: ok -> ok = 0; break
             :: else                                 /* it just became RUNNING */
             fi
#endif
          :: else -> assert(s == DETACHED); break    /* never PARKED or SUSPENDED */
          fi
       od;
       s = 0; h++
    :: h < NH && h == me -> h++
    :: h == NH -> h = 0; break
    od;
    do                                               /* wait on acked while waiting > 0 */
    :: atomic { waiting > 0 -> SLEEP(acked_w) }; WAKE(acked_w)
    :: atomic {
           waiting == 0 -> wlock = 0;                /* unlock; return */
           acking = 0; paused = 1;
           /* S3: every other heap stopped; S6: its token free */
           h = 0;
           do
           :: h < NH ->
              assert(h == me || !managed[h] && own[h] == 0 &&
                     (status[h] == PARKED || status[h] == SUSPENDED ||
                      status[h] == DETACHED));
              h++
           :: else -> h = 0; break
           od
       };
       break
    od
}

/* The pause's work (gather_everything, cycles.c), one critical section
 * under world.lock: take and drop every other heap's token, which S6 says
 * is free (so the take never waits). */
inline pause_work()
{
    atomic {
        wlock == 0 -> assert(paused);
        h = 0;
        do
        :: h < NH -> assert(h == me || own[h] == 0); h++
        :: else -> h = 0; break
        od
    }
}

/* rcgc_pause_end (safepoint.c), S3: under world.lock, restore every
 * status (one step each: owners read them without the lock), then
 * pause_active = 0, broadcast resumed, unlock world.lock and pause_lock. */
inline pause_end()
{
    atomic { wlock == 0 -> wlock = me + 1; paused = 0 }
    h = 0;
    do
    :: h < NH ->
       atomic {                                      /* relaxed load, seq_cst store */
           if
           :: status[h] == PARKED -> status[h] = RUNNING
           :: status[h] == SUSPENDED -> status[h] = (wants_in[h] -> RUNNING : BLOCKED)
           :: else
           fi
       };
       h++
    :: else -> h = 0; break
    od;
    atomic {
        pause_active = 0;                            /* seq_cst */
        resumed_w = 0;                               /* broadcast */
        assert(wlock == me + 1 && plock == me + 1);
        wlock = 0; plock = 0
    }
}

#define LOCALS byte me = T; byte s, h, bits; bool ok, r

/* Managed code between safepoints (it touches objects), then a poll: the
 * code's assertion folded into the poll's first step. */
inline work_poll()
{
    atomic {
        assert(managed[me] && !paused && status[me] == RUNNING);
        bits = pending[me]; pending[me] = 0
    }
    if
    :: bits & PENDING_PAUSE -> bits = 0; park()
    :: else
    fi
}

proctype Collector()
{
#define T 0
    LOCALS;
#undef T
    do
    :: pause_begin(); pause_work(); pause_end()
    :: blocking_begin(); blocking_end()
#ifdef MUT_PAUSE
    :: work_poll()                                   /* another pauser may count us */
#endif
    od
}

proctype Mutator(byte t)
{
#define T t
    LOCALS;
#undef T
    do
    :: work_poll()
    :: blocking_begin(); blocking_end()
    :: detach(); attach()
#ifdef MUT_PAUSE
    :: me == 1 -> pause_begin(); pause_work(); pause_end()
#endif
    od
}

#ifdef SLEEPER
/* Runs managed code and polls a while, then enters a blocking region and
 * never runs again (its process ends there). */
proctype Sleeper(byte t)
{
#define T t
    LOCALS;
#undef T
    do
    :: work_poll()
    :: blocking_begin(); break
    od
}
#endif

init
{
    byte t;
    atomic {
        /* Every thread attached and running, holding its token. */
        t = 0;
        do
        :: t < NH -> status[t] = RUNNING; own[t] = t + 1; managed[t] = 1;
                     pending_ptr[t] = 1; t++
        :: else -> break
        od;
        t = 0;
        run Collector();
        run Mutator(1);
#if NMUT > 1
        run Mutator(2);
#endif
#if NMUT > 2
        run Mutator(3);
#endif
#ifdef SLEEPER
        run Sleeper(NMUT + 1);
#endif
    }
}

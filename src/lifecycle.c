/* lifecycle.c: rcgc_init, rcgc_shutdown, configuration and rcgc_collect.
 *
 * Purpose: the library's global state (the world) is created here, from a
 * config whose defaults RCGC_* environment variables adjust, and torn down
 * here. rcgc_collect is the explicit collection entry point.
 *
 * Design: docs/design/safepoints.md (S6, pauses) and refcount.md (R5).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

rcgc__world rcgc_world = {
    .pause_lock = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .acked = PTHREAD_COND_INITIALIZER,
    .resumed = PTHREAD_COND_INITIALIZER,
    .promoted = PTHREAD_COND_INITIALIZER,
};

int rcgc_threads_init(void);

/* ==================================================================== */
/* Configuration                                                         */
/* ==================================================================== */

void rcgc_config_init(rcgc_config *config)
{
    if (config == NULL)
        return;
    memset(config, 0, sizeof *config);
    config->size = sizeof *config;
    config->checks = 1;
    config->threshold0 = RCGC_DEFAULT_THRESHOLD0;
    config->threshold1 = RCGC_DEFAULT_THRESHOLD1;
    config->threshold2 = RCGC_DEFAULT_THRESHOLD2;
    config->enabled = 1;
    config->debug_leaks = 0;
}

/* Reads an integer environment variable within [lo, hi]. Returns 0 when
 * unset, 1 when set and valid, -1 when set and invalid. */
static int env_long(const char *name, long lo, long hi, long *out)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 1;
}

static int env_int(const char *name, long lo, long hi, int *out)
{
    long v = *out;
    int rc = env_long(name, lo, hi, &v);
    *out = (int)v;
    return rc;
}

static int env_u32(const char *name, long lo, uint32_t *out)
{
    long v = *out;
    int rc = env_long(name, lo, UINT32_MAX, &v);
    *out = (uint32_t)v;
    return rc;
}

/* RCGC_FINALIZE: background | on-demand. Same return as env_long. */
static int env_finalize(int *out)
{
    const char *s = getenv("RCGC_FINALIZE");
    if (s == NULL || *s == '\0')
        return 0;
    if (strcmp(s, "background") == 0)
        *out = RCGC_FINALIZE_BACKGROUND;
    else if (strcmp(s, "on-demand") == 0)
        *out = RCGC_FINALIZE_ON_DEMAND;
    else
        return -1;
    return 1;
}

int rcgc_config_from_env(rcgc_config *c)
{
    if (c == NULL)
        return EINVAL;
    if (env_finalize(&c->finalize_mode) < 0 ||
        env_int("RCGC_CHECKS", 0, 2, &c->checks) < 0 ||
        env_u32("RCGC_THRESHOLD0", 1, &c->threshold0) < 0 ||
        env_u32("RCGC_THRESHOLD1", 0, &c->threshold1) < 0 ||
        env_u32("RCGC_THRESHOLD2", 0, &c->threshold2) < 0 ||
        env_int("RCGC_ENABLED", 0, 1, &c->enabled) < 0 ||
        env_int("RCGC_DEBUG_LEAKS", 0, 1, &c->debug_leaks) < 0)
        return EINVAL;
    return 0;
}

static int config_valid(const rcgc_config *c)
{
    return c->checks >= 0 && c->checks <= 2 && c->threshold0 >= 1 &&
           (c->enabled == 0 || c->enabled == 1) && (c->debug_leaks == 0 || c->debug_leaks == 1) &&
           (c->finalize_mode == RCGC_FINALIZE_BACKGROUND ||
            c->finalize_mode == RCGC_FINALIZE_ON_DEMAND);
}

/* ==================================================================== */
/* Init and shutdown                                                     */
/* ==================================================================== */

int rcgc_init(const rcgc_config *config)
{
    rcgc_config c;
    rcgc_config_init(&c);
    if (config != NULL) {
        if (config->size < sizeof(size_t) + sizeof(int))
            return EINVAL;
        memcpy(&c, config, config->size < sizeof c ? config->size : sizeof c);
        c.size = sizeof c;
    } else if (rcgc_config_from_env(&c) != 0) {
        return EINVAL;
    }
    if (!config_valid(&c))
        return EINVAL;
    pthread_mutex_lock(&rcgc_world.lock);
    /* Relaxed: world.lock orders init and shutdown. */
    if (atomic_load_explicit(&rcgc_world.initialized, memory_order_relaxed)) {
        pthread_mutex_unlock(&rcgc_world.lock);
        return EALREADY;
    }
    int rc = rcgc_threads_init();
    if (rc != 0) {
        pthread_mutex_unlock(&rcgc_world.lock);
        return rc;
    }
    rc = rcgc_trace_init(&c);
    if (rc != 0) {
        rcgc_threads_shutdown();
        pthread_mutex_unlock(&rcgc_world.lock);
        return rc;
    }
    rcgc_world.config = c;
    rcgc_world.pauses = rcgc_world.pause_total_ns = rcgc_world.pause_max_ns = 0;
    rcgc_world.pause_ttsp_max_ns = rcgc_world.pause_held_max_ns = 0;
    rcgc_world.pause_work_max_ns = 0;
    memset(rcgc_world.gen, 0, sizeof rcgc_world.gen);
    /* Relaxed: tunables, published by the release store of initialized. */
    atomic_store_explicit(&rcgc_world.gc_enabled, c.enabled, memory_order_relaxed);
    atomic_store_explicit(&rcgc_world.threshold[0], c.threshold0, memory_order_relaxed);
    atomic_store_explicit(&rcgc_world.threshold[1], c.threshold1, memory_order_relaxed);
    atomic_store_explicit(&rcgc_world.threshold[2], c.threshold2, memory_order_relaxed);
    atomic_store_explicit(&rcgc_world.leaked, 0, memory_order_relaxed);
    /* Release: a thread that sees initialized (acquire) sees the config. */
    atomic_store_explicit(&rcgc_world.initialized, 1, memory_order_release);
    pthread_mutex_unlock(&rcgc_world.lock);
    /* The background collector (cycles.c). If it cannot start, nothing
     * else has started either: undo and report. */
    rc = rcgc_collector_start(false);
    if (rc != 0) {
        pthread_mutex_lock(&rcgc_world.lock);
        atomic_store_explicit(&rcgc_world.initialized, 0, memory_order_relaxed);
        rcgc_threads_shutdown();
        pthread_mutex_unlock(&rcgc_world.lock);
        rcgc_trace_shutdown();
    }
    return rc;
}

void rcgc_shutdown(void)
{
    /* Acquire: pairs with rcgc_init's release. */
    if (!atomic_load_explicit(&rcgc_world.initialized, memory_order_acquire))
        return;
    if (rcgc__tls_self.heap == NULL && rcgc_thread_attach() != 0)
        rcgc_fatal("rcgc_shutdown", NULL, "cannot attach the calling thread");
    /* Owed user code runs before anything is torn down (W8); the
     * collector, stopping, runs what it still finds, and so do we after. */
    rcgc__heap *self = rcgc__tls_self.heap;
    rcgc_finq_run(self, NULL);
    rcgc_collector_stop();
    rcgc_finq_run(self, NULL);
    /* Relaxed: a count changed only under world.lock by attach/detach. */
    if (atomic_load_explicit(&rcgc_world.attached, memory_order_relaxed) != 1)
        rcgc_fatal("rcgc_shutdown", NULL,
                   "other threads are still attached (detach them first)");
    /* Drain every heap until no queue has entries: freeing can queue more
     * (a dying object releasing slots owned by a detached heap). */
    for (bool again = true; again;) {
        again = false;
        pthread_mutex_lock(&rcgc_world.lock);
        for (rcgc__heap *h = rcgc_world.heaps; h != NULL; h = h->next_all) {
            /* Relaxed: a hint; the drain itself takes qlock. */
            if (h == self || atomic_load_explicit(&h->qlen, memory_order_relaxed) == 0)
                continue;
            rcgc_own_take(h);
            rcgc_heap_drain(h, &self->dead);
            rcgc_own_drop(h);
            again = true;
        }
        pthread_mutex_unlock(&rcgc_world.lock);
        rcgc_dealloc_run(self);
        if (rcgc_drain_self() != 0)
            again = true;
        if (rcgc_collector_ingest(self) != 0)
            again = true;
        if (rcgc_finq_run(self, NULL) != 0)
            again = true;
    }
    rcgc_thread_detach();
    rcgc_collector_ingest(NULL); /* deaths during our own detach */
    rcgc_collector_release();
    rcgc_finq_release();
    rcgc_trace_shutdown();
    pthread_mutex_lock(&rcgc_world.lock);
    atomic_store_explicit(&rcgc_world.initialized, 0, memory_order_relaxed);
    rcgc_threads_shutdown();
    pthread_mutex_unlock(&rcgc_world.lock);
}

/* ==================================================================== */
/* Explicit collection                                                   */
/* ==================================================================== */

size_t rcgc_collect(int generation)
{
    rcgc__heap *self = rcgc_require_attached("rcgc_collect", NULL);
    if (self == NULL || generation < 0 || generation > 2) {
        errno = EINVAL;
        return 0;
    }
    if (generation == 0)
        return rcgc_collect_young(self, true);
    return rcgc_collect_old(self, generation);
}

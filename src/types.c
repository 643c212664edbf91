/* types.c: the type table.
 *
 * Purpose: an object's header holds its type as a 16-bit id instead of an
 * 8-byte pointer, so that the header is 16 bytes (docs/design/objects.md,
 * O2). Every type descriptor gets an id on the first allocation of an
 * object of that type, and keeps it for the life of the process: the
 * table maps ids to descriptors (an array, read without a lock) and
 * descriptors to ids (an open-addressing hash keyed by address, read
 * without a lock, written under a mutex). A descriptor is known by its
 * address only: a descriptor freed and another allocated at the same
 * address share the id, and the header's id then names the new one, as
 * the 8-byte pointer did (the contract requires a descriptor to outlive
 * its objects).
 *
 * Ordering: an id's entry in the array is published (release) before the
 * hash slot that names it (release), and readers load the slot and then
 * the entry with acquire, so a reader that finds an id sees its
 * descriptor. An object reaches other threads only after its allocation
 * registered its type, through a release/acquire pair (O4), so the
 * library's readers of an object's type (rcgc_type_get) load the entry
 * relaxed.
 */
#include "internal.h"

#include <pthread.h>

/* Index 0 is never an id: a header with type_id 0 is not an object. */
const rcgc_type *_Atomic rcgc_type_table[RCGC_MAX_TYPES + 1];

/* Twice the ids, a power of two: at most half full, so a probe ends. */
#define HASH_SLOTS (2u * (RCGC_MAX_TYPES + 1))
static _Atomic uint16_t type_hash[HASH_SLOTS];
static uint32_t ntypes; /* ids handed out, under reg_lock */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static inline uint32_t hash_of(const rcgc_type *type)
{
    /* Fibonacci hashing of the address (descriptors are aligned). */
    uint64_t k = (uint64_t)(uintptr_t)type * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 40) & (HASH_SLOTS - 1);
}

/* The id of `type`, or 0 when it has none; *slot: where the probe ended
 * (the empty slot an insertion takes). */
static uint16_t find(const rcgc_type *type, uint32_t *slot)
{
    for (uint32_t i = hash_of(type);; i = (i + 1) & (HASH_SLOTS - 1)) {
        /* Acquire: pairs with the release that filled the slot, which
         * followed the release of the id's entry. */
        uint16_t id = atomic_load_explicit(&type_hash[i], memory_order_acquire);
        if (id == 0) {
            *slot = i;
            return 0;
        }
        if (atomic_load_explicit(&rcgc_type_table[id], memory_order_acquire) == type)
            return id;
    }
}

uint16_t rcgc_type_register(const rcgc_type *type)
{
    uint32_t slot;
    uint16_t id = find(type, &slot);
    if (id != 0)
        return id;
    pthread_mutex_lock(&reg_lock);
    /* Again under the lock: another thread may have registered it. */
    id = find(type, &slot);
    if (id == 0 && ntypes < RCGC_MAX_TYPES) {
        id = (uint16_t)++ntypes;
        /* Release, then release: the entry before the slot that names it
         * (see the ordering note at the top). */
        atomic_store_explicit(&rcgc_type_table[id], type, memory_order_release);
        atomic_store_explicit(&type_hash[slot], id, memory_order_release);
    }
    pthread_mutex_unlock(&reg_lock);
    return id;
}

const rcgc_type *rcgc_type_lookup(uint32_t id)
{
    if (id == 0 || id > RCGC_MAX_TYPES)
        return NULL;
    /* Acquire: a diagnostic may look up an id it read from any header. */
    return atomic_load_explicit(&rcgc_type_table[id], memory_order_acquire);
}

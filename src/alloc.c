/* alloc.c: the small-object allocator.
 *
 * Purpose: managed objects are small (a header of 16 bytes and a payload of
 * a few slots), made and freed at a high rate, mostly by the thread that
 * made them. glibc's malloc costs more than all of rcgc's own work on that
 * path (bench/binarytrees: malloc, free and malloc_usable_size were 40% of
 * the profile), so blocks up to RCGC_SMALL_MAX bytes come from pages owned
 * by a heap (docs/design/objects.md, O10):
 *
 *  - A page is PAGE bytes, aligned to PAGE, and holds blocks of one size
 *    class. Its descriptor sits at its start, so a block's page (and size)
 *    is found by masking its address: no per-block size word, and no
 *    malloc_usable_size call for the statistics.
 *  - The holder of a heap's ownership token (its running thread) allocates
 *    from the heap's current page of the class: pop the local free list,
 *    else bump into the page's never-used tail. When the page runs dry it
 *    takes the page's remote frees, then a page from the heap's `avail`
 *    stack, then looks at a few more pages for remote frees (round robin),
 *    and only then maps a new page.
 *  - A free by the token holder of the page's heap pushes on the local free
 *    list (plain stores). Any other thread pushes on the page's `remote`
 *    stack with a compare-and-swap; only the token holder takes that stack,
 *    whole, with an exchange, so the stack has no ABA problem.
 *  - Larger objects, and every object in sanitizer builds (ASan and TSan
 *    must see each allocation and free), use malloc; their header carries
 *    RCGC_BIT_MALLOCED so that the free path knows which way to go.
 * Pages stay with their heap for the heap's life (heaps outlive threads and
 * are adopted); rcgc_shutdown frees the pages that hold no live object.
 */
#include "internal.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE ((size_t)64 * 1024)

/* Block sizes, header included. 16-byte multiples keep payloads aligned. */
static const uint32_t class_size[RCGC_NCLASSES] = {32,  48,  64,  80,  96,  112, 128, 160,
                                                   192, 224, 256, 320, 384, 448, 512};

/* A free block. The link sits in the payload, after the header's 16
 * bytes, which stay a header while the page is mapped: a rcgc_load_ref on
 * another thread may count `shared` in a block that has just been freed
 * (docs/design/loadref.md, L1, L2). Every block has at least 16 payload
 * bytes. */
typedef struct block {
    rcgc__header header;
    struct block *next;
} block;

typedef struct rcgc_page {
    /* First, for the inline allocation path (include/rcgc/inline.h, O13):
     * the local free list, the never-used tail, the blocks out (remote
     * frees not yet taken counted as out) and the block size. Token
     * holder only; the size never changes. */
    rcgc__page_fast f;
    rcgc__heap *heap;            /* owner; never changes */
    uint32_t cls;
    block *_Atomic remote;       /* frees by other threads */
    struct rcgc_page *next_all;  /* the heap's pages of this class */
    struct rcgc_page *next_avail;
    bool in_avail;               /* on the heap's avail stack, or current */
    uint32_t window_epoch;       /* the heap's window that lists it (C15) */
} rcgc_page;

/* The descriptor takes the first cache lines; blocks start after it, at
 * a 64-byte boundary. */
#define FIRST_BLOCK ((sizeof(rcgc_page) + 63u) & ~(size_t)63u)
_Static_assert(sizeof(rcgc_page) <= 128, "page descriptor grew: check FIRST_BLOCK's waste");
_Static_assert(RCGC_TAKE_MAX == sizeof(rcgc__header) + RCGC__FAST_MAX && RCGC__FAST_CLASSES == 7,
               "inline.h's fast classes: payloads up to RCGC__FAST_MAX, blocks 32 + 16 * class");
_Static_assert(offsetof(rcgc_page, f) == 0, "the inline path's view of a page comes first");

static inline rcgc_page *page_of(const void *p)
{
    return (rcgc_page *)((uintptr_t)p & ~(uintptr_t)(PAGE - 1));
}

static inline int class_of(size_t bytes)
{
    if (bytes <= 128)
        return bytes <= 32 ? 0 : (int)((bytes - 32 + 15) / 16);
    for (int c = 7; c < RCGC_NCLASSES; c++)
        if (bytes <= class_size[c])
            return c;
    return -1;
}


/* ==================================================================== */
/* Pages                                                                 */
/* ==================================================================== */

/* The page map (cycles.md, C3): one bit per page of every heap, for the
 * life of the process until rcgc_shutdown frees a page. Collections use it
 * to tell, from an address alone, that the header before it is memory of
 * a page, readable whatever became of the object. Two levels over page
 * numbers (address >> 16): a root of PMAP_ROOT pointers, each to a leaf
 * of bits, allocated on first use and kept. Pages above 2^47 are not
 * mapped here (page_new then gives up and the object comes from malloc).
 *
 * Ordering: a page's bit is set (release) before any of its blocks is
 * handed out, and an object reaches another thread only through a
 * release that the reader pairs with an acquire (O4; a slot is read with
 * acquire, C5), so a reader that holds a pointer into the page sees the
 * bit. Leaves are published with a release CAS and read with acquire, so
 * their zeroed contents are seen. Bits are cleared only at shutdown, with
 * no thread attached and the collector stopped. */
#define PMAP_LEAF_BITS 16
#define PMAP_ROOT_BITS 15
#define PMAP_WORDS ((size_t)1 << (PMAP_LEAF_BITS - 6))
static _Atomic(_Atomic uint64_t *) page_map[(size_t)1 << PMAP_ROOT_BITS];

/* The word of `leaf` that holds page number pn's bit. */
static inline _Atomic uint64_t *pmap_word(_Atomic uint64_t *leaf, uintptr_t pn)
{
    return &leaf[(pn & (((uintptr_t)1 << PMAP_LEAF_BITS) - 1)) >> 6];
}

static bool page_map_set(uintptr_t pg, bool on)
{
    uintptr_t pn = pg >> 16;
    if (pn >> (PMAP_ROOT_BITS + PMAP_LEAF_BITS))
        return false;
    _Atomic(_Atomic uint64_t *) *root = &page_map[pn >> PMAP_LEAF_BITS];
    /* Acquire: pairs with the release CAS below, for the leaf's zeros. */
    _Atomic uint64_t *leaf = atomic_load_explicit(root, memory_order_acquire);
    if (leaf == NULL) {
        if (!on)
            return true;
        _Atomic uint64_t *fresh = calloc(PMAP_WORDS, sizeof *fresh);
        if (fresh == NULL)
            return false;
        /* acq_rel: publishes the zeroed leaf; on failure (another heap's
         * page in the same leaf won) acquire the winner's, as above. */
        if (atomic_compare_exchange_strong_explicit(root, &leaf, fresh, memory_order_acq_rel,
                                                    memory_order_acquire))
            leaf = fresh;
        else
            free(fresh);
    }
    uint64_t bit = (uint64_t)1 << (pn & 63);
    _Atomic uint64_t *w = pmap_word(leaf, pn);
    /* Release: the bit is set before the page's first block is handed out
     * (see above); RMWs because pages of other heaps share the word. */
    if (on)
        atomic_fetch_or_explicit(w, bit, memory_order_release);
    else
        atomic_fetch_and_explicit(w, ~bit, memory_order_release);
    return true;
}

bool rcgc_pages_hold(const void *p)
{
    uintptr_t a = (uintptr_t)p, pg = a & ~(uintptr_t)(PAGE - 1);
    /* A payload is 16-byte aligned and starts after the descriptor and
     * a header, so its header lies inside the page. */
    if ((a & 15u) != 0 || a - pg < FIRST_BLOCK + sizeof(rcgc__header))
        return false;
    uintptr_t pn = pg >> 16;
    if (pn >> (PMAP_ROOT_BITS + PMAP_LEAF_BITS))
        return false;
    /* Acquire: as in page_map_set. Relaxed for the bit: the reader got p
     * through an acquire that the bit's setting happens before (above). */
    _Atomic uint64_t *leaf = atomic_load_explicit(&page_map[pn >> PMAP_LEAF_BITS],
                                                  memory_order_acquire);
    if (leaf == NULL)
        return false;
    uint64_t w = atomic_load_explicit(pmap_word(leaf, pn), memory_order_relaxed);
    return (w >> (pn & 63)) & 1u;
}

/* Pages are carved in address order from segments of SEGMENT_PAGES pages
 * that rcgc maps itself (O10): a tree built over many pages lies in one
 * run of memory, as it would in malloc's heap. With aligned_alloc each
 * 64 KiB page came with a gap of up to 64 KiB that glibc kept, and
 * counting a freshly built tree of 8 million nodes took 82 ms against
 * glibc's 19 ms (bench: the stretch tree of binary-trees 21, one thread;
 * 20 ms from segments). A mapping is aligned to PAGE by mapping one page
 * more and unmapping the slack on both sides. The cursor is global, under
 * seg_lock (a new page is needed once every 64 KiB of objects); a page is
 * unmapped on its own at shutdown (rcgc_pages_release). */
#define SEGMENT_PAGES 64
static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static char *seg_next, *seg_end; /* under seg_lock */

static void *page_map_new(void)
{
    /* O9: a page is an allocation point of a fault injection build. */
    if (rcgc_fault_fail())
        return NULL;
    pthread_mutex_lock(&seg_lock);
    if (seg_next == seg_end) {
        size_t len = (size_t)SEGMENT_PAGES * PAGE;
        char *p = mmap(NULL, len + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED) {
            pthread_mutex_unlock(&seg_lock);
            return NULL;
        }
        char *a = (char *)(((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
        if (a != p)
            munmap(p, (size_t)(a - p));
        if (a + len != p + len + PAGE)
            munmap(a + len, (size_t)(p + len + PAGE - (a + len)));
        seg_next = a;
        seg_end = a + len;
    }
    void *pg = seg_next;
    seg_next += PAGE;
    pthread_mutex_unlock(&seg_lock);
    return pg;
}

static rcgc_page *page_new(rcgc__heap *heap, int cls)
{
    rcgc_page *pg = page_map_new();
    if (pg == NULL)
        return NULL;
    if (!page_map_set((uintptr_t)pg, true)) {
        munmap(pg, PAGE);
        return NULL;
    }
    memset(pg, 0, sizeof *pg);
    pg->heap = heap;
    pg->f.size = class_size[cls];
    pg->cls = (uint32_t)cls;
    pg->f.bump = (char *)pg + FIRST_BLOCK;
    pg->f.end = (char *)pg + PAGE - (PAGE - FIRST_BLOCK) % pg->f.size;
    pg->next_all = heap->pages[cls].all;
    heap->pages[cls].all = pg;
    pg->in_avail = true; /* it becomes current */
    return pg;
}

/* Every block of the page is free again: forget the free list and
 * allocate from the start by bumping (O10). A list threaded through a
 * whole page in death order makes each allocation wait for the load of
 * the next link, a cache miss per block once a large structure has died;
 * bumping through the page touches memory in address order, which the
 * hardware prefetches. */
static inline void page_reset(rcgc_page *pg)
{
    pg->f.free = NULL;
    pg->f.bump = (char *)pg + FIRST_BLOCK;
}

/* C15: lists pg in the heap's young window, once per window. false when
 * the list cannot grow (no memory). Token holder. (Unused in fault
 * injection builds, which publish no page.) */
static __attribute__((unused)) bool window_add(rcgc__heap *heap, rcgc_page *pg)
{
    if (pg->window_epoch == heap->window_epoch)
        return true;
    if (heap->window_npages == heap->window_cap) {
        uint32_t cap = heap->window_cap ? heap->window_cap * 2 : 64;
        struct rcgc_page **a = realloc(heap->window_pages, cap * sizeof *a);
        if (a == NULL)
            return false;
        heap->window_pages = a;
        heap->window_cap = cap;
    }
    pg->window_epoch = heap->window_epoch;
    heap->window_pages[heap->window_npages++] = pg;
    return true;
}

/* Makes pg the current page of its class, and publishes it to the inline
 * allocation path when the class is one of its fast ones (O13) and it is
 * listed in the heap's young window, where the inline path's tracked
 * objects go (C15). Fault injection builds publish none, so that every
 * object goes through rcgc_alloc's allocation point (O9). Token holder. */
static void set_cur(rcgc__heap *heap, int cls, rcgc_page *pg)
{
    heap->pages[cls].cur = pg;
#if !defined(RCGC_FAULT_INJECTION)
    if (cls < RCGC__FAST_CLASSES)
        heap->fast.cur[cls] = pg != NULL && window_add(heap, pg) ? &pg->f : NULL;
#endif
}

/* C15: calls fn(heap, h, ctx) (unless fn is NULL: the window is known to
 * be empty) for every object of the heap's young window (a
 * block below its page's bump pointer, live, young, with gc_index
 * a window index (rcgc_in_window): blocks freed since carry the dead magic, blocks made
 * again by the general path a table index). Token holder. The headers read are of the
 * heap's own pages, which stay mapped until shutdown. */
void rcgc_window_scan(rcgc__heap *heap, void (*fn)(rcgc__heap *, rcgc__header *, void *),
                      void *ctx)
{
    for (uint32_t k = 0; fn != NULL && k < heap->window_npages; k++) {
        rcgc_page *pg = heap->window_pages[k];
        for (char *b = (char *)pg + FIRST_BLOCK; b < pg->f.bump; b += pg->f.size) {
            rcgc__header *h = (rcgc__header *)(void *)b;
            /* Relaxed: written by this heap's token holders only, or
             * (ESCAPED and the like) bits this test does not look at. */
            uint32_t bits = __atomic_load_n(&h->gc_bits, __ATOMIC_RELAXED);
            if ((bits >> RCGC_MAGIC_SHIFT) == RCGC_MAGIC_LIVE &&
                (bits & (RCGC_GEN_MASK | RCGC_BIT_TRACKED)) == RCGC_BIT_TRACKED &&
                rcgc_in_window(rcgc_index_get(h)))
                fn(heap, h, ctx);
        }
    }
}

/* C15: whether the block lies in a page the heap's window lists. Token
 * holder. */
bool rcgc_window_holds(const rcgc__heap *heap, const void *block)
{
    return page_of(block)->window_epoch == heap->window_epoch;
}

/* C15: empties the window's list and opens a new window, listing the
 * current pages (its objects must have left it). Token holder. */
void rcgc_window_reopen(rcgc__heap *heap)
{
    heap->window_npages = 0;
    heap->fast.window_seq = 0;
    /* A new epoch. Pages start at 0, which no window has; when the counter
     * wraps, every page of the heap goes back to 0 so that none can be
     * taken for listed. */
    if (++heap->window_epoch == 0) {
        for (int c = 0; c < RCGC_NCLASSES; c++)
            for (rcgc_page *pg = heap->pages[c].all; pg != NULL; pg = pg->next_all)
                pg->window_epoch = 0;
        heap->window_epoch = 1;
    }
    for (int c = 0; c < RCGC__FAST_CLASSES; c++)
        set_cur(heap, c, heap->pages[c].cur);
}

/* Takes the page's remote frees onto its local list (token holder). */
static bool take_remote(rcgc_page *pg)
{
    /* Relaxed pre-check, then an acquire exchange: pairs with the
     * pushers' release CAS, so the links inside the blocks are visible. */
    if (atomic_load_explicit(&pg->remote, memory_order_relaxed) == NULL)
        return false;
    block *r = atomic_exchange_explicit(&pg->remote, NULL, memory_order_acquire);
    if (r == NULL)
        return false;
    uint32_t n = 1;
    block *t = r;
    for (; t->next != NULL; t = t->next)
        n++;
    pg->f.used -= n;
    if (pg->f.used == 0) {
        page_reset(pg);
    } else {
        t->next = pg->f.free;
        pg->f.free = r;
    }
    return true;
}

static bool page_has_room(rcgc_page *pg)
{
    return pg->f.free != NULL || pg->f.bump + pg->f.size <= pg->f.end || take_remote(pg);
}

/* The current page of the class ran dry: find another (token holder). */
static rcgc_page *refill(rcgc__heap *heap, int cls)
{
    rcgc_pages *ps = &heap->pages[cls];
    rcgc_page *cur = ps->cur;
    if (cur != NULL) {
        if (take_remote(cur))
            return cur;
        cur->in_avail = false;
    }
    while (ps->avail != NULL) {
        rcgc_page *pg = ps->avail;
        ps->avail = pg->next_avail;
        if (page_has_room(pg)) {
            set_cur(heap, cls, pg);
            return pg;
        }
        pg->in_avail = false;
    }
    /* A few pages, round robin, for frees other threads made. */
    for (int k = 0; k < 8; k++) {
        rcgc_page *pg = ps->scan != NULL ? ps->scan : ps->all;
        if (pg == NULL)
            break;
        ps->scan = pg->next_all;
        if (!pg->in_avail && take_remote(pg)) {
            pg->in_avail = true;
            set_cur(heap, cls, pg);
            return pg;
        }
    }
    rcgc_page *pg = page_new(heap, cls);
    if (pg != NULL)
        set_cur(heap, cls, pg);
    return pg;
}

/* ==================================================================== */
/* Allocation and free                                                   */
/* ==================================================================== */

void *rcgc_block_alloc(rcgc__heap *heap, size_t bytes, size_t *got, bool *mallocd)
{
    int cls = rcgc_use_pages() ? class_of(bytes) : -1;
    if (cls < 0) {
        void *p = malloc(bytes);
        *got = p != NULL ? malloc_usable_size(p) : 0;
        *mallocd = true;
        return p;
    }
    *mallocd = false;
    rcgc_page *pg = heap->pages[cls].cur;
    void *b;
    if (pg != NULL && pg->f.free != NULL) {
        b = pg->f.free;
        pg->f.free = ((block *)pg->f.free)->next;
    } else if (pg != NULL && pg->f.bump + pg->f.size <= pg->f.end) {
        b = pg->f.bump;
        pg->f.bump += pg->f.size;
    } else {
        pg = refill(heap, cls);
        if (pg == NULL)
            return NULL;
        if (pg->f.free != NULL) {
            b = pg->f.free;
            pg->f.free = ((block *)pg->f.free)->next;
        } else {
            b = pg->f.bump;
            pg->f.bump += pg->f.size;
        }
    }
    pg->f.used++;
    *got = pg->f.size;
    return b;
}

/* The allocation fast path's block (O13): a block of the class of
 * `bytes` (at most RCGC_TAKE_MAX) from the heap's current page, from its
 * free list or its never-used tail, or NULL when that page has none (the
 * caller then takes rcgc_block_alloc, which refills). Token holder. */
void *rcgc_block_take(rcgc__heap *heap, size_t bytes, size_t *got)
{
    rcgc_page *pg = heap->pages[class_of(bytes)].cur;
    if (pg == NULL)
        return NULL;
    void *b = pg->f.free;
    if (b != NULL) {
        pg->f.free = ((block *)b)->next;
    } else {
        b = pg->f.bump;
        if ((char *)b + pg->f.size > pg->f.end)
            return NULL;
        pg->f.bump = (char *)b + pg->f.size;
    }
    pg->f.used++;
    *got = pg->f.size;
    return b;
}

size_t rcgc_block_size(const rcgc__header *h, bool mallocd)
{
    return mallocd ? 0 : page_of(h)->f.size;
}

void rcgc_block_free(rcgc__heap *self, void *p)
{
    rcgc_page *pg = page_of(p);
    block *b = p;
    if (pg->heap == self) {
        if (--pg->f.used == 0) {
            page_reset(pg);
        } else {
            b->next = pg->f.free;
            pg->f.free = b;
        }
        if (!pg->in_avail) {
            pg->in_avail = true;
            pg->next_avail = self->pages[pg->cls].avail;
            self->pages[pg->cls].avail = pg;
        }
        return;
    }
    /* Release CAS: publishes the link (and everything this thread did to
     * the block before) to the owner's acquire exchange. Relaxed on
     * failure: we only retry. */
    block *head = atomic_load_explicit(&pg->remote, memory_order_relaxed);
    do
        b->next = head;
    while (!atomic_compare_exchange_weak_explicit(&pg->remote, &head, b, memory_order_release,
                                                  memory_order_relaxed));
}

/* rcgc_shutdown: frees the heap's pages that hold no live block (counted
 * as every block is on a free list or never used). Pages with live
 * objects stay: those objects were alive at shutdown. */
void rcgc_pages_release(rcgc__heap *heap)
{
    for (int c = 0; c < RCGC_NCLASSES; c++) {
        rcgc_page *pg = heap->pages[c].all;
        while (pg != NULL) {
            rcgc_page *next = pg->next_all;
            take_remote(pg);
            size_t nfree = (size_t)(pg->f.end - pg->f.bump) / pg->f.size;
            for (block *b = pg->f.free; b != NULL; b = b->next)
                nfree++;
            if (nfree == (size_t)(pg->f.end - ((char *)pg + FIRST_BLOCK)) / pg->f.size) {
                page_map_set((uintptr_t)pg, false);
                munmap(pg, PAGE);
            }
            pg = next;
        }
        memset(&heap->pages[c], 0, sizeof heap->pages[c]);
        set_cur(heap, c, NULL);
    }
    free(heap->window_pages);
    heap->window_pages = NULL;
    heap->window_npages = heap->window_cap = 0;
}

// bench_fastpath.cc: google benchmark microbenchmarks of rcgc's fast paths.
//
// Purpose: the per-operation cost of what a language runtime calls millions
// of times a second (the inline paths of <rcgc/inline.h>: the owner's
// incref/decref, rcgc_store, rcgc_load, rcgc_safepoint), of the non-owner
// slow path, of rcgc_weakref_get (plus the decref of what it returns), and
// of allocation plus death by count (an untracked leaf, and a node whose
// type has a traverse, which also enters and leaves the young table), next
// to reference points measured the same way: a plain and an atomic
// increment/decrement pair, and malloc/free, calloc/free,
// malloc+memset/free (glibc) and mi_malloc/mi_free of 32 bytes (an rcgc
// object with a 16-byte payload is a 32-byte block: the 16-byte header plus
// the payload, taken from rcgc's own pages, design/objects.md O10).
//
// Run: build/bench/bench_fastpath [google benchmark flags], e.g.
//   build/bench/bench_fastpath --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one line)
// One iteration is one pair (or one store, load, poll, alloc+death), so
// "Time" is ns per operation. RCGC_CHECKS=0 in the environment turns the
// api checks off, which only the slow paths (non-owner, alloc) consult.
//
// Keeping the compiler honest: benchmark::ClobberMemory() is an empty
// `asm volatile("" ::: "memory")`; it emits no instruction but makes the
// compiler store every value reachable through memory before it and reload
// it after it. Each pair has one after the increment and one after the
// decrement, in every variant alike. The counters live at namespace scope
// with external linkage, so the clobber covers them, and the plain pair
// compiles to `addq $1, plain_counter(%rip)` / `subq $1, plain_counter(%rip)`
// (a real load, add and store each), not to nothing. Pointers that would
// otherwise be provably unused (malloc's result) go through
// benchmark::DoNotOptimize, so the allocation cannot be elided.
//
// The benchmarks run on the main thread (google benchmark runs a
// single-threaded benchmark on the calling thread), which main() attaches.

#include <rcgc.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#ifdef RCGC_BENCH_HAVE_MIMALLOC
#include <dlfcn.h>
#include <mimalloc.h> // MI_MALLOC_VERSION only: the functions come from dlopen
#endif

// Namespace scope, external linkage: see "Keeping the compiler honest".
long plain_counter;
std::atomic<long> atomic_counter;

namespace {

struct node {
    void *slot;
    long pad;
};

void node_traverse(void *obj, rcgc_visit_fn visit, void *ctx)
{
    visit(&static_cast<node *>(obj)->slot, ctx);
}

const rcgc_type leaf_type = {"bench.leaf", nullptr, nullptr, nullptr};
const rcgc_type node_type = {"bench.node", node_traverse, nullptr, nullptr};

bool require_attached(benchmark::State &state)
{
    if (rcgc_thread_is_attached())
        return true;
    state.SkipWithError("benchmark thread is not attached");
    return false;
}

// ---------------------------------------------------------------------
// Reference counting pairs
// ---------------------------------------------------------------------

void BM_OwnerPair(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    void *obj = rcgc_alloc(&leaf_type, 16);
    if (obj == nullptr) {
        state.SkipWithError("rcgc_alloc failed");
        return;
    }
    for (auto _ : state) {
        rcgc_incref(obj);
        benchmark::ClobberMemory();
        rcgc_decref(obj);
        benchmark::ClobberMemory();
    }
    rcgc_decref(obj);
}
BENCHMARK(BM_OwnerPair);

void BM_PlainPair(benchmark::State &state)
{
    for (auto _ : state) {
        plain_counter++;
        benchmark::ClobberMemory();
        plain_counter--;
        benchmark::ClobberMemory();
    }
    if (plain_counter != 0)
        state.SkipWithError("plain counter did not balance");
}
BENCHMARK(BM_PlainPair);

void BM_AtomicPair(benchmark::State &state)
{
    for (auto _ : state) {
        atomic_counter.fetch_add(1); // lock addq (result unused)
        benchmark::ClobberMemory();
        atomic_counter.fetch_sub(1); // lock subq
        benchmark::ClobberMemory();
    }
    if (atomic_counter.load() != 0)
        state.SkipWithError("atomic counter did not balance");
}
BENCHMARK(BM_AtomicPair);

// An object owned by another attached thread, which allocates it, hands it
// over and then waits in a blocking region (so it never delays a pause and
// keeps its reference, and the object stays owned by it) until main() tells
// it to finish after the benchmarks.
class Foreign {
public:
    void *start()
    {
        thread_ = std::thread([this] { run(); });
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return ready_; });
        return obj_;
    }

    void stop()
    {
        if (!thread_.joinable())
            return;
        {
            std::lock_guard<std::mutex> lock(mu_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

private:
    void run()
    {
        bool attached = rcgc_thread_attach() == 0;
        void *obj = attached ? rcgc_alloc(&leaf_type, 16) : nullptr;
        if (attached)
            rcgc_blocking_begin();
        {
            std::lock_guard<std::mutex> lock(mu_);
            obj_ = obj;
            ready_ = true;
        }
        cv_.notify_all();
        {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [this] { return done_; });
        }
        if (attached) {
            rcgc_blocking_end();
            rcgc_decref(obj);
            rcgc_thread_detach();
        }
    }

    std::thread thread_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool ready_ = false;
    bool done_ = false;
    void *obj_ = nullptr;
};

Foreign foreign;
void *foreign_obj;

void BM_NonOwnerPair(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    if (foreign_obj == nullptr) {
        state.SkipWithError("the owner thread failed to allocate");
        return;
    }
    void *obj = foreign_obj;
    benchmark::DoNotOptimize(obj);
    for (auto _ : state) {
        rcgc_incref(obj); // atomic add on the shared count
        benchmark::ClobberMemory();
        rcgc_decref(obj); // CAS on the shared count (back to 0: no queueing)
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_NonOwnerPair);

// ---------------------------------------------------------------------
// Slots and the safepoint poll
// ---------------------------------------------------------------------

void BM_Store(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    node *c = static_cast<node *>(rcgc_alloc(&node_type, sizeof(node)));
    void *v[2] = {rcgc_alloc(&leaf_type, 16), rcgc_alloc(&leaf_type, 16)};
    if (c == nullptr || v[0] == nullptr || v[1] == nullptr) {
        state.SkipWithError("rcgc_alloc failed");
        return;
    }
    rcgc_store(c, &c->slot, v[1]);
    unsigned i = 0;
    for (auto _ : state) {
        // incref(new) + exchange(release) + decref(old); the old value
        // always has another reference (v[]), so it never dies.
        rcgc_store(c, &c->slot, v[i & 1]);
        i++;
        benchmark::ClobberMemory();
    }
    rcgc_store(c, &c->slot, nullptr);
    rcgc_decref(v[0]);
    rcgc_decref(v[1]);
    rcgc_decref(c);
}
BENCHMARK(BM_Store);

void BM_Load(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    node *c = static_cast<node *>(rcgc_alloc(&node_type, sizeof(node)));
    void *v = rcgc_alloc(&leaf_type, 16);
    if (c == nullptr || v == nullptr) {
        state.SkipWithError("rcgc_alloc failed");
        return;
    }
    rcgc_store(c, &c->slot, v);
    for (auto _ : state) {
        void *p = rcgc_load(&c->slot); // acquire: a plain mov on x86-64
        benchmark::DoNotOptimize(p);
        benchmark::ClobberMemory();
    }
    rcgc_store(c, &c->slot, nullptr);
    rcgc_decref(v);
    rcgc_decref(c);
}
BENCHMARK(BM_Load);

void BM_SafepointIdle(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    for (auto _ : state) {
        rcgc_safepoint(); // one TLS load and a branch: nothing is pending
        benchmark::ClobberMemory();
    }
}
BENCHMARK(BM_SafepointIdle);

// rcgc_weakref_get on a live referent owned by this thread: the strong
// reference it returns is dropped again, so one iteration is a get and the
// owner's decref.
void BM_WeakrefGet(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    void *obj = rcgc_alloc(&leaf_type, 16);
    rcgc_weakref *wr = obj != nullptr ? rcgc_weakref_new(obj, nullptr, nullptr) : nullptr;
    if (wr == nullptr) {
        state.SkipWithError("rcgc_alloc or rcgc_weakref_new failed");
        rcgc_decref(obj);
        return;
    }
    for (auto _ : state) {
        void *p = rcgc_weakref_get(wr);
        benchmark::DoNotOptimize(p);
        rcgc_decref(p);
    }
    rcgc_weakref_free(wr);
    rcgc_decref(obj);
}
BENCHMARK(BM_WeakrefGet);

// ---------------------------------------------------------------------
// Allocation and death by count, against the allocators
// ---------------------------------------------------------------------

void BM_AllocDeath(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    for (auto _ : state) {
        void *p = rcgc_alloc(&leaf_type, 16); // 16-byte header + 16 = 32
        benchmark::DoNotOptimize(p);
        rcgc_decref(p); // last reference: dies and is freed here
    }
}
BENCHMARK(BM_AllocDeath);

// The same with a type that has a traverse: the object also enters its
// thread's young table at allocation and leaves it at death, and counts
// towards the young collection threshold (which never finds work here: the
// table is empty whenever it runs).
void BM_AllocDeathTracked(benchmark::State &state)
{
    if (!require_attached(state))
        return;
    for (auto _ : state) {
        void *p = rcgc_alloc(&node_type, sizeof(node)); // 16 + 16 = 32
        benchmark::DoNotOptimize(p);
        rcgc_decref(p);
    }
}
BENCHMARK(BM_AllocDeathTracked);

void BM_MallocFree32(benchmark::State &state)
{
    for (auto _ : state) {
        void *p = std::malloc(32);
        benchmark::DoNotOptimize(p);
        std::free(p);
    }
}
BENCHMARK(BM_MallocFree32);

// rcgc_alloc's own allocator (a zeroed block from glibc), for the overhead
// of the library's bookkeeping over it.
void BM_CallocFree32(benchmark::State &state)
{
    for (auto _ : state) {
        void *p = std::calloc(1, 32);
        benchmark::DoNotOptimize(p);
        std::free(p);
    }
}
BENCHMARK(BM_CallocFree32);

// What a zeroed 32-byte block costs through malloc's fast path (glibc's
// calloc bypasses the per-thread tcache that malloc and free use).
void BM_MallocMemsetFree32(benchmark::State &state)
{
    for (auto _ : state) {
        void *p = std::malloc(32);
        benchmark::DoNotOptimize(p);
        std::memset(p, 0, 32);
        benchmark::ClobberMemory();
        std::free(p);
    }
}
BENCHMARK(BM_MallocMemsetFree32);

#ifdef RCGC_BENCH_HAVE_MIMALLOC
// mimalloc is loaded with dlopen(RTLD_LOCAL), never linked: Debian's (and
// upstream's default) libmimalloc.so also exports malloc, calloc and free,
// so linking it would silently put every other benchmark here, rcgc_alloc
// and "malloc" included, on mimalloc instead of glibc.
struct Mimalloc {
    void *(*malloc_fn)(size_t) = nullptr;
    void (*free_fn)(void *) = nullptr;
    Mimalloc()
    {
        char versioned[64];
        std::snprintf(versioned, sizeof versioned, "libmimalloc.so.%d",
                      MI_MALLOC_VERSION / 100);
        void *lib = dlopen(versioned, RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr)
            lib = dlopen("libmimalloc.so", RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr)
            return;
        malloc_fn = reinterpret_cast<void *(*)(size_t)>(dlsym(lib, "mi_malloc"));
        free_fn = reinterpret_cast<void (*)(void *)>(dlsym(lib, "mi_free"));
    }
};

void BM_MimallocFree32(benchmark::State &state)
{
    static const Mimalloc mi;
    if (mi.malloc_fn == nullptr || mi.free_fn == nullptr) {
        state.SkipWithError("libmimalloc could not be loaded");
        return;
    }
    auto mi_malloc_fn = mi.malloc_fn;
    auto mi_free_fn = mi.free_fn;
    for (auto _ : state) {
        void *p = mi_malloc_fn(32);
        benchmark::DoNotOptimize(p);
        mi_free_fn(p);
    }
}
BENCHMARK(BM_MimallocFree32);
#endif

} // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    int rc = rcgc_init(nullptr);
    if (rc != 0) {
        std::fprintf(stderr, "bench_fastpath: rcgc_init failed (%d)\n", rc);
        return 1;
    }
    rc = rcgc_thread_attach();
    if (rc != 0) {
        std::fprintf(stderr, "bench_fastpath: rcgc_thread_attach failed (%d)\n", rc);
        return 1;
    }
    foreign_obj = foreign.start();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    foreign.stop();
    rcgc_shutdown();
    return 0;
}

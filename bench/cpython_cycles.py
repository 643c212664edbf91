#!/usr/bin/env python3
"""cpython_cycles.py: CPython's cycle collector on the shapes that rcgc's
benchmarks use, for the comparisons of issue 6.

Two measurements, one per sub-command; both print a report and the
machine lines `@ <name> <value>` that bench/run.py reads (the same format as
bench/bench_util.h):

  cycles [objects [repetitions]]
      Throughput on cyclic garbage (default 1000000 objects, 5 repetitions):
      with gc disabled, make objects/2 two-object cycles (a.other = b,
      b.other = a), drop them, and time gc.collect(). Two object kinds:
      instances of a class with __slots__ ('other', 'value'), the analogue of
      bench/cycles_rcgc.c's node, and one-element lists (a = [None];
      b = [a]; a[0] = b). Results: `@ slots_objects_per_s`,
      `@ list_objects_per_s` (medians), and `@ best_objects_per_s`, the
      faster of the two (the baseline the target is judged against).

  pause <live> <shape> [repetitions]
      The full-collection pause over a live heap (default 3 repetitions):
      build `live` objects with two reference fields (__slots__) in the
      shape `tree` (one balanced binary tree), `list` (one chain) or `rings`
      (rings of 4 held by a list), then time gc.collect() (a full
      collection: the interpreter is stopped for all of it). Result:
      `@ pause_ms` (median) and `@ pause_max_ms`.

Usage: python3 bench/cpython_cycles.py cycles 1000000 5
       python3 bench/cpython_cycles.py pause 5000000 tree
"""
import gc
import statistics
import sys
import time


class Node:
    __slots__ = ("other", "value")


class Pair:
    __slots__ = ("a", "b")


def result(name, value):
    print(f"@ {name} {value:.9g}", flush=True)


def slots_cycles(pairs):
    for _ in range(pairs):
        a = Node()
        b = Node()
        a.other = b
        b.other = a


def list_cycles(pairs):
    for _ in range(pairs):
        a = [None]
        b = [a]
        a[0] = b


def time_collect(build, pairs):
    build(pairs)  # every cycle is garbage once build returns
    t0 = time.perf_counter()
    freed = gc.collect()
    secs = time.perf_counter() - t0
    if freed < 2 * pairs:
        sys.exit(f"cpython_cycles: gc.collect() found {freed} of {2 * pairs} objects")
    return freed / secs, secs


def cmd_cycles(objects, reps):
    gc.disable()
    gc.collect()
    rates = {"slots": [], "list": []}
    for r in range(reps):
        for kind, build in (("slots", slots_cycles), ("list", list_cycles)):
            rate, secs = time_collect(build, objects // 2)
            rates[kind].append(rate)
            print(f"repetition {r + 1}: {kind:5s} {secs * 1e3:7.1f} ms, {rate / 1e6:5.1f} M objects/s")
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"CPython {sys.version.split()[0]}: {objects} objects in 2-cycles, gc.collect() "
          f"{med['slots'] / 1e6:.1f} M objects/s (__slots__), {med['list'] / 1e6:.1f} M objects/s (lists)")
    result("slots_objects_per_s", med["slots"])
    result("list_objects_per_s", med["list"])
    result("best_objects_per_s", max(med.values()))


def build_tree(n):
    """A balanced binary tree of n nodes (heap order: node i's children
    are 2i+1 and 2i+2), built from the leaves up."""
    nodes = [Pair() for _ in range(n)]
    for i in range(n - 1, -1, -1):
        node = nodes[i]
        node.a = nodes[2 * i + 1] if 2 * i + 1 < n else None
        node.b = nodes[2 * i + 2] if 2 * i + 2 < n else None
    return nodes[0] if n else None


def build_list(n):
    head = None
    for _ in range(n):
        node = Pair()
        node.a = head
        node.b = None
        head = node
    return head


def build_rings(n):
    rings = []
    for _ in range(n // 4):
        first = Pair()
        prev = first
        for _ in range(3):
            node = Pair()
            node.b = None
            prev.a = node
            prev = node
        prev.a = first
        first.b = None
        rings.append(first)
    return rings


def cmd_pause(live, shape, reps):
    gc.disable()
    builders = {"tree": build_tree, "list": build_list, "rings": build_rings}
    if shape not in builders:
        sys.exit(f"cpython_cycles: unknown shape {shape!r}")
    t0 = time.perf_counter()
    root = builders[shape](live)
    gc.collect()  # the first collection moves everything to the oldest generation
    build_s = time.perf_counter() - t0
    pauses = []
    for _ in range(reps):
        t0 = time.perf_counter()
        gc.collect()
        pauses.append((time.perf_counter() - t0) * 1e3)
    print(f"CPython {sys.version.split()[0]}: {live} live objects ({shape}, built in {build_s:.2f} s): "
          f"gc.collect() {statistics.median(pauses):.1f} ms median, {max(pauses):.1f} ms longest")
    result("pause_ms", statistics.median(pauses))
    result("pause_max_ms", max(pauses))
    del root


def main(argv):
    if len(argv) >= 2 and argv[1] == "cycles":
        objects = int(argv[2]) if len(argv) > 2 else 1000000
        reps = int(argv[3]) if len(argv) > 3 else 5
        cmd_cycles(objects, reps)
    elif len(argv) >= 4 and argv[1] == "pause":
        reps = int(argv[4]) if len(argv) > 4 else 3
        cmd_pause(int(argv[2]), argv[3], reps)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

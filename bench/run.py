#!/usr/bin/env python3
"""run.py: builds and runs rcgc's benchmarks against their baselines, and
writes the report docs/benchmarks.md with its plots in docs/img/ (issue 6).

Usage (from anywhere in the tree):

    python3 bench/run.py            the full report (under 15 minutes on a
                                    2-core machine; most of it binary-trees)
    python3 bench/run.py --quick    small sizes, one run each, no profiles
                                    (a minute or two: CI smoke use)

Options: --build-dir DIR (default build-bench), --out FILE (default
docs/benchmarks.md; --quick writes build-bench/benchmarks-quick.md unless
--out is given), --no-build, --no-profile, --only SECTION[,SECTION] (any of
fastpath, gcbench, binarytrees, cycles, pause, slowdown, threads; the report
then holds only those), --update with --only (measure those sections again,
keep the rest from the last run's raw results; the report says so),
--render-only (rewrite the report from the raw results of the last run,
measuring nothing but the profiles).

What it does. It configures the build directory if needed (meson, release,
tests off) and builds the benchmark programs with ninja -j2. Then every
measurement runs several times (a time budget per measurement caps the
repetitions of slow ones; the report gives n for each figure), alternating
the memory managers within each repetition so that a slow phase of a shared
machine hits them alike, and the report uses medians. Wall-clock time is
the figure; the CPU time of the process (user + system) is shown next to it,
because on a busy machine the two differ. For every target that is missed,
a short profile is taken (perf record, when perf works; the library's own
RCGC_TRACE collection log) and printed under the cause and the proposed
change. Raw results go to <build-dir>/benchmarks.json.

The programs (each documents itself at its top): bench_fastpath (google
benchmark), gcbench_* and binarytrees_* (one per memory manager:
tree_backend.h), binarytrees_contract (the held-out program, public
contract only, shared library), cycles_rcgc and cpython_cycles.py, pause_heap,
pause_bdwgc and cpython_cycles.py pause, bg_slowdown.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import svgplot  # noqa: E402  (bench/svgplot.py, next to this file)

BACKENDS = ["rcgc", "malloc", "mimalloc", "bdwgc"]
SECTIONS = ["fastpath", "gcbench", "binarytrees", "cycles", "pause", "slowdown", "threads"]

FULL = dict(
    fastpath_reps=5, fastpath_min_time=0.2,
    gcbench_depth=18, gcbench_reps=5, gcbench_budget=60,
    bt_depth=21, bt_threads=2, bt_reps=3, bt_budget=150,
    whatif_depth=17,
    cycles_objects=1000000, cycles_reps=5,
    pause_sizes=[100000, 500000, 1000000, 2000000, 5000000],
    pause_shapes=["tree", "list", "rings"], pause_reps=3,
    slowdown_live=2000000, slowdown_units=300000, slowdown_reps=5,
    threads_depth=17, threads_reps=3, threads_budget=40,
    profile=True,
)
QUICK = dict(
    fastpath_reps=1, fastpath_min_time=0.05,
    gcbench_depth=14, gcbench_reps=1, gcbench_budget=30,
    bt_depth=14, bt_threads=2, bt_reps=1, bt_budget=30,
    whatif_depth=None,
    cycles_objects=200000, cycles_reps=1,
    pause_sizes=[100000, 500000], pause_shapes=["tree"], pause_reps=1,
    slowdown_live=200000, slowdown_units=30000, slowdown_reps=1,
    threads_depth=13, threads_reps=1, threads_budget=10,
    profile=False,
)

# The anchors of issue 6 (a 2-core machine of the same type).
ANCHORS = {
    "bt": {"mimalloc": 1.63, "malloc": 9.31, "bdwgc": 12.16},
    "gcbench": {"mimalloc": 0.092, "malloc": 0.164, "bdwgc": 0.202},
    "cpython_cycles_rate": 23e6,
    "cpython_pause_5m_ms": 113,
    "bdwgc_pause_5m_ms": "37 to 547",
}


# ----------------------------------------------------------------------
# Running programs
# ----------------------------------------------------------------------

def log(msg):
    print(f"[run.py {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# Per-program time limit (seconds): a program that hangs is killed and its
# figure reported as failed. main() lowers it for --quick.
TIMEOUT = {"s": 900}


def run_prog(cmd, env=None, timeout=None):
    """Runs cmd (a list); returns a dict of its `@ name value` results plus
    wall_s and cpu_s (the child's user + system time), and its output."""
    timeout = timeout or TIMEOUT["s"]
    full_env = dict(os.environ)
    full_env.update(env or {})
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"timed out: {' '.join(cmd)}")
        return {"error": f"timed out after {timeout} s"}
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        log(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
        return {"error": f"exit status {p.returncode}: {p.stderr.strip()[-300:]}"}
    res = {"wall_s": wall,
           "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
           "stdout": p.stdout, "stderr": p.stderr}
    for line in p.stdout.splitlines():
        m = re.match(r"@ (\w+) (\S+)$", line)
        if m:
            res[m.group(1)] = float(m.group(2))
    return res


class Series:
    """Repeated runs of one measurement; medians of every numeric result."""

    def __init__(self):
        self.runs = []
        self.errors = []
        self.spent = 0.0

    def add(self, res):
        if "error" in res:
            self.errors.append(res["error"])
        else:
            self.runs.append(res)
            self.spent += res["wall_s"]

    def med(self, key):
        v = [r[key] for r in self.runs if key in r]
        return statistics.median(v) if v else None

    def max(self, key):
        v = [r[key] for r in self.runs if key in r]
        return max(v) if v else None

    @property
    def n(self):
        return len(self.runs)

    def to_json(self):
        return {"n": self.n, "errors": self.errors,
                "runs": [{k: v for k, v in r.items() if k not in ("stdout", "stderr")}
                         for r in self.runs]}


def repeat(jobs, reps, budget):
    """jobs: {name: (cmd, env)}. Runs every job once per round, `reps`
    rounds, dropping a job from later rounds once its runs took `budget`
    seconds in all (so slow ones run fewer times; n is reported)."""
    out = {name: Series() for name in jobs}
    for r in range(reps):
        for name, (cmd, env) in jobs.items():
            s = out[name]
            if r > 0 and (s.spent >= budget or (s.errors and not s.runs)):
                continue
            log(f"{name} (round {r + 1}/{reps})")
            s.add(run_prog(cmd, env))
    return out


# ----------------------------------------------------------------------
# Build and machine
# ----------------------------------------------------------------------

PROGRAMS = (["bench_fastpath", "cycles_rcgc", "pause_heap", "pause_bdwgc", "bg_slowdown",
             "binarytrees_contract", "pair_ratio", "pause_churn"]
            + [f"{w}_{b}" for w in ("gcbench", "binarytrees") for b in BACKENDS])


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        log(f"configuring {build_dir}")
        subprocess.run(["meson", "setup", build_dir, "-Dbuildtype=release", "-Dtests=false",
                        "-Dexamples=false", "-Dstress=false"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    known = subprocess.run(["ninja", "-C", build_dir, "-t", "targets", "all"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout
    names = {line.split(":")[0] for line in known.splitlines()}
    targets = [f"bench/{p}" for p in PROGRAMS if f"bench/{p}" in names]
    log(f"building {len(targets)} programs in {build_dir}")
    subprocess.run(["ninja", "-C", build_dir, "-j2"] + targets, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def cmd_out(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info():
    lscpu = cmd_out(["lscpu"])
    model = re.search(r"Model name:\s*(.+)", lscpu)
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s*(\d+)", f.read()).group(1))
            mem = f"{kb / 1048576:.1f} GiB"
    except (OSError, AttributeError):
        pass
    mi = ""
    for path in ("/usr/include/mimalloc.h", "/usr/local/include/mimalloc.h"):
        if os.path.exists(path):
            with open(path) as f:
                m = re.search(r"#define MI_MALLOC_VERSION\s+(\d+)", f.read())
            if m:
                v = int(m.group(1))
                mi = f"{v // 100}.{v // 10 % 10}.{v % 10}"
            break
    return {
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "cc": cmd_out(["cc", "--version"]).splitlines()[0] if cmd_out(["cc", "--version"]) else "",
        "cxx": cmd_out(["c++", "--version"]).splitlines()[0] if cmd_out(["c++", "--version"]) else "",
        "python": platform.python_version(),
        "bdwgc": cmd_out(["pkg-config", "--modversion", "bdw-gc"]),
        "mimalloc": mi,
        "benchmark": cmd_out(["pkg-config", "--modversion", "benchmark"]),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "commit": cmd_out(["git", "-C", ROOT, "log", "-1", "--format=%h, %cs"]) or "unknown",
        "dirty": bool(cmd_out(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "include"])),
        "load_start": os.getloadavg(),
    }


# ----------------------------------------------------------------------
# Measurements
# ----------------------------------------------------------------------

def bench_path(build_dir, name):
    return os.path.join(build_dir, "bench", name)


def have(build_dir, name):
    return os.access(bench_path(build_dir, name), os.X_OK)


def m_fastpath(cfg, bd):
    if not have(bd, "bench_fastpath"):
        return {"error": "bench_fastpath not built (google benchmark missing?)"}
    cmd = [bench_path(bd, "bench_fastpath"), "--benchmark_format=json",
           f"--benchmark_min_time={cfg['fastpath_min_time']}",
           f"--benchmark_repetitions={cfg['fastpath_reps']}"]
    if cfg["fastpath_reps"] > 1:
        cmd.append("--benchmark_report_aggregates_only=true")
    log("bench_fastpath")
    res = run_prog(cmd)
    if "error" in res:
        return res
    doc = json.loads(res["stdout"])
    ns = {}
    for b in doc["benchmarks"]:
        if b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"]).split("/")[0]
        if cfg["fastpath_reps"] > 1 and b.get("aggregate_name") != "median":
            continue
        scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b.get("time_unit", "ns")]
        # CPU time of the benchmark thread: on a shared machine the wall
        # time also counts the moments another process had the core.
        ns[name] = b["cpu_time"] * scale
    return {"ns": ns, "reps": cfg["fastpath_reps"]}


def m_gcbench(cfg, bd):
    jobs = {b: ([bench_path(bd, f"gcbench_{b}"), str(cfg["gcbench_depth"])], None)
            for b in BACKENDS if have(bd, f"gcbench_{b}")}
    return repeat(jobs, cfg["gcbench_reps"], cfg["gcbench_budget"])


def m_binarytrees(cfg, bd):
    d, t = str(cfg["bt_depth"]), str(cfg["bt_threads"])
    jobs = {b: ([bench_path(bd, f"binarytrees_{b}"), d, t], None)
            for b in BACKENDS if have(bd, f"binarytrees_{b}")}
    if have(bd, "binarytrees_contract"):
        jobs["contract"] = ([bench_path(bd, "binarytrees_contract"), d, t], None)
    out = repeat(jobs, cfg["bt_reps"], cfg["bt_budget"])
    if cfg["whatif_depth"] and have(bd, "binarytrees_rcgc"):
        # Diagnosis: the same rcgc program with its collections changed by
        # configuration (no code change), at a smaller depth, one run each.
        wd = str(cfg["whatif_depth"])
        variants = {
            "rcgc": {},
            "rcgc, RCGC_THRESHOLD0=1000000": {"RCGC_THRESHOLD0": "1000000"},
            "rcgc, RCGC_ENABLED=0": {"RCGC_ENABLED": "0"},
            "malloc": None, "mimalloc": None,
        }
        wi = {}
        for name, env in variants.items():
            prog = "binarytrees_rcgc" if env is not None else f"binarytrees_{name}"
            if have(bd, prog):
                wi[name] = ([bench_path(bd, prog), wd, t], env or {})
        out["whatif"] = repeat(wi, 1, 0)
    return out


def m_cycles(cfg, bd):
    out = {}
    n, r = str(cfg["cycles_objects"]), str(cfg["cycles_reps"])
    log("cycles_rcgc")
    out["rcgc"] = run_prog([bench_path(bd, "cycles_rcgc"), n, r])
    log("cpython_cycles.py cycles")
    out["cpython"] = run_prog([sys.executable, os.path.join(HERE, "cpython_cycles.py"),
                               "cycles", n, r])
    return out


def pause_seconds(size):
    return max(2.0, size / 1e6)


def median_runs(cmd, reps):
    """run_prog `reps` times; the median of each numeric result (the
    longest pause of a run is one sample, which the machine's own hiccups
    can decide: on a 2-core machine a thread waiting for a core stretches
    the pause that waits for it). Keeps the output of the median run of the
    first result and the number of runs as `n`."""
    runs = [run_prog(cmd) for _ in range(reps)]
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    res = {}
    for k, v in ok[0].items():
        if isinstance(v, float):
            vals = sorted(r[k] for r in ok if isinstance(r.get(k), float))
            res[k] = vals[len(vals) // 2]
    first = next(k for k, v in ok[0].items() if isinstance(v, float) and k not in ("wall_s", "cpu_s"))
    mid = sorted(ok, key=lambda r: r.get(first, 0))[len(ok) // 2]
    res["stdout"], res["stderr"], res["n"] = mid.get("stdout", ""), mid.get("stderr", ""), float(len(ok))
    return res


def m_pause(cfg, bd, quick):
    out = {"rcgc": {}, "bdwgc": {}, "cpython": {}}
    for size in cfg["pause_sizes"]:
        for shape in cfg["pause_shapes"]:
            key = f"{size}:{shape}"
            secs = "1" if quick else f"{pause_seconds(size):g}"
            log(f"pause {size} {shape}")
            out["rcgc"][key] = median_runs([bench_path(bd, "pause_heap"), str(size), secs, shape],
                                           1 if quick else cfg["pause_reps"])
            if have(bd, "pause_bdwgc"):
                out["bdwgc"][key] = run_prog([bench_path(bd, "pause_bdwgc"), str(size), shape,
                                              str(cfg["pause_reps"])])
            out["cpython"][key] = run_prog([sys.executable, os.path.join(HERE, "cpython_cycles.py"),
                                            "pause", str(size), shape, str(cfg["pause_reps"])])
    if not quick:
        # Diagnosis: the largest heap again, with no garbage dying old.
        size = cfg["pause_sizes"][-1]
        log(f"pause {size} tree, all garbage young")
        out["young_only"] = run_prog([bench_path(bd, "pause_heap"), str(size),
                                      f"{pause_seconds(size):g}", "tree", "0"])
    return out


def m_slowdown(cfg, bd):
    log("bg_slowdown")
    return run_prog([bench_path(bd, "bg_slowdown"), str(cfg["slowdown_live"]),
                     str(cfg["slowdown_units"]), str(cfg["slowdown_reps"])])


def thread_counts():
    n = os.cpu_count() or 1
    counts, t = [], 1
    while t < n:
        counts.append(t)
        t *= 2
    return counts + [n]


def m_threads(cfg, bd):
    out = {}
    for t in thread_counts():
        jobs = {b: ([bench_path(bd, f"binarytrees_{b}"), str(cfg["threads_depth"]), str(t)], None)
                for b in BACKENDS if have(bd, f"binarytrees_{b}")}
        res = repeat(jobs, cfg["threads_reps"], cfg["threads_budget"])
        for b, s in res.items():
            out.setdefault(b, {})[t] = s
    return out


# ----------------------------------------------------------------------
# Profiles of the misses
# ----------------------------------------------------------------------

def perf_works():
    if shutil.which("perf") is None:
        return False
    r = subprocess.run(["perf", "record", "-q", "-o", "/dev/null", "true"],
                       capture_output=True, text=True)
    return r.returncode == 0


COLLECTOR_SYMBOLS = {"collector_main", "ingest_into", "old_collect", "confirm"}


def perf_profile(cmd, bd, env=None, top=12):
    """perf record of cmd; returns the top symbols per thread, as text."""
    data = os.path.join(bd, "bench-perf.data")
    full_env = dict(os.environ)
    full_env.update(env or {})
    log(f"profiling: {' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))}")
    r = subprocess.run(["perf", "record", "-q", "-F", "1999", "-o", data] + cmd, env=full_env,
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return f"(perf record failed: {r.stderr.strip()[-200:]})"
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                          "--sort", "pid,sym"], capture_output=True, text=True)
    os.unlink(data)
    threads = {}
    for line in rep.stdout.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\d+):\S+\s+\[(.)\]\s+(.+)$", line)
        if m:
            threads.setdefault(m.group(2), []).append((float(m.group(1)), m.group(3),
                                                       m.group(4).strip()))
    if not threads:
        return "(perf report gave no samples)"
    order = sorted(threads, key=lambda tid: -sum(p for p, _, _ in threads[tid]))
    lines = []
    for i, tid in enumerate(order[:4]):
        syms = threads[tid]
        total = sum(p for p, _, _ in syms)
        if total < 2:
            continue
        names = {s for _, _, s in syms}
        role = ("collector thread" if names & COLLECTOR_SYMBOLS else
                "main thread" if tid == min(threads, key=int) else "thread")
        lines.append(f"{role} {tid}: {total:.1f}% of all samples")
        for pct, kind, sym in syms[:top]:
            lines.append(f"  {pct:6.2f}%  {sym}{'  (kernel)' if kind == 'k' else ''}")
    return "\n".join(lines)


def cachegrind_counts(cmd, bd):
    """Runs cmd under valgrind's cachegrind (cache simulation on) and
    returns (totals, per-function rows, nodes): totals and rows map event
    names (Ir, D1mr, D1mw) to counts; nodes is the program's '@ nodes'
    line. None when valgrind is missing or the run fails."""
    if shutil.which("valgrind") is None or shutil.which("cg_annotate") is None:
        return None
    out = os.path.join(bd, "bench-cachegrind.out")
    log(f"cachegrind: {' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))}")
    r = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=yes",
                        f"--cachegrind-out-file={out}"] + cmd,
                       capture_output=True, text=True, timeout=600)
    m = re.search(r"^@ nodes (\d+)", r.stdout, re.M)
    if r.returncode != 0 or m is None or not os.path.exists(out):
        return None
    a = subprocess.run(["cg_annotate", out], capture_output=True, text=True)
    os.unlink(out)
    events, totals, rows = None, None, []
    for line in a.stdout.splitlines():
        if line.startswith("Events shown:"):
            events = line.split(":", 1)[1].split()
            continue
        if events is None or not re.match(r"^\s*[\d,]+ ", line):
            continue
        # "count (pct%)" per event, then the file:function or PROGRAM TOTALS
        nums = [int(x.replace(",", "")) for x in
                re.findall(r"([\d,]+)(?: \(\s*[\d.]+%\))?\s", line + " ")[:len(events)]]
        name = re.sub(r"^.*\)\s+", "", line).strip()
        if len(nums) < len(events):
            continue
        d = dict(zip(events, nums))
        if "PROGRAM TOTALS" in line:
            totals = d
        else:
            rows.append((name.split(":", 1)[-1], d))
    if totals is None:
        return None
    return totals, rows, int(m.group(1))


def cachegrind_bt(bd, depth="16"):
    """Instructions and simulated L1 data misses per node of binary-trees
    (one thread) for rcgc and mimalloc, with rcgc's functions: the profile
    that tells instruction count from memory traffic."""
    res = {}
    for b in ("rcgc", "mimalloc"):
        exe = bench_path(bd, f"binarytrees_{b}")
        if os.path.exists(exe):
            res[b] = cachegrind_counts([exe, depth, "1"], bd)
    if not res.get("rcgc"):
        return None
    lines = [f"Instructions and simulated L1 data-cache misses per node (valgrind "
             f"`--tool=cachegrind --cache-sim=yes`, `binarytrees_<backend> {depth} 1`):", "",
             "| | instructions per node | L1d misses per node (reads + writes) |", "|---|---|---|"]
    for b, v in res.items():
        if v:
            t, _, n = v
            lines.append(f"| {b} whole program | {t.get('Ir', 0) / n:.0f} | "
                         f"{(t.get('D1mr', 0) + t.get('D1mw', 0)) / n:.2f} |")
    t, rows, n = res["rcgc"]
    for name, d in sorted(rows, key=lambda r: -r[1].get("Ir", 0))[:8]:
        if d.get("Ir", 0) / n < 1:
            continue
        lines.append(f"| rcgc: `{name}` | {d.get('Ir', 0) / n:.0f} | "
                     f"{(d.get('D1mr', 0) + d.get('D1mw', 0)) / n:.2f} |")
    return "\n".join(lines)


EXTRA_PROFILES = {"bt": cachegrind_bt}


def trace_summary(cmd, bd, env=None):
    """Runs cmd with RCGC_TRACE=1 and sums the collection log per
    generation: collections, objects examined and freed, pause and total
    time, and the longest pause."""
    e = {"RCGC_TRACE": "1"}
    e.update(env or {})
    res = run_prog(cmd, e)
    if "error" in res:
        return None
    agg = {}
    pat = re.compile(r"gen(\d) .*?: (\d+) examined, (\d+) freed; pause ([\d.]+) ms, total ([\d.]+) ms")
    for line in res["stderr"].splitlines():
        m = pat.search(line)
        if m:
            a = agg.setdefault(int(m.group(1)), [0, 0, 0, 0.0, 0.0, 0.0])
            a[0] += 1
            a[1] += int(m.group(2))
            a[2] += int(m.group(3))
            a[3] += float(m.group(4))
            a[4] += float(m.group(5))
            a[5] = max(a[5], float(m.group(4)))
    return {"generations": agg, "result": {k: v for k, v in res.items()
                                           if k not in ("stdout", "stderr")}}


def trace_table(ts):
    if not ts or not ts["generations"]:
        return "(RCGC_TRACE gave no collection lines)"
    rows = ["| generation | collections | examined | freed | freed/examined | pauses, total ms (1) | "
            "longest pause ms (1) | collection time, total ms | ns per object examined |",
            "|---|---|---|---|---|---|---|---|---|"]
    for g, (n, ex, fr, pause, total, pmax) in sorted(ts["generations"].items()):
        rows.append(f"| {g} | {n} | {ex:,} | {fr:,} | {fr / ex if ex else 0:.1%} | {pause:.1f} | "
                    f"{pmax:.2f} | {total:.0f} | {total * 1e6 / ex if ex else 0:.0f} |")
    rows.append("")
    rows.append("(1) The log's pause of a collection runs from its request to stop the world, so it "
                "also counts waiting for another pause (a gathering pause) to end and the time "
                "the threads take to reach a safepoint.")
    return "\n".join(rows)


# ----------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------

def f3(v, unit=""):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:.0f}{unit}"
    if abs(v) >= 10:
        return f"{v:.1f}{unit}"
    if abs(v) >= 1:
        return f"{v:.2f}{unit}"
    return f"{v:.3g}{unit}"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def series_cell(s, key="time_s", unit=" s"):
    if s is None or s.n == 0:
        return "failed" if s is not None and s.errors else "n/a"
    v = s.med(key)
    return f"{f3(v, unit)} (n={s.n})"


class Report:
    def __init__(self, cfg, data, quick):
        self.cfg, self.d, self.quick = cfg, data, quick
        self.targets = []  # (name, figure text, ok, key)
        self.out = []

    def w(self, *lines):
        self.out.extend(lines)


def targets_and_tables(rep):
    cfg, d, w = rep.cfg, rep.d, rep.w
    m = d["machine"]
    w("# rcgc benchmarks", "",
      f"Generated by `python3 bench/run.py{' --quick' if rep.quick else ''}` on {m['date']} "
      f"(commit {m['commit']}"
      f"{', with uncommitted changes in src/ or include/' if m.get('dirty') else ''}).",
      "Every figure is a median of repeated runs (n is given where it varies); ratios are "
      "rcgc's figure divided by the baseline's. The programs are in `bench/`, each "
      "documented at its top; `bench/run.py` regenerates this page.", "")
    if rep.quick:
        w("**Quick mode**: small sizes, one run each, no profiles. These figures are a smoke "
          "test, not a measurement; the targets below are judged on small sizes.", "")
    w("## Machine", "",
      "| | |", "|---|---|",
      f"| CPU | {m['cpu']}, {m['cores']} cores |",
      f"| memory | {m['memory']} |",
      f"| kernel | Linux {m['kernel']} |",
      f"| compilers | {m['cc']}; {m['cxx']} |",
      f"| baselines | glibc malloc; mimalloc {m['mimalloc']}; bdwgc {m['bdwgc']}; "
      f"CPython {m['python']}; google benchmark {m['benchmark']} |",
      f"| load average | {m['load_start'][0]:.2f} at the start, {m['load_end'][0]:.2f} at the end "
      f"(1-minute) |", "")
    for u in m.get("updates", []):
        w(f"Measured again later with `--update --only {','.join(u['sections'])}`: "
          f"{', '.join(u['sections'])} on {u['date']}"
          f"{' (commit ' + u['commit'] + ')' if u.get('commit') else ''} (load average "
          f"{u['load']:.2f} at the start, "
          f"{u.get('load_end', 0):.2f} at the end).", "")
    if max(m["load_start"][0], m["load_end"][0]) > 0.5:
        w("**The machine was busy** while this report was made (other processes ran on its "
          "cores, see the load average): wall-clock figures of multithreaded runs, and of "
          "rcgc's background collector, which needs a core of its own, are pessimistic. The CPU "
          "time columns are less affected. Regenerate on a quiet machine for the reference "
          "figures.", "")


def section_fastpath(rep):
    fp = rep.d.get("fastpath")
    if fp is None:
        return
    w = rep.w
    w("## Fast paths (google benchmark)", "")
    if "error" in fp:
        w(f"bench_fastpath failed: {fp['error']}", "")
        return
    ns = fp["ns"]
    rows = [
        ("owner incref+decref pair", "BM_OwnerPair", "plain inc+dec pair", "BM_PlainPair"),
        ("non-owner incref+decref pair", "BM_NonOwnerPair", "atomic inc+dec pair", "BM_AtomicPair"),
        ("rcgc_store (incref, exchange, decref)", "BM_Store", "atomic inc+dec pair", "BM_AtomicPair"),
        ("rcgc_load", "BM_Load", None, None),
        ("rcgc_safepoint, nothing asked", "BM_SafepointIdle", None, None),
        ("rcgc_weakref_get + decref", "BM_WeakrefGet", "atomic inc+dec pair", "BM_AtomicPair"),
        ("alloc + death, untracked 16 B", "BM_AllocDeath", "malloc/free 32 B", "BM_MallocFree32"),
        ("alloc + death, untracked 16 B", "BM_AllocDeath", "mi_malloc/mi_free 32 B", "BM_MimallocFree32"),
        ("alloc + death, with traverse", "BM_AllocDeathTracked", "malloc/free 32 B", "BM_MallocFree32"),
        ("alloc + death, with traverse", "BM_AllocDeathTracked", "mi_malloc/mi_free 32 B", "BM_MimallocFree32"),
    ]
    w(f"One iteration is one pair or one call; CPU time of the benchmark thread per iteration "
      f"(ns), median of {fp['reps']} repetitions.", "",
      "| operation | ns | baseline | ns | ratio |", "|---|---|---|---|---|")
    for label, key, blabel, bkey in rows:
        if key not in ns:
            continue
        b = ns.get(bkey) if bkey else None
        w(f"| {label} | {f3(ns[key])} | {blabel or ''} | {f3(b) if b else ''} | "
          f"{f3(ratio(ns[key], b)) + 'x' if b else ''} |")
    others = [("calloc/free 32 B", "BM_CallocFree32"), ("malloc+memset/free 32 B", "BM_MallocMemsetFree32")]
    for label, key in others:
        if key in ns:
            w(f"| {label} (reference) | {f3(ns[key])} | | | |")
    w("")
    owner = ratio(ns.get("BM_OwnerPair"), ns.get("BM_PlainPair"))
    nonown = ratio(ns.get("BM_NonOwnerPair"), ns.get("BM_AtomicPair"))
    rep.targets.append(("Owner pair within 1.5x a plain pair",
                        f"{f3(ns.get('BM_OwnerPair'))} ns against {f3(ns.get('BM_PlainPair'))} ns: "
                        f"{f3(owner)}x", None if owner is None else owner <= 1.5, "owner"))
    rep.targets.append(("Non-owner pair within 1.2x an atomic pair",
                        f"{f3(ns.get('BM_NonOwnerPair'))} ns against {f3(ns.get('BM_AtomicPair'))} ns: "
                        f"{f3(nonown)}x", None if nonown is None else nonown <= 1.2, "nonowner"))


def macro_table(rep, series, anchors, key="time_s"):
    w = rep.w
    r = series.get("rcgc")
    rt = r.med(key) if r and r.n else None
    rc = r.med("cpu_s") if r and r.n else None
    w("| memory manager | wall time | CPU time | rcgc / this (wall) | rcgc / this (CPU) | "
      "anchor (issue 6) |",
      "|---|---|---|---|---|---|")
    names = {"rcgc": "rcgc", "malloc": "glibc malloc + free", "mimalloc": "mimalloc + free",
             "bdwgc": "bdwgc (Boehm GC)", "contract": "rcgc, held-out program (contract only, shared library)"}
    for b in ["rcgc", "contract", "malloc", "mimalloc", "bdwgc"]:
        s = series.get(b)
        if s is None:
            continue
        t = s.med(key) if s.n else None
        c = s.med("cpu_s") if s.n else None
        rr = "" if b in ("rcgc", "contract") else f"{f3(ratio(rt, t))}x"
        rcpu = "" if b in ("rcgc", "contract") else f"{f3(ratio(rc, c))}x"
        a = anchors.get(b)
        w(f"| {names[b]} | {series_cell(s, key)} | {f3(c, ' s')} | {rr} | {rcpu} | "
          f"{f'{a} s' if a else ''} |")
    w("")


def section_gcbench(rep):
    gb = rep.d.get("gcbench")
    if gb is None:
        return
    rep.w(f"## GCBench", "",
          f"Single-threaded; stretch tree of depth {rep.cfg['gcbench_depth']}, long-lived tree and "
          f"largest trees of depth {rep.cfg['gcbench_depth'] - 2}, a long-lived array of 500,000 "
          f"doubles (bench/gcbench.c).", "")
    macro_table(rep, gb, ANCHORS["gcbench"] if rep.cfg["gcbench_depth"] == 18 else {})


def section_binarytrees(rep):
    bt = rep.d.get("binarytrees")
    if bt is None:
        return
    cfg = rep.cfg
    d, t = cfg["bt_depth"], cfg["bt_threads"]
    rep.w(f"## Binary-trees, depth {d}, {t} threads", "",
          "Every thread builds, walks and drops its own trees (bench/binarytrees.c); the "
          "held-out program (bench/binarytrees_contract.c) is written against the public "
          "contract only and linked with the shared library.", "")
    macro_table(rep, bt, ANCHORS["bt"] if (d, t) == (21, 2) else {})
    r = bt["rcgc"].med("time_s") if bt.get("rcgc") and bt["rcgc"].n else None
    mi = bt["mimalloc"].med("time_s") if bt.get("mimalloc") and bt["mimalloc"].n else None
    gc = bt["bdwgc"].med("time_s") if bt.get("bdwgc") and bt["bdwgc"].n else None
    ml = bt["malloc"].med("time_s") if bt.get("malloc") and bt["malloc"].n else None
    ok = None if None in (r, mi, gc) else (r <= 1.5 * mi and r < 0.3 * gc)
    rep.targets.append((f"Binary-trees {d}x{t} within 1.5x mimalloc and under 0.3x bdwgc",
                        f"{f3(r, ' s')}: {f3(ratio(r, mi))}x mimalloc, {f3(ratio(r, gc))}x bdwgc",
                        ok, "bt"))
    c = bt["contract"].med("time_s") if bt.get("contract") and bt["contract"].n else None
    okc = None if None in (c, ml, gc) else (c <= ml and c <= 0.5 * gc)
    rep.targets.append(("Held-out binary-trees no slower than glibc malloc, at most half bdwgc "
                        "(done-when)",
                        f"{f3(c, ' s')}: {f3(ratio(c, ml))}x malloc, {f3(ratio(c, gc))}x bdwgc",
                        okc, "contract"))
    wi = bt.get("whatif")
    if wi:
        rep.w(f"What the collections cost: the same rcgc program at depth {cfg['whatif_depth']}, "
              f"{t} threads, with its collections changed only by configuration (one run each):", "",
              "| run | wall time | CPU time |", "|---|---|---|")
        for name, s in wi.items():
            rep.w(f"| {name} | {series_cell(s)} | {f3(s.med('cpu_s'), ' s')} |")
        rep.w("")


def section_cycles(rep):
    cy = rep.d.get("cycles")
    if cy is None:
        return
    r, c = cy["rcgc"], cy["cpython"]
    n = rep.cfg["cycles_objects"]
    rep.w("## Cyclic garbage", "",
          f"{n:,} objects in 2-cycles, made with automatic collection off and then collected "
          f"explicitly; objects freed per second of the collection call (medians of "
          f"{rep.cfg['cycles_reps']}; bench/cycles_rcgc.c, bench/cpython_cycles.py).", "",
          "| collector | objects/s | collection time |", "|---|---|---|")
    if "error" not in r:
        rep.w(f"| rcgc_collect(2), full | {f3(r.get('full_objects_per_s', 0) / 1e6)} M | "
              f"{f3(r.get('full_s', 0) * 1e3, ' ms')} |",
              f"| rcgc_collect(0), the thread's young generation | "
              f"{f3(r.get('young_objects_per_s', 0) / 1e6)} M | {f3(r.get('young_s', 0) * 1e3, ' ms')} |")
    if "error" not in c:
        rep.w(f"| CPython gc.collect(), __slots__ objects | {f3(c.get('slots_objects_per_s', 0) / 1e6)} M | |",
              f"| CPython gc.collect(), one-element lists | {f3(c.get('list_objects_per_s', 0) / 1e6)} M | |",
              f"| CPython anchor (issue 6) | {ANCHORS['cpython_cycles_rate'] / 1e6:g} M | |")
    rep.w("")
    if "error" in r or "error" in c:
        rep.w(f"Failed: {r.get('error', '')} {c.get('error', '')}", "")
        rep.targets.append(("Cyclic garbage freed at least twice as fast as CPython", "failed", None, "cycles"))
        return
    rate, base = r["full_objects_per_s"], c["best_objects_per_s"]
    rep.w(f"rcgc's longest pause in these collections: {f3(r.get('pause_max_ms'), ' ms')} (the "
          "garbage is the caller's, so rcgc_collect(2) frees it in the caller's young collection, "
          "which it runs first, with no pause; the gathering pause only promotes what is left).", "")
    rep.targets.append(("Cyclic garbage freed at least twice as fast as CPython's gc.collect()",
                        f"rcgc_collect(2) {f3(rate / 1e6)} M objects/s against CPython's "
                        f"{f3(base / 1e6)} M (the faster object kind): {f3(rate / base)}x",
                        rate >= 2 * base, "cycles"))


def pause_rows(rep):
    p = rep.d["pause"]
    rows = []
    for size in rep.cfg["pause_sizes"]:
        row = {"size": size}
        for mgr in ("rcgc", "bdwgc", "cpython"):
            vals = [p[mgr].get(f"{size}:{s}") for s in rep.cfg["pause_shapes"]]
            row[mgr] = {s: v for s, v in zip(rep.cfg["pause_shapes"], vals) if v and "error" not in v}
        rows.append(row)
    return rows


def section_pause(rep):
    if rep.d.get("pause") is None:
        return
    rows = pause_rows(rep)
    shapes = rep.cfg["pause_shapes"]
    rep.w("## Pause against live-heap size", "",
          f"Live objects of 32-byte payloads in the shapes {', '.join(shapes)} (bench/heap_shapes.h). "
          "rcgc (bench/pause_heap.c): after building, a mutator thread makes cyclic garbage (a "
          "small part of it dies old) and records the gaps between its iterations while another "
          "thread asks for full collections back to back; the pause is rcgc's longest "
          "stop-the-world pause of the whole run (rcgc_get_stats), building included, and each "
          f"rcgc figure is the median over {rep.cfg['pause_reps']} such runs. bdwgc "
          "(bench/pause_bdwgc.c): GC_gcollect() timed, stop-the-world for all of it. CPython: "
          "gc.collect() timed. Worst shape per size (ms):", "",
          "| live objects | rcgc longest pause | of which: time to safepoint (longest) | "
          "work with every thread stopped (longest) | rcgc: longest hold of a thread | "
          "rcgc mean pause | rcgc: mutator's longest gap | "
          "machine jitter (no rcgc) | bdwgc full collection | CPython gc.collect() |",
          "|---|---|---|---|---|---|---|---|---|---|")

    def worst(d, key):
        v = [x.get(key) for x in d.values() if x.get(key) is not None]
        return max(v) if v else None

    for row in rows:
        r, b, c = row["rcgc"], row["bdwgc"], row["cpython"]
        rep.w(f"| {row['size']:,} | {f3(worst(r, 'pause_max_ms'))} | "
              f"{f3(worst(r, 'pause_ttsp_max_ms'))} | {f3(worst(r, 'pause_work_max_ms'))} | "
              f"{f3(worst(r, 'pause_held_max_ms'))} | {f3(worst(r, 'pause_mean_ms'))} | "
              f"{f3(worst(r, 'gap_max_ms'))} | {f3(worst(r, 'jitter_gap_max_ms'))} | "
              f"{f3(worst(b, 'pause_ms'))} | {f3(worst(c, 'pause_ms'))} |")
    rep.w("", "Per shape (ms): rcgc longest pause (and its longest work with every thread "
          "stopped) / bdwgc / CPython; rcgc's full collection time "
          "(background, not a pause) in the last column.", "",
          "| live objects | shape | rcgc | rcgc work | bdwgc | CPython | rcgc full collection (longest) |",
          "|---|---|---|---|---|---|---|")
    for row in rows:
        for s in shapes:
            r, b, c = row["rcgc"].get(s, {}), row["bdwgc"].get(s, {}), row["cpython"].get(s, {})
            rep.w(f"| {row['size']:,} | {s} | {f3(r.get('pause_max_ms'))} | "
                  f"{f3(r.get('pause_work_max_ms'))} | {f3(b.get('pause_ms'))} | "
                  f"{f3(c.get('pause_ms'))} | {f3(r.get('full_ms_max'))} |")
    yo = rep.d["pause"].get("young_only")
    if yo and "error" not in yo:
        big = rep.cfg["pause_sizes"][-1]
        rep.w("", f"The same rcgc run with {big:,} live objects (tree) when none of the mutator's "
              f"garbage dies old (every ring is dropped at once): longest pause "
              f"{f3(yo.get('pause_max_ms'), ' ms')}, mean {f3(yo.get('pause_mean_ms'), ' ms')}, "
              f"mutator's longest gap {f3(yo.get('gap_max_ms'), ' ms')} (machine jitter "
              f"{f3(yo.get('jitter_gap_max_ms'), ' ms')}).")
    rep.w("", "A pause is counted from the moment the collector asks the threads to stop, so "
          "it includes the time they take to reach a safepoint; on a busy machine a thread "
          "that has no CPU at that moment stretches it. rcgc_get_stats splits it "
          "(docs/design/safepoints.md, S10): the time to safepoint runs from the request until "
          "every thread has stopped, the work from then to the pause's end (what the "
          "collector's own work decides), and a thread's hold from its acknowledgement until it "
          "runs again, its wake-up included (what a mutator experiences; a thread that stopped "
          "early is also held through the others' time to safepoint). The columns give the "
          "longest of each over a run, so they may come from different pauses.", "",
          "![Pause against live-heap size](img/pause_vs_heap.svg)", "")
    series = [
        ("rcgc longest pause", [(row["size"], worst(row["rcgc"], "pause_max_ms")) for row in rows]),
        ("rcgc longest work (all stopped)",
         [(row["size"], worst(row["rcgc"], "pause_work_max_ms")) for row in rows]),
        ("rcgc mean pause", [(row["size"], worst(row["rcgc"], "pause_mean_ms")) for row in rows]),
        ("bdwgc GC_gcollect", [(row["size"], worst(row["bdwgc"], "pause_ms")) for row in rows]),
        ("CPython gc.collect", [(row["size"], worst(row["cpython"], "pause_ms")) for row in rows]),
    ]
    series = [(n, [(x, y) for x, y in s if y is not None]) for n, s in series]
    rep.plots["pause_vs_heap.svg"] = svgplot.line_plot(
        "Pause against live-heap size (worst shape)", "live objects", "pause (ms)", series,
        xlog=True, ylog=True, hline=(1.0, "target: 1 ms"))
    big = rows[-1]
    pm = worst(big["rcgc"], "pause_max_ms")
    rep.targets.append((f"Longest pause with {big['size']:,} live objects under 1 ms",
                        f"{f3(pm, ' ms')} (worst shape; of it, time to safepoint up to "
                        f"{f3(worst(big['rcgc'], 'pause_ttsp_max_ms'), ' ms')} and work with every "
                        f"thread stopped up to {f3(worst(big['rcgc'], 'pause_work_max_ms'), ' ms')}; "
                        f"mean pause {f3(worst(big['rcgc'], 'pause_mean_ms'), ' ms')}"
                        f"; bdwgc {f3(worst(big['bdwgc'], 'pause_ms'), ' ms')}, CPython "
                        f"{f3(worst(big['cpython'], 'pause_ms'), ' ms')})",
                        None if pm is None else pm < 1.0, "pause"))


def section_slowdown(rep):
    s = rep.d.get("slowdown")
    if s is None:
        return
    cfg = rep.cfg
    rep.w("## Mutator slowdown while the background collector works", "",
          f"The same mutator work (bench/bg_slowdown.c: {cfg['slowdown_units']:,} units of building, "
          f"walking and dropping a 31-node tree and touching live objects) next to "
          f"{cfg['slowdown_live']:,} live old objects, with collection disabled, with the defaults, "
          f"and with a thread asking for full collections back to back (the collector busy the "
          f"whole time); medians of {cfg['slowdown_reps']}.", "")
    if "error" in s:
        rep.w(f"Failed: {s['error']}", "")
        rep.targets.append(("Mutator slowdown while background collection runs under 10%", "failed", None, "slowdown"))
        return
    rep.w("| mode | wall time | slowdown | mutator thread CPU time |", "|---|---|---|---|",
          f"| collection disabled | {f3(s['disabled_s'], ' s')} | | {f3(s.get('disabled_cpu_s'), ' s')} |",
          f"| defaults | {f3(s['auto_s'], ' s')} | {s['slowdown_auto']:+.1%} | |",
          f"| collector busy | {f3(s['busy_s'], ' s')} | {s['slowdown_busy']:+.1%} | "
          f"{f3(s.get('busy_cpu_s'), ' s')} ({s.get('slowdown_busy_cpu', 0):+.1%}) |", "",
          f"While busy: {s.get('busy_full_collections', 0):.0f} full collections in all, "
          f"{f3(s.get('busy_paused_s', 0) * 1e3, ' ms')} stopped (median per run).", "")
    rep.targets.append(("Mutator slowdown while background collection runs under 10%",
                        f"{s['slowdown_busy']:+.1%} wall clock ({s.get('slowdown_busy_cpu', 0):+.1%} "
                        "in the mutator thread's CPU time)",
                        s["slowdown_busy"] < 0.10, "slowdown"))


def section_threads(rep):
    th = rep.d.get("threads")
    if th is None:
        return
    counts = thread_counts()
    rep.w(f"## Throughput against thread count", "",
          f"Binary-trees depth {rep.cfg['threads_depth']}, million nodes allocated (and freed) per "
          f"second of wall time, for 1 to {counts[-1]} threads (the machine's cores).", "",
          "| threads | " + " | ".join(b for b in BACKENDS if b in th) + " |",
          "|---|" + "---|" * len([b for b in BACKENDS if b in th]))
    for t in counts:
        cells = []
        for b in BACKENDS:
            if b in th:
                s = th[b].get(t)
                v = s.med("nodes_per_s") if s and s.n else None
                cells.append(f"{f3(v / 1e6) if v else 'n/a'}")
        rep.w(f"| {t} | " + " | ".join(cells) + " |")
    rep.w("", "![Throughput against threads](img/threads.svg)", "")
    series = []
    for b in BACKENDS:
        if b in th:
            pts = [(t, th[b][t].med("nodes_per_s") / 1e6) for t in counts
                   if th[b].get(t) and th[b][t].n]
            series.append((b, pts))
    rep.plots["threads.svg"] = svgplot.line_plot(
        f"Binary-trees depth {rep.cfg['threads_depth']}: throughput against threads", "threads",
        "million nodes / s", series, xticks=counts)


# Causes of the misses: what the profiles below show and what to change in
# src/ (written from the profiles of the development runs; the figures and
# the profile excerpts printed with them come from this run).
CAUSES = {
    "owner": """The owner's incref and decref each add to the plain pair a load of the
header's `owner` field, a compare with the thread's heap id (a %fs-relative
load) and a not-taken branch, and the counter update is a separate relaxed
load and store (include/rcgc/inline.h; the disassembly is listed in
bench/pair_ratio.c). The ratio sits at the edge of the target (about 0.3 ns
over a 0.55 ns plain pair) and falls either side of it from run to run.
**Proposed change:** none in the fast path: the owner check is what biased
counting costs, and there is nothing left to remove from it; judge this
target on a quiet machine.""",
    "nonowner": """Since refcount.md R9 the non-owner incref and decref are inline when
they only count: a load of the header's bits and four tests (attached,
alignment, live magic, not immortal, dying or young-unescaped), then a
relaxed `fetch_add` for the increment and, for the decrement, a load and a
compare-and-swap (it must not take the count below its floor, which the
slow path handles by queueing). The atomic pair is a `lock add` and a
`lock sub`. What remains over it is the bit tests and the CAS's extra
load; the profile below shows where the time goes (when it shows
`rcgc__incref_slow` or `rcgc__decref_slow`, the inline test failed and the
out-of-line path with its API checks ran instead). **Proposed change**
(include/rcgc/inline.h): make the inline decrement a
`__atomic_fetch_sub(&h->shared, RCGC__SHARED_ONE, __ATOMIC_ACQ_REL)` and
look at its result: only a result below the floor goes to the slow path,
which then repairs the count (adds the one back and queues, under the
QUEUED protocol of R4); this needs the R4/R6 argument extended to a shared
count that is transiently one below its floor, which the owner's merge
already tolerates for queued objects.""",
    "bt": """Young collections cost this workload nothing: automatic young
collections are skipped while no store could have closed a cycle (C13;
every store here goes into the node just allocated), so the background
collector stays idle. What remains is per object, on the mutators. This
session's changes, each measured alternating the old and the new library:
the allocation inline in the caller (objects.md O13a: 97 to about 45
instructions per object); a 16-byte header (O2: a node is a 32-byte block
like glibc's instead of 48); the fast paths `always_inline` (at -O2 GCC had
called them from the recursive `make`); pages from the library's own
mmap'd segments (O10); the owner's private stores (O14): the owner of an
object whose only reference it holds, and that no slot ever held, stores
into it with a load and a store instead of the locked exchange, which had
taken half of the samples of the tree-building function; the young window
(cycles.md C15): objects the inline path makes join a per-heap window
instead of the young table, so building and dropping a tree writes no
table entries and removes none; and the owner id and count in one 32-bit
word (O2), which the processor forwards from store to load (as two 16-bit
fields an owner pair cost 4.6 ns instead of 0.6). Binary-trees 19x2 went
from about 2.2 s to 1.34 s over these, against 1.70 s for glibc malloc and
2.66 s for bdwgc in the same runs. Where the time goes now (the perf
profile and the cachegrind table below, which this run measures): rcgc
executes about 3.5 times mimalloc's instructions per node (about 290
against 83) and misses the L1 data cache about 2.4 times as often (0.8
against 0.34 per node), and the wall-clock ratio follows those two. The
store into the new node (`bk_set_child`, about 90 instructions: the O14
private-store test, the C13/C15 edge classification, counting the stored
child and the caller's decref of it, and the function's frame), the
allocation (`bk_bottom_up`, the inline path of O13a, about 45 of its 64),
and the death (`release_plain_slot` and the dealloc loop, about 105: a
traverse call per node, a visit call per slot, a count to read and write
and a dead-list link per child, the block's return to its page) each cost
more than mimalloc's whole node; the extra misses are the 16-byte header
(a node is a 32-byte block against mimalloc's 16) and the header of each
child the death path reads. mimalloc's free is a push onto a page-local
list with no count to read and no slots to visit. No local change closes
a factor of 2.4: the per-node steps above are what counting every
reference costs under the contract (rcgc_store counts, death visits the
slots through traverse). **Proposed changes**, in the order of their
expected effect: (a) deferred counting for the young window, as LXR does for its
nursery: a store into a private window object (O14's test) writes the
slot and counts nothing, and a window object whose count reaches zero is
not freed by count but left to the window's close, which marks from the
window objects that still have a count (every reference from outside the
window is counted), counts the slots of what it reaches, and frees the
rest by sweeping the pages the window lists, without visiting the dead
objects' slots; a tree built and dropped inside one window is then never
counted and never traversed. What needs the argument (cycles.md C15,
refcount.md): an object must have its slots counted before it stops
being private (a second reference, a slot, another thread), since from
then on other stores decrement what they replace; and every path that
reads a window object's count (rcgc_collect, the background collector's
scan) must count the window's slots first, which a close does;
(b) an 8-byte header for window objects (owner word and
type id; the shared count and the table index move to a side record made
when the object escapes or enters the young table), which takes the node
to mimalloc's 16 bytes plus 8 and halves the header's misses (objects.md
O2); (c) in src/objects.c, the dealloc loop frees a plain dead child as
its visitor finds it when the child's own slots hold nothing (the leaves,
half of a binary tree's nodes), saving the link, the pop and a turn of the
loop per leaf. Also measured and not kept: a software prefetch of the next
block in the allocation path (no change; the hardware prefetcher already
follows the bump pointer).""",
    "contract": """The held-out program does the same work as bench/binarytrees.c through
the public API only (every thread takes every n-th tree of each depth),
and its time and profile match the in-tree program's: the causes and the
proposed changes above apply unchanged. Built outside the tree with
`cc -O2` and pkg-config, it runs the same code as this build's -O3: the
fast paths are `always_inline` (before, GCC at -O2 called `rcgc_store`,
`rcgc_decref` and the allocation path out of line, 5-10% slower).""",
    "cycles": """`rcgc_collect(2)` on a million objects of garbage made by the caller
now frees them in the caller's own young collection, which it runs first
(cycles.md C8): trial deletion whose members are found through their
headers in the heap's own pages instead of a side hash map (C3), one pass
for counts and internal references (C2), the rescue pass that also notes
whether any type has hooks, and the plain reclaim of a set without hooks
(C7: two passes, no pins, no marks). What remains is memory traffic: about
five passes over 32 MB of headers and payloads (counts with subtraction,
marking, rescue, release, free), where CPython's collector makes about
four over its objects. Old garbage, found by the background collector, no
longer goes through a side map either: members of both collectors are
recognised by their own gc_index through the process-wide page map (C3).
**Proposed change** (src/trial.c): fold the rescue pass into marking for
sets no other thread touched (a per-heap count of ESCAPED marks, read
before the counts and after marking, tells).""",
    "pause": """Confirmation runs in slices of at most 4096 candidates, whole
connected components each, one pause per slice (cycles.md C14), and the
collector's long loops poll safepoints throughout. Since the collector finds
its members through the page map (cycles.md C3) a full collection of the
5M-object heap takes 0.2-0.5 s instead of 1.7-1.9 s, so the benchmark's
back-to-back collections now make four to five times as many pauses per run
(about 200 in 3 s at 5M live), and the longest of them is the tail of a
larger sample. rcgc_get_stats now splits every pause (safepoints.md S10),
and the figures below (and the columns of the pause table) show where the
time goes: the work done with every thread stopped stays well under 1 ms
at every heap size, and what exceeds 1 ms is the time to safepoint, during
which the late thread (in these runs always the mutator) was not yet
stopped. The mutator's own longest gaps are about 4 ms, this kernel's
scheduler tick (CONFIG_HZ=250): the collector and the mutator are busy on
the machine's two cores, and when a third thread wakes (the one asking for
collections, or either of the two after a pause) two of them can share a
core until the next tick or the load balancer moves one. Tried and not
kept: a pauser that spins on the acknowledgements before sleeping (halved
the median time to safepoint, 40 to 20 microseconds, but not the
outliers); parked threads that spin up to 0.3 ms before sleeping, so a
short pause never gives their core away (no change beyond the run-to-run
spread of the longest pause, 0.3 to 2.6 ms at 100k live in six
alternating runs). What this session changed: the gathering pause of
`rcgc_collect(2)` promoted the other threads' young tables and windows
inside the pause, and the mutator of this benchmark keeps about 45,000
aged objects, which made the gathering pause the longest work with every
thread stopped (1.2-1.6 ms at 2-5 million live objects, found with the
breakdown above); worse, a thread holding millions of young objects (a
structure built with no cycle-closing store, C13, C15) made another
thread's `rcgc_collect(2)` stop the world for 60 ms per million. Now each
running thread with a large young generation is asked to promote it
itself at its next safepoint, a handshake, not a pause (cycles.md C8a),
and the gathering pause promotes only what was made since: 4 million
young objects on another thread, 215 ms -> 0.09 ms; bench/pause_heap 2M
tree, longest work 1.3-1.6 ms -> 0.2-0.3 ms. What a pause still contains:
(1) the time a mutator takes to reach a safepoint: a young collection does
not poll, and one with trial deletion examines up to threshold0 << 5 aged
objects plus the new ones (C12), a few milliseconds at worst (the trace
shows one of 70,000 objects taking 3.75 ms while the heap is built), and
closing a young window (C15) walks the window's pages without polling; (2)
the scheduler: a thread asked to stop that has no core waits for one; (3)
a component of garbage larger than a slice is confirmed whole.
**Proposed changes:** (a) src/young.c: let the young trial and the
window's closing poll, by keeping the members' table positions valid
while the thread parks (a pause must then neither drain the heap's merge
queue nor promote its table) and re-reading counts after it; (b) split a
large component by confirming its members' external counts
incrementally; (c) for the scheduler, nothing in the library short of
not stopping the threads at all: the confirmation pause needs every
thread stopped (C4), so the time to safepoint of the slowest thread is a
floor that only a machine with a core per busy thread removes.""",
    "slowdown": """Two parts, told apart by the mutator thread's CPU time (last column of
the table). (1) CPU time lost to the collector: while detection runs, the
collector walks every live header and slot, competing with the mutator for
memory bandwidth and the shared L3, and the mutator of this benchmark is
bound by cache misses (it touches four random live objects per unit of
work). Until the process-wide page map (cycles.md C3) the collector also
looked up every member and every slot in a side hash map far larger than
the cache; its random accesses were most of the collector's memory traffic,
and removing it took the slowdown from +27% to a few per cent with four
times as many full collections done meanwhile. The forced back-to-back full
collections are the worst case: with the defaults (the `defaults` row) full
collections are rare and the slowdown is within noise. (2) Wall time beyond
that is time the mutator thread had no CPU: the background collector needs
a core of its own, and on a 2-core machine with any third runnable thread
(another process, or this benchmark's thread asking for collections) it
takes the mutator's. **Proposed change** (src/cycles.c, src/trial.c): pace
detection: after each slice of work (the existing poll every 256 objects),
sleep in proportion to the work done when the runnable threads outnumber
the CPUs, so that detection takes at most a configurable share of a CPU (a
new `rcgc_config` field, `collector_share`).""",
}

PROFILE_CMDS = {
    "owner": None,
    "nonowner": lambda bd, cfg: ([bench_path(bd, "bench_fastpath"), "--benchmark_filter=BM_NonOwnerPair",
                                  "--benchmark_min_time=0.5"], None, None),
    "bt": lambda bd, cfg: ([bench_path(bd, "binarytrees_rcgc"), "17", "2"],
                           [bench_path(bd, "binarytrees_rcgc"), "17", "2"], None),
    "contract": None,
    "cycles": lambda bd, cfg: ([bench_path(bd, "cycles_rcgc"), "1000000", "1"],
                               [bench_path(bd, "cycles_rcgc"), "1000000", "1"], None),
    "pause": lambda bd, cfg: (None, [bench_path(bd, "pause_heap"), str(cfg["pause_sizes"][-1]),
                                     f"{pause_seconds(cfg['pause_sizes'][-1]):g}", "rings"], None),
    "slowdown": None,
}


def dynamic_note(rep, key):
    """Figures of this run that tell the causes apart (printed under them)."""
    if key == "contract":
        bt = rep.d.get("binarytrees", {})
        c, r = bt.get("contract"), bt.get("rcgc")
        if c and r and c.n and r.n:
            return (f"In this run the held-out program used {f3(c.med('cpu_s'), ' s')} of CPU "
                    f"against {f3(r.med('cpu_s'), ' s')} for bench/binarytrees_rcgc: a wall-time "
                    "difference much larger than that is the machine's load, not the program.")
    if key == "pause":
        p = rep.d.get("pause") or {}
        sizes = rep.cfg.get("pause_sizes") or []
        if sizes:
            big = sizes[-1]
            r = [v for k, v in (p.get("rcgc") or {}).items()
                 if k.startswith(f"{big}:") and "error" not in v]

            def mx(key):
                vals = [x[key] for x in r if isinstance(x.get(key), float)]
                return max(vals) if vals else None
            if r and mx("pause_work_max_ms") is not None:
                return (f"In this run, with {big:,} live objects (every shape; medians of "
                        f"{rep.cfg['pause_reps']} runs): longest pause {f3(mx('pause_max_ms'), ' ms')}; "
                        f"longest time to safepoint {f3(mx('pause_ttsp_max_ms'), ' ms')}; longest "
                        f"work with every thread stopped {f3(mx('pause_work_max_ms'), ' ms')}; "
                        f"longest hold of a thread {f3(mx('pause_held_max_ms'), ' ms')}.")
    if key == "slowdown":
        s = rep.d.get("slowdown", {})
        if "slowdown_busy" in s:
            return (f"In this run: wall clock {s['slowdown_busy']:+.1%}, mutator CPU time "
                    f"{s.get('slowdown_busy_cpu', 0):+.1%}, stopped "
                    f"{f3(s.get('busy_paused_s', 0) * 1e3, ' ms')} per run.")
    return None


def section_misses(rep, bd, profile):
    missed = [t for t in rep.targets if t[2] is False]
    if not missed:
        return
    rep.w("## Misses: causes, profiles and proposed changes", "")
    can_perf = profile and perf_works()
    if profile and not can_perf:
        rep.w("(perf is not available or not permitted here: no perf profiles below.)", "")
    for name, fig, _, key in missed:
        rep.w(f"### {name}", "", f"Measured: {fig}.", "", CAUSES[key].replace("\n", " ")
              .replace("  ", " "), "")
        note = dynamic_note(rep, key)
        if note:
            rep.w(note, "")
        mk = PROFILE_CMDS.get(key)
        if not profile or mk is None:
            continue
        perf_cmd, trace_cmd, env = mk(bd, rep.cfg)
        if perf_cmd and can_perf:
            rep.w(f"Profile (`perf record`, `perf report --sort pid,sym`) of "
                  f"`{' '.join(['bench/' + os.path.basename(perf_cmd[0])] + perf_cmd[1:])}`, "
                  "top symbols per thread:", "", "```", perf_profile(perf_cmd, bd, env), "```", "")
        extra = EXTRA_PROFILES.get(key)
        if extra is not None:
            text = extra(bd)
            if text:
                rep.w(text, "")
        if trace_cmd:
            log(f"collection log: {os.path.basename(trace_cmd[0])}")
            ts = trace_summary(trace_cmd, bd, env)
            rep.w(f"Collection log (`RCGC_TRACE=1` "
                  f"`{' '.join(['bench/' + os.path.basename(trace_cmd[0])] + trace_cmd[1:])}`), "
                  "summed per generation:", "", trace_table(ts), "")


def write_report(rep, out_path, bd, profile):
    rep.plots = {}
    targets_and_tables(rep)
    body_start = len(rep.out)
    for fn in (section_fastpath, section_gcbench, section_binarytrees, section_cycles,
               section_pause, section_slowdown, section_threads):
        fn(rep)
    body = rep.out[body_start:]
    rep.out = rep.out[:body_start]
    rep.w("## Targets (issue 6)", "", "| target | measured | verdict |", "|---|---|---|")
    for name, fig, ok, _ in rep.targets:
        rep.w(f"| {name} | {fig} | {verdict(ok)} |")
    rep.w("")
    rep.out.extend(body)
    section_misses(rep, bd, profile)
    rep.w("## Running it", "",
          "`python3 bench/run.py` (the full report, under 15 minutes on 2 cores) or "
          "`python3 bench/run.py --quick` (a minute or two, small sizes). It builds what it "
          "needs in `build-bench/` (meson, release) and needs libgc-dev, libmimalloc-dev, "
          "libbenchmark-dev and python3; a missing baseline is left out of the tables.", "")
    img_dir = os.path.join(os.path.dirname(out_path), "img")
    os.makedirs(img_dir, exist_ok=True)
    for name, svg in rep.plots.items():
        with open(os.path.join(img_dir, name), "w") as f:
            f.write(svg)
    with open(out_path, "w") as f:
        f.write("\n".join(rep.out).rstrip() + "\n")


def to_json(x):
    if isinstance(x, Series):
        return x.to_json()
    if isinstance(x, dict):
        return {str(k): to_json(v) for k, v in x.items() if k not in ("stdout", "stderr")}
    if isinstance(x, (list, tuple)):
        return [to_json(v) for v in x]
    return x


def from_json(x, key=None):
    """The inverse of to_json, for --render-only."""
    if isinstance(x, dict):
        if set(x) == {"n", "errors", "runs"}:
            s = Series()
            s.runs, s.errors = x["runs"], x["errors"]
            s.spent = sum(r.get("wall_s", 0) for r in s.runs)
            return s
        out = {}
        for k, v in x.items():
            out[int(k) if key == "threads" and k.isdigit() else k] = \
                from_json(v, "threads" if key == "threads" else None)
        return out
    if isinstance(x, list) and key == "load":
        return tuple(x)
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--out")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--only")
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the report from <build-dir>/benchmarks.json, measuring nothing")
    ap.add_argument("--update", action="store_true",
                    help="with --only: measure those sections again and keep the others from "
                         "<build-dir>/benchmarks.json (the report says which were re-measured)")
    args = ap.parse_args()
    cfg = dict(QUICK if args.quick else FULL)
    if args.quick:
        TIMEOUT["s"] = 120
    bd = os.path.abspath(args.build_dir)
    out = args.out or (os.path.join(bd, "benchmarks-quick.md") if args.quick
                       else os.path.join(ROOT, "docs", "benchmarks.md"))
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    if only - set(SECTIONS):
        ap.error(f"unknown section(s): {', '.join(sorted(only - set(SECTIONS)))}")
    t0 = time.monotonic()
    if args.render_only:
        with open(os.path.join(bd, "benchmarks.json")) as f:
            raw = json.load(f)
        data = {k: from_json(v, k) for k, v in raw.items()}
        rep = Report(cfg, data, args.quick)
        write_report(rep, out, bd, cfg["profile"] and not args.no_profile)
        log(f"rewrote {os.path.relpath(out, ROOT)}")
        return
    if args.update and not args.only:
        ap.error("--update needs --only")
    if not args.no_build:
        build(bd)
    data = {"machine": machine_info()}
    if args.update:
        with open(os.path.join(bd, "benchmarks.json")) as f:
            raw = json.load(f)
        kept = {k: from_json(v, k) for k, v in raw.items()}
        machine = kept.pop("machine")
        machine.setdefault("updates", []).append(
            {"sections": sorted(only), "date": data["machine"]["date"],
             "commit": data["machine"]["commit"], "load": data["machine"]["load_start"][0]})
        data = dict(kept, machine=machine)
    if "fastpath" in only:
        data["fastpath"] = m_fastpath(cfg, bd)
    if "gcbench" in only:
        data["gcbench"] = m_gcbench(cfg, bd)
    if "cycles" in only:
        data["cycles"] = m_cycles(cfg, bd)
    if "slowdown" in only:
        data["slowdown"] = m_slowdown(cfg, bd)
    if "pause" in only:
        data["pause"] = m_pause(cfg, bd, args.quick)
    if "threads" in only:
        data["threads"] = m_threads(cfg, bd)
    if "binarytrees" in only:
        data["binarytrees"] = m_binarytrees(cfg, bd)
    if args.update:
        data["machine"]["updates"][-1]["load_end"] = os.getloadavg()[0]
    else:
        data["machine"]["load_end"] = os.getloadavg()
    with open(os.path.join(bd, "benchmarks.json"), "w") as f:
        json.dump(to_json(data), f, indent=1)
    rep = Report(cfg, data, args.quick)
    write_report(rep, out, bd, cfg["profile"] and not args.no_profile)
    log(f"wrote {os.path.relpath(out, ROOT)} in {time.monotonic() - t0:.0f} s")
    for name, fig, ok, _ in rep.targets:
        print(f"{verdict(ok).strip('*'):8s}  {name}: {fig}")


if __name__ == "__main__":
    main()

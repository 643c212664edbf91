#!/usr/bin/env python3
"""trace_svg.py: draws an rcgc trace file (RCGC_TRACE_FILE, Chrome
trace-event JSON) as an SVG timeline, one row per thread, one bar per
collection phase, for documentation and for machines without a browser.

Usage: python3 tools/trace_svg.py TRACE.json OUT.svg [--from MS] [--to MS]

--from/--to cut a window (milliseconds since rcgc_init). Bars narrower
than a pixel are widened to one so that short pauses stay visible; the
legend gives each phase's count, total and longest duration. Uses only the
standard library.
"""
import json
import sys
from html import escape

COLOURS = {
    "young collection": "#4c9be8",
    "detect (concurrent)": "#9ccc65",
    "time to safepoint": "#ffb74d",
    "pause: confirm": "#e53935",
    "pause: gather for a full collection": "#8e24aa",
    "reclaim": "#26a69a",
    "finalizers and callbacks": "#f06292",
    "collection gen 1": "#cfd8dc",
    "full collection": "#b0bec5",
}
# Whole collections are drawn as a thin band under their phases.
ENVELOPES = {"collection gen 1", "full collection"}


def load(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    names, spans = {}, []
    for e in events:
        if e.get("ph") == "M" and e.get("name") == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        elif e.get("ph") == "X":
            spans.append((e["tid"], e["name"], e["ts"] / 1e3, e["dur"] / 1e3))
    return names, spans


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    src, out = argv[1], argv[2]
    lo = float(argv[argv.index("--from") + 1]) if "--from" in argv else None
    hi = float(argv[argv.index("--to") + 1]) if "--to" in argv else None
    names, spans = load(src)
    if lo is not None:
        spans = [s for s in spans if s[2] + s[3] >= lo]
    if hi is not None:
        spans = [s for s in spans if s[2] <= hi]
    if not spans:
        print("no spans in the window")
        return 1
    t0 = lo if lo is not None else min(s[2] for s in spans)
    t1 = hi if hi is not None else max(s[2] + s[3] for s in spans)
    tids = sorted({s[0] for s in spans}, key=lambda t: ("collector" not in names.get(t, ""), t))
    left, width, row, top = 190, 900, 34, 40
    scale = width / max(t1 - t0, 1e-9)
    legend_y = top + row * len(tids) + 40
    phases = sorted({s[1] for s in spans}, key=lambda n: list(COLOURS).index(n) if n in COLOURS else 99)
    height = legend_y + 22 * len(phases) + 20
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 30}" height="{height}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{left}" y="20" font-size="14">rcgc trace: {escape(src.split("/")[-1])}, '
         f'{t0:.1f} to {t1:.1f} ms after rcgc_init</text>']
    for i, tid in enumerate(tids):
        y = top + i * row
        o.append(f'<text x="8" y="{y + 20}">{escape(names.get(tid, f"heap {tid}"))}</text>')
        o.append(f'<line x1="{left}" y1="{y + row - 2}" x2="{left + width}" y2="{y + row - 2}" stroke="#eee"/>')
        for (t, name, ts, dur) in spans:
            if t != tid:
                continue
            x = left + (ts - t0) * scale
            w = max(dur * scale, 1.0)
            colour = COLOURS.get(name, "#999")
            if name in ENVELOPES:
                o.append(f'<rect x="{x:.2f}" y="{y + 24}" width="{w:.2f}" height="6" fill="{colour}">'
                         f'<title>{escape(name)} {dur:.3f} ms</title></rect>')
            else:
                o.append(f'<rect x="{x:.2f}" y="{y + 4}" width="{w:.2f}" height="18" fill="{colour}">'
                         f'<title>{escape(name)} {dur:.3f} ms</title></rect>')
    # Time axis.
    ay = top + row * len(tids) + 8
    o.append(f'<line x1="{left}" y1="{ay}" x2="{left + width}" y2="{ay}" stroke="black"/>')
    for k in range(6):
        t = t0 + (t1 - t0) * k / 5
        x = left + width * k / 5
        o.append(f'<line x1="{x:.1f}" y1="{ay}" x2="{x:.1f}" y2="{ay + 5}" stroke="black"/>')
        o.append(f'<text x="{x:.1f}" y="{ay + 18}" text-anchor="middle">{t:.1f} ms</text>')
    for i, name in enumerate(phases):
        d = [s[3] for s in spans if s[1] == name]
        y = legend_y + i * 22
        o.append(f'<rect x="{left}" y="{y}" width="14" height="14" fill="{COLOURS.get(name, "#999")}"/>')
        o.append(f'<text x="{left + 20}" y="{y + 12}">{escape(name)}: {len(d)}, total {sum(d):.2f} ms, '
                 f'longest {max(d):.3f} ms</text>')
    o.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(o) + "\n")
    print(f"{out}: {len(spans)} spans, {len(tids)} threads")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

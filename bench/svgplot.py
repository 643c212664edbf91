"""svgplot.py: a small line-plot writer producing standalone SVG, for the
plots of docs/benchmarks.md (bench/run.py). No plotting package needed.

Use:
    from svgplot import line_plot
    svg = line_plot(
        title="Pause against live-heap size",
        xlabel="live objects", ylabel="pause (ms)",
        series=[("rcgc", [(1e5, 0.4), (5e6, 0.9)]), ("bdwgc", [...])],
        xlog=True, ylog=True)
    open("docs/img/pause.svg", "w").write(svg)

Each series is a name and a list of (x, y) points (drawn in x order, with a
marker at every point); points with y <= 0 are skipped on a log axis. Axes
get "nice" ticks (1-2-5 steps on linear axes, powers of ten with 2 and 5 in
between on log axes), or the x ticks given (`xticks=[1, 2, 4]`, for
counts). An optional dashed horizontal line marks a target
(`hline=(y, label)`).
"""
import math
from xml.sax.saxutils import escape

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
MARKERS = ["circle", "square", "diamond", "triangle"]


def _nice_linear_ticks(lo, hi, want=6):
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / want
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    ticks = [round(math.floor(lo / step) * step, 12)]
    while ticks[-1] < hi - step * 1e-9:  # the last tick at or above hi
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _log_ticks(lo, hi):
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo / 1.0001 <= v <= hi * 1.0001:
                ticks.append(v)
    return ticks


def _fmt(v):
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e3:
        return f"{v / 1e3:g}k"
    if a >= 1:
        return f"{v:g}"
    return f"{v:.3g}"


def _marker(kind, x, y, colour):
    r = 3.5
    if kind == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r}" height="{2 * r}" fill="{colour}"/>'
    if kind == "diamond":
        return (f'<polygon points="{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} '
                f'{x:.1f},{y + r + 1:.1f} {x - r - 1:.1f},{y:.1f}" fill="{colour}"/>')
    if kind == "triangle":
        return (f'<polygon points="{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y + r:.1f} '
                f'{x - r - 1:.1f},{y + r:.1f}" fill="{colour}"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{colour}"/>'


def line_plot(title, xlabel, ylabel, series, xlog=False, ylog=False, hline=None,
              xticks=None, width=720, height=420):
    """Returns the SVG document (a string) of a line plot."""
    left, right, top, bottom = 78, 190, 40, 58
    pw, ph = width - left - right, height - top - bottom
    pts = [(x, y) for _, s in series for x, y in s
           if (not xlog or x > 0) and (not ylog or y > 0)]
    if hline is not None:
        pts.append((pts[0][0] if pts else 1, hline[0]))
    if not pts:
        pts = [(1, 1)]
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if xticks:
        xt = list(xticks)
        x0, x1 = min(xt + [x0]), max(xt + [x1])
        pad = (x1 - x0) * 0.05 if not xlog else 0
        x0, x1 = (x0 / 1.3, x1 * 1.3) if xlog else (x0 - pad, x1 + pad)
    elif xlog:
        x0, x1 = x0 / 1.3, x1 * 1.3
        xt = _log_ticks(x0, x1)
    else:
        xt = _nice_linear_ticks(min(0, x0), x1)
        x0, x1 = xt[0], xt[-1]
    if ylog:
        y0, y1 = 10 ** math.floor(math.log10(y0)), 10 ** math.ceil(math.log10(y1))
        yt = _log_ticks(y0, y1)
    else:
        yt = _nice_linear_ticks(min(0, y0), y1 * 1.05)
        y0, y1 = yt[0], yt[-1]

    def sx(x):
        f = (math.log10(x) - math.log10(x0)) / (math.log10(x1) - math.log10(x0)) if xlog \
            else (x - x0) / ((x1 - x0) or 1)
        return left + f * pw

    def sy(y):
        f = (math.log10(y) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) if ylog \
            else (y - y0) / ((y1 - y0) or 1)
        return top + ph - f * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + pw / 2}" y="22" text-anchor="middle" font-size="15" '
           f'font-weight="bold">{escape(title)}</text>']
    for t in xt:
        x = sx(t)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 16}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(18 {top + ph / 2}) rotate(-90)" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    if hline is not None and (not ylog or hline[0] > 0):
        y = sy(hline[0])
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" '
                   f'stroke="#555" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{left + 4}" y="{y - 5:.1f}" fill="#555">{escape(hline[1])}</text>')
    for i, (name, s) in enumerate(series):
        colour, marker = COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]
        s = sorted((x, y) for x, y in s if (not xlog or x > 0) and (not ylog or y > 0))
        if len(s) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.extend(_marker(marker, sx(x), sy(y), colour) for x, y in s)
        ly = top + 14 + i * 20
        out.append(f'<line x1="{left + pw + 14}" y1="{ly}" x2="{left + pw + 40}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(_marker(marker, left + pw + 27, ly, colour))
        out.append(f'<text x="{left + pw + 46}" y="{ly + 4}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"

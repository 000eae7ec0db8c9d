#!/usr/bin/env python3
"""SVG charts for BENCHMARKS.md, with no plotting library (none is installed here).

  scripts/plot.py replay REPORT.json OUT.svg TITLE   latency per second of a replay
  scripts/plot.py p1 P1.json OUT.svg                 P1: ops/s and encoded bytes per library
"""
import json
import sys
from html import escape

W, H, L, R, T, B = 760, 360, 70, 20, 56, 50
COLORS = ["#2563eb", "#dc2626", "#059669", "#9333ea"]


def frame(title, ylabel, ymax, xlabel, xmax, ticks_x):
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="#333"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="#333"/>',
           f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" text-anchor="middle">{escape(ylabel)}</text>',
           f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">{escape(xlabel)}</text>']
    for i in range(5):
        v = ymax * i / 4
        y = H - B - (H - B - T) * i / 4
        out.append(f'<line x1="{L}" y1="{y}" x2="{W - R}" y2="{y}" stroke="#eee"/>')
        label = f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
        out.append(f'<text x="{L - 6}" y="{y + 4}" text-anchor="end">{label}</text>')
    for v in ticks_x:
        x = L + (W - L - R) * v / max(xmax, 1)
        out.append(f'<text x="{x}" y="{H - B + 16}" text-anchor="middle">{v}</text>')
    return out


def replay(report_path, out_path, title):
    rows = json.load(open(report_path))["timeline"]
    series = [("sync p50", "sync_p50_ms"), ("sync p99", "sync_p99_ms"), ("checkout p99", "checkout_p99_ms")]
    xmax = max((r["second"] for r in rows), default=1)
    ymax = max((r[k] for r in rows for _, k in series), default=1) * 1.05 or 1
    out = frame(title, "latency (ms)", ymax, "second of the replay", xmax, range(0, xmax + 1, max(1, xmax // 8)))
    for i, (name, key) in enumerate(series):
        pts = " ".join(f'{L + (W - L - R) * r["second"] / max(xmax, 1):.1f},{H - B - (H - B - T) * r[key] / ymax:.1f}'
                       for r in rows if key.startswith("sync") or r["checkouts"])
        out.append(f'<polyline fill="none" stroke="{COLORS[i]}" stroke-width="1.5" points="{pts}"/>')
        out.append(f'<text x="{L + 12 + 110 * i}" y="{T - 6}" fill="{COLORS[i]}">{escape(name)}</text>')
    out.append("</svg>")
    open(out_path, "w").write("\n".join(out) + "\n")


def p1(path, out_path):
    libs = json.load(open(path))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">P1: one cart workload from Online Retail II</text>']
    for panel, (key, label) in enumerate([("ops_per_s", "operations per second"), ("bytes", "encoded bytes after merge")]):
        x0 = 40 + panel * (W / 2)
        top = max(l[key] for l in libs) or 1
        out.append(f'<text x="{x0 + 150}" y="50" text-anchor="middle">{escape(label)}</text>')
        for i, lib in enumerate(libs):
            h = (H - 130) * lib[key] / top
            x = x0 + 30 + i * 100
            out.append(f'<rect x="{x}" y="{H - 60 - h:.1f}" width="70" height="{h:.1f}" fill="{COLORS[i]}"/>')
            out.append(f'<text x="{x + 35}" y="{H - 64 - h:.1f}" text-anchor="middle">{lib[key]:,.0f}</text>')
            out.append(f'<text x="{x + 35}" y="{H - 42}" text-anchor="middle">{escape(lib["name"])}</text>')
    out.append("</svg>")
    open(out_path, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "replay":
        replay(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) >= 4 and sys.argv[1] == "p1":
        p1(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)

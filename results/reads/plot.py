#!/usr/bin/env python3
"""Draws results/reads/sweep.svg: ops/s against read ratio per read mode,
from the sweep's result files (0.9: the median of the interleaved rounds).
Run from the repository root: python3 results/reads/plot.py"""
import glob, json, statistics

D = "results/reads/"
ratios = ["0", "0.5", "0.9", "0.99", "1"]
modes = {"log": "#d62728", "index": "#1f77b4", "lease": "#2ca02c"}

def ops(path):
    return json.load(open(path))["ops_per_s"]

pts = {}
for m in modes:
    for r in ratios:
        if r == "0.9":
            v = statistics.median(ops(p) for p in glob.glob(D + "n5-c200-r90-%s-r*.json" % m))
        else:
            v = ops(D + "sweep-n5-c200-r%s-%s.json" % (r, m))
        pts[m, r] = v

W, H, L, B, T, R = 640, 400, 70, 50, 40, 110
ymax = max(pts.values()) * 1.1
x = lambda i: L + i * (W - L - R) / (len(ratios) - 1)
y = lambda v: H - B - v / ymax * (H - B - T)
out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="20" font-size="14">5 nodes, 200 clients, sync: ops/s by read ratio and read mode</text>' % L]
for k in range(6):
    v = ymax * k / 5
    out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (L, W - R, y(v), y(v)))
    out.append('<text x="%d" y="%.1f" text-anchor="end">%dk</text>' % (L - 6, y(v) + 4, v / 1000))
for i, r in enumerate(ratios):
    out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x(i), H - B + 18, r))
out.append('<text x="%d" y="%d" text-anchor="middle">read ratio (one run per point; 0.9: median of 5 interleaved)</text>' % ((L + W - R) / 2, H - 10))
for j, (m, c) in enumerate(modes.items()):
    path = " ".join("%.1f,%.1f" % (x(i), y(pts[m, r])) for i, r in enumerate(ratios))
    out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, path))
    for i, r in enumerate(ratios):
        out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x(i), y(pts[m, r]), c))
    out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 12, T + 20 + 18 * j, c, m))
out.append("</svg>")
open(D + "sweep.svg", "w").write("\n".join(out) + "\n")
for m in modes:
    print(m, " ".join("%s:%.0f" % (r, pts[m, r]) for r in ratios))

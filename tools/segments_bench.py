"""Silhouettes of embedding clusters vs hand-crafted features, and projection times.

    python tools/segments_bench.py [DATA] [MODEL,MODEL,...] [POINTS]

POINTS (default 50,000): the size of the synthetic cloud UMAP is timed on last.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys import segments  # noqa: E402
from recsys.data import load_orders  # noqa: E402
from recsys.models import make_model  # noqa: E402

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/online_retail.csv.gz"
names = sys.argv[2].split(",") if len(sys.argv) > 2 else ["item2vec", "customer2vec",
                                                          "two_tower", "als"]
points = int(sys.argv[3]) if len(sys.argv) > 3 else 50_000
data = load_orders(path)
print(f"{'model':<14}{'what':<11}{'n':>6}{'K':>4}{'silhouette':>12}{'baseline':>10}{'fit s':>8}")
vectors_for_timing = None
for name in names:
    t = time.perf_counter()
    model = make_model(name).fit(data)
    fit_s = time.perf_counter() - t
    for what in ("customers", "items"):
        ids, vec = segments.model_vectors(model, what)
        res = segments.segment(data, vec, ids, what)
        print(f"{name:<14}{what:<11}{len(ids):>6}{res['k']:>4}{res['chosen_silhouette']:>12.3f}"
              f"{res['baseline_silhouette']:>10.3f}{fit_s:>8.1f}", flush=True)
        if what == "customers":
            vectors_for_timing = vec

t = time.perf_counter()
segments.project(vectors_for_timing[:500], "umap")  # compile numba once (cold start)
print(f"umap first call (numba compile) on 500 points: {time.perf_counter() - t:.1f}s")
p = segments.project(vectors_for_timing, "umap")
print(f"umap warm, {len(p.index):,} real customer vectors: {p.seconds:.1f}s")
rng = np.random.default_rng(0)
copies = -(-points // len(vectors_for_timing))
big = np.repeat(vectors_for_timing, copies, axis=0)[:points]
big = big + rng.normal(0, 0.05, big.shape)
p = segments.project(big.astype(np.float32), "umap")
print(f"umap warm, {len(p.index):,} points: {p.seconds:.1f}s")

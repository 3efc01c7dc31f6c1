"""Seconds and peak memory to fit each model on a whole export and recommend 10 products to
every customer: the figures behind the Scaling table (docs/scaling.md).

    python tools/recommend_all.py DATA [--models als,itemknn] [--n 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.data import load_orders  # noqa: E402
from recsys.memory import PeakRSS  # noqa: E402
from recsys.models import make_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--models", default="als,itemknn")
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args()
    t = time.perf_counter()
    data = load_orders([Path(args.data)])
    print(f"loaded {len(data.interactions):,} lines, {data.n_customers:,} customers, "
          f"{data.n_items:,} products in {time.perf_counter() - t:.0f}s", flush=True)
    for name in args.models.split(","):
        with PeakRSS() as fit:
            model = make_model(name).fit(data)
        with PeakRSS() as rec:
            ids, _ = model.recommend(data.customer_ids, n=args.n)
        assert ids.shape == (data.n_customers, min(args.n, data.n_items))
        print(f"{name}: fit {fit.seconds:.1f}s (peak {fit.peak_gb:.2f} GB); top {args.n} for "
              f"all {data.n_customers:,} customers {rec.seconds:.1f}s "
              f"(peak {rec.peak_gb:.2f} GB)", flush=True)


if __name__ == "__main__":
    main()

"""Choose campaign models and settings on backtests *before* the reported one.

    python tools/campaign_validation.py propensity,ease 2011-09-01,2011-10-01

Prints the lift at the top 5% (20 best sellers, 30-day window, every training customer a
candidate) per model and cutoff. The reported cutoff (2011-11-01) is never looked at here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.campaign import Economics, report  # noqa: E402
from recsys.data import load_orders  # noqa: E402

models = sys.argv[1].split(",") if len(sys.argv) > 1 else ["propensity", "ease"]
cutoffs = sys.argv[2].split(",") if len(sys.argv) > 2 else ["2011-09-01", "2011-10-01"]
path = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/online_retail.csv.gz"
if not Path(path).exists():
    sys.exit(f"no data at {path}")
data = load_orders(path)
print(f"{'model':<14}" + "".join(f"{c:>12}" for c in cutoffs) + f"{'mean':>8}")
for name in models:
    lifts, start = [], time.perf_counter()
    for cut in cutoffs:
        lifts.append(report(data, name, None, None, 20, cut, 30, Economics())["lift_at_5pct"])
    print(f"{name:<14}" + "".join(f"{v:>11.2f}x" for v in lifts)
          + f"{sum(lifts) / len(lifts):>7.2f}x  ({time.perf_counter() - start:.0f}s)", flush=True)

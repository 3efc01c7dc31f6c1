"""Does a campaign plan's forecast hold on the next window? Plan at C2 = C1 + window (the
backtest: a model fitted before C1, checked on [C1, C2); the audience: the top share of a
model fitted before C2), then count what that audience bought in [C2, C2 + window).

    python tools/forecast_check.py [DATA] [--cutoffs 2011-07-01,...] [--products 20]
                                   [--share 0.05] [--days 30] [--model propensity]
                                   [--demand auto|level|last|season|+20%]

DATA: a path the importer reads, "demo" (the generated demo shop) or "seasonal" (two years
of a generated shop with seasonal lines, whose plans can read the season a year back).
Prints, per cutoff, the total planned (today's rule and the previous rule: the backtest's
hits at the same share), the realised total, the products within +-15%, the median error
per product, the 80% interval's coverage and median width; then the pooled coverage.
Beside it, for scale, the same figures for a forecast that is told each product's demand
in the next window (its distinct buyers among all customers, against the backtest
window's): what is left of its error is the audience's share of the buyers moving, not the
product's demand; and the error that counting noise alone leaves, taking what was bought
as each product's true mean: for a forecast of that mean, and for one read off a backtest
window's count (both counts Poisson).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys import campaign as cp  # noqa: E402
from recsys import forecast as fc  # noqa: E402
from recsys import plan as pl  # noqa: E402


def load(path: str):
    from recsys.data import load_orders
    from recsys.datasets import load_demo

    if path == "demo":
        return load_demo()
    if path == "seasonal":  # two years of the demo shop, with Christmas and garden lines
        return load_demo(3000, 500, 0, days=738, seasonal_lines=True)

    if not Path(path).exists():
        sys.exit(f"no data at {path}")
    return load_orders(path)


def check_cutoff(data, c1: str, args) -> pd.DataFrame:
    w1 = cp.CampaignWindow.of(data, c1, args.days)
    c2 = w1.cutoff + pd.Timedelta(days=args.days)
    upto = data.before(c2)
    w1 = cp.CampaignWindow.of(upto, c1, args.days)
    m1 = cp.fit_window_model(w1, args.model)
    m2 = cp.make_model(args.model, **cp.campaign_params(args.model, args.days)).fit(upto)
    after = cp.CampaignWindow.of(data, str(c2.date()), args.days)
    known = pd.Index(after.train.customer_ids)
    items = cp.best_sellers(w1.train, args.products)
    # every customer's buyers of each product in [C1, C2) and [C2, C2 + window)
    demand = fc.buyers_by_item(data, items, c2 + pd.Timedelta(days=args.days), args.days, 2)
    rows = []
    for item in items:
        inputs = pl.PlanInputs(pl.Scope.product(upto, item), pl.Sizing("share", args.share),
                               days=args.days, control_share=0.0,
                               demand=args.demand)
        plan = pl.make_plan(upto, w1, m1, m2, inputs, args.model)
        bought = after.positives(item)[known.get_indexer(plan.targets["customer_id"])]
        old = plan.evidence.hits_at(args.share) * plan.audience / max(
            args.share * plan.evidence.candidates, 1)
        rows.append({"cutoff": c1, "item": item, "planned": plan.forecast.buyers,
                     "low": plan.forecast.low, "high": plan.forecast.high, "previous": old,
                     "told": plan.forecast.backtest_hits * demand.loc[item].iloc[1]
                     / max(demand.loc[item].iloc[0], 1), "bought": int(bought.sum())})
    return pd.DataFrame(rows)


def errors(d: pd.DataFrame, key: str) -> pd.Series:
    return d[key] / d["bought"].clip(lower=1) - 1


def noise_floor(d: pd.DataFrame, draws: int = 2000, seed: int = 0
                ) -> dict[str, tuple[float, float]]:
    """The median error per product, and the share within +-15%, that counting noise
    alone leaves, taking what was bought as each product's true mean: ``oracle``, a forecast
    of the mean itself (only the next window's count is Poisson); ``counted``, one told the
    demand exactly but, like any plan read off a backtest, counting one window's buyers to
    forecast another's (both counts Poisson)."""
    rng = np.random.default_rng(seed)
    mean = d["bought"].clip(lower=1).to_numpy(float)
    seen, then = rng.poisson(mean, (2, draws, len(mean)))
    out = {}
    for key, planned in (("oracle", mean), ("counted", seen)):
        err = np.abs(planned / np.maximum(then, 1) - 1)
        out[key] = float(np.median(err)), float((err <= 0.15).mean())
    return out


def summarise(d: pd.DataFrame) -> str:
    err, told = errors(d, "planned"), errors(d, "told")
    floor = noise_floor(d)
    cover = ((d["bought"] >= d["low"]) & (d["bought"] <= d["high"])).mean()
    width = ((d["high"] - d["low"]) / d["planned"].clip(lower=1e-9)).median()
    total, prev, got = d["planned"].sum(), d["previous"].sum(), d["bought"].sum()
    return (f"planned {total:7.0f} ({total / got - 1:+.0%})  previous rule {prev:7.0f} "
            f"({prev / got - 1:+.0%})  bought {got:6d}  within 15%: "
            f"{int((err.abs() <= 0.15).sum()):2d} of {len(d)}  median error "
            f"{err.abs().median():.0%}  80% interval covers {cover:.0%} (median width "
            f"{width:.0%} of the forecast)\n    told the demand: planned "
            f"{d['told'].sum():7.0f} ({d['told'].sum() / got - 1:+.0%})  within 15%: "
            f"{int((told.abs() <= 0.15).sum()):2d} of {len(d)}  median error "
            f"{told.abs().median():.0%}\n    counting noise alone: "
            + "; ".join(f"{k} median error {m:.0%}, within 15%: {w * len(d):4.1f} of {len(d)}"
                        for k, (m, w) in floor.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default="../shared/data/online_retail.csv.gz")
    ap.add_argument("--cutoffs", default="2011-07-01,2011-08-01,2011-09-01,2011-10-01")
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--share", type=float, default=0.05)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--model", default="propensity")
    ap.add_argument("--demand", default="auto",
                    help="the plan's demand setting: auto (the season where the history "
                         "reaches a year back, else the last), last, level, season, or a "
                         "change such as +20%%")
    args = ap.parse_args()
    args.demand = pl.Demand.parse(args.demand)  # a wrong setting stops here, before any fit
    data = load(args.data)
    parts = []
    for c1 in args.cutoffs.split(","):
        start = time.perf_counter()
        parts.append(check_cutoff(data, c1, args))
        print(f"C1 {c1}: {summarise(parts[-1])}  [{time.perf_counter() - start:.0f}s]",
              flush=True)
    every = pd.concat(parts)
    print(f"all: {summarise(every)}")


if __name__ == "__main__":
    main()

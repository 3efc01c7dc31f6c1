"""Campaign sizing: who to contact about a product, how many, and what it should return.

A backtest works in three stages, each with its own inputs, so that changing one input redoes
only its stage: (1) ``fit_window_model`` fits the model on orders before a cutoff (dataset,
model, cutoff, window); (2) ``product_backtest`` ranks every training customer for one product
and checks who bought it in the window: precision, recall and lift at each audience size, over
simple heuristics too, and a calibrated purchase probability per rank (+ the product); (3)
``Backtest.priced`` adds costs and margins: expected profit and ROI (pure, milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from recsys.data import OrderData
from recsys.evaluate import as_cutoff
from recsys.models import NewProduct, make_model, registry
from recsys.models.base import Callback

HEURISTICS = ("random", "category_buyers", "most_active")


def campaign_params(model_name: str, days: int | None = None) -> dict[str, Any]:
    """The settings that rank customers (not products) best for this model, from its spec
    (chosen on backtests before the reported cutoff; tools/campaign_validation.py), for a
    campaign of ``days`` (``registry.campaign_params``)."""
    return registry.campaign_params(model_name, days)


@dataclass(frozen=True)
class Economics:
    """Costs and value. ``margin_per_conversion`` None: the product's price x margin_pct x
    its typical quantity per order line. ``uplift``: share of buyers the campaign causes."""

    cost_per_contact: float = 0.35
    fixed_cost: float = 0.0
    margin_pct: float = 0.30
    margin_per_conversion: float | None = None
    uplift: float = 1.0
    currency: str = ""  # what goes before an amount ('£'); nothing when it is unknown

    def margin(self, unit_value: float) -> float:
        """What one buyer earns: the given margin, else ``margin_pct`` of what they spend."""
        if self.margin_per_conversion is not None:
            return self.margin_per_conversion
        return unit_value * self.margin_pct


def default_cutoff(data: OrderData, window_days: int = 30):
    """The latest cutoff with a whole window of orders after it (a date)."""
    return (data.interactions["timestamp"].max() - pd.Timedelta(days=window_days)).date()


def line_categories(train: OrderData) -> pd.Series:
    """The category of every training line (computed once per backtest, not per product)."""
    per_item = (train.products.set_index("item_id")["category"]
                .reindex(train.item_ids))  # in item-code order
    codes, uniq = pd.factorize(per_item)
    lines = codes[train.interactions["item_id"].cat.codes.to_numpy()]
    # A Categorical: no string per line (tens of millions of lines on a big shop).
    return pd.Series(pd.Categorical.from_codes(lines, categories=pd.Index(uniq)),
                     index=train.interactions.index)


def heuristic_scores(train: OrderData, item_id: str, kind: str, seed: int = 0,
                     line_cats: pd.Series | None = None) -> np.ndarray:
    """Scores of every training customer under a heuristic (higher = contact first)."""
    inter = train.interactions
    n = train.n_customers
    tiebreak = np.random.default_rng(seed).random(n) * 1e-6
    if kind == "random":  # one random draw (the backtest reports the expectation instead)
        return tiebreak
    codes = inter["customer_id"].cat.codes.to_numpy()
    if kind == "most_active":
        recent = (inter["timestamp"] >= inter["timestamp"].max() - pd.Timedelta(days=90))
        orders = inter.loc[recent.to_numpy()].drop_duplicates("order_id")
        return np.bincount(orders["customer_id"].cat.codes, minlength=n) + tiebreak
    cat = train.products.set_index("item_id")["category"].get(item_id)
    line_cats = line_categories(train) if line_cats is None else line_cats
    in_cat = line_cats.eq(cat).to_numpy() if cat is not None else np.zeros(len(inter), bool)
    activity = np.bincount(codes, minlength=n)
    return np.bincount(codes[in_cat], minlength=n) + activity / (activity.max() + 1) + tiebreak


def gains(scores: np.ndarray, positives: np.ndarray, sizes: np.ndarray) -> pd.DataFrame:
    """Precision, recall and lift at each audience size for one ranking."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(positives[order])[sizes - 1]
    base = positives.mean() if len(positives) else 0.0
    precision = hits / sizes
    return pd.DataFrame({"n": sizes, "hits": hits, "precision": precision,
                         "recall": hits / max(positives.sum(), 1),
                         "lift": precision / base if base > 0 else np.nan})


def expected_random(positives: np.ndarray, sizes: np.ndarray) -> pd.DataFrame:
    """What a random audience gets on average: precision = base rate at every size."""
    base = float(positives.mean()) if len(positives) else 0.0
    hits = base * sizes
    return pd.DataFrame({"n": sizes, "hits": hits, "precision": np.full(len(sizes), base),
                         "recall": hits / max(positives.sum(), 1),
                         "lift": np.ones(len(sizes)) if base > 0 else np.nan})


def size_grid(n: int, points: int = 60) -> np.ndarray:
    """Audience sizes from 1 to n, dense at the small end, with 5% of n always included."""
    grid = np.unique(np.r_[np.geomspace(1, n, points).round(), max(1, round(0.05 * n)),
                           np.linspace(1, n, 21).round()].astype(int))
    return grid[(grid >= 1) & (grid <= n)]


@dataclass(frozen=True)
class Calibration:
    """Purchase probability by rank share (0 = the best-ranked customer): band rates,
    interpolated between band centres."""

    x: np.ndarray
    y: np.ndarray

    def predict(self, rank_share: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(rank_share, dtype=float), self.x, self.y)


BAND_SIZES = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)
PRIOR = 10  # pseudo-customers at the base rate added to each band


def calibrate(positives: np.ndarray, scores: np.ndarray) -> Calibration:
    """Purchase probability by rank from a backtest, in bands that widen down the list, each
    band's rate pulled towards the base rate by ``PRIOR`` customers' worth of evidence, then
    made non-increasing. A handful of buyers at the very top no longer reads as certainty."""
    from sklearn.isotonic import IsotonicRegression

    n = len(scores)
    hits = np.asarray(positives, float)[np.argsort(-scores, kind="stable")]
    base = hits.mean() if n else 0.0
    edges = np.unique(np.r_[0, [e for e in BAND_SIZES if e < n], n])
    rates, centres, sizes = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        rates.append((hits[lo:hi].sum() + PRIOR * base) / (hi - lo + PRIOR))
        centres.append((lo + hi - 1) / 2 / max(n - 1, 1))
        sizes.append(hi - lo)
    smooth = IsotonicRegression(increasing=False).fit_transform(centres, rates,
                                                                 sample_weight=sizes)
    return Calibration(np.asarray(centres), np.asarray(smooth))


def economics(curve: pd.DataFrame, econ: Economics, margin: float) -> pd.DataFrame:
    out = curve.copy()
    out["expected_conversions"] = out["hits"] * econ.uplift
    out["cost"] = econ.fixed_cost + out["n"] * econ.cost_per_contact
    out["margin"] = out["expected_conversions"] * margin
    out["expected_profit"] = out["margin"] - out["cost"]
    out["roi"] = out["expected_profit"] / out["cost"].where(out["cost"] > 0)
    out["cost_per_conversion"] = out["cost"] / out["expected_conversions"].where(
        out["expected_conversions"] > 0)
    return out


def unit_value(train: OrderData, item_id: str) -> float:
    """What one conversion sells: the product's median price x median quantity per line."""
    lines = train.interactions[train.interactions["item_id"] == item_id]
    price = float(lines["price"].median()) if len(lines) else 0.0
    qty = float(lines["quantity"].median()) if len(lines) else 1.0
    return price * qty


@dataclass
class CampaignWindow:
    """The backtest's split: training data before the cutoff and the window's lines after."""

    cutoff: pd.Timestamp
    days: int
    train: OrderData
    lines: pd.DataFrame

    @cached_property
    def line_cats(self) -> pd.Series:
        """The category of every training line (once per window, for the heuristics)."""
        return line_categories(self.train)

    @classmethod
    def of(cls, data: OrderData, cutoff: str | pd.Timestamp | None, days: int
           ) -> CampaignWindow:
        t = data.interactions["timestamp"]
        if isinstance(cutoff, pd.Timestamp):
            cut = cutoff
        else:
            cut = as_cutoff(cutoff) if cutoff else t.max() - pd.Timedelta(days=days)
        after = ((t >= cut) & (t < cut + pd.Timedelta(days=days))).to_numpy()
        if not (t < cut).any():
            raise ValueError(f"No orders before the cutoff {cut.date()}: the backtest needs "
                             f"history to learn from (data starts {t.min().date()}).")
        if not after.any():
            raise ValueError(f"No orders in the {days} days from {cut.date()}: the backtest "
                             "needs a window of orders to check against (the data runs from "
                             f"{t.min().date()} to {t.max().date()}).")
        return cls(cut, days, data.before(cut), data.interactions[after])

    def positives(self, item_id: str) -> np.ndarray:
        """Which training customers bought the product in the window."""
        return self.positives_any([item_id])

    def positives_any(self, items) -> np.ndarray:
        """Which training customers bought any of ``items`` in the window."""
        buyers = self.lines.loc[self.lines["item_id"].isin(list(items)), "customer_id"]
        # A hash lookup: np.isin on text compares element by element on large shops.
        return pd.Index(self.train.customer_ids).isin(buyers.astype(str).unique())


@dataclass
class Backtest:
    """One product's backtest for one model beside the heuristics: gains curves (hits,
    precision, recall, lift by audience size), without money; ``priced`` adds it."""

    item_id: str
    base_rate: float
    positives: int
    curves: dict[str, pd.DataFrame]
    unit_value: float

    def margin(self, econ: Economics) -> float:
        return econ.margin(self.unit_value)

    def priced(self, econ: Economics) -> dict[str, pd.DataFrame]:
        """Stage 3: every curve with costs, margin, expected profit and ROI (pure)."""
        margin = self.margin(econ)
        return {k: economics(v, econ, margin) for k, v in self.curves.items()}


def fit_window_model(window: CampaignWindow, model_name: str, params: dict | None = None,
                     callback: Callback | None = None):
    """Stage 1: the model fitted on the orders before the cutoff (``params`` None: the
    model's campaign settings)."""
    params = campaign_params(model_name, window.days) if params is None else params
    return make_model(model_name, **params).fit(window.train, callback=callback)


def product_backtest(window: CampaignWindow, model, item_id: str, label: str | None = None
                     ) -> Backtest:
    """Stage 2: rank every training customer for the product, check who bought it in the
    window; curves for the model (named ``label``) and the heuristics."""
    train = window.train
    sizes = size_grid(train.n_customers)
    pos = window.positives(item_id)
    scores = customer_scores(model, train, item_id)
    curves = {label or model.name: gains(scores, pos, sizes)}
    for h in HEURISTICS[1:]:
        curves[h] = gains(heuristic_scores(train, item_id, h, line_cats=window.line_cats),
                          pos, sizes)
    curves["random"] = expected_random(pos, sizes)
    return Backtest(item_id, float(pos.mean()), int(pos.sum()), curves,
                    unit_value(train, item_id))


def backtest(data: OrderData, items: list[str], model_name: str, params: dict | None = None,
             cutoff: str | None = None, window_days: int = 30,
             window: CampaignWindow | None = None) -> list[Backtest]:
    """All three stages but pricing for several products: fit once, then each product."""
    window = window or CampaignWindow.of(data, cutoff, window_days)
    model = fit_window_model(window, model_name, params)
    return [product_backtest(window, model, item, model_name) for item in items]


def customer_scores(model, train: OrderData, item) -> np.ndarray:
    """Every training customer's score for a product (or a NewProduct), in customer order."""
    cust, scores = model.recommend_customers(item, n=train.n_customers, exclude_buyers=False)
    pos = pd.Index(train.customer_ids).get_indexer(cust)
    out = np.full(train.n_customers, -np.inf)
    out[pos[pos >= 0]] = scores[pos >= 0]
    return out


def best_sizes(curve: pd.DataFrame) -> tuple[int, int]:
    """(audience size with the best expected profit, largest size that still breaks even)."""
    best = int(curve.loc[curve["expected_profit"].idxmax(), "n"])
    ok = curve[curve["expected_profit"] >= 0]
    return best, int(ok["n"].max()) if len(ok) else 0


def lift_at(curve: pd.DataFrame, share: float, n_customers: int) -> float:
    n = max(1, round(share * n_customers))
    return float(curve.loc[(curve["n"] - n).abs().idxmin(), "lift"])


def summary_sentence(curve: pd.DataFrame, n: int, base_rate: float, econ: Economics) -> str:
    r = curve.loc[(curve["n"] - n).abs().idxmin()]
    c = econ.currency
    roi = f"ROI {r['roi']:.0%}" if np.isfinite(r["roi"]) else "ROI n/a"
    return (f"Targeting {int(r['n']):,} customers reaches an expected "
            f"{r['expected_conversions']:,.0f} buyers ({r['precision']:.1%}, "
            f"{r['lift']:.1f}× the {base_rate:.1%} base rate) at {c}{econ.cost_per_contact:,.2f}"
            f" per contact: {c}{r['cost']:,.0f} cost, {c}{r['margin']:,.0f} margin, {roi}.")


def target_list(model, data: OrderData, item, n: int | None = None) -> pd.DataFrame:
    """Customers to contact now (a model fitted on all data), best first, with the model's
    score (a plan's list, with probabilities, is ``plan.target_table``)."""
    n = n or data.n_customers
    cust, scores = model.recommend_customers(item, n=n, exclude_buyers=False)
    out = pd.DataFrame({"rank": np.arange(1, len(cust) + 1), "customer_id": cust,
                        "score": np.round(scores.astype(float), 5)})
    if registry.spec(model.name).drivers and not isinstance(item, NewProduct):
        out["why"] = model.drivers(cust, [item])
    return out


def best_sellers(train: OrderData, n: int = 20) -> list[str]:
    """The n products on the most order lines (the reference protocol's 'best-selling')."""
    return train.top_items(n).tolist()


def _curve_json(curve: pd.DataFrame) -> list[dict[str, float]]:
    cols = ["n", "precision", "recall", "lift", "expected_profit"]
    return [{k: (None if pd.isna(v) else round(float(v), 5)) for k, v in row.items()}
            for row in curve[cols].to_dict("records")]


def _mean_curve(curves: list[pd.DataFrame]) -> pd.DataFrame:
    cols = ["hits", "precision", "recall", "lift", "expected_conversions", "cost", "margin",
            "expected_profit", "roi", "cost_per_conversion"]
    stacked = pd.concat(curves)
    return stacked.groupby("n", as_index=False)[cols].mean()


def report(data: OrderData, model_name: str, params: dict | None, items: list[str] | None,
           top_products: int | None, cutoff: str | None, window_days: int,
           econ: Economics) -> dict[str, Any]:
    """The CLI's JSON: curves (means over products), best and break-even sizes, lift at the
    top 5% for the model and each heuristic, a summary sentence, per-product figures."""
    window = CampaignWindow.of(data, cutoff, window_days)
    train, cut = window.train, str(window.cutoff.date())
    items = items or best_sellers(train, top_products or 20)
    unknown = [i for i in items if i not in set(train.item_ids)]
    if unknown:
        raise ValueError(f"Products not sold before the cutoff {cut}: {unknown[:5]}")
    bts = backtest(data, items, model_name, params, window=window)
    priced = [b.priced(econ) for b in bts]
    n_cust = train.n_customers
    per = {}
    for b, curves in zip(bts, priced):
        best, even = best_sizes(curves[model_name])
        per[b.item_id] = {"base_rate": b.base_rate, "positives": b.positives,
                          "lift_at_5pct": {k: lift_at(c, 0.05, n_cust)
                                           for k, c in curves.items()},
                          "best_n": best, "break_even_n": even, "margin": b.margin(econ)}
    curve = _mean_curve([c[model_name] for c in priced])
    base = float(np.mean([b.base_rate for b in bts]))
    best, even = best_sizes(curve)
    lifts = {k: float(np.nanmean([p["lift_at_5pct"][k] for p in per.values()]))
             for k in (model_name, *HEURISTICS)}
    used = params if params is not None else campaign_params(model_name, window_days)
    return {"model": model_name, "params": used, "products": items, "cutoff": cut,
            "window_days": window_days,
            "candidates": n_cust, "base_rate": base, "curve": _curve_json(curve),
            "best_n": best, "break_even_n": even, "lift_at_5pct": lifts[model_name],
            "lift_at_5pct_all": lifts, "summary": summary_sentence(curve, best, base, econ),
            "per_product": per if len(items) > 1 else None}


def new_product_report(data: OrderData, model_name: str, params: dict | None, name: str,
                       category: str | None, price: float | None, cutoff: str | None,
                       window_days: int, econ: Economics) -> dict[str, Any]:
    """A product with no sales yet: its audience comes from a model that scores products by
    their attributes (``new_items`` in its spec); its expected curve from a backtest on the
    products first sold in the window (scored from their name, category and price only, as
    this one is)."""
    able = registry.names(new_items=True)
    if model_name not in able:
        raise ValueError("New products are scored from their name, category and price: use "
                         f"--model {' or '.join(able)}")
    window = CampaignWindow.of(data, cutoff, window_days)
    train, cut = window.train, window.cutoff
    p = data.products
    fresh = p[(p["first_seen"] >= cut) & (p["first_seen"] < cut + pd.Timedelta(days=window_days))]
    model = make_model(model_name, **(params or {})).fit(train)
    sizes = size_grid(train.n_customers)
    curves = []
    for _, row in fresh.iterrows():
        pos = window.positives(row["item_id"])
        if pos.sum() >= 3:
            scores = model.score_new_item(str(row["name"]), row["category"], row["price"])
            curves.append(economics(gains(scores, pos, sizes), econ,
                                    float(row["price"]) * econ.margin_pct))
    if not curves:
        raise ValueError("No product was launched in the backtest window with 3+ buyers, so "
                         "there is nothing to learn the cold-start curve from.")
    curve = _mean_curve(curves)
    base = float(np.mean([c["hits"].iloc[-1] / train.n_customers for c in curves]))
    margin = (price or 0.0) * econ.margin_pct
    curve = economics(curve[["n", "hits", "precision", "recall", "lift"]], econ, margin)
    best, even = best_sizes(curve)
    return {"model": model_name, "products": [name], "new_product": {"name": name,
            "category": category, "price": price}, "cutoff": str(cut.date()),
            "backtest_products": int(len(curves)), "base_rate": base,
            "curve": _curve_json(curve), "best_n": best, "break_even_n": even,
            "lift_at_5pct": lift_at(curve, 0.05, train.n_customers),
            "summary": summary_sentence(curve, best, base, econ)}


def format_report(out: dict[str, Any]) -> str:
    lines = [f"{out['model']} · {len(out['products'])} product(s) · cutoff {out['cutoff']} · "
             f"base rate {out['base_rate']:.2%}",
             f"lift at the top 5%: {out['lift_at_5pct']:.2f}x"]
    for k, v in (out.get("lift_at_5pct_all") or {}).items():
        lines.append(f"  {k:<18}{v:6.2f}x")
    lines.append(f"best audience {out['best_n']:,}; breaks even up to {out['break_even_n']:,}")
    lines.append(out["summary"])
    return "\n".join(lines)

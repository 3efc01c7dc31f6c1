"""How many of a campaign's audience will buy in the next window, and how sure that is.

The backtest says how many of the audience bought in the last window (the model fitted before
it). Two things move between that window and the next: the products' demand, and chance. The
forecast starts from the backtest's hits at the same audience share (averaged with the live
model's own chances for the audience where its scores are chances of buying: one month's
count is noisy) and carries them forward: as they are where
the shop's history is shorter than a year and a window (a level of the last two windows and
a trend fitted to the last weeks both missed more on Online Retail; tools/forecast_check.py),
and scaled by how the same two windows moved a year earlier where it is longer (the season:
each product's own year-ago ratio, pulled towards the whole shop's by ``SEASON_PRIOR``). Its
interval comes from how far that demand rule missed on the shop's best sellers over the last
windows (a robust spread of the log-ratio realised / forecast), widened by the counting noise
of the backtest and of the next window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys import campaign as cp
from recsys.data import OrderData

LEVEL = 0.8  # the interval's coverage
Z80 = 1.2815515655446004  # its normal quantile
SPREAD_WINDOWS = 6  # past windows the spread is learned from
REFERENCE_PRODUCTS = 20  # the best sellers it is learned on
MIN_SPREAD = 0.10  # a floor: a handful of calm windows does not promise a narrow future
MAD_TO_SD = 1.4826  # a normal's sd per median absolute deviation


def _window_lines(data: OrderData, items, end: pd.Timestamp, days: int, k: int
                  ) -> pd.DataFrame:
    """The lines of ``items`` in the ``k`` windows of ``days`` before ``end``: customer
    code, item and window (0 = the last)."""
    inter = data.interactions
    t = inter["timestamp"]
    span = pd.Timedelta(days=days)
    keep = ((t >= end - k * span) & (t < end)).to_numpy()
    keep = keep & inter["item_id"].isin(list(items)).to_numpy()
    rows = inter.loc[keep, ["customer_id", "item_id", "timestamp"]]
    # [end - (w+1) span, end - w span) is window w back
    back = (-((rows["timestamp"] - end) // span) - 1).astype(int).to_numpy()
    return pd.DataFrame({"c": rows["customer_id"].cat.codes.to_numpy(),
                         "item": rows["item_id"].astype(str).to_numpy(), "w": back})


def window_buyers(data: OrderData, items, end: pd.Timestamp, days: int, k: int) -> np.ndarray:
    """Distinct buyers of any of ``items`` in each of the ``k`` windows of ``days`` before
    ``end`` (oldest first)."""
    lines = _window_lines(data, items, end, days, k)
    counts = lines[["c", "w"]].drop_duplicates().groupby("w").size()
    return counts.reindex(range(k - 1, -1, -1), fill_value=0).to_numpy()


def buyers_by_item(data: OrderData, items, end: pd.Timestamp, days: int, k: int
                   ) -> pd.DataFrame:
    """items x windows: each product's distinct buyers in each of the ``k`` windows before
    ``end`` (oldest first), in one pass over the lines."""
    lines = _window_lines(data, items, end, days, k).drop_duplicates()
    counts = lines.groupby(["item", "w"]).size().unstack(fill_value=0)
    return counts.reindex(index=list(items), columns=range(k - 1, -1, -1), fill_value=0)


RULES = ("level", "last", "season")
RULE = "last"  # measured on three shops (docs/campaigns.md); tools/forecast_check.py --demand
YEAR = pd.Timedelta(days=364)  # 52 weeks: the season a year ago, on the same weekdays
SEASON_PRIOR = 100.0  # buyers' worth of the shop's year-ago ratio in each product's


def demand_factor(buyers: np.ndarray, rule: str = "level") -> float:
    """The next window's demand against the last one: under ``level``, the mean of the last
    two windows over the last; under ``last``, 1 (the last window again). 1 where there is
    one window, or none sold in the last."""
    if rule == "last" or len(buyers) < 2 or buyers[-1] <= 0:
        return 1.0
    return float((buyers[-1] + buyers[-2]) / 2 / buyers[-1])


def season_factor(ago: np.ndarray, shop_ago: np.ndarray) -> float:
    """How the product's demand moved from one window to the next a year earlier (``ago``:
    its buyers in the year-ago last and next windows), pulled towards the whole shop's move
    (``shop_ago``) by ``SEASON_PRIOR`` buyers' worth: a product with few buyers a year ago
    (or none: launched since) follows the shop."""
    shop = (shop_ago[1] + 1) / (shop_ago[0] + 1)
    return float((ago[1] + SEASON_PRIOR * shop) / (ago[0] + SEASON_PRIOR))


def reaches_back(data: OrderData, end: pd.Timestamp, days: int, windows: int = 1) -> bool:
    """Whether the orders start before the year-ago windows of the ``windows`` windows
    before ``end`` (a season can be read from them)."""
    first = data.interactions["timestamp"].min()
    return bool(first <= end - YEAR - windows * pd.Timedelta(days=days))


def require_season(data: OrderData, end: pd.Timestamp, days: int) -> None:
    """A ValueError in words where the orders do not reach back to the season."""
    if not reaches_back(data, end, days):
        raise ValueError(f"The season needs orders from a year and {days} days before "
                         f"{end.date()}; these start on "
                         f"{data.interactions['timestamp'].min().date()}.")


def auto_rule(data: OrderData, end: pd.Timestamp, days: int) -> str:
    """``season`` where the history reaches a year and a window back, else ``RULE``."""
    return "season" if reaches_back(data, end, days) else RULE


def next_factor(rule: str, data: OrderData, items, end: pd.Timestamp, days: int) -> float:
    """The demand factor of the window after ``end`` for buyers of any of ``items``."""
    if rule != "season":
        return demand_factor(window_buyers(data, items, end, days, 2), rule)
    ago_end = end - YEAR + pd.Timedelta(days=days)
    since = ago_end - 2 * pd.Timedelta(days=days)
    own = sold_since(data, items, since)
    return season_factor(window_buyers(data, own, ago_end, days, 2) if own else np.zeros(2),
                         window_buyers(data, sold_since(data, data.item_ids, since), ago_end,
                                       days, 2))


def sold_since(data: OrderData, items, since: pd.Timestamp) -> list[str]:
    """Those of ``items`` sold before ``since``. A product launched later has no year-ago
    move of its own, and its launch is not the shop's season."""
    first = _first_sold(data, items)
    return list(first.index[(first < since).to_numpy()])


def _first_sold(data: OrderData, items) -> pd.Series:
    """Each of ``items``' first line (NaT where it has none)."""
    return data.products.set_index("item_id")["first_seen"].reindex(list(items))


@dataclass(frozen=True)
class DemandRule:
    """How demand is carried into the next window, and how far that rule missed on this
    shop's best sellers over its last windows (robust sd of log realised / planned)."""

    rule: str
    spread: float
    cases: int  # (product, window) pairs it was measured on
    change: float = 0.0  # ``set``: the analyst's change on the last window

    def factor(self, data: OrderData, items, end: pd.Timestamp, days: int) -> float:
        """The factor for buyers of any of ``items`` in the window after ``end``."""
        if self.rule == "set":
            return 1.0 + self.change
        return next_factor(self.rule, data, items, end, days)


def demand_rule(data: OrderData, end: pd.Timestamp, days: int,
                items: list[str] | None = None, rule: str | None = None,
                change: float = 0.0) -> DemandRule:
    """``rule`` (default ``auto_rule``) replayed on the best sellers (and ``items``) over the
    last ``SPREAD_WINDOWS`` windows before ``end``: its spread. ``set`` (the analyst's
    ``change`` on the last window) gets the spread of carrying the last window: a change
    told is not measured, so the interval allows for no less than the history's misses.
    (Choosing, per shop, the rule that missed least on these windows was tried: it picked
    the worse rule for the next month as often as the better one.)"""
    if rule == "season":
        require_season(data, end, days)
    if rule == "set":
        carried = demand_rule(data, end, days, items, "last")
        return DemandRule("set", carried.spread, carried.cases, change)
    chosen = rule if rule in RULES else auto_rule(data, end, days)
    inter = data.interactions
    sold = inter.loc[(inter["timestamp"] < end).to_numpy(), "item_id"].value_counts()
    ref = list(dict.fromkeys(list(sold.index[:REFERENCE_PRODUCTS].astype(str))
                             + list(items or [])))
    errors = _replay_errors(data, ref, end, days, chosen)
    if len(errors) < 5:  # too little history to learn from: carry the last window, widely
        return DemandRule("last", 0.5, len(errors))
    miss = float(np.median(np.abs(errors)))
    return DemandRule(chosen, max(MIN_SPREAD, MAD_TO_SD * miss), len(errors))


def _replay_errors(data: OrderData, items: list[str], end: pd.Timestamp, days: int,
                   rule: str) -> list[float]:
    """log (realised + 1) / (planned + 1) of ``rule`` for each product and past window
    whose forecast was possible (sold in the windows it reads; for ``season``, the orders
    reach back a year before it)."""
    k = SPREAD_WINDOWS + 2
    table = buyers_by_item(data, items, end, days, k).to_numpy()
    factors = _season_factors(data, items, end, days, k) if rule == "season" \
        else _carried_factors(table, rule)
    errors = []
    for b, f in zip(table, factors, strict=True):
        for i in range(2, k):
            if b[i - 1] + b[i - 2] == 0 or np.isnan(f[i]):
                continue  # not sold yet, or no year back: no forecast was possible
            errors.append(float(np.log((b[i] + 1) / (b[i - 1] * f[i] + 1))))
    return errors


def _carried_factors(table: np.ndarray, rule: str) -> np.ndarray:
    """products x windows: ``rule``'s factor for window i from the two windows before it."""
    out = np.full(table.shape, np.nan)
    for p, b in enumerate(table):
        for i in range(2, table.shape[1]):
            out[p, i] = demand_factor(b[i - 2:i], rule)
    return out


def _season_factors(data: OrderData, items: list[str], end: pd.Timestamp, days: int,
                    k: int) -> np.ndarray:
    """products x the ``k`` windows before ``end``: the season's factor for window i (read
    from window i - 1), NaN where the orders do not reach its year-ago windows."""
    span = pd.Timedelta(days=days)
    ago = buyers_by_item(data, items, end - YEAR, days, k).to_numpy()  # col i: window i's
    shop = window_buyers(data, sold_since(data, data.item_ids, end - YEAR - k * span),
                         end - YEAR, days, k)
    launched = _first_sold(data, items).to_numpy()
    out = np.full((len(items), k), np.nan)
    for i in range(1, k):
        if not reaches_back(data, end, days, k - i + 1):
            continue
        since = end - YEAR - (k - i + 1) * span  # where window i - 1's year-ago starts
        for p in range(len(items)):
            own = ago[p, i - 1:i + 1] if launched[p] < since else np.zeros(2)
            out[p, i] = season_factor(own, shop[i - 1:i + 1])
    return out


@dataclass(frozen=True)
class Forecast:
    """Expected buyers in the audience in the next window, with an ``LEVEL`` interval."""

    buyers: float
    low: float
    high: float
    backtest_hits: float  # what the same share of the audience bought in the last window
    demand_factor: float
    spread: float  # sd of the log error (demand and counting noise together)
    model_buyers: float | None = None  # the live model's own expected buyers, where it has

    def to_dict(self) -> dict[str, float | None]:
        return {"buyers": round(self.buyers, 2), "low": round(self.low, 2),
                "high": round(self.high, 2), "level": LEVEL,
                "backtest_hits": round(self.backtest_hits, 2),
                "model_buyers": (None if self.model_buyers is None
                                 else round(self.model_buyers, 2)),
                "demand_factor": round(self.demand_factor, 4), "spread": round(self.spread, 4)}


def base_buyers(backtest_hits: float, model_buyers: float | None) -> float:
    """What the forecast starts from: the backtest's count, or its mean with the model's
    chances added up where it has them."""
    return backtest_hits if model_buyers is None else (backtest_hits + model_buyers) / 2


def forecast(backtest_hits: float, factor: float, spread: float,
             model_buyers: float | None = None) -> Forecast:
    """The next window's buyers: the backtest's hits x the demand factor, with an interval
    from the demand spread and Poisson counting noise of both windows. Where the live model
    gives chances of buying (``model_buyers``: the audience's added up), the base is the
    mean of the two: one month's count is noisy (a median 14-18% per product from counting
    alone), the model's chances rest on several months (tools/forecast_check.py: the median
    product's error fell on all three shops measured; docs/campaigns.md)."""
    expected = max(0.0, base_buyers(backtest_hits, model_buyers) * factor)
    sd = float(np.sqrt(spread ** 2 + 1 / (backtest_hits + 1) + 1 / (expected + 1)))
    low, high = expected * np.exp(-Z80 * sd), expected * np.exp(Z80 * sd)
    if expected < 1:  # nothing seen: the interval still admits a few buyers
        high = max(high, 2.3)  # the 90% point of a Poisson with mean 1
    return Forecast(expected, float(low), float(high), float(backtest_hits), factor, sd,
                    model_buyers)


@dataclass(frozen=True)
class RankCurve:
    """Purchase probability by rank share: logit p = a + b log(share + 1/2N), fitted on the
    backtest's buyers. Smooth and strictly decreasing (b < 0), so the list never shows flat
    bands at the top."""

    a: float
    b: float
    offset: float  # the first band's centre: the curve flattens above it, never beyond

    def predict(self, rank_share: np.ndarray) -> np.ndarray:
        x = np.log(np.asarray(rank_share, float) + self.offset)
        return 1 / (1 + np.exp(-(self.a + self.b * x)))


def fit_rank_curve(positives: np.ndarray, scores: np.ndarray) -> RankCurve:
    """The line through the backtest's buying rate by rank band, on the logit and log-rank
    scales. The bands are ``campaign.calibrate``'s: widening down the list, each pulled
    towards the base rate by a few customers' worth of evidence, so a handful of buyers at
    the very top does not read as certainty."""
    bands = cp.calibrate(positives, scores)
    rate = np.clip(bands.y, 1e-6, 1 - 1e-6)
    logit = np.log(rate) - np.log1p(-rate)
    offset = max(float(bands.x[0]), 1e-9) if len(bands.x) else 1.0
    if len(rate) < 2 or np.ptp(rate) == 0:  # one band, or no lift at all: nearly flat
        return RankCurve(float(logit.mean()), -1e-6, offset)
    b, a = np.polyfit(np.log(bands.x + offset), logit, 1)
    return RankCurve(float(a), min(float(b), -1e-6), offset)


def audience_probabilities(curve: RankCurve, size: int, n_customers: int,
                           expected: float) -> np.ndarray:
    """Each of the top ``size`` customers' probability of buying in the next window: the
    curve's shape, scaled so that they add up to the forecast (``expected``), below 1."""
    share = np.arange(size) / max(n_customers, 1)
    p = np.clip(curve.predict(share), 1e-12, 1 - 1e-9)
    total = p.sum()
    if total <= 0 or expected <= 0:
        return np.zeros(size)
    # Scale on the odds so that no probability reaches 1 and the order is kept.
    lo, hi = -20.0, 20.0
    logit = np.log(p) - np.log1p(-p)
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (1 / (1 + np.exp(-(logit + mid)))).sum() < expected else (lo, mid)
    return 1 / (1 + np.exp(-(logit + (lo + hi) / 2)))

"""What a campaign plan is for and how big it is: its scope (a product, a category, several
products, a personalised mailing), its sizing and inputs, each customer's place in each
product's ranking, and the choices a page offers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys import campaign as cp
from recsys import forecast as fc
from recsys.data import OrderData
from recsys.models import registry

MAX_SCOPE_ITEMS = 50  # a category's products scored one by one: the top sellers of it
CAUSED_SHARE = 0.25  # the default share of the audience's buying the campaign causes
EVIDENCE_HITS = 10  # the smallest audience offered holds this many backtest buyers


@dataclass(frozen=True)
class Scope:
    """What the campaign sells: one product, or any of a set (a category or a collection)."""

    items: tuple[str, ...]
    name: str
    kind: str = "product"

    @classmethod
    def product(cls, data: OrderData, item: str) -> Scope:
        names = data.products.set_index("item_id")["name"]
        if item not in names.index:
            raise ValueError(f"No product {item!r} in this dataset.")
        return cls((item,), f"{names[item]} ({item})")

    @classmethod
    def mailing(cls, data: OrderData, items) -> Scope:
        """A personalised mailing: each customer is offered their best product of the set."""
        items = _known(data, items)
        if len(items) < 2:
            raise ValueError("A mailing needs two or more products of this dataset.")
        return cls(items[:MAX_SCOPE_ITEMS], f"a mailing of {len(items)} products", "mailing")

    @classmethod
    def collection(cls, data: OrderData, items) -> Scope:
        """Buyers of any of several products."""
        items = _known(data, items)
        return cls(items, f"any of {len(items)} products", "collection")

    @classmethod
    def category(cls, data: OrderData, category: str) -> Scope:
        p = data.products
        inside = p[p["category"].astype(str) == category].sort_values("lines", ascending=False)
        if inside.empty:
            raise ValueError(f"No product in the category {category!r}.")
        items = tuple(inside["item_id"].astype(str).head(MAX_SCOPE_ITEMS))
        return cls(items, f"category {category} ({len(inside):,} products)", "category")


def _known(data: OrderData, items) -> tuple[str, ...]:
    """The products, once each, all of them in the dataset (else a ValueError naming the
    missing ones)."""
    items = tuple(dict.fromkeys(str(i) for i in items))
    known = set(data.item_ids)
    missing = [i for i in items if i not in known]
    if missing:
        raise ValueError(f"Products not in this dataset: {', '.join(missing[:5])}")
    return items


@dataclass(frozen=True)
class Sizing:
    """How the audience is sized: ``number`` of customers, ``share`` of them, a ``budget``,
    or the best expected ``profit`` (among sizes with evidence)."""

    how: str = "profit"
    value: float | None = None

    @classmethod
    def parse(cls, audience: str | None, budget: float | None) -> Sizing:
        """The CLI's ``--audience 5%`` / ``--audience 500`` / ``--budget 500``."""
        if budget is not None:
            return cls("budget", float(budget))
        if not audience:
            return cls("profit")
        text = audience.strip()
        try:
            if text.endswith("%"):
                share = float(text[:-1]) / 100
                if not 0 < share <= 1:
                    raise ValueError
                return cls("share", share)
            number = int(text)
            if number < 1:
                raise ValueError
            return cls("number", float(number))
        except ValueError:
            raise ValueError(f"--audience {audience!r}: a number of customers (500) or a "
                             "share of them (5%)") from None


DEMAND_RULES = ("auto", "last", "level", "season", "set")


@dataclass(frozen=True)
class Demand:
    """How the next window's demand is carried from the backtest's: ``auto`` (the season
    where the orders reach a year back, else the last window), one of the forecast's rules
    (``last``, ``level``, ``season``), or ``set``: the analyst's own ``change`` (0.2: a
    fifth more buyers than in the last window; what they know and the history does not:
    a sale, a season the shop has not had before)."""

    rule: str = "auto"
    change: float = 0.0

    def __post_init__(self) -> None:
        if self.rule not in DEMAND_RULES:
            raise ValueError(f"The demand rule {self.rule!r} is not one of "
                             f"{', '.join(DEMAND_RULES)}.")
        if not -1 < self.change <= 10:
            raise ValueError(f"A demand change of {self.change:+.0%} is out of range "
                             "(more than -100%, at most +1000%).")

    @classmethod
    def parse(cls, text: str | None) -> Demand:
        """The CLI's ``--demand auto|last|level|season`` or a change: ``+20%``, ``-10%``."""
        text = (text or "auto").strip()
        if text in DEMAND_RULES and text != "set":
            return cls(text)
        try:
            if not text.endswith("%"):
                raise ValueError
            return cls("set", float(text[:-1]) / 100)
        except ValueError:
            raise ValueError(f"--demand {text!r}: auto, last, level, season, or a change "
                             "such as +20% or -10%") from None


def demand_choices(data: OrderData, days: int) -> list[str]:
    """The demand rules a plan made now can use: the season only where the orders reach a
    year and a window back from the plan."""
    plan_time = pd.Timestamp(cp.default_cutoff(data, days)) + pd.Timedelta(days=days)
    return [r for r in DEMAND_RULES if r != "season" or fc.reaches_back(data, plan_time, days)]


@dataclass(frozen=True)
class PlanInputs:
    scope: Scope
    sizing: Sizing = field(default_factory=Sizing)
    econ: cp.Economics = field(default_factory=lambda: cp.Economics(uplift=CAUSED_SHARE))
    days: int = 30
    control_share: float | None = None  # None: the smallest that can measure the campaign
    exclude_recent_days: int = 0  # leave out who bought the scope this recently
    seed: int = 0
    demand: Demand = field(default_factory=Demand)


def item_scores(model, train: OrderData, items) -> list[np.ndarray | None]:
    """Each product's score for every customer (None for a product the data lacks)."""
    known = set(train.item_ids)
    return [cp.customer_scores(model, train, i) if i in known else None for i in items]


def _rank_shares(columns: list[np.ndarray | None], n: int) -> np.ndarray:
    cols = [pd.Series(c).rank(pct=True).to_numpy() if c is not None else np.zeros(n)
            for c in columns]
    return np.column_stack(cols) if cols else np.zeros((n, 0))


def item_ranks(model, train: OrderData, items) -> np.ndarray:
    """customers x items: each customer's rank share in each product's ranking (1 = the
    best placed; scores of different products do not compare, ranks do)."""
    return _rank_shares(item_scores(model, train, items), train.n_customers)


def scope_scores(model, train: OrderData, items) -> np.ndarray:
    """Every customer's score for the scope: the model's score for one product; for a set,
    the mean rank share over its products."""
    if len(items) == 1:
        return cp.customer_scores(model, train, items[0])
    return _set_scores(item_scores(model, train, items), train.n_customers)[0]


def _set_scores(columns: list[np.ndarray | None], n: int) -> tuple[np.ndarray, np.ndarray]:
    """A set's score per customer (the mean rank share over its products) and the shares."""
    ranks = _rank_shares(columns, n)
    return (ranks.mean(axis=1) if ranks.size else np.zeros(n)), ranks


def reads_as_odds(model, days: int) -> bool:
    """Whether ``model``'s customer scores are log-odds of buying within ``days`` (the
    registry's ``odds``, for the window the model was fitted for)."""
    return (getattr(model, "name", "") in registry.names(odds=True)
            and getattr(getattr(model, "config", None), "window_days", None) == days)


@dataclass(frozen=True)
class Ranking:
    """The customers a plan may contact, best first (``order``: customer codes), as the live
    model ranks them for the scope. ``ranks`` (customers x products; sets only) name a
    mailing's offers. ``expected``: the model's own expected buyers of the scope down
    ``order``, cumulative, where its scores are chances of buying in the plan's window
    (None otherwise)."""

    order: np.ndarray
    ranks: np.ndarray | None
    expected: np.ndarray | None

    def expected_at(self, n: int) -> float | None:
        """The model's expected buyers among the first ``n`` (None where it has none)."""
        if self.expected is None:
            return None
        n = min(n, len(self.expected))
        return float(self.expected[n - 1]) if n >= 1 else 0.0


def rank_audience(model, data: OrderData, scope: Scope, excluded: np.ndarray, days: int
                  ) -> Ranking:
    """The live model's ranking of the customers not ``excluded`` for ``scope``; with a
    model that reads as odds, each one's chance of buying any of the scope's products
    (taken as independent) added up down the list."""
    columns = item_scores(model, data, scope.items)
    scores, ranks = (columns[0], None) if len(columns) == 1 else \
        _set_scores(columns, data.n_customers)
    order = np.argsort(-scores, kind="stable")
    order = order[~excluded[order]]
    expected = None
    if reads_as_odds(model, days):
        none = np.zeros(data.n_customers)  # log chance of buying none of the products
        for c in columns:
            if c is not None:
                none += np.log1p(-1 / (1 + np.exp(-np.clip(c, -50, 50))))
        expected = np.cumsum(-np.expm1(none)[order])
    return Ranking(order, ranks, expected)


def recent_buyers(data: OrderData, items, end: pd.Timestamp, days: int) -> np.ndarray:
    """Which customers bought any of ``items`` in the ``days`` before ``end`` (customer order)."""
    inter = data.interactions
    if days <= 0:
        return np.zeros(data.n_customers, bool)
    t = inter["timestamp"]
    hit = ((t >= end - pd.Timedelta(days=days)) & (t < end)).to_numpy()
    hit = hit & inter["item_id"].isin(list(items)).to_numpy()
    codes = inter.loc[hit, "customer_id"].cat.codes.to_numpy()
    return np.bincount(codes, minlength=data.n_customers) > 0


def product_choices(data: OrderData, days: int, limit: int = 1000) -> dict[str, str]:
    """item_id -> 'name (id) · N buyers in the last window', the last window's best sellers
    first, then the rest by lines. Only buyers seen before the window count: a plan's
    backtest learns from customers it could have contacted."""
    inter = data.interactions
    start = inter["timestamp"].max() - pd.Timedelta(days=days)
    known = inter.loc[inter["timestamp"] < start, "customer_id"].unique()
    last = inter[(inter["timestamp"] >= start) & inter["customer_id"].isin(known)]
    buyers = last.groupby("item_id", observed=True)["customer_id"].nunique()
    p = data.products.assign(recent=data.products["item_id"].map(buyers).fillna(0).astype(int))
    p = p.sort_values(["recent", "lines"], ascending=False).head(limit)
    label = p["name"].astype(str) + " (" + p["item_id"].astype(str) + ") · " + p["recent"].map(
        lambda n: f"{n:,} returning buyer{'s' if n != 1 else ''} in the last {days} days")
    return dict(zip(p["item_id"].astype(str), label))


def category_choices(data: OrderData) -> list[str]:
    """Categories with their products, most sold first."""
    p = data.products.dropna(subset=["category"])
    return list(p.groupby("category", observed=True)["lines"].sum()
                .sort_values(ascending=False).index.astype(str))

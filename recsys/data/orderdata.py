"""OrderData: the canonical, cleaned view of a shop's orders that every model and page reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data.categories import derive_categories
from recsys.data.formats import used_categories
from recsys.data.report import ImportReport


@dataclass
class OrderData:
    """Interactions, products and customers of one shop, with stable IDs and index maps.

    ``interactions.customer_id`` and ``item_id`` are categoricals whose categories are the index
    maps: ``customer_ids[k]`` is the customer with code k.
    """

    interactions: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    report: ImportReport = field(default_factory=ImportReport)
    signals: pd.DataFrame | None = None

    @classmethod
    def from_lines(cls, lines: pd.DataFrame, report: ImportReport | dict | None = None,
                   signals: pd.DataFrame | None = None) -> OrderData:
        """Build from cleaned canonical lines (see ``recsys.data.formats.LINE_COLUMNS``)."""
        # Columns are put in time order one at a time: never a second copy of every line.
        order = np.argsort(lines["timestamp"].to_numpy(dtype="datetime64[ns]"), kind="stable")

        def col(name: str) -> pd.Series:
            return lines[name].take(order).reset_index(drop=True)

        inter = pd.DataFrame({
            "customer_id": sorted_categories(col("customer_id")),
            "item_id": sorted_categories(col("item_id")),
            "order_id": sorted_categories(col("order_id"), sort=False),
            "timestamp": col("timestamp").to_numpy(dtype="datetime64[ns]"),
            "quantity": col("quantity").fillna(1).to_numpy(dtype="float32"),
            "price": col("price").to_numpy(dtype="float32"),
            "weight": np.ones(len(lines), dtype="float32"),
        })
        side = pd.DataFrame({c: col(c) for c in ("name", "category", "country", "region")})
        missing_order = inter["order_id"].isna()
        if missing_order.any():
            # No order column: one order per customer per day is the closest stand-in.
            inter["order_id"] = _orders_or_days(inter)
        products = _products_table(side, inter)
        customers = _customers_table(inter, side)
        report = report.copy() if isinstance(report, ImportReport) else \
            ImportReport.from_dict(report)
        report.category_source = products.attrs.get("category_source", "export")
        return cls(inter.reset_index(drop=True), products, customers, report, signals)

    # ------------------------------------------------------------------ index maps
    @property
    def customer_ids(self) -> np.ndarray:
        return np.asarray(self.interactions["customer_id"].cat.categories, dtype=str)

    @property
    def item_ids(self) -> np.ndarray:
        return np.asarray(self.interactions["item_id"].cat.categories, dtype=str)

    @property
    def n_lines(self) -> int:
        return len(self.interactions)

    @property
    def n_customers(self) -> int:
        return len(self.interactions["customer_id"].cat.categories)

    @property
    def n_items(self) -> int:
        return len(self.interactions["item_id"].cat.categories)

    def matrix(self, weighting: str = "binary", half_life: float = 0.0) -> sp.csr_matrix:
        """Customer x item matrix: 'binary' (bought or not), 'count' (lines), 'quantity'.
        With ``half_life`` (days, > 0) each line counts 0.5 ** (age / half_life), age from the
        last line here; 'binary' then keeps the weight of the pair's latest purchase.
        Built once per weighting and half-life (every model and metric asks for it; on tens
        of millions of lines building it takes seconds). Callers must not modify it."""
        if weighting not in ("binary", "count", "quantity"):
            raise ValueError(f"Unknown weighting {weighting!r}: binary, count or quantity")
        if not half_life >= 0:
            raise ValueError(f"half_life must be >= 0 days, not {half_life!r}")
        cache = self.__dict__.setdefault("_matrices", {})
        key = weighting if not half_life else (weighting, float(half_life))
        if key not in cache:
            cache[key] = self._build_matrix(weighting, float(half_life))
        return cache[key]

    def _build_matrix(self, weighting: str, half_life: float = 0.0) -> sp.csr_matrix:
        rows = self.interactions["customer_id"].cat.codes.to_numpy()
        cols = self.interactions["item_id"].cat.codes.to_numpy()
        if weighting == "quantity":
            vals = self.interactions["quantity"].to_numpy(dtype=np.float32)
        else:
            vals = self.interactions["weight"].to_numpy(dtype=np.float32)
        shape = (self.n_customers, self.n_items)
        if half_life:
            vals = vals * self._decay(half_life)
            if weighting == "binary":
                return _max_per_pair(rows, cols, vals, shape)
        m = sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float32)
        m.sum_duplicates()
        if weighting == "binary":
            m.data[:] = 1.0
        return m

    def _decay(self, half_life: float) -> np.ndarray:
        t = self.interactions["timestamp"].to_numpy(dtype="datetime64[ns]")
        if not len(t):
            return np.ones(0, dtype=np.float32)
        age = (t.max() - t).astype("timedelta64[s]").astype(np.float64) / 86_400.0
        return np.exp2(-age / half_life).astype(np.float32)

    def top_items(self, n: int) -> np.ndarray:
        """The n products on the most order lines, most first."""
        return self.interactions["item_id"].value_counts().index[:n].astype(str).to_numpy()

    # ------------------------------------------------------------------ slicing
    def subset(self, mask: np.ndarray | pd.Series) -> OrderData:
        """Rows where mask is true; customers/products recomputed, unused IDs dropped."""
        mask = np.asarray(mask, dtype=bool)
        inter = self.interactions.loc[mask].copy()
        inter["customer_id"] = inter["customer_id"].cat.remove_unused_categories()
        inter["item_id"] = inter["item_id"].cat.remove_unused_categories()
        inter = inter.reset_index(drop=True)
        products = self.products[self.products["item_id"].isin(inter["item_id"].cat.categories)]
        customers = _customers_table(inter, None, self.customers)
        signals = self.signals
        if signals is not None and len(inter):
            signals = signals[signals["timestamp"] <= inter["timestamp"].max()]
        return OrderData(inter, products.reset_index(drop=True), customers, self.report.copy(),
                         signals)

    def before(self, cutoff: pd.Timestamp) -> OrderData:
        return self.subset(self.interactions["timestamp"].to_numpy() < np.datetime64(cutoff))

    def summary(self) -> dict[str, Any]:
        """Lines, customers, products, orders and the first and last day (worked out once
        per interactions table: the app's sidebar asks on every page run)."""
        memo = self.__dict__.get("_summary")
        if memo is not None and memo[0] is self.interactions:
            return dict(memo[1])
        t = self.interactions["timestamp"]
        out = {
            "lines": int(len(self.interactions)),
            "customers": self.n_customers,
            "items": self.n_items,
            "orders": int(self.interactions["order_id"].nunique()),
            "first": str(t.min()) if len(t) else None,
            "last": str(t.max()) if len(t) else None,
        }
        self.__dict__["_summary"] = (self.interactions, out)
        return dict(out)


def _max_per_pair(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray,
                  shape: tuple[int, int]) -> sp.csr_matrix:
    """Sparse matrix keeping the largest value of each (row, col) pair."""
    if not len(rows):
        return sp.csr_matrix(shape, dtype=np.float32)
    key = rows.astype(np.int64) * shape[1] + cols
    order = np.argsort(key, kind="stable")
    key, vals = key[order], vals[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    best = np.maximum.reduceat(vals, first)
    k = key[first]
    return sp.csr_matrix((best.astype(np.float32), (k // shape[1], k % shape[1])), shape=shape,
                         dtype=np.float32)


def sorted_categories(s: pd.Series, sort: bool = True) -> pd.Categorical:
    """IDs as a Categorical whose categories are the used values as text, sorted (the index
    maps every model reads), built from the distinct values, never from a string per line."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = pd.Series(pd.Categorical(s))
    codes = s.cat.codes.to_numpy()
    cats = np.asarray(s.cat.categories.astype(str), dtype=object)
    used = used_categories(s)
    # Unique values: a plain (unstable) sort gives the one order; mergesort on objects is slow.
    order = used[np.argsort(cats[used])] if sort else used
    rank = np.full(len(cats), -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    new = np.where(codes >= 0, rank[np.maximum(codes, 0)] if len(rank) else -1, -1)
    return pd.Categorical.from_codes(new, categories=pd.Index(cats[order], dtype=object))


def _orders_or_days(inter: pd.DataFrame) -> pd.Categorical:
    """Missing order numbers: one order per customer per day, the closest stand-in."""
    day = pd.Series(inter["timestamp"]).dt.strftime("%Y%m%d")
    synth = inter["customer_id"].astype(str) + "@" + day
    return sorted_categories(inter["order_id"].astype(object).fillna(synth))


def _products_table(lines: pd.DataFrame, inter: pd.DataFrame) -> pd.DataFrame:
    g = pd.DataFrame({
        "item_id": inter["item_id"], "name": lines["name"],
        "category": lines["category"], "price": inter["price"],
        "timestamp": inter["timestamp"],
    }).groupby("item_id", observed=True, sort=True)
    prod = g.agg(name=("name", "last"), category=("category", "last"), price=("price", "median"),
                 first_seen=("timestamp", "min"), lines=("timestamp", "size")).reset_index()
    prod["item_id"] = prod["item_id"].astype(str)
    prod["name"] = prod["name"].astype("string").fillna(prod["item_id"])
    prod["category"] = prod["category"].astype("string")
    if prod["category"].isna().all() and len(prod):
        prod["category"] = derive_categories(prod["name"])
        prod.attrs["category_source"] = "derived from product names"
    return prod


def _customers_table(inter: pd.DataFrame, lines: pd.DataFrame | None,
                     previous: pd.DataFrame | None = None) -> pd.DataFrame:
    spend = inter["quantity"].astype("float64") * inter["price"].astype("float64").fillna(0)
    frame = pd.DataFrame({"customer_id": inter["customer_id"], "order_id": inter["order_id"],
                          "timestamp": inter["timestamp"], "spend": spend})
    g = frame.groupby("customer_id", observed=True, sort=True)
    cust = g.agg(first_order=("timestamp", "min"), last_order=("timestamp", "max"),
                 orders=("order_id", "nunique"), lines=("timestamp", "size"),
                 spend=("spend", "sum")).reset_index()
    cust["customer_id"] = cust["customer_id"].astype(str)
    if lines is not None:
        geo = pd.DataFrame({"customer_id": inter["customer_id"], "country": lines["country"],
                            "region": lines["region"]})
        geo = geo.groupby("customer_id", observed=True, sort=True).agg(
            country=("country", "last"), region=("region", "last"))
        geo.index = geo.index.astype(str)
        cust = cust.merge(geo, left_on="customer_id", right_index=True, how="left")
    elif previous is not None:
        geo = previous.set_index("customer_id")[["country", "region"]]
        cust = cust.merge(geo, left_on="customer_id", right_index=True, how="left")
    for c in ("country", "region"):
        cust[c] = cust[c].astype("string") if c in cust else pd.Series(pd.NA, dtype="string")
    return cust

"""Side features shared by the neural models (numpy/pandas only, no torch).

Customer: recency/frequency/monetary/tenure statistics, country, category shares and the
items bought before a point in time. Product: category, price bucket, hashed name tokens, and
how many distinct customers bought it in recent weeks (its trend).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.data import OrderData

N_TOKEN_BUCKETS = 1 << 14
MAX_TOKENS = 8
N_PRICE_BUCKETS = 10
TREND_WEEKS = (1, 4)


def crc32(text) -> int:
    """A hash that is the same in every process (Python's hash() is salted per process)."""
    return zlib.crc32(str(text).encode("utf-8"))


def stable_hash(text: str, buckets: int) -> int:
    return crc32(text) % buckets


def tokenize(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", str(name).lower()) if len(t) > 1]


def hash_tokens(names, buckets: int = N_TOKEN_BUCKETS, max_tokens: int = MAX_TOKENS
                ) -> np.ndarray:
    """[n, max_tokens] token buckets, 0 is padding (real tokens map to 1..buckets-1)."""
    out = np.zeros((len(names), max_tokens), dtype=np.int64)
    for r, name in enumerate(names):
        toks = tokenize(name)[:max_tokens]
        out[r, : len(toks)] = [1 + stable_hash(t, buckets - 1) for t in toks]
    return out


@dataclass
class Vocab:
    """String values to small integers; 0 is 'unknown'."""

    values: np.ndarray

    @classmethod
    def fit(cls, series: pd.Series, top: int | None = None) -> Vocab:
        counts = series.dropna().astype(str).value_counts()
        vals = counts.index[:top] if top else counts.index
        return cls(np.asarray(sorted(vals), dtype=str))

    def encode(self, series) -> np.ndarray:
        idx = pd.Index(self.values).get_indexer(pd.Series(series).astype("string").fillna(""))
        return (idx + 1).astype(np.int64)

    def __len__(self) -> int:
        return len(self.values) + 1


def price_edges(prices: np.ndarray) -> np.ndarray:
    p = prices[np.isfinite(prices) & (prices > 0)]
    if len(p) == 0:
        return np.array([0.0])
    return np.unique(np.quantile(p, np.linspace(0, 1, N_PRICE_BUCKETS + 1)[1:-1]))


def price_bucket(prices: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """1..N for known prices, 0 for missing."""
    b = np.searchsorted(edges, np.nan_to_num(prices, nan=-1.0)) + 1
    return np.where(np.isfinite(prices) & (prices > 0), b, 0).astype(np.int64)


@dataclass
class ItemSide:
    """Per-item inputs of the product tower, aligned with a model's item index."""

    category: np.ndarray  # [n_items] int, 0 unknown
    price: np.ndarray  # [n_items] int bucket, 0 unknown
    tokens: np.ndarray  # [n_items, MAX_TOKENS] hashed tokens, 0 padding


def item_side(products: pd.DataFrame, item_ids: np.ndarray, cat_vocab: Vocab,
              edges: np.ndarray) -> ItemSide:
    p = products.set_index("item_id").reindex(item_ids)
    return ItemSide(cat_vocab.encode(p["category"]),
                    price_bucket(p["price"].to_numpy(dtype=float), edges),
                    hash_tokens(p["name"].fillna("").to_numpy()))


def weekly_buyers(train: OrderData, start: pd.Timestamp) -> np.ndarray:
    """[n_weeks, n_items] distinct buyers per item per week since ``start``."""
    inter = train.interactions
    week = (inter["timestamp"].to_numpy() - np.datetime64(start)) // np.timedelta64(7, "D")
    item = inter["item_id"].cat.codes.to_numpy()
    cust = inter["customer_id"].cat.codes.to_numpy()
    n_weeks, n_items, n_cust = int(week.max()) + 1, train.n_items, max(train.n_customers, 1)
    # Each distinct (week, item, customer) as one sorted int64 (np.unique, hash-based in
    # numpy 2.4, takes 60x as long as the sort; row-wise unique longer still: on 30M lines
    # 61 s and 1.8 GB more), then its (week, item) cell counted once.
    if n_weeks * n_items * n_cust < 2**62:
        key = np.sort((week * n_items + item) * n_cust + cust)
        cell = key[np.r_[True, key[1:] != key[:-1]]] // n_cust
    else:
        key = np.unique(np.stack([week, item, cust], 1), axis=0)
        cell = key[:, 0] * n_items + key[:, 1]
    del key
    counts = np.bincount(cell, minlength=n_weeks * n_items)
    return counts.reshape(n_weeks, n_items).astype(np.float32)


def trend_table(weekly: np.ndarray) -> np.ndarray:
    """[n_weeks + 1, n_items, 2]: log1p buyers over the last 1 and 4 weeks *before* week w
    (row n_weeks is 'now', the end of training)."""
    cum = np.concatenate([np.zeros((1, weekly.shape[1]), np.float32), np.cumsum(weekly, 0)])
    feats = []
    for span in TREND_WEEKS:
        lo = np.maximum(np.arange(len(cum)) - span, 0)
        feats.append(np.log1p(cum - cum[lo]))
    return np.stack(feats, -1).astype(np.float32)


def rfm(at: np.ndarray, last: np.ndarray, first: np.ndarray, orders: np.ndarray,
        spend: np.ndarray) -> np.ndarray:
    """[n, 4] log recency days, log orders, log spend, log tenure days (raw, unscaled)."""
    day = np.timedelta64(1, "D")
    rec = np.where(orders > 0, (at - last) / day, 365.0)
    ten = np.where(orders > 0, (at - first) / day, 0.0)
    return np.log1p(np.stack([np.maximum(rec, 0), orders, np.maximum(spend, 0),
                              np.maximum(ten, 0)], 1)).astype(np.float32)


@dataclass
class OrderHistory:
    """Training orders grouped per customer, oldest first, for history-based features."""

    cust: np.ndarray  # [n_orders] customer code
    time: np.ndarray  # [n_orders] datetime64
    spend: np.ndarray  # [n_orders]
    item_ptr: np.ndarray  # [n_orders + 1] offsets into items
    items: np.ndarray  # item codes of every order, concatenated
    first_of_cust: np.ndarray  # [n_orders] index of the customer's first order


def recent_activity(train: OrderData, tau_days: float = 60.0) -> np.ndarray:
    """Per customer, order lines weighted exp(-age / tau_days): how much each buys lately."""
    inter = train.interactions
    age = (inter["timestamp"].max() - inter["timestamp"]) / pd.Timedelta(days=1)
    return np.bincount(inter["customer_id"].cat.codes, weights=np.exp(-age.to_numpy() / tau_days),
                       minlength=train.n_customers).astype(np.float32)


def order_history(train: OrderData) -> OrderHistory:
    """Lines sorted by customer, time and order (stably, as they came within an order), one
    column at a time: a sorted copy of a five-column frame was 2 GB more at 30M lines."""
    inter = train.interactions
    cust = inter["customer_id"].cat.codes.to_numpy().astype(np.int64)
    order = pd.factorize(inter["order_id"])[0]
    time = inter["timestamp"].to_numpy()
    perm = np.lexsort((order, time, cust))  # stable: the last key sorts first
    cust, order, time = cust[perm], order[perm], time[perm]
    key = cust * (int(order.max()) + 1) + order
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    del key, order
    spend = (inter["quantity"] * inter["price"].fillna(0)).to_numpy(dtype=np.float64)[perm]
    spend = np.add.reduceat(spend, starts)
    items = inter["item_id"].cat.codes.to_numpy().astype(np.int64)[perm]
    cust = cust[starts]
    first = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
    first_of = np.repeat(first, np.diff(np.r_[first, len(cust)]))
    return OrderHistory(cust, time[starts], spend, np.r_[starts, len(perm)], items, first_of)


def recent_items(h: OrderHistory, start: np.ndarray, end: np.ndarray, max_len: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Items of orders start[r] .. end[r]-1 (one customer's), the last max_len of them, most
    recent last, and how many orders before ``end`` each was bought: ([n, L], [n, L]).
    Padding is item -1. Vectorised over rows (millions of orders at scale)."""
    n = len(end)
    items = np.full((n, max_len), -1, dtype=np.int64)
    age = np.zeros((n, max_len), dtype=np.float32)
    for s in range(0, n, 1 << 18):  # chunks bound the [chunk, L] temporaries
        lo = h.item_ptr[start[s:s + (1 << 18)]]
        hi = h.item_ptr[end[s:s + (1 << 18)]]
        pos = hi[:, None] - max_len + np.arange(max_len)[None, :]  # [m, L] item positions
        ok = (pos >= lo[:, None]) & (hi > lo)[:, None]
        safe = np.where(ok, pos, 0)
        order_of = np.searchsorted(h.item_ptr, safe, side="right") - 1
        items[s:s + len(lo)] = np.where(ok, h.items[safe] if len(h.items) else -1, -1)
        age[s:s + len(lo)] = np.where(ok, end[s:s + len(lo), None] - order_of, 0.0)
    return items, age


@dataclass
class CustomerInputs:
    """Customer-tower inputs at some moments: one row per (customer, moment)."""

    cust: np.ndarray  # [n] customer code
    country: np.ndarray  # [n] vocab code
    rfm: np.ndarray  # [n, 4] raw log statistics
    hist: np.ndarray  # [n, L] item codes, -1 padding
    age: np.ndarray  # [n, L] orders ago
    week: np.ndarray  # [n] week index for the trend table


def _week(times: np.ndarray, start: pd.Timestamp) -> np.ndarray:
    return ((times - np.datetime64(start)) // np.timedelta64(7, "D")).astype(np.int64)


def order_inputs(h: OrderHistory, country: np.ndarray, start: pd.Timestamp,
                 max_len: int) -> CustomerInputs:
    """Inputs as they stood just before each training order (no look-ahead)."""
    k = np.arange(len(h.cust))
    first = h.first_of_cust
    has_prev = k > first
    prev = np.where(has_prev, k - 1, k)
    cum_spend = np.cumsum(h.spend) - h.spend
    spend_before = cum_spend - cum_spend[first]
    feats = rfm(h.time, h.time[prev], h.time[first], (k - first).astype(np.float64),
                spend_before)
    feats[~has_prev, 0] = np.log1p(365.0)
    hist, age = recent_items(h, first, k, max_len)
    return CustomerInputs(h.cust, country[h.cust], feats, hist, age, _week(h.time, start))


def current_inputs(h: OrderHistory, n_customers: int, country: np.ndarray,
                   start: pd.Timestamp, now: pd.Timestamp, max_len: int) -> CustomerInputs:
    """Inputs for every customer at ``now`` (the end of training)."""
    first = np.full(n_customers, -1)
    last = np.full(n_customers, -1)
    first[h.cust[::-1]] = np.arange(len(h.cust))[::-1]
    last[h.cust] = np.arange(len(h.cust))
    has = first >= 0
    f, l_ = np.where(has, first, 0), np.where(has, last, 0)
    cum = np.cumsum(h.spend)
    spend = np.where(has, cum[l_] - cum[f] + h.spend[f], 0.0)
    at = np.full(n_customers, np.datetime64(now))
    feats = rfm(at, h.time[l_], h.time[f], np.where(has, l_ - f + 1, 0).astype(float), spend)
    hist, age = recent_items(h, np.where(has, f, 0), np.where(has, l_ + 1, 0), max_len)
    week = np.full(n_customers, _week(np.array([np.datetime64(now)]), start)[0])
    return CustomerInputs(np.arange(n_customers), country, feats, hist, age, week)

"""Customer x product features at a point in time, for the propensity model.

Everything is computed from lines before ``at``: how often and how recently the customer bought
the product, their ordering rhythm, what EASE predicts from the rest of their basket history,
their spend in the product's category and the product's own trend. Features are built block by
block (rows x products), so nothing of size customers x products is ever held at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data import OrderData

FEATURES = ("n_ui", "r_ui", "f_ui", "gap_ui", "due_ui", "share_ui",
            "n_u", "r_u", "f_u", "rate_u", "o30_u", "o90_u",
            "ease", "ease_count", "ease_own", "cat_share", "cat_n",
            "lines_i", "trend_i", "repeat_i")
CUSTOMER_FEATURES = ("n_u", "r_u", "f_u", "rate_u", "o30_u", "o90_u")
PRODUCT_FEATURES = ("lines_i", "trend_i", "repeat_i", "within_i")

# Plain words for each feature, for explanations shown to analysts.
LABELS = {"n_ui": "times bought", "r_ui": "days since last bought",
          "f_ui": "days since first bought", "gap_ui": "days between reorders",
          "due_ui": "time since last / usual gap",
          "share_ui": "share of their orders", "n_u": "orders placed",
          "r_u": "days since last order", "f_u": "days as a customer",
          "rate_u": "orders per day", "o30_u": "orders in the last 30 days",
          "o90_u": "orders in the last 90 days", "ease": "fits their basket (EASE)",
          "ease_count": "fits their basket, by lines", "ease_own": "basket fit + own lines",
          "cat_share": "share of lines in the category", "cat_n": "lines in the category",
          "lines_i": "popularity (order lines)", "trend_i": "product's last-30-day share",
          "repeat_i": "product's repeat-buyer share",
          # the ranker's taste segments (recsys.models.taste)
          "seg_item": "bought by customers like them",
          "seg_cat": "its category, by customers like them",
          "within_i": "a favourite in its category"}


def _n(v: float) -> str:
    return "once" if round(v) == 1 else "twice" if round(v) == 2 else f"{v:.0f} times"


def _due(v: float) -> str:
    if v < 0.8:
        return "reordered it recently"
    return "due for a reorder" if v <= 2 else "overdue for a reorder"


SENTENCES = {
    "n_ui": lambda v: f"bought it {_n(v)}", "r_ui": lambda v: f"last bought it {v:.0f} days ago",
    "f_ui": lambda v: f"first bought it {v:.0f} days ago",
    "gap_ui": lambda v: f"buys it about every {v:.0f} days", "due_ui": _due,
    "share_ui": lambda v: f"it was in {v:.0%} of their orders",
    "n_u": lambda v: f"{v:.0f} orders so far", "r_u": lambda v: f"ordered {v:.0f} days ago",
    "f_u": lambda v: f"a customer for {v:.0f} days",
    "rate_u": lambda v: f"orders about every {1 / max(v, 1e-9):.0f} days",
    "o30_u": lambda v: f"{v:.0f} orders in the last 30 days",
    "o90_u": lambda v: f"{v:.0f} orders in the last 90 days",
    "ease": lambda v: "goes with what they buy", "ease_count": lambda v: "goes with what they buy",
    "ease_own": lambda v: "goes with what they buy",
    "cat_share": lambda v: f"{v:.0%} of what they buy is in its category",
    "cat_n": lambda v: f"bought {v:.0f} things in its category",
    "lines_i": lambda v: "a best seller", "trend_i": lambda v: "selling more lately",
    "repeat_i": lambda v: "often bought again by others",
    "seg_item": lambda v: "popular with customers like them",
    "seg_cat": lambda v: f"customers like them buy {v:.0%} in its category",
    "within_i": lambda v: f"{v:.0%} of its category's sales",
}


def sentence(feature: str, value: float) -> str:
    """One feature's value as an analyst would say it ('bought it 4 times')."""
    if not np.isfinite(value):
        return "never bought it" if feature.endswith("_ui") else LABELS[feature]
    return SENTENCES[feature](float(value))


def reference_time(data: OrderData) -> pd.Timestamp:
    """The start of the day after the last line: 'now' for a model fitted on ``data``."""
    return (data.interactions["timestamp"].max() + pd.Timedelta(days=1)).normalize()


def _days(at: pd.Timestamp, t: pd.Series) -> np.ndarray:
    return ((at - t).dt.total_seconds() / 86400).to_numpy(dtype=np.float64)


@dataclass
class PairFeatures:
    """The arrays the features are read from. ``count``, ``last`` and ``first`` share one
    sparsity pattern (the pairs bought); ages are stored +1 day so a zero never means 'never'."""

    count: sp.csr_matrix       # [customers, items] order lines
    last: sp.csr_matrix        # days since the customer last bought the item, +1
    first: sp.csr_matrix       # days since they first bought it, +1
    customer: np.ndarray       # [customers, 7] n_u, r_u, f_u, rate_u, o30, o90, lines
    item: np.ndarray           # [items, 3] lines, share of lines in the last 30 days, repeat
    item_cat: np.ndarray       # [items] category code
    cat_lines: sp.csr_matrix   # [customers, categories] lines per category
    B: np.ndarray              # [k, k] EASE weights among the products EASE learned on
    B_items: np.ndarray        # [k] their item codes (all items unless EASE had a cap)

    @classmethod
    def build(cls, data: OrderData, at: pd.Timestamp, B: np.ndarray,
              B_items: np.ndarray | None = None) -> PairFeatures:
        """Features of ``data`` (lines before ``at``) seen from time ``at``; ``B`` is EASE's
        weights among the products ``B_items`` (default: all of them)."""
        inter = data.interactions
        n, m = data.n_customers, data.n_items
        u = inter["customer_id"].cat.codes.to_numpy()
        i = inter["item_id"].cat.codes.to_numpy()
        age = _days(at, inter["timestamp"])
        count = _pairs(u, i, np.ones(len(u)), "sum", (n, m))
        last = _pairs(u, i, age + 1, "min", (n, m))
        first = _pairs(u, i, age + 1, "max", (n, m))
        orders = inter.drop_duplicates("order_id")
        ou = orders["customer_id"].cat.codes.to_numpy()
        oage = _days(at, orders["timestamp"])
        n_u = np.bincount(ou, minlength=n).astype(np.float64)
        r_u = _group(oage, ou, n, "min")
        f_u = _group(oage, ou, n, "max")
        customer = np.column_stack([
            n_u, r_u, f_u, n_u / np.maximum(f_u, 30.0),
            np.bincount(ou[oage < 30], minlength=n), np.bincount(ou[oage < 90], minlength=n),
            np.bincount(u, minlength=n)]).astype(np.float32)
        lines = np.bincount(i, minlength=m).astype(np.float64)
        buyers = np.diff(count.tocsc().indptr)
        coo = count.tocoo()
        repeat = np.bincount(coo.col[coo.data > 1], minlength=m)
        item = np.column_stack([lines, np.bincount(i[age < 30], minlength=m) / np.maximum(lines, 1),
                                repeat / np.maximum(buyers, 1)]).astype(np.float32)
        cats = data.products.set_index("item_id")["category"].reindex(data.item_ids)
        item_cat = pd.Categorical(cats.fillna("?").astype(str)).codes.astype(np.int64)
        cat_lines = sp.csr_matrix((np.ones(len(u), np.float32), (u, item_cat[i])),
                                  shape=(n, int(item_cat.max()) + 1))
        cat_lines.sum_duplicates()
        return cls(count, last, first, customer, item, item_cat, cat_lines, B,
                   np.arange(m) if B_items is None else np.asarray(B_items, np.int64))

    def _pos(self) -> np.ndarray:
        """Each product's row in B (-1: EASE never learned it)."""
        pos = np.full(self.count.shape[1], -1)
        pos[self.B_items] = np.arange(len(self.B_items))
        return pos

    def _everything(self) -> bool:
        return np.array_equal(self.B_items, np.arange(self.count.shape[1]))

    def basket_fit(self, hist: sp.csr_matrix, cols: np.ndarray) -> tuple[np.ndarray, ...]:
        """EASE's score of products ``cols`` for these customers' histories, bought-or-not
        and by count [len(rows), len(cols)] each (zero for products EASE never learned:
        they fit no basket). Whichever order costs less: B's columns copied first (many
        customers, few products: a campaign's audience) or the histories through B whole
        and the columns picked after (few customers, every product: one customer's page,
        where copying B's n x n columns took most of the time)."""
        hk = hist if self._everything() else hist[:, self.B_items]
        pos = self._pos()[cols]
        m, nnz = len(self.B_items), max(hk.nnz, 1)
        if len(cols) * (m + nnz) <= nnz * m:
            Bc = self.B[:, np.maximum(pos, 0)] * (pos >= 0).astype(np.float32)
            return np.asarray((hk > 0).astype(np.float32) @ Bc), np.asarray(hk @ Bc)
        out = []
        for h in ((hk > 0).astype(np.float32), hk):
            full = np.asarray(h @ self.B)
            out.append(np.where(pos >= 0, full[:, np.maximum(pos, 0)], np.float32(0)))
        return tuple(out)

    def similarity(self, q: np.ndarray) -> np.ndarray:
        """EASE's B[i, j] for products ``q`` against every product, [len(q), n_items]."""
        out = np.zeros((len(q), self.count.shape[1]), np.float32)
        pos = self._pos()[q]
        out[np.ix_(pos >= 0, self.B_items)] = self.B[pos[pos >= 0]]
        return out

    def block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """[len(rows) * len(cols), len(FEATURES)] float32, row-major (customer, then item)."""
        hist = self.count[rows]
        ease, ease_count = self.basket_fit(hist, cols)
        return self._assemble(
            hist[:, cols].toarray(), self.last[rows][:, cols].toarray(),
            self.first[rows][:, cols].toarray(), self.customer[rows][:, None, :], ease,
            ease_count, self.cat_lines[rows].toarray()[:, self.item_cat[cols]],
            self.item[None, cols, :])

    def pairs(self, rows: np.ndarray, u: np.ndarray, i: np.ndarray, ease: np.ndarray,
              ease_count: np.ndarray) -> np.ndarray:
        """[len(u), len(FEATURES)] float32: the features of the pairs (``rows[u]``, ``i``),
        with their basket fit given (``basket_fit`` of these rows, at the pairs). The same
        values as ``block`` for those pairs, without building every product's."""
        def at(m: sp.csr_matrix) -> np.ndarray:
            return np.asarray(m[rows][u, i]).ravel() if len(u) else np.zeros(0, m.dtype)

        return self._assemble(at(self.count), at(self.last), at(self.first),
                              self.customer[rows][u], ease, ease_count,
                              self.cat_lines[rows].toarray()[u, self.item_cat[i]],
                              self.item[i])

    @staticmethod
    def _assemble(cnt, last, first, c, ease, ease_count, cat_n, item) -> np.ndarray:
        """The features from their parts, each per pair or broadcast to them (``c``: the
        customer's row, ``item``: the product's); ages are stored +1, zero where not bought."""
        bought = cnt > 0
        last = np.where(bought, last - 1, np.nan)
        first = np.where(bought, first - 1, np.nan)
        shape = np.broadcast_shapes(np.shape(cnt), np.shape(ease))
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = (first - last) / (cnt - 1)
            cols_ = [cnt, last, first, gap, last / gap, cnt / c[..., 0],
                     *(c[..., j] for j in range(6)),
                     ease, ease_count, ease_count + cnt, cat_n / c[..., 6], cat_n,
                     *(item[..., j] for j in range(3))]
        return np.stack([np.broadcast_to(np.asarray(a, np.float32), shape).ravel()
                         for a in cols_], axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"count_data": self.count.data, "count_indices": self.count.indices,
                "count_indptr": self.count.indptr, "last": self.last.data,
                "first": self.first.data, "customer": self.customer, "item": self.item,
                "item_cat": self.item_cat, "cat_data": self.cat_lines.data,
                "cat_indices": self.cat_lines.indices, "cat_indptr": self.cat_lines.indptr,
                "B": self.B, "B_items": self.B_items}

    @classmethod
    def from_arrays(cls, a, n_customers: int, n_items: int) -> PairFeatures:
        """Restore from ``arrays()`` as saved (``a``: checked ``StoredArrays``)."""
        shape = (n_customers, n_items)
        item_cat = a.get("item_cat", (n_items,), "i", low=0)
        n_cat = int(item_cat.max()) + 1 if len(item_cat) else 1
        return cls(a.csr("count", shape),
                   a.csr("last", shape, data="last", pattern="count"),
                   a.csr("first", shape, data="first", pattern="count"),
                   a.get("customer", (n_customers, 7)), a.get("item", (n_items, 3)),
                   item_cat, a.csr("cat", (n_customers, n_cat)), *_ease_arrays(a, n_items))


def _ease_arrays(a, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """B and the products it covers (models saved before EASE had a cap: all of them)."""
    if "B_items" not in a:
        return a.get("B", (n_items, n_items)), np.arange(n_items)
    items = a.get("B_items", (None,), "i", low=0, high=n_items)
    return a.get("B", (len(items), len(items))), items


def _pairs(u: np.ndarray, i: np.ndarray, v: np.ndarray, how: str, shape) -> sp.csr_matrix:
    """One value per (customer, item) pair bought, in one shared (sorted) sparsity pattern."""
    s = pd.Series(v).groupby([u, i], sort=True).agg(how)
    rows = s.index.get_level_values(0).to_numpy()
    cols = s.index.get_level_values(1).to_numpy()
    m = sp.csr_matrix((s.to_numpy(np.float32), (rows, cols)), shape=shape)
    m.has_sorted_indices = True
    return m


def _group(v: np.ndarray, codes: np.ndarray, n: int, how: str) -> np.ndarray:
    return pd.Series(v).groupby(codes).agg(how).reindex(range(n)).to_numpy(np.float64)

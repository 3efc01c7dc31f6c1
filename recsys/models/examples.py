"""The training examples of the history-aware torch models (two-tower, NCF), built once from
the training data, and the form a data-parallel worker gets them in.

``build_examples`` turns a training set into one row per training order (the customer as
they stood just before it, and the order's products) plus what is per product or per
customer (the product tower's inputs, weekly trends, every customer at the end of training).
A fit in one process builds them in its ``SequenceRun``. A data-parallel fit on Ray builds
them once on the driver: the order rows become a Ray Dataset (``order_table``), split
between the workers, each of which reads only its share (``PreparedPhase``); the rest, a few
arrays per product and per customer, travels through the object store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.evaluate import build_truth, validation_split
from recsys.models import features as fx

if TYPE_CHECKING:
    from recsys.evaluate import Truth


@dataclass
class SequenceFeatures:
    """Encoders learned from the training data, kept with the fitted model."""

    cat_vocab: fx.Vocab
    country_vocab: fx.Vocab
    price_edges: np.ndarray
    rfm_mu: np.ndarray
    rfm_sd: np.ndarray
    now: pd.Timestamp
    item_cat: np.ndarray  # [n_items + 1] category code by item code + 1
    activity: np.ndarray  # [n_customers] recency-weighted order lines

    def arrays(self) -> dict[str, np.ndarray]:
        return {"cat_vocab": self.cat_vocab.values, "country_vocab": self.country_vocab.values,
                "price_edges": self.price_edges, "rfm_mu": self.rfm_mu, "rfm_sd": self.rfm_sd,
                "now": np.array([np.datetime64(self.now)]), "item_cat": self.item_cat,
                "activity": self.activity}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> SequenceFeatures:
        return cls(fx.Vocab(a["cat_vocab"]), fx.Vocab(a["country_vocab"]), a["price_edges"],
                   a["rfm_mu"], a["rfm_sd"], pd.Timestamp(a["now"][0]), a["item_cat"],
                   a["activity"])


@dataclass
class SequenceExamples:
    """Everything a training run reads of the training data."""

    features: SequenceFeatures
    items_side: fx.ItemSide
    trend_table: np.ndarray  # [weeks + 1, n_items, 2] log recent buyers
    now_inputs: fx.CustomerInputs  # every customer at the end of training
    item_freq: np.ndarray  # [n_items] share of the training lines
    orders: fx.CustomerInputs | None  # one row per training order, as it stood before it
    pair_order: np.ndarray | None  # [lines] each line's row of ``orders``
    pair_item: np.ndarray | None  # [lines] each line's product code
    sharded: bool = False  # ``orders`` are this worker's share of them only

    def without_orders(self) -> SequenceExamples:
        """The per-product and per-customer part (what every worker needs whole)."""
        return replace(self, orders=None, pair_order=None, pair_item=None)


def build_examples(customer_ids: np.ndarray, item_ids: np.ndarray, train: OrderData,
                   history_len: int) -> SequenceExamples:
    """The examples of ``train`` for a model indexed by ``customer_ids`` / ``item_ids``."""
    cat_vocab = fx.Vocab.fit(train.products["category"])
    country_vocab = fx.Vocab.fit(train.customers["country"])
    price_edges = fx.price_edges(train.products["price"].to_numpy(dtype=float))
    items_side = fx.item_side(train.products, item_ids, cat_vocab, price_edges)
    h = fx.order_history(train)
    start = train.interactions["timestamp"].min().normalize()
    now = train.interactions["timestamp"].max()
    country = country_vocab.encode(
        train.customers.set_index("customer_id").reindex(customer_ids)["country"])
    ex = fx.order_inputs(h, country, start, history_len)
    features = SequenceFeatures(
        cat_vocab, country_vocab, price_edges, ex.rfm.mean(0), ex.rfm.std(0) + 1e-6, now,
        np.r_[0, items_side.category], fx.recent_activity(train))
    now_inputs = fx.current_inputs(h, len(customer_ids), country, start, now, history_len)
    weekly = fx.weekly_buyers(train, start)
    now_inputs.week[:] = len(weekly)
    return SequenceExamples(
        features, items_side, fx.trend_table(weekly), now_inputs,
        np.bincount(h.items, minlength=len(item_ids)) / len(h.items), ex,
        np.repeat(np.arange(len(h.cust)), np.diff(h.item_ptr)), h.items)


# ---------------------------------------------------------------- the order rows as Arrow
_FIXED = ("rfm", "hist", "age")  # [n, width] columns of CustomerInputs
_FLAT = ("cust", "country", "week")


def order_table(ex: SequenceExamples) -> pa.Table:
    """One row per training order: its customer's inputs and its products (a list), plus
    ``order``, its row in ``ex`` (a worker sorts its share by it, so the same shares give
    the same run whatever order the blocks arrive in)."""
    o = ex.orders
    lengths = np.bincount(ex.pair_order, minlength=len(o.cust))
    if np.any(np.diff(ex.pair_order) < 0):
        raise ValueError("the lines must be grouped by order")
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    cols: dict[str, pa.Array] = {"order": pa.array(np.arange(len(o.cust)))}
    cols.update({k: pa.array(getattr(o, k)) for k in _FLAT})
    for k in _FIXED:
        a = getattr(o, k)
        cols[k] = pa.FixedSizeListArray.from_arrays(pa.array(a.ravel()), a.shape[1])
    cols["items"] = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(ex.pair_item))
    return pa.table(cols)


def from_order_table(table: pa.Table, rest: SequenceExamples) -> SequenceExamples:
    """``rest`` with the orders of ``table`` (a worker's share, any block order)."""
    table = table.sort_by("order")
    n = table.num_rows

    def column(k: str) -> pa.Array:
        return table[k].combine_chunks() if table[k].num_chunks else pa.array([], table[k].type)

    flat = {k: column(k).to_numpy(zero_copy_only=False) for k in _FLAT}
    fixed = {k: column(k).flatten().to_numpy(zero_copy_only=False).reshape(n, -1)
             for k in _FIXED}
    items = column("items")
    lengths = pc.list_value_length(items).to_numpy(zero_copy_only=False).astype(np.int64)
    orders = fx.CustomerInputs(flat["cust"], flat["country"], fixed["rfm"], fixed["hist"],
                               fixed["age"], flat["week"])
    return replace(rest, orders=orders, pair_order=np.repeat(np.arange(n), lengths),
                   pair_item=items.flatten().to_numpy(zero_copy_only=False), sharded=True)


@dataclass
class PreparedPhase:
    """One training phase's data (the validation window's or the whole training set's) as
    a data-parallel worker gets it: what ``fit`` reads of an ``OrderData`` (IDs, the training
    matrix, the line count), the examples' per-product and per-customer part, and
    ``read_orders``, which returns this worker's share of the order rows. ``validate``: the
    validation phase and its truth, for the early-stopping choice."""

    customer_ids: np.ndarray
    item_ids: np.ndarray
    X: sp.csr_matrix  # the training matrix, as the model weights it (``weighting``)
    weighting: str
    n_lines: int
    rest: SequenceExamples
    read_orders: Callable[[], pa.Table]
    validate: tuple[PreparedPhase, Truth] | None = None

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def matrix(self, weighting: str = "binary", half_life: float = 0.0) -> sp.csr_matrix:
        if half_life == 0.0 and weighting == self.weighting:
            return self.X
        if half_life == 0.0 and weighting == "binary":
            return self._binary
        raise ValueError(f"a prepared phase holds the {self.weighting!r} matrix only")

    @functools.cached_property
    def _binary(self) -> sp.csr_matrix:
        """Built once, as ``OrderData.matrix`` does (evaluation asks at every epoch)."""
        X = self.X.copy()
        X.data[:] = 1.0
        return X

    def examples(self) -> SequenceExamples:
        return from_order_table(self.read_orders(), self.rest)

    def validation(self) -> tuple[Any, Truth]:
        """(a split whose ``train`` is the validation phase, its truth), as the Trainer's
        early stopping takes them from an ``OrderData``."""
        if self.validate is None:
            raise ValueError("this fit was prepared without a validation phase")
        phase, truth = self.validate
        return _Split(phase), truth


@dataclass
class _Split:
    train: PreparedPhase


Share = Callable[[str, pa.Table], Callable[[], pa.Table]]


def prepare_fit(model: Any, train: OrderData, share: Share) -> PreparedPhase:
    """What data-parallel workers need to fit ``model`` (unfitted; its config says whether
    there is a validation phase) on ``train``: each phase's examples, built here once.
    ``share(name, order_table)`` publishes a phase's order rows ('validate', 'fit') and
    returns the function a worker calls for its share of them."""
    c = model.config

    def phase(name: str, data: OrderData) -> PreparedPhase:
        model.bind(data)
        ex = build_examples(model.customer_ids_, model.item_ids_, data, c.history_len)
        read = share(name, order_table(ex))
        return PreparedPhase(model.customer_ids_, model.item_ids_, model.X_, model.weighting,
                             data.n_lines, ex.without_orders(), read)

    validate = None
    if c.patience > 0 and c.val_days > 0:
        val = validation_split(train, c.val_days)
        validate = (phase("validate", val.train), build_truth(val, "novel"))
    whole = phase("fit", train)
    whole.validate = validate
    return whole

"""Temporal splits and honest evaluation: full ranking over all training items, per-customer
metrics at K, coverage, novelty and paired bootstrap confidence intervals.

Protocol: test customers bought both before and after the cutoff; items first seen after the
cutoff are dropped from the truth (no model could rank them); ``novel`` removes each customer's
training items from both ranking and truth, ``all`` lets repeat purchases count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data import OrderData

TASKS = ("novel", "all")
METRICS = ("ndcg", "recall", "hr", "precision", "map")


@dataclass
class Split:
    """Training data before ``cutoff`` and the raw test interactions on/after it."""

    train: OrderData
    test: pd.DataFrame
    cutoff: pd.Timestamp

    def summary(self) -> dict[str, Any]:
        return {"cutoff": str(self.cutoff.date()), "train_rows": int(len(self.train.interactions)),
                "test_rows": int(len(self.test))}


def as_cutoff(value: str | pd.Timestamp) -> pd.Timestamp:
    """A cutoff date from text, or a ValueError saying what is wrong with it."""
    try:
        cut = pd.Timestamp(value)
    except (ValueError, TypeError):
        cut = pd.NaT
    if pd.isna(cut):
        raise ValueError(f"The cutoff {value!r} is not a date: write it as YYYY-MM-DD.")
    return cut.tz_localize(None) if cut.tzinfo is not None else cut


def default_test_days(data: OrderData) -> float:
    """The last 30 days, or 10% of the span when the data covers less than 300 days."""
    t = data.interactions["timestamp"]
    span_days = (t.max() - t.min()) / pd.Timedelta(days=1)
    return float(min(30.0, max(span_days * 0.1, 1.0)))


def temporal_split(data: OrderData, cutoff: str | pd.Timestamp | None = None,
                   test_days: float | None = None) -> Split:
    """Train = before the cutoff, test = on/after it (default: see ``default_test_days``)."""
    t = data.interactions["timestamp"]
    if cutoff is None:
        days = test_days if test_days is not None else default_test_days(data)
        cutoff = t.max() - pd.Timedelta(days=days)
    cutoff = as_cutoff(cutoff)
    before = (t < cutoff).to_numpy()
    if not before.any() or before.all():
        side = "training" if not before.any() else "test"
        raise ValueError(f"The cutoff {cutoff.date()} leaves no {side} "
                         f"data: the orders run from {t.min().date()} to {t.max().date()}.")
    return Split(data.subset(before), data.interactions.loc[~before].reset_index(drop=True),
                 cutoff)


def validation_split(train: OrderData, days: float | None = None) -> Split:
    """A validation window taken from the end of the training period (for early stopping and
    tuning; the test window is never looked at)."""
    return temporal_split(train, test_days=days)


# ---------------------------------------------------------------- truth and metrics
@dataclass
class Truth:
    """Held-out items of each test customer, as a CSR matrix over the training items."""

    customer_ids: np.ndarray
    matrix: sp.csr_matrix
    task: str


def build_truth(split: Split, task: str = "novel") -> Truth:
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; choose from {', '.join(TASKS)}")
    train = split.train
    cust = pd.Categorical(split.test["customer_id"].astype(str),
                          categories=train.customer_ids).codes
    item = pd.Categorical(split.test["item_id"].astype(str), categories=train.item_ids).codes
    keep = (cust >= 0) & (item >= 0)
    T = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (cust[keep], item[keep])),
                      shape=(train.n_customers, train.n_items))
    T.sum_duplicates()
    T.data[:] = 1.0
    if task == "novel":
        X = train.matrix("binary")
        T = T - T.multiply(X)
        T.eliminate_zeros()
    rows = np.flatnonzero(np.diff(T.indptr) > 0)
    T = T[rows].tocsr()
    T.sort_indices()
    return Truth(train.customer_ids[rows], T, task)


def hit_matrix(truth: sp.csr_matrix, rec_idx: np.ndarray) -> np.ndarray:
    """hits[u, r] = item rec_idx[u, r] is in customer u's truth (rec_idx -1 never hits)."""
    n_items = truth.shape[1]
    rows = np.repeat(np.arange(truth.shape[0]), np.diff(truth.indptr))
    keys = rows.astype(np.int64) * n_items + truth.indices
    q = np.arange(rec_idx.shape[0])[:, None].astype(np.int64) * n_items + rec_idx
    return np.isin(q, keys) & (rec_idx >= 0)


def metrics_from_hits(hits: np.ndarray, n_truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-customer HR, precision, recall, NDCG and MAP at K = hits.shape[1]."""
    k = hits.shape[1]
    h = hits.astype(np.float64)
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal_n = np.minimum(n_truth, k)
    idcg = np.concatenate([[0.0], np.cumsum(disc)])[ideal_n]
    prec_at = np.cumsum(h, axis=1) / np.arange(1, k + 1)
    return {
        "hr": (h.sum(1) > 0).astype(np.float64),
        "precision": h.sum(1) / k,
        "recall": h.sum(1) / n_truth,
        "ndcg": (h * disc).sum(1) / idcg,
        "map": (prec_at * h).sum(1) / ideal_n,
    }


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over customers ((nan, nan) with no resamples)."""
    if n_boot <= 0 or len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    m = len(values)
    means = np.concatenate([values[rng.integers(0, m, (min(100, n_boot - s), m))].mean(1)
                            for s in range(0, n_boot, 100)])
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def paired_difference(a: np.ndarray, b: np.ndarray, n_boot: int = 1000,
                      seed: int = 0) -> dict[str, float]:
    """Mean of a - b over the same customers with a paired bootstrap 95% CI."""
    if a.shape != b.shape:
        raise ValueError("Paired comparison needs both models scored on the same customers.")
    lo, hi = bootstrap_ci(a - b, n_boot, seed)
    return {"diff": float((a - b).mean()), "lo": lo, "hi": hi}


@dataclass
class EvalResult:
    """Mean metrics, their CIs, and the per-customer values (for paired comparisons)."""

    model: str
    task: str
    k: int
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]]
    per_customer: dict[str, np.ndarray] = field(repr=False)
    customer_ids: np.ndarray = field(repr=False)
    coverage: float = 0.0
    novelty: float = 0.0
    recommend_ms_per_customer: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {m: round(v, 5) for m, v in self.metrics.items()}
        out.update({f"{m}_ci": [round(lo, 5), round(hi, 5)] for m, (lo, hi) in self.ci.items()})
        out.update({"coverage": round(self.coverage, 5), "novelty": round(self.novelty, 4),
                    "customers": int(len(self.customer_ids)),
                    "recommend_ms_per_customer": round(self.recommend_ms_per_customer, 4)})
        return out


def evaluate(model, split: Split, k: int = 10, task: str = "novel", n_boot: int = 1000,
             seed: int = 0, truth: Truth | None = None) -> EvalResult:
    """Score a fitted model on the split's test window with full ranking at K."""
    truth = truth or build_truth(split, task)
    if truth.matrix.shape[0] == 0:
        raise ValueError("No test customers: nobody bought (new) training products both before "
                         "and after the cutoff. Move the cutoff or use a longer test window.")
    start = time.perf_counter()
    rec_ids, _ = model.recommend(truth.customer_ids, n=k, exclude_seen=(task == "novel"))
    ms = (time.perf_counter() - start) * 1000 / len(truth.customer_ids)
    item_index = pd.Index(split.train.item_ids)
    rec_idx = item_index.get_indexer(rec_ids.ravel()).reshape(rec_ids.shape)
    n_truth = np.diff(truth.matrix.indptr)
    per = metrics_from_hits(hit_matrix(truth.matrix, rec_idx), n_truth)
    buyers = np.diff(split.train.matrix("binary").tocsc().indptr)
    valid = rec_idx[rec_idx >= 0]
    p = buyers[valid] / split.train.n_customers
    return EvalResult(
        model=getattr(model, "name", type(model).__name__), task=task, k=k,
        metrics={m: float(per[m].mean()) for m in METRICS},
        ci={m: bootstrap_ci(per[m], n_boot, seed) if n_boot else (np.nan, np.nan)
            for m in METRICS},
        per_customer=per, customer_ids=truth.customer_ids,
        coverage=np.count_nonzero(np.bincount(valid, minlength=split.train.n_items))
        / split.train.n_items,
        novelty=float(-np.log2(np.maximum(p, 1e-12)).mean()) if len(p) else 0.0,
        recommend_ms_per_customer=ms,
    )

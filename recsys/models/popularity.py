"""Popularity baselines: all-time and recent (last N days of training)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit


@dataclass(frozen=True)
class PopularityConfig:
    """Items ranked by how many distinct customers bought them."""

    seed: int = 0


class Popularity(BaseRecommender):
    """The same list for everyone: the most-bought items. Every model must beat this."""

    name = "popularity"
    Config = PopularityConfig

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        self.counts_ = np.diff(X.tocsc().indptr).astype(np.float32)
        emit(callback, 1, {})

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(rows), len(self.counts_))).copy()

    def _item_column(self, j: int) -> np.ndarray:
        return np.full(self.X_.shape[0], self.counts_[j], dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts_}

    def _set_state(self, arrays) -> None:
        self.counts_ = arrays.get("counts", (len(self.item_ids_),))


@dataclass(frozen=True)
class RecentPopularityConfig:
    """Distinct buyers in the last ``days`` days of the training period (ties: all-time)."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"days": (1, 3650)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "days": "Recent window (days) — best sellers of the last N days of the training period"}

    days: int = 30
    seed: int = 0


class RecentPopularity(Popularity):
    """What is selling now: catches seasonality and launches that all-time counts miss."""

    name = "recent_popularity"
    Config = RecentPopularityConfig

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        t = train.interactions["timestamp"]
        recent = t >= t.max() - pd.Timedelta(days=self.config.days)
        sub = train.interactions.loc[recent]
        pairs = sub[["customer_id", "item_id"]].drop_duplicates()
        counts = np.bincount(pairs["item_id"].cat.codes.to_numpy(), minlength=X.shape[1])
        alltime = np.diff(X.tocsc().indptr).astype(np.float32)
        # All-time popularity breaks ties (and orders items unsold in the window).
        self.counts_ = counts.astype(np.float32) + alltime / (alltime.max() + 1.0)
        emit(callback, 1, {})

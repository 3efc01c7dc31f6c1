"""A model mixed with the obvious: best sellers of all time and of the last weeks.

Each customer's scores from the base model are standardised (mean 0, spread 1 over the
catalogue) and mixed with the standardised log-counts of buyers of all time and of the last
``recent_days``. With both weights 0 it ranks as the base model, with ``popularity`` 1 as the
best sellers; tuning picks the weights on the validation window, so the blend is never below
either part there (``recsys.tuning``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models import load_model, make_model
from recsys.models.base import BaseRecommender, Callback
from recsys.models.popularity import Popularity, RecentPopularity
from recsys.models.stored import ModelFileError


@dataclass(frozen=True)
class BlendConfig:
    """``base`` and its settings (JSON); ``popularity`` and ``recent``: the shares of all-time
    and recent best sellers in the mix (the base model gets the rest)."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"popularity": (0, 1), "recent": (0, 1), "recent_days": (1, 3650)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "base": "Base model — the model mixed with best sellers",
        "base_params": "Base settings — the base model's settings, as JSON",
        "popularity": "Best-seller share — 0 = the base model alone, 1 = best sellers alone",
        "recent": "Recent best-seller share — weight of what sold in the last weeks",
        "recent_days": "Recent window (days) — what counts as recent"}

    base: str = "ease"
    base_params: str = "{}"
    popularity: float = 0.2
    recent: float = 0.0
    recent_days: int = 30
    seed: int = 0

    def __post_init__(self) -> None:
        if self.base == "blend":
            raise ValueError("a blend cannot mix another blend")
        if self.popularity + self.recent > 1 + 1e-9:
            raise ValueError("popularity + recent must be at most 1")
        try:
            params = json.loads(self.base_params)
        except (TypeError, json.JSONDecodeError):
            params = None
        if not isinstance(params, dict):
            raise ValueError("base_params must be a JSON object of settings, like {\"l2\": 250}")


def standardise(scores: np.ndarray) -> np.ndarray:
    """Each row to mean 0 and standard deviation 1 (a constant row becomes 0)."""
    s = scores.astype(np.float32, copy=True)
    s -= s.mean(axis=1, keepdims=True)
    sd = s.std(axis=1, keepdims=True)
    return np.divide(s, sd, out=np.zeros_like(s), where=sd > 1e-12)


class Blend(BaseRecommender):
    """(1 - popularity - recent) * base + popularity * best sellers + recent * recent ones,
    each standardised per customer."""

    name = "blend"
    Config = BlendConfig

    def _make_base(self) -> BaseRecommender:
        return make_model(self.config.base, **json.loads(self.config.base_params))

    def progress_steps(self) -> int:
        return self._make_base().progress_steps()

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        base = self._make_base().fit(train, callback=callback)
        self._set_base(base, self._baselines(train))

    @classmethod
    def wrap(cls, base: BaseRecommender, train: OrderData, **weights: Any) -> Blend:
        """A blend around a model already fitted on ``train`` (nothing is fitted again)."""
        blend = cls(base=base.name, base_params=json.dumps(base.params()), **weights)
        blend.bind(train)
        blend.partial_, blend.notes_ = bool(getattr(base, "partial_", False)), []
        blend._set_base(base, blend._baselines(train))
        return blend

    def _baselines(self, train: OrderData) -> np.ndarray:
        """Standardised log buyers per product: all time, and in the recent window."""
        counts = [Popularity().fit(train).counts_,
                  RecentPopularity(days=self.config.recent_days).fit(train).counts_]
        return standardise(np.log1p(np.vstack(counts)))

    def _set_base(self, base: BaseRecommender, baselines: np.ndarray) -> None:
        self.base_, self.baselines_ = base, baselines.astype(np.float32)
        self.notes_ = list(base.notes())
        # The base may know fewer products or customers (EASE on its best sellers only).
        self._base_rows = base.customer_rows(self.customer_ids_)
        self._base_cols = self._items(base.item_ids_, strict=False)
        self._same_items = np.array_equal(self._base_cols, np.arange(len(self.item_ids_)))

    def refit_params(self) -> dict[str, Any]:
        self._check_fitted()
        return {**self.params(), "base_params": json.dumps(self.base_.refit_params())}

    def base_part(self, rows: np.ndarray) -> np.ndarray:
        """The base model's scores for these rows, standardised per customer."""
        raw = np.asarray(self.base_.row_scores(self._base_rows[rows]), dtype=np.float32)
        if not self._same_items:  # products the base never learned rank last in its part
            full = np.repeat(raw.min(axis=1, keepdims=True), len(self.item_ids_), axis=1)
            full[:, self._base_cols] = raw
            raw = full
        return standardise(raw)

    def mix(self, base_part: np.ndarray, popularity: float, recent: float) -> np.ndarray:
        """The blend's scores from the base's part, at these weights."""
        return ((1.0 - popularity - recent) * base_part + popularity * self.baselines_[0]
                + recent * self.baselines_[1])

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.mix(self.base_part(rows), self.config.popularity, self.config.recent)

    def item_similarity(self, q: np.ndarray) -> np.ndarray:
        if self._same_items:
            return self.base_.item_similarity(q)
        return super().item_similarity(q)

    def _state(self) -> dict[str, np.ndarray]:
        return {"baselines": self.baselines_}

    def _set_state(self, arrays) -> None:
        self.baselines_ = arrays.get("baselines", (2, len(self.item_ids_)))

    def save(self, path: str | Path) -> None:
        super().save(path)
        self.base_.save(Path(path) / "base")

    @classmethod
    def load(cls, path: str | Path) -> Self:
        model = super().load(path)
        base = load_model(Path(path) / "base")
        if base.name != model.config.base:
            raise ModelFileError(f"{Path(path).name} is damaged: its base model is "
                                 f"{base.name}, not {model.config.base}.")
        model._set_base(base, model.baselines_)
        return model

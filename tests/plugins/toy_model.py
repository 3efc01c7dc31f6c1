"""A toy model registered from outside recsys: what adding a model takes (its module and one
ModelSpec). Loaded as a pytest plugin (``-p tests.plugins.toy_model``) or imported by a test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit
from recsys.models.registry import ModelSpec, register


@dataclass(frozen=True)
class ToyConfig:
    """Co-purchase counts, damped by ``damping``."""

    BOUNDS: ClassVar[dict] = {"damping": (0, None)}
    HELP: ClassVar[dict] = {"damping": "Damping — divides every co-purchase count"}

    damping: float = 1.0
    seed: int = 0


class Toy(BaseRecommender):
    """score(u, j) = how often j was bought by someone who bought what u bought."""

    name = "toy"
    Config = ToyConfig

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        self.C_ = np.asarray((X.T @ X).todense(), dtype=np.float32) / (1 + self.config.damping)
        emit(callback, 1, {})

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.X_[rows] @ self.C_, dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        return {"C": self.C_}

    def _set_state(self, arrays) -> None:
        n = len(self.item_ids_)
        self.C_ = arrays.get("C", (n, n))  # checked: shape, numbers, finite


SPEC = register(ModelSpec("toy", "tests.plugins.toy_model:Toy",
                          "A toy co-purchase model (test plugin)."))

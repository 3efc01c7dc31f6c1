"""EASE (Steck 2019): a closed-form shallow autoencoder, the strongest simple baseline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit

MAX_ITEMS = 30_000  # a dense items x items inverse: 30k items is 3.6 GB in float32


@dataclass(frozen=True)
class EASEConfig:
    """``l2``: the ridge penalty lambda on the item-item weights."""

    l2: float = 500.0
    seed: int = 0


class EASE(BaseRecommender):
    """B = argmin ||X - XB||^2 + l2 ||B||^2 with diag(B) = 0, solved in closed form."""

    name = "ease"
    Config = EASEConfig

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        n = X.shape[1]
        if n > MAX_ITEMS:
            raise ValueError(f"EASE needs a dense {n}x{n} inverse; above {MAX_ITEMS:,} products "
                             "use itemknn or als instead.")
        G = (X.T @ X).toarray().astype(np.float64)
        G[np.diag_indices(n)] += self.config.l2
        P = np.linalg.inv(G)
        B = P / (-np.diag(P))
        B[np.diag_indices(n)] = 0.0
        self.B_ = B.astype(np.float32)
        emit(callback, 1, {})

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.X_[rows] @ self.B_, dtype=np.float32)

    def _item_column(self, j: int) -> np.ndarray:
        return np.asarray(self.X_ @ self.B_[:, j], dtype=np.float32).ravel()

    def _item_similarity(self, q: np.ndarray) -> np.ndarray:
        # B[i, j]: how much buying i predicts j.
        return self.B_[q].copy()

    def _item_vectors(self) -> np.ndarray | None:
        return self.B_

    def _state(self) -> dict[str, np.ndarray]:
        return {"B": self.B_}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.B_ = arrays["B"]

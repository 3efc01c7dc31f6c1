"""EASE (Steck 2019): a closed-form shallow autoencoder, the strongest simple baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit

MAX_ITEMS = 30_000  # a dense items x items inverse: 30k items is 3.6 GB in float32
CUSTOMER_DIMS = 64


@dataclass(frozen=True)
class EASEConfig:
    """``l2``: the ridge penalty lambda on the item-item weights. Scoring options (the weights
    are always learned on the bought/not-bought matrix): ``history`` 'count' weighs a
    customer's products by how many lines they bought; ``self_weight`` adds that much of the
    customer's own past purchases of a product to its score (repeat buying, campaigns)."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"l2": (1e-6, None), "self_weight": (0, None)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "l2": "Regularisation — higher = safer lists, closer to best sellers; lower = more "
            "personal",
        "history": "History counts — 'binary': bought or not; 'count': how many times",
        "self_weight": "Repeat weight — how much a customer's own past purchases count (0 = none)"}

    l2: float = 500.0
    history: str = "binary"
    self_weight: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.history not in ("binary", "count"):
            raise ValueError("history is 'binary' or 'count'")


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
        self.H_ = train.matrix("count") if self.config.history == "count" else X
        emit(callback, 1, {})

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        H = self.H_[rows]
        scores = np.asarray(H @ self.B_, dtype=np.float32)
        if self.config.self_weight:
            scores += self.config.self_weight * H.toarray()
        return scores

    def _item_column(self, j: int) -> np.ndarray:
        own = np.asarray(self.H_[:, j].todense()).ravel()
        return (np.asarray(self.H_ @ self.B_[:, j]).ravel()
                + self.config.self_weight * own).astype(np.float32)

    def _item_similarity(self, q: np.ndarray) -> np.ndarray:
        # B[i, j]: how much buying i predicts j.
        return self.B_[q].copy()

    def _item_vectors(self) -> np.ndarray | None:
        return self.B_

    def _customer_vectors(self) -> np.ndarray:
        """Customers as what EASE predicts for them (history x B, one number per product),
        reduced to its 64 strongest directions by a randomised SVD that never builds the
        customers x products matrix."""
        if getattr(self, "_cv", None) is None:
            k = max(1, min(CUSTOMER_DIMS, len(self.item_ids_) - 1))
            rng = np.random.default_rng(self.config.seed)
            H, B = self.H_.astype(np.float32), self.B_

            def scores(M: np.ndarray) -> np.ndarray:  # (H B + w H) M, without H B itself
                return H @ (B @ M) + self.config.self_weight * (H @ M)

            def scores_t(M: np.ndarray) -> np.ndarray:  # (H B + w H)^T M
                return B.T @ (H.T @ M) + self.config.self_weight * (H.T @ M)

            Q = np.linalg.qr(scores(rng.standard_normal((B.shape[0], k + 10))
                                    .astype(np.float32)))[0]
            for _ in range(2):  # power iterations sharpen the leading directions
                Q = np.linalg.qr(scores(np.linalg.qr(scores_t(Q))[0]))[0]
            u, s, _ = np.linalg.svd(scores_t(Q).T, full_matrices=False)
            self._cv = (Q @ u[:, :k] * s[:k]).astype(np.float32)
        return self._cv

    def _state(self) -> dict[str, np.ndarray]:
        H = self.H_
        return {"B": self.B_, "H_data": H.data, "H_indices": H.indices, "H_indptr": H.indptr}

    def _set_state(self, arrays) -> None:
        n = len(self.item_ids_)
        self.B_ = arrays.get("B", (n, n))
        self.H_ = arrays.csr("H", self.X_.shape)

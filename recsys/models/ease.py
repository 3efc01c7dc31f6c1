"""EASE (Steck 2019): a closed-form shallow autoencoder, the strongest simple baseline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit

MAX_ITEMS = 30_000  # a dense items x items inverse: 30k items is 7.2 GB in float64
CUSTOMER_DIMS = 64


@dataclass(frozen=True)
class EASEConfig:
    """``l2``: the ridge penalty lambda on the item-item weights. Scoring options (the weights
    are always learned on the bought/not-bought matrix): ``history`` 'count' weighs a
    customer's products by how many lines they bought; ``self_weight`` adds that much of the
    customer's own past purchases of a product to its score (repeat buying, campaigns)."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"l2": (1e-6, None), "self_weight": (0, None),
                              "max_items": (2, MAX_ITEMS)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "l2": "Regularisation — higher = safer lists, closer to best sellers; lower = more "
            "personal",
        "history": "History counts — 'binary': bought or not; 'count': how many times",
        "self_weight": "Repeat weight — how much a customer's own past purchases count (0 = none)",
        "max_items": "Product limit — EASE learns on at most this many best-selling products "
            "(time and memory grow with its cube)",
        "over_limit": "Above the limit — 'top': learn on the best sellers only; 'refuse': stop "
            "with a message"}

    # Settings with fixed choices (forms offer exactly these).
    CHOICES: ClassVar[dict] = {"history": ("binary", "count"), "over_limit": ("top", "refuse")}

    l2: float = 500.0
    history: str = "binary"
    self_weight: float = 0.0
    max_items: int = 10_000
    over_limit: str = "top"
    seed: int = 0


class EASE(BaseRecommender):
    """B = argmin ||X - XB||^2 + l2 ||B||^2 with diag(B) = 0, solved in closed form."""

    name = "ease"
    Config = EASEConfig

    def fit(self, train: OrderData, *, callback: Callback | None = None) -> EASE:
        """Learn B; above ``max_items`` products, on the best sellers only (or refuse), said
        before any work starts."""
        n, cap = train.n_items, self.config.max_items
        note = None
        if n > cap:
            if self.config.over_limit == "refuse":
                raise ValueError(
                    f"EASE needs a dense {n:,} x {n:,} inverse (time grows with its cube); "
                    f"this shop has more than its limit of {cap:,} products. Raise the "
                    "product limit, let it learn on the best sellers, or use als or itemknn.")
            keep = train.top_items(cap)
            train = train.subset(train.interactions["item_id"].isin(keep).to_numpy())
            note = (f"learned on the {cap:,} best-selling of {n:,} products (its product "
                    f"limit); the other {n - cap:,} are never recommended by it")
        super().fit(train, callback=callback)
        if note:
            self.notes_.append(note)
        return self

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        n = X.shape[1]
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

    def item_similarity(self, q: np.ndarray) -> np.ndarray:
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

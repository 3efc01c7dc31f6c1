"""Item-based k-nearest-neighbours with cosine similarity and shrinkage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit


@dataclass(frozen=True)
class ItemKNNConfig:
    """``k`` neighbours kept per item (0 keeps all); ``shrinkage`` damps rare co-purchases."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"k": (0, None), "shrinkage": (0, None)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "k": "Neighbours kept — per product; 0 = all",
        "shrinkage": "Shrinkage — damps similarities that rest on few shared buyers"}

    k: int = 0
    shrinkage: float = 0.0
    seed: int = 0


def _keep_top_k(S: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row of a sparse matrix."""
    S = S.tocsr()
    rows, cols, vals = [], [], []
    for i in range(S.shape[0]):
        lo, hi = S.indptr[i], S.indptr[i + 1]
        if hi - lo > k:
            part = np.argpartition(-S.data[lo:hi], k - 1)[:k] + lo
        else:
            part = np.arange(lo, hi)
        rows.append(np.full(len(part), i))
        cols.append(S.indices[part])
        vals.append(S.data[part])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=S.shape)


class ItemKNN(BaseRecommender):
    """score(u, j) = sum over items i bought by u of sim(i, j)."""

    name = "itemknn"
    Config = ItemKNNConfig

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        Xc = X.tocsc().astype(np.float32)
        co = (Xc.T @ Xc).tocsr()
        norms = np.sqrt(co.diagonal())
        co.setdiag(0)
        co.eliminate_zeros()
        coo = co.tocoo()
        denom = norms[coo.row] * norms[coo.col] + self.config.shrinkage + 1e-9
        S = sp.csr_matrix((coo.data / denom, (coo.row, coo.col)), shape=co.shape)
        if self.config.k > 0:
            # Neighbourhoods are per target item: keep each column's top k.
            S = _keep_top_k(S.T.tocsr(), self.config.k).T.tocsr()
        self.S_ = S.astype(np.float32)
        emit(callback, 1, {})

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.X_[rows] @ self.S_).todense(), dtype=np.float32)

    def _item_column(self, j: int) -> np.ndarray:
        return np.asarray((self.X_ @ self.S_[:, j]).todense(), dtype=np.float32).ravel()

    def _item_similarity(self, q: np.ndarray) -> np.ndarray:
        return np.asarray(self.S_[q].todense(), dtype=np.float32)

    def _item_vectors(self) -> np.ndarray | None:
        return None

    def _state(self) -> dict[str, np.ndarray]:
        S = self.S_
        return {"S_data": S.data, "S_indices": S.indices, "S_indptr": S.indptr}

    def _set_state(self, arrays) -> None:
        n = len(self.item_ids_)
        self.S_ = arrays.csr("S", (n, n))

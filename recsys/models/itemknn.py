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


# Above this many products "all neighbours" is a near-dense products x products matrix (50k
# products: 10 GB); neighbourhoods are then cut to LARGE_K, computed block by block.
FULL_LIMIT = 20_000
LARGE_K = 200
BLOCK = 512


def _similarity_block(Xc: sp.csc_matrix, norms: np.ndarray, cols: np.ndarray,
                      shrinkage: float) -> np.ndarray:
    """Cosine similarity of every product to the products ``cols`` (dense [n, len(cols)])."""
    co = np.asarray((Xc.T @ Xc[:, cols]).todense(), dtype=np.float32)
    co /= norms[:, None] * norms[cols][None, :] + shrinkage + 1e-9
    co[cols, np.arange(len(cols))] = 0.0
    return co


def top_k_similarity(Xc: sp.csc_matrix, k: int, shrinkage: float) -> sp.csr_matrix:
    """S[:, j] holds j's k most similar products (column j: neighbourhood of target j),
    computed BLOCK target products at a time: never an n x n matrix in memory."""
    n = Xc.shape[1]
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel()).astype(np.float32)
    k = min(k, max(n - 1, 1))
    rows, cols, vals = [], [], []
    for s in range(0, n, BLOCK):
        block = np.arange(s, min(s + BLOCK, n))
        sim = _similarity_block(Xc, norms, block, shrinkage)
        top = np.argpartition(-sim, k - 1, axis=0)[:k] if n > k else np.indices(sim.shape)[0]
        val = np.take_along_axis(sim, top, axis=0)
        keep = val > 0
        rows.append(top[keep])
        cols.append(np.broadcast_to(block[None, :], top.shape)[keep])
        vals.append(val[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n), dtype=np.float32)


class ItemKNN(BaseRecommender):
    """score(u, j) = sum over items i bought by u of sim(i, j)."""

    name = "itemknn"
    Config = ItemKNNConfig

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        Xc = X.tocsc().astype(np.float32)
        n, k = X.shape[1], self.config.k
        if k == 0 and n > FULL_LIMIT:
            k = LARGE_K
            self.notes_.append(f"kept each product's {k} nearest neighbours (of {n:,} "
                               "products; all would not fit in memory)")
        if k > 0:
            self.S_ = top_k_similarity(Xc, k, self.config.shrinkage)
            emit(callback, 1, {})
            return
        co = (Xc.T @ Xc).tocsr()
        norms = np.sqrt(co.diagonal())
        co.setdiag(0)
        co.eliminate_zeros()
        coo = co.tocoo()
        denom = norms[coo.row] * norms[coo.col] + self.config.shrinkage + 1e-9
        S = sp.csr_matrix((coo.data / denom, (coo.row, coo.col)), shape=co.shape)
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

"""Item-based k-nearest-neighbours with cosine similarity and shrinkage."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit, topn


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


def _threads() -> int:
    """Threads for scipy's sparse products, which release the GIL: the math threads this
    process was given (OMP_NUM_THREADS, as a job worker gets), else the cores."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, int(env) if env.isdigit() else os.cpu_count() or 1)


def _neighbours(Xc: sp.csc_matrix, norms: np.ndarray, block: np.ndarray, k: int,
                shrinkage: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, similarity) of the k most similar products of each product in block."""
    sim = _similarity_block(Xc, norms, block, shrinkage)  # [n, len(block)]
    top, val = topn(sim.T, k)  # [len(block), k]
    keep = val > 0
    return top[keep], np.broadcast_to(block[:, None], top.shape)[keep], val[keep]


def top_k_similarity(Xc: sp.csc_matrix, k: int, shrinkage: float) -> sp.csr_matrix:
    """S[:, j] holds j's k most similar products (column j: neighbourhood of target j),
    computed BLOCK target products at a time (a block per thread): never an n x n matrix."""
    n = Xc.shape[1]
    norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel()).astype(np.float32)
    k = min(k, max(n - 1, 1))  # topn also caps it at the width
    blocks = [np.arange(s, min(s + BLOCK, n)) for s in range(0, n, BLOCK)]
    Xc.sort_indices()  # before the threads share it (scipy may sort lazily, in place)
    with ThreadPoolExecutor(_threads()) as pool:
        parts = list(pool.map(lambda b: _neighbours(Xc, norms, b, k, shrinkage), blocks))
    rows, cols, vals = (np.concatenate(x) for x in zip(*parts, strict=True))
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float32)


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
        out = np.empty((len(rows), self.S_.shape[1]), dtype=np.float32)
        cuts = np.linspace(0, len(rows), min(_threads(), max(len(rows) // 64, 1)) + 1).astype(int)
        self.X_.sort_indices()  # before the threads share them (a no-op once sorted)
        self.S_.sort_indices()

        def part(a: int, b: int) -> None:
            (self.X_[rows[a:b]] @ self.S_).astype(np.float32, copy=False).toarray(
                out=out[a:b])

        with ThreadPoolExecutor(len(cuts) - 1) as pool:  # sparse products in parallel
            list(pool.map(part, cuts[:-1], cuts[1:]))
        return out

    def _item_column(self, j: int) -> np.ndarray:
        return np.asarray((self.X_ @ self.S_[:, j]).todense(), dtype=np.float32).ravel()

    def item_similarity(self, q: np.ndarray) -> np.ndarray:
        return np.asarray(self.S_[q].todense(), dtype=np.float32)

    def _item_vectors(self) -> np.ndarray | None:
        return None

    def _state(self) -> dict[str, np.ndarray]:
        S = self.S_
        return {"S_data": S.data, "S_indices": S.indices, "S_indptr": S.indptr}

    def _set_state(self, arrays) -> None:
        n = len(self.item_ids_)
        self.S_ = arrays.csr("S", (n, n))

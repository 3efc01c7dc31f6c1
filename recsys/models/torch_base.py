"""Shared training loop for the torch models: device choice, seeding, early stopping on a
validation window at the end of the training period, refit, progress callbacks and a Stop.

torch is imported inside functions only, so importing recsys stays light.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback


class StopTraining(Exception):
    """Raised by a progress callback to stop training; the model keeps its current weights."""


def resolve_device(name: str):
    """'auto' is CUDA when it is there, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class TorchRecommender(BaseRecommender):
    """Subclasses provide ``_prepare`` (build the module and training tensors), ``_run_epoch``
    (one pass, returns the mean loss) and ``_finalize`` (cache what inference needs).

    Their configs carry: epochs, patience, val_days, device, seed.
    """

    @abstractmethod
    def _prepare(self, train: OrderData, X: sp.csr_matrix) -> None: ...

    @abstractmethod
    def _run_epoch(self, epoch: int) -> float: ...

    @abstractmethod
    def _finalize(self) -> None: ...

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        c = self.config
        self.best_epoch_ = c.epochs
        self.history_: list[dict[str, float]] = []
        if c.patience > 0 and c.val_days > 0:
            self.best_epoch_ = self._select_epochs(train, callback)
        # Refit on the whole training period: its last weeks are the most telling.
        self._train(train, X, self.best_epoch_, callback, phase="fit")

    def _train(self, train: OrderData, X: sp.csr_matrix, epochs: int,
               callback: Callback | None, phase: str, on_epoch=None) -> None:
        import torch

        self.device_ = resolve_device(self.config.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self._rng = np.random.default_rng(self.config.seed)
            self._prepare(train, X)
            self._callback, self._last_tick = callback, time.perf_counter()
            try:
                for epoch in range(epochs):
                    self._epoch = epoch
                    if self._one_epoch(epoch, phase, callback, on_epoch):
                        break
            except StopTraining:
                pass
        self._finalize()

    def _one_epoch(self, epoch: int, phase: str, callback, on_epoch) -> bool:
        """Train, validate and report one epoch; True when early stopping says stop."""
        start = time.perf_counter()
        loss = self._run_epoch(epoch)
        metrics = {"loss": loss, "seconds": time.perf_counter() - start}
        if on_epoch is not None:
            self._finalize()
            metrics.update(on_epoch(epoch))
        self.history_.append({"epoch": epoch + 1, "phase": phase, **metrics})
        if callback is not None:
            callback(epoch + 1, metrics)
        return bool(on_epoch is not None and metrics.get("stop"))

    def _tick(self, done: int, total: int) -> None:
        """Progress inside an epoch, at most twice a second, so a page never looks frozen."""
        now = time.perf_counter()
        if self._callback is not None and now - self._last_tick > 0.5:
            self._last_tick = now
            self._callback(self._epoch + 1, {"progress": done / max(total, 1)})

    def _select_epochs(self, train: OrderData, callback: Callback | None) -> int:
        """Train on all but the last ``val_days`` of the training period, watch NDCG@10 on
        them, stop after ``patience`` epochs without improvement; returns the best epoch."""
        from recsys.evaluate import build_truth, evaluate, validation_split

        c = self.config
        val = validation_split(train, c.val_days)
        truth = build_truth(val, "novel")
        if truth.matrix.shape[0] == 0:
            return c.epochs
        inner = type(self)(replace(c, patience=0))
        inner._begin(val.train)
        inner.history_ = self.history_
        best = {"epoch": c.epochs, "ndcg": -1.0, "bad": 0}

        def watch(epoch: int) -> dict[str, Any]:
            ndcg = evaluate(inner, val, k=10, n_boot=0, truth=truth).metrics["ndcg"]
            if ndcg > best["ndcg"]:
                best.update(epoch=epoch + 1, ndcg=ndcg, bad=0)
            else:
                best["bad"] += 1
            return {"val_ndcg": ndcg, "stop": float(best["bad"] >= c.patience)}

        inner._train(val.train, inner.X_, c.epochs, callback, phase="validate", on_epoch=watch)
        self.val_ndcg_ = best["ndcg"]
        return int(best["epoch"])

    def _begin(self, train: OrderData) -> None:
        """The bookkeeping half of ``fit`` (ID maps, training matrix) without training."""
        self.customer_ids_ = train.customer_ids
        self.item_ids_ = train.item_ids
        self.X_ = train.matrix(self.weighting)
        self._index_maps()


def batches(n: int, size: int, rng: np.random.Generator, shuffle: bool = True):
    """Index batches over n examples."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    for s in range(0, n, size):
        yield order[s:s + size]

"""The base of the torch recommenders: fitting goes through the shared ``Trainer``.

torch is imported inside functions only, so importing recsys stays light.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback
from recsys.models.trainer import (
    Shard,
    StopTraining,
    Trainer,
    TrainingReport,
    TrainingRun,
    resolve_device,
)

# Learned state that describes the training itself, not the fitted model.
_TRAINING_RECORD = ("config", "best_epoch_", "val_ndcg_", "history_")


class TorchRecommender(BaseRecommender):
    """Subclasses provide ``start_training``: a ``TrainingRun`` over the training data (the
    public training protocol of ``recsys.models.trainer``).

    Their configs carry: epochs, patience, val_days, device, seed. After ``fit`` the model
    keeps what ``recommend`` and ``save`` need, and ``history_`` / ``best_epoch_`` say how
    training went; ``partial_`` is true when it was stopped before the end.
    """

    @abstractmethod
    def start_training(self, train: OrderData, device: Any,
                       rng: np.random.Generator) -> TrainingRun:
        """Build the features, network and optimiser for training on ``train``."""

    shard: Shard | None = None  # this process's part of data-parallel training, if any

    def fit(self, train: OrderData, *, callback: Callback | None = None,
            shard: Shard | None = None) -> TorchRecommender:
        """As every model's ``fit``; with ``shard`` this process is one of several training
        the model together (see ``recsys.distributed``)."""
        self.shard = shard
        return super().fit(train, callback=callback)

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        self.record_training(Trainer(callback, shard=self.shard).fit(self, train))

    def record_training(self, report: TrainingReport) -> None:
        """Keep how training went (``history_``, ``best_epoch_``, ``val_ndcg_``,
        ``partial_``); when Stop came during validation, the validation copy at its best
        epoch is the fitted model."""
        if report.validated is not None:
            self.take_over(report.validated)
        self.history_ = report.history
        self.best_epoch_ = report.best_epoch
        if report.val_ndcg is not None:
            self.val_ndcg_ = report.val_ndcg
        self.partial_ = report.stopped

    def size_settings(self, n_lines: int) -> dict[str, Any]:
        """Settings this model picks for itself when trained on ``n_lines`` order lines (none
        here). Tuning fixes them from the whole training period, so trials on its shorter
        validation window train the way the final fit will."""
        return {}

    def _training_config(self, train: OrderData) -> tuple[Any, str | None]:
        """The config to train on ``train`` with, and a note saying why it is not the asked
        one (None: it is). Models that pick settings by the data's size override this."""
        return self.config, None

    @contextmanager
    def trained_as(self, train: OrderData) -> Iterator[None]:
        """Train with ``_training_config``; the asked config is back afterwards (so a refit
        on other data chooses again), with the note added to the model's notes."""
        asked = self.config
        self.config, note = self._training_config(train)
        try:
            yield
        finally:
            self.config = asked
            if note:
                self.__dict__.setdefault("notes_", []).append(note)

    def progress_steps(self) -> int:
        return int(self.config.epochs)

    def refit_params(self) -> dict[str, Any]:
        """The epoch count chosen on the validation window, without choosing again."""
        self._check_fitted()
        return {**self.params(), "epochs": int(self.best_epoch_), "patience": 0}

    def take_over(self, other: TorchRecommender) -> None:
        """Take over another fit of this model (the validation run, when training stopped
        there) but keep this one's configuration and training record."""
        keep = {k: v for k, v in vars(self).items() if k in _TRAINING_RECORD}
        vars(self).clear()
        vars(self).update({**vars(other), **keep})


__all__ = ["Shard", "StopTraining", "TorchRecommender", "Trainer", "TrainingReport", "TrainingRun",
           "resolve_device"]

"""The training loop shared by the torch models, apart from the models themselves.

The trainer talks to a model only through its public training protocol
(``TrainableModel``): ``start_training`` returns a ``TrainingRun`` (the network, optimiser,
training tensors and random generator) that says how to train one epoch and what the fitted
model keeps; ``trained_as`` picks the settings for the data's size; ``bind`` sets the ID maps.
The ``Trainer`` owns the rest -- seeding, epochs, early stopping on a validation window at
the end of the training period, the refit, progress callbacks and Stop -- and returns a
``TrainingReport``; the model records it. Nothing of a run stays on the fitted model.

torch is imported inside functions only, so importing recsys stays light.
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from recsys.data import OrderData
from recsys.evaluate import build_truth, evaluate, validation_split
from recsys.models.base import Callback
from recsys.models.examples import PreparedPhase

Tick = Callable[[int, int], None]
OnEpoch = Callable[[int], dict[str, Any]]


class StopTraining(Exception):
    """Raised by a progress callback to stop training; the model keeps the best weights it
    has so far and is marked partial."""


def resolve_device(name: str):
    """'auto' is CUDA when it is there, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextmanager
def deterministic() -> Iterator[None]:
    """torch's deterministic kernels while a model trains, the caller's choice back after.
    With several math threads some CPU kernels (embedding backward among them) add up in the
    order the threads finish: the same seed gave other weights on big shops (3e-3 apart
    after two epochs on a 300k-line export), and a 30M-line bench NDCG of 0.0698 once and
    0.0688 the next time. Kernels with no deterministic version only warn."""
    import torch

    was = torch.are_deterministic_algorithms_enabled()
    warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn)


@dataclass(frozen=True)
class Shard:
    """This process's part of data-parallel training (``rank`` of ``world`` processes in a
    torch process group, e.g. Ray Train's): each trains on its share of every epoch's
    shuffled examples and gradients are averaged after each backward pass, so all hold the
    same weights and make the same early-stopping choices."""

    rank: int
    world: int

    def part(self, order: np.ndarray) -> np.ndarray:
        """This rank's equal share of a shuffled order (equal, so every rank takes the same
        number of steps and no collective waits forever)."""
        per = len(order) // self.world
        return order[self.rank * per:(self.rank + 1) * per]

    def average_gradients(self, params, sparse=()) -> None:
        """Every rank's gradients averaged, on every rank. Tables trained with sparse
        gradients (``sparse``, e.g. SparseAdam's) send only the rows their batch touched: each
        rank gathers all ranks' (row, gradient) pairs, so a step moves the same rows
        everywhere, and no rank averages a dense customers x dim table per step."""
        ids = {id(p) for p in sparse}
        params = [p for p in params if p.requires_grad]
        self._average_dense([p for p in params if id(p) not in ids])
        tables = [p for p in params if id(p) in ids]
        if tables:
            self._average_sparse(tables)

    def _average_dense(self, params) -> None:
        import torch
        import torch.distributed as dist

        if not params:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        at = 0
        for p, g in zip(params, grads, strict=True):
            p.grad = flat[at:at + g.numel()].view_as(g).clone()
            at += g.numel()

    def _average_sparse(self, tables) -> None:
        import torch
        import torch.distributed as dist

        grads = [_row_sparse(p) for p in tables]
        counts = torch.tensor([len(rows) for rows, _ in grads], dtype=torch.int64)
        every = [torch.zeros_like(counts) for _ in range(self.world)]
        dist.all_gather(every, counts)  # collectives want equal sizes: pad to the most
        most = torch.stack(every).max(0).values.tolist()
        for t, (p, (rows, vals), m) in enumerate(zip(tables, grads, most, strict=True)):
            pad_r = torch.zeros(m, dtype=torch.int64)
            pad_v = torch.zeros((m, *p.shape[1:]), dtype=vals.dtype)
            pad_r[:len(rows)], pad_v[:len(rows)] = rows, vals
            all_r = [torch.empty_like(pad_r) for _ in range(self.world)]
            all_v = [torch.empty_like(pad_v) for _ in range(self.world)]
            dist.all_gather(all_r, pad_r)
            dist.all_gather(all_v, pad_v)
            n = [int(c[t]) for c in every]
            rows = torch.cat([r[:k] for r, k in zip(all_r, n, strict=True)])
            vals = torch.cat([v[:k] for v, k in zip(all_v, n, strict=True)]) / self.world
            p.grad = torch.sparse_coo_tensor(rows[None], vals, p.shape).coalesce()

    def least(self, n: int) -> int:
        """The smallest ``n`` of all ranks."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([n], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def agree(self, flag: bool) -> bool:
        """True on every rank when it is true on any (e.g. 'stop now')."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)


def _row_sparse(p):
    """A table's gradient as (rows, their gradients); none when the batch missed it."""
    import torch

    if p.grad is None:
        return torch.zeros(0, dtype=torch.int64), torch.zeros((0, *p.shape[1:]), dtype=p.dtype)
    g = p.grad.coalesce()
    return g.indices()[0], g.values()


class TrainingRun(ABC):
    """One training pass: everything it needs that the fitted model does not keep."""

    net: Any  # the torch module being trained (the model keeps it afterwards)
    shard: Shard | None = None  # set by the Trainer for data-parallel training

    @abstractmethod
    def run_epoch(self, epoch: int, tick: Tick) -> float:
        """One pass over the training examples; returns the mean loss."""

    @abstractmethod
    def finish(self) -> None:
        """Write what inference needs (vectors, biases, the network) onto the model."""

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.net.state_dict())

    def restore(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state)


class TrainableModel(Protocol):
    """What the trainer needs of a model (``TorchRecommender`` provides it)."""

    config: Any  # a frozen config with epochs, patience, val_days, device, seed
    shard: Shard | None

    def bind(self, train: OrderData) -> None:
        """The ID maps and training matrix of ``train`` (the bookkeeping half of fit)."""

    def trained_as(self, train: OrderData) -> AbstractContextManager[None]:
        """While open, ``config`` is the one to train on ``train`` with."""

    def start_training(self, train: OrderData, device: Any,
                       rng: np.random.Generator) -> TrainingRun:
        """The features, network and optimiser for training on ``train``."""


@dataclass
class TrainingReport:
    """How training went: every epoch's metrics (with its phase), the epoch count chosen on
    the validation window, its NDCG there, and whether Stop ended it. ``validated`` is the
    copy trained on the validation window when Stop came during validation: the model takes
    it over, at its best epoch."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    val_ndcg: float | None = None
    stopped: bool = False
    validated: Any = None


class Trainer:
    """Trains a torch recommender: ``fit`` (choose the epochs on a validation window, then
    refit on everything) or ``train`` (a fixed number of epochs, optionally watched).

    ``callback(epoch, metrics)`` gets each epoch's metrics and, at most twice a second,
    ``{"progress": share}`` inside an epoch; both carry ``phase`` ('validate', 'fit' or
    'train') and ``of`` (the epochs planned for the phase, at most). Raising
    ``StopTraining`` from it stops training.
    Both return a ``TrainingReport``; ``history`` holds every epoch's metrics with its
    phase ('validate' or 'fit').
    """

    def __init__(self, callback: Callback | None = None, shard: Shard | None = None) -> None:
        self.callback = callback
        self.shard = shard
        self.history: list[dict[str, float]] = []
        self.stopped = False
        self.patience = 0  # of the validation running now (for the progress plan)

    # ------------------------------------------------------------------ public
    def fit(self, model: TrainableModel, train: OrderData) -> TrainingReport:
        """Early stopping on the last ``val_days`` of ``train`` (when ``patience`` > 0), then
        the chosen number of epochs on all of ``train``: its last weeks are the most telling."""
        report = TrainingReport(self.history)
        with model.trained_as(train):
            c = model.config
            report.best_epoch = c.epochs
            if c.patience > 0 and c.val_days > 0:
                inner = self._select_epochs(model, train, report)
                if self.stopped:  # Stop during validation: keep the best epoch seen so far
                    report.stopped, report.validated = True, inner
                    return report
                del inner  # its matrix and vectors need not live through the refit
            self._run(model, train, report.best_epoch, "fit")
        report.stopped = self.stopped
        return report

    def train(self, model: TrainableModel, data: OrderData, epochs: int,
              on_epoch: OnEpoch | None = None, phase: str = "train") -> TrainingReport:
        """``epochs`` epochs on ``data`` with no validation of its own. ``on_epoch(epoch)``,
        if given, runs after each epoch on the model as it stands (its vectors refreshed) and
        returns metrics to report; ``{"stop": True}`` in them ends training."""
        model.bind(data)
        with model.trained_as(data):
            self._run(model, data, epochs, phase, on_epoch)
        return TrainingReport(self.history, epochs, stopped=self.stopped)

    # ------------------------------------------------------------------ loop
    def _run(self, model: TrainableModel, data: OrderData, epochs: int, phase: str,
             on_epoch: OnEpoch | None = None) -> None:
        import torch

        device = resolve_device(model.config.device)
        best = None
        with deterministic(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(model.config.seed)
            run = model.start_training(data, device, np.random.default_rng(model.config.seed))
            run.shard = self.shard
            try:
                for epoch in range(epochs):
                    control = self._epoch(run, epoch, phase, epochs, on_epoch)
                    if control.get("improved"):
                        best = run.snapshot()
                    if control.get("stop"):
                        break
            except StopTraining:
                self.stopped = True
                if best is not None:
                    run.restore(best)
        run.finish()

    def _epoch(self, run: TrainingRun, epoch: int, phase: str, epochs: int,
               on_epoch: OnEpoch | None) -> dict[str, Any]:
        """Train, watch and report one epoch; returns the watcher's control flags."""
        start = time.perf_counter()
        loss = run.run_epoch(epoch, self._ticker(epoch, phase, epochs))
        metrics: dict[str, Any] = {"loss": loss, "seconds": time.perf_counter() - start}
        control: dict[str, Any] = {}
        if on_epoch is not None:
            run.finish()
            watched = on_epoch(epoch)
            control = {k: watched.pop(k) for k in ("stop", "improved") if k in watched}
            metrics.update(watched)
        self.history.append({"epoch": epoch + 1, "phase": phase, **metrics})
        if self.callback is not None:
            self.callback(epoch + 1, {**metrics, "phase": phase, "of": epochs})
        return control

    def _ticker(self, epoch: int, phase: str, epochs: int) -> Tick:
        """Progress inside an epoch, at most twice a second, so a page never looks frozen."""
        last = [time.perf_counter()]

        def tick(done: int, total: int) -> None:
            now = time.perf_counter()
            if self.callback is not None and now - last[0] > 0.5:
                last[0] = now
                self.callback(epoch + 1, {"progress": done / max(total, 1), "phase": phase,
                                          "of": epochs, "patience": self.patience})

        return tick

    def _select_epochs(self, model: TrainableModel, train: OrderData,
                       report: TrainingReport) -> TrainableModel:
        """Train a copy on all but the last ``val_days`` of the training period, watch
        NDCG@10 on them, stop after ``patience`` epochs without improvement. Sets the
        report's ``best_epoch`` and ``val_ndcg``; returns the copy (at its best epoch)."""
        c = model.config
        if isinstance(train, PreparedPhase):  # a data-parallel worker's, prepared for it
            val, truth = train.validation()
        else:
            val = validation_split(train, c.val_days)
            truth = build_truth(val, "novel")
        inner = type(model)(replace(c, patience=0))
        inner.shard = model.shard
        if truth.matrix.shape[0] == 0:
            return inner
        best = {"epoch": c.epochs, "ndcg": -1.0, "bad": 0}

        def watch(epoch: int) -> dict[str, Any]:
            ndcg = evaluate(inner, val, k=10, n_boot=0, truth=truth).metrics["ndcg"]
            improved = ndcg > best["ndcg"]
            if improved:
                best.update(epoch=epoch + 1, ndcg=ndcg, bad=0)
            else:
                best["bad"] += 1
            return {"val_ndcg": ndcg, "stop": best["bad"] >= c.patience, "improved": improved,
                    "best": best["epoch"], "patience": c.patience}  # for the progress plan

        inner.bind(val.train)
        self.patience = c.patience
        self._run(inner, val.train, c.epochs, "validate", watch)
        report.best_epoch, report.val_ndcg = int(best["epoch"]), best["ndcg"]
        return inner

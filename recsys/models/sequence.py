"""What the history-aware torch models (two-tower, NCF) share.

Each training order is an example seen from just before it: the customer's earlier items
(recency weighted), RFM statistics as they stood, country, and the week (for product trends).
At inference every customer is seen from the end of the training period.

``SequenceFeatures`` is what a fitted model keeps to turn customers and products into inputs
(vocabularies, scalers, 'now'); ``SequenceRun`` is what only training needs (the examples as
tensors, the optimiser, the random generator) and is dropped when training ends.
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from recsys.data import OrderData
from recsys.models import features as fx
from recsys.models.examples import PreparedPhase, SequenceFeatures, build_examples
from recsys.models.stored import ModelFileError
from recsys.models.torch_base import TorchRecommender
from recsys.models.trainer import Tick, TrainingRun


def batches(n: int, size: int, rng: np.random.Generator, shuffle: bool = True):
    """Index batches over n examples."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    for s in range(0, n, size):
        yield order[s:s + size]


# Customers + products above which the embedding tables train with sparse gradients.
SPARSE_ROWS = 100_000


def sparse_tables(net: nn.Module) -> list[nn.Parameter]:
    """The embedding tables of ``net`` built with sparse gradients."""
    return [m.weight for m in net.modules()
            if isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.sparse]


def optimisers(net: nn.Module, lr: float, weight_decay: float) -> list[torch.optim.Optimizer]:
    """AdamW for the dense weights, SparseAdam for the tables built with sparse gradients
    (their weight decay is dropped: it would touch every row)."""
    tables = sparse_tables(net)
    ids = {id(p) for p in tables}
    dense = [p for p in net.parameters() if id(p) not in ids]
    opts: list[torch.optim.Optimizer] = [
        torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay, fused=True)]
    if tables:
        opts.append(torch.optim.SparseAdam(tables, lr=lr))
    return opts


class OrderSequenceModel(TorchRecommender):
    """Inference helpers over ``features_``; configs need ``history_len`` and
    ``history_decay``. Subclasses give the purchase weights behind ``recommend_customers``."""

    # Whole orders per step that a big shop trains on when the config leaves it to the model
    # (``batch_orders`` 0, more training lines than ``whole_orders_above``); 0: never.
    AUTO_ORDERS = 0

    def size_settings(self, n_lines: int) -> dict[str, Any]:
        """A big shop trains on whole orders unless told otherwise: there a pass is ~5x
        faster and ranks as well as random lines, while on small shops such as Online
        Retail random lines rank better (figures in ``recsys.models.two_tower_training``),
        hence a threshold rather than a new default."""
        c = self.config
        above = getattr(c, "whole_orders_above", 0)
        if not (self.AUTO_ORDERS and not c.batch_orders and above and n_lines > above):
            return {}
        return {"batch_orders": self.AUTO_ORDERS}

    def _training_config(self, train: OrderData) -> tuple[Any, str | None]:
        n = train.n_lines
        if not (pick := self.size_settings(n)):
            return self.config, None
        return replace(self.config, **pick), (
            f"whole orders because the shop has {n:,} training lines, more than "
            f"whole_orders_above ({self.config.whole_orders_above:,}); set batch_orders to "
            "choose")

    @abstractmethod
    def _row_log_norm(self, rows: np.ndarray) -> np.ndarray:
        """log of the sum over all products of a customer's unnormalised purchase weights."""

    @abstractmethod
    def _column_log_weight(self, j: int) -> np.ndarray:
        """Every customer's log unnormalised purchase weight for product j."""

    @abstractmethod
    def new_net(self) -> torch.nn.Module:
        """The network, untrained, sized for this model's customers and products."""

    def _item_column(self, j: int) -> np.ndarray:
        """Expected purchases of product j per customer: the model's probability of j among
        all products times how much the customer buys lately. (Ranking by the raw score
        would ignore that an inactive customer buys nothing at all.) The per-customer
        normaliser takes one pass over all scores, so it is computed once per fitted model."""
        if getattr(self, "log_norm_", None) is None:
            n = len(self.customer_ids_)
            self.log_norm_ = np.concatenate([self._row_log_norm(np.arange(s, min(s + 1024, n)))
                                             for s in range(0, n, 1024)])
        share = np.exp(self._column_log_weight(j) - self.log_norm_)
        return (share * self.features_.activity).astype(np.float32)

    def customer_tensors(self, ci: fx.CustomerInputs) -> dict[str, torch.Tensor]:
        dev, c, f = self.device_, self.config, self.features_
        w = np.where(ci.hist >= 0, np.exp(-c.history_decay * ci.age), 0.0)
        return {"cid": torch.tensor(ci.cust + 1, device=dev),
                "country": torch.tensor(ci.country, device=dev),
                "rfm": torch.tensor((ci.rfm - f.rfm_mu) / f.rfm_sd, device=dev),
                "hist": torch.tensor(ci.hist + 1, device=dev),
                "hist_w": torch.tensor(w, dtype=torch.float32, device=dev),
                "week": torch.tensor(ci.week, device=dev)}

    def item_tensors(self, side: fx.ItemSide, iid: np.ndarray) -> dict[str, torch.Tensor]:
        dev = self.device_
        return {"iid": torch.tensor(iid, device=dev),
                "cat": torch.tensor(side.category, device=dev),
                "price": torch.tensor(side.price, device=dev),
                "tokens": torch.tensor(side.tokens, device=dev)}

    def _history_inputs(self, item_ids, country: str | None) -> tuple[fx.CustomerInputs,
                                                                      np.ndarray]:
        """Inputs for a customer unknown to the model, from the products they bought."""
        L = self.config.history_len
        codes = self._items(item_ids, strict=False)
        codes = codes[codes >= 0][-L:]
        hist = np.full((1, L), -1, dtype=np.int64)
        age = np.zeros((1, L), dtype=np.float32)
        if len(codes):
            hist[0, -len(codes):] = codes
            age[0, -len(codes):] = 1.0
        now = np.array([np.datetime64(self.features_.now)])
        return fx.CustomerInputs(np.array([-1]), self.features_.country_vocab.encode([country]),
                                 fx.rfm(now, now, now, np.ones(1), np.zeros(1)), hist, age,
                                 np.array([0])), codes

    def _feature_state(self) -> dict[str, np.ndarray]:
        self._item_column(0)  # the per-customer normaliser: one pass, saved so pages skip it
        return {**self.features_.arrays(), "best_epoch": np.array([self.best_epoch_]),
                "log_norm": self.log_norm_}

    def _set_feature_state(self, arrays) -> None:
        n_c, n_i = len(self.customer_ids_), len(self.item_ids_)
        cats = arrays.get("cat_vocab", (None,), "U")
        checked = {"cat_vocab": cats, "country_vocab": arrays.get("country_vocab", (None,), "U"),
                   "price_edges": arrays.get("price_edges", (None,)),
                   "rfm_mu": arrays.get("rfm_mu", (4,)),
                   "rfm_sd": arrays.get("rfm_sd", (4,), low=1e-9),
                   "now": arrays.get("now", (1,), "M"),
                   "item_cat": arrays.get("item_cat", (n_i + 1,), "i", low=0,
                                          high=len(cats) + 1),
                   "activity": arrays.get("activity", (n_c,), low=0)}
        self.features_ = SequenceFeatures.from_arrays(checked)
        self.item_cat_ = torch.tensor(self.features_.item_cat)
        self.best_epoch_ = int(arrays.get("best_epoch", (1,), "i", low=0)[0])
        self.log_norm_ = arrays.get("log_norm", (n_c,)) if "log_norm" in arrays else None

    def save(self, path) -> None:
        """The base folder (config, arrays, ID maps) plus the network's state dict."""
        super().save(path)
        torch.save(self.net_.state_dict(), Path(path) / "net.pt")

    @classmethod
    def load(cls, path):
        """Restore; the state dict is read with ``weights_only=True`` (no pickle)."""
        model = super().load(path)
        model.device_ = torch.device("cpu")
        model.net_ = model.new_net()
        try:
            state = torch.load(Path(path) / "net.pt", map_location="cpu", weights_only=True)
            model.net_.load_state_dict(state)
        except FileNotFoundError:
            raise ModelFileError(f"{Path(path).name}: net.pt is missing.") from None
        except Exception as exc:  # noqa: BLE001 (torch raises many kinds for a bad file)
            raise ModelFileError(f"{Path(path).name}: net.pt is damaged or does not fit the "
                                 f"model ({str(exc).splitlines()[0][:200]}).") from None
        if not all(torch.isfinite(t).all() for t in model.net_.state_dict().values()):
            raise ModelFileError(f"{Path(path).name}: net.pt holds values that are not "
                                 "finite numbers.")
        model.net_.eval()
        return model


def concat_ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """starts[0]..ends[0]-1, starts[1]..ends[1]-1, ... as one array."""
    counts = ends - starts
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(int(counts.sum()))


class SequenceRun(TrainingRun):
    """Training examples: one (order, bought item) pair per training line, the customer
    seen from just before the order. Subclasses add the network, optimiser and ``step``."""

    items_per_order = 0  # at most this many random lines of an order per epoch (0: all)

    def __init__(self, model: OrderSequenceModel, train: OrderData | Any, device: Any,
                 rng: np.random.Generator) -> None:
        model.device_ = device
        self.model, self.device, self.rng = model, device, rng
        # A data-parallel worker's phase brings its share of examples built by the driver.
        ex = (train.examples() if isinstance(train, PreparedPhase)
              else build_examples(model.customer_ids_, model.item_ids_, train,
                                  model.config.history_len))
        model.features_ = ex.features
        model.item_cat_ = torch.tensor(ex.features.item_cat, device=device)
        model.log_norm_ = None
        self.items_side, self.now_inputs = ex.items_side, ex.now_inputs
        self.trend_table, self.item_freq = ex.trend_table, ex.item_freq
        self.pair_order, self.pair_item = ex.pair_order, ex.pair_item
        self.presharded = ex.sharded  # the examples are this rank's part already
        self.ex = model.customer_tensors(ex.orders)
        self.item_t = model.item_tensors(self.items_side, np.arange(len(model.item_ids_)) + 1)
        self.trend_t = torch.tensor(self.trend_table, device=device)

    @abstractmethod
    def step(self, orders: np.ndarray, items: np.ndarray) -> float:
        """One optimisation step on a batch of (order, bought item) pairs; returns the loss."""

    def order_step(self, orders: np.ndarray, row: np.ndarray, items: np.ndarray) -> float:
        """One step on whole orders: ``orders`` [R], then each line's order (a row of
        ``orders``) and product [M]. For runs that can take ``batch_orders``."""
        raise NotImplementedError(f"{self.model.name} does not train on whole orders")

    def note_whole_orders(self, detail: str = "") -> None:
        """Say in the model's notes that it trained on whole orders (once: the validation
        and refit phases both start a run)."""
        c = self.model.config
        note = (f"trained on whole orders ({c.batch_orders:,} per step{detail}) rather than "
                "random lines")
        notes = self.model.__dict__.setdefault("notes_", [])
        if note not in notes:
            notes.append(note)

    def run_epoch(self, epoch: int, tick: Tick) -> float:
        if getattr(self.model.config, "batch_orders", 0):
            return self._order_epoch(tick)
        self.net.train()
        total, n = 0.0, 0
        pairs = self._epoch_pairs()
        size = self.model.config.batch_size
        split = self.shard is not None and not self.presharded
        if split:  # the same shuffle on every rank, each its own part
            pairs = pairs[self.shard.part(self.rng.permutation(len(pairs)))]
        steps = self._agreed_steps(-(-len(pairs) // size))
        for idx in itertools.islice(batches(len(pairs), size, self.rng, shuffle=not split),
                                    steps):
            sel = pairs[idx]
            total += self.step(self.pair_order[sel], self.pair_item[sel]) * len(idx)
            n += len(idx)
            tick(n, len(pairs))
        return total / max(n, 1)

    def _order_epoch(self, tick: Tick) -> float:
        """An epoch of ``batch_orders`` whole orders per step (``order_step``)."""
        per_step = self.model.config.batch_orders
        self.net.train()
        pairs = self._epoch_pairs()  # line indices, each order's lines together
        line_order = self.pair_order[pairs]
        starts = np.flatnonzero(np.r_[True, line_order[1:] != line_order[:-1]])
        ends = np.r_[starts[1:], len(pairs)]
        picked = self.rng.permutation(len(starts))  # the same on every rank
        if self.shard is not None and not self.presharded:
            picked = self.shard.part(picked)
        picked = picked[:self._agreed_steps(-(-len(picked) // per_step)) * per_step]
        todo, total, n = int((ends - starts)[picked].sum()), 0.0, 0
        for s in range(0, len(picked), per_step):
            b = picked[s:s + per_step]
            lines = pairs[concat_ranges(starts[b], ends[b])]
            row = np.repeat(np.arange(len(b)), ends[b] - starts[b])
            total += self.order_step(line_order[starts[b]], row, self.pair_item[lines]) \
                * len(lines)
            n += len(lines)
            tick(n, todo)
        return total / max(n, 1)

    def _agreed_steps(self, steps: int) -> int:
        """Every rank takes the same number of steps (else a gradient average waits
        forever): the fewest any rank has, when each trains on its own share of examples."""
        return self.shard.least(steps) if self.shard is not None and self.presharded \
            else steps

    def _epoch_pairs(self) -> np.ndarray:
        """At most ``items_per_order`` random lines of each order this epoch (0: all), so
        that big wholesale orders need not swamp the loss."""
        cap = self.items_per_order
        if cap <= 0:
            return np.arange(len(self.pair_item))
        prio = self.rng.random(len(self.pair_item))
        order = np.lexsort((prio, self.pair_order))
        starts = np.searchsorted(self.pair_order[order], self.pair_order[order], "left")
        return np.sort(order[np.arange(len(order)) - starts < cap])

    def update(self, loss: torch.Tensor) -> float:
        """Backward and one step of every optimiser in ``opts`` (dense and sparse)."""
        for opt in self.opts:
            opt.zero_grad()
        loss.backward()
        if self.shard is not None:
            self.shard.average_gradients(self.net.parameters(), sparse_tables(self.net))
        for opt in self.opts:
            opt.step()
        return float(loss.detach())

    def now_tensors(self) -> dict[str, torch.Tensor]:
        """Every customer's inputs at the end of the training period."""
        return self.model.customer_tensors(self.now_inputs)

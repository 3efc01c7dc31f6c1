"""Training data shared by the history-aware torch models (two-tower, NCF).

Each training order is an example seen from just before it: the customer's earlier items
(recency weighted), RFM statistics as they stood, country, and the week (for product trends).
At inference every customer is seen from the end of the training period.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from recsys.data import OrderData
from recsys.models import features as fx
from recsys.models.torch_base import TorchRecommender, batches


class OrderSequenceModel(TorchRecommender):
    """Adds ``_prepare_features`` and the tensors built from it; configs need
    ``history_len`` and ``history_decay``."""

    def _prepare_features(self, train: OrderData) -> None:
        c = self.config
        self._vocabs(train)
        h = fx.order_history(train)
        self.start_ = train.interactions["timestamp"].min().normalize()
        self.now_ = train.interactions["timestamp"].max()
        country = self.country_vocab_.encode(
            train.customers.set_index("customer_id").reindex(self.customer_ids_)["country"])
        ex = fx.order_inputs(h, country, self.start_, c.history_len)
        self.rfm_mu_, self.rfm_sd_ = ex.rfm.mean(0), ex.rfm.std(0) + 1e-6
        self.now_inputs_ = fx.current_inputs(h, len(self.customer_ids_), country, self.start_,
                                             self.now_, c.history_len)
        weekly = fx.weekly_buyers(train, self.start_)
        self.trend_table_ = fx.trend_table(weekly)
        self.now_inputs_.week[:] = len(weekly)
        # One (order, bought item) pair per training line.
        self.pair_order_ = np.repeat(np.arange(len(h.cust)), np.diff(h.item_ptr))
        self.pair_item_ = h.items
        self.item_freq_ = np.bincount(h.items, minlength=len(self.item_ids_)) / len(h.items)
        self.ex_ = self._customer_tensors(ex)
        self.item_t_ = self._item_tensors(self.items_side_, np.arange(len(self.item_ids_)) + 1)
        self.trend_t_ = torch.tensor(self.trend_table_, device=self.device_)
        # Ranking customers for a product needs how much each buys, not only what.
        self.activity_ = fx.recent_activity(train)
        self._log_norm = None

    def _step(self, orders: np.ndarray, items: np.ndarray) -> float:
        """One optimisation step on a batch of (order, bought item) pairs; returns the loss."""
        raise NotImplementedError

    def _row_log_norm(self, rows: np.ndarray) -> np.ndarray:
        """log of the sum over all products of a customer's unnormalised purchase weights."""
        raise NotImplementedError

    def _column_log_weight(self, j: int) -> np.ndarray:
        """Every customer's log unnormalised purchase weight for product j."""
        raise NotImplementedError

    def _item_column(self, j: int) -> np.ndarray:
        """Expected purchases of product j per customer: the model's probability of j among
        all products times how much the customer buys lately. (Ranking by the raw score
        would ignore that an inactive customer buys nothing at all.) The per-customer
        normaliser takes one pass over all scores, so it is computed once per fitted model."""
        if self._log_norm is None:
            n = len(self.customer_ids_)
            self._log_norm = np.concatenate([self._row_log_norm(np.arange(s, min(s + 1024, n)))
                                             for s in range(0, n, 1024)])
        share = np.exp(self._column_log_weight(j) - self._log_norm)
        return (share * self.activity_).astype(np.float32)

    def _run_epoch(self, epoch: int) -> float:
        self.net_.train()
        total, n = 0.0, 0
        pairs = self._epoch_pairs()
        for idx in batches(len(pairs), self.config.batch_size, self._rng):
            sel = pairs[idx]
            total += self._step(self.pair_order_[sel], self.pair_item_[sel]) * len(idx)
            n += len(idx)
            self._tick(n, len(pairs))
        return total / max(n, 1)

    def _epoch_pairs(self) -> np.ndarray:
        """At most ``items_per_order`` random lines of each order this epoch (0: all), so
        that big wholesale orders need not swamp the loss."""
        cap = getattr(self.config, "items_per_order", 0)
        if cap <= 0:
            return np.arange(len(self.pair_item_))
        prio = self._rng.random(len(self.pair_item_))
        order = np.lexsort((prio, self.pair_order_))
        starts = np.searchsorted(self.pair_order_[order], self.pair_order_[order], "left")
        return np.sort(order[np.arange(len(order)) - starts < cap])

    def _update(self, loss: torch.Tensor) -> float:
        self.opt_.zero_grad()
        loss.backward()
        self.opt_.step()
        return float(loss.detach())

    def _vocabs(self, train: OrderData) -> None:
        self.cat_vocab_ = fx.Vocab.fit(train.products["category"])
        self.country_vocab_ = fx.Vocab.fit(train.customers["country"])
        self.price_edges_ = fx.price_edges(train.products["price"].to_numpy(dtype=float))
        self.items_side_ = fx.item_side(train.products, self.item_ids_, self.cat_vocab_,
                                        self.price_edges_)
        self.item_cat_ = torch.tensor(np.r_[0, self.items_side_.category],
                                      device=self.device_)  # by item code + 1

    def _customer_tensors(self, ci: fx.CustomerInputs) -> dict[str, torch.Tensor]:
        dev, c = self.device_, self.config
        w = np.where(ci.hist >= 0, np.exp(-c.history_decay * ci.age), 0.0)
        return {"cid": torch.tensor(ci.cust + 1, device=dev),
                "country": torch.tensor(ci.country, device=dev),
                "rfm": torch.tensor((ci.rfm - self.rfm_mu_) / self.rfm_sd_, device=dev),
                "hist": torch.tensor(ci.hist + 1, device=dev),
                "hist_w": torch.tensor(w, dtype=torch.float32, device=dev),
                "week": torch.tensor(ci.week, device=dev)}

    def _item_tensors(self, side: fx.ItemSide, iid: np.ndarray) -> dict[str, torch.Tensor]:
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
        now = np.array([np.datetime64(self.now_)])
        return fx.CustomerInputs(np.array([-1]), self.country_vocab_.encode([country]),
                                 fx.rfm(now, now, now, np.ones(1), np.zeros(1)), hist, age,
                                 np.array([0])), codes

    def _feature_state(self) -> dict[str, np.ndarray]:
        return {"cat_vocab": self.cat_vocab_.values, "country_vocab": self.country_vocab_.values,
                "price_edges": self.price_edges_, "rfm_mu": self.rfm_mu_,
                "rfm_sd": self.rfm_sd_, "now": np.array([np.datetime64(self.now_)]),
                "best_epoch": np.array([self.best_epoch_]),
                "item_cat": self.item_cat_.cpu().numpy(), "activity": self.activity_}

    def _set_feature_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.cat_vocab_ = fx.Vocab(arrays["cat_vocab"])
        self.country_vocab_ = fx.Vocab(arrays["country_vocab"])
        self.price_edges_ = arrays["price_edges"]
        self.rfm_mu_, self.rfm_sd_ = arrays["rfm_mu"], arrays["rfm_sd"]
        self.now_ = pd.Timestamp(arrays["now"][0])
        self.best_epoch_ = int(arrays["best_epoch"][0])
        self.item_cat_ = torch.tensor(arrays["item_cat"])
        self.activity_ = arrays["activity"]
        self._log_norm = None

    def save(self, path) -> None:
        """The base folder (config, arrays, ID maps) plus the network's state dict."""
        super().save(path)
        torch.save(self.net_.state_dict(), Path(path) / "net.pt")

    @classmethod
    def load(cls, path):
        """Restore; the state dict is read with ``weights_only=True`` (no pickle)."""
        model = super().load(path)
        model.device_ = torch.device("cpu")
        model.net_ = model._new_net()
        state = torch.load(Path(path) / "net.pt", map_location="cpu", weights_only=True)
        model.net_.load_state_dict(state)
        model.net_.eval()
        return model

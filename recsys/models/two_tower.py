"""Two-tower retrieval model with side features and cold start (Yi et al. 2019).

Customer tower: ID embedding (dropped out at random so the tower also works without it),
country, RFM statistics and a recency-weighted pool of the items bought before. Product tower:
ID embedding (dropped out too), category, price bucket and hashed name tokens. The towers meet
in a cosine / temperature dot product, trained with in-batch sampled softmax and the log-Q
correction; a learned bias on each product's recent sales (its trend) is added to the logits.
Training examples are the orders themselves, each seen from the history before it: random
order lines per step, or (``batch_orders`` > 0, and by default on shops with more than
``whole_orders_above`` training lines) whole orders per step, each order's customer through
the tower once and every line scored against one shared sample of the batch's products —
about 5x faster epochs on large shops (see ``recsys.models.two_tower_training``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from recsys.data import OrderData
from recsys.models import features as fx
from recsys.models.sequence import OrderSequenceModel
from recsys.models.two_tower_training import TwoTowerRun


@dataclass(frozen=True)
class TwoTowerConfig:
    """Hyper-parameters; epochs is the cap when early stopping (patience > 0) is on."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"dim": (1, 1024), "hidden": (1, 8192), "history_len": (1, 1000),
                               "history_decay": (0, None), "id_dropout": (0, 1),
                               "dropout": (0, 0.99), "temperature": (1e-4, 100),
                               "epochs": (1, 1000), "batch_size": (2, 1 << 20),
                               "items_per_order": (0, None), "lr": (1e-7, 10),
                               "weight_decay": (0, None), "patience": (0, 1000),
                               "val_days": (0, 3650), "batch_orders": (0, 1 << 20),
                               "whole_orders_above": (0, None)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "dim": "Vector size — length of the customer and product vectors",
        "hidden": "Hidden layer size",
        "history_len": "Purchases remembered per customer",
        "history_decay": "Forgetting — how fast older purchases fade (0 = never)",
        "id_dropout": "Feature-only training — share of the time customers and products are "
            "seen by their features alone (what lets it score new ones)",
        "dropout": "Dropout — regularisation inside the towers",
        "temperature": "Temperature — lower = sharper preferences",
        "logq": "Popularity correction — stops best sellers from dominating training",
        "trend": "Use sales trends",
        "repeat": "Repeat-purchase bonus",
        "epochs": "Max passes — the most passes over the data (fewer if validation says so)",
        "batch_size": "Batch size — order lines per training step (with whole-order batches: "
            "the sampled products each line is scored against)",
        "batch_orders": "Whole orders per step — 0 = random order lines (whole orders above "
            "the next setting); e.g. 1,024 for about 5x faster passes on shops with millions "
            "of lines (check the holdout: on small shops it can rank worse)",
        "items_per_order": "Lines per order per pass — 0 = all; caps huge wholesale orders",
        "whole_orders_above": "Whole orders above — with 0 whole orders per step, shops with "
            "more training lines than this train on 1,024 whole orders per step (0 = never)",
        "lr": "Learning rate",
        "weight_decay": "Weight decay",
        "patience": "Patience — passes without improvement before stopping (0 = no validation)",
        "val_days": "Validation window (days) — the last days of training, used to choose passes",
        "device": "Device — 'auto' uses a GPU when there is one"}

    dim: int = 64
    hidden: int = 128
    history_len: int = 32
    history_decay: float = 0.15  # weight of an item bought k orders ago: exp(-decay * k)
    id_dropout: float = 0.5
    dropout: float = 0.0
    temperature: float = 0.07
    logq: bool = True
    trend: bool = True
    repeat: bool = True  # a learned bonus for products the customer bought before
    epochs: int = 30
    batch_size: int = 1024
    items_per_order: int = 0
    batch_orders: int = 0
    whole_orders_above: int = 2_000_000  # training lines (see OrderSequenceModel._training_config)
    lr: float = 4e-3
    weight_decay: float = 1e-6
    patience: int = 1
    val_days: float = 30.0
    device: str = "auto"
    seed: int = 0


def mlp(inp: int, hidden: int, out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inp, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, out))


class TwoTowerNet(nn.Module):
    """Shapes: B customers (or orders), N items, L history length, T name tokens, d dim."""

    def __init__(self, n_cust: int, n_items: int, n_country: int, n_cat: int, n_price: int,
                 n_tokens: int, dim: int, hidden: int, dropout: float, sparse: bool = False):
        super().__init__()
        # sparse: the big ID / history / token tables get row-sparse gradients (see
        # SPARSE_ROWS); the state dict is the same either way.
        self.cust_id = nn.Embedding(n_cust + 1, dim, sparse=sparse)  # row 0: unknown customer
        self.country = nn.Embedding(n_country, dim)
        self.rfm = nn.Linear(4, dim)
        self.hist = nn.EmbeddingBag(n_items + 1, dim, mode="sum", padding_idx=0,
                                    sparse=sparse)  # code + 1
        self.cust_mlp = mlp(4 * dim, hidden, dim, dropout)
        self.item_id = nn.Embedding(n_items + 1, dim, sparse=sparse)  # row 0: new product
        self.category = nn.Embedding(n_cat, dim)
        self.price = nn.Embedding(n_price, dim)
        self.tokens = nn.EmbeddingBag(n_tokens, dim, mode="sum", padding_idx=0, sparse=sparse)
        self.item_mlp = mlp(4 * dim, hidden, dim, dropout)
        self.trend = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
        self.repeat = nn.Parameter(torch.zeros(2))

    def customer(self, cid, country, rfm, hist, hist_w):
        """cid [B], country [B], rfm [B,4], hist [B,L], hist_w [B,L] -> [B,d] unit vectors."""
        pooled = self.hist(hist, per_sample_weights=hist_w)  # [B,d] weighted sum
        pooled = pooled / hist_w.sum(1, keepdim=True).clamp(min=1e-6)
        x = torch.cat([self.cust_id(cid), self.country(country), self.rfm(rfm), pooled], -1)
        return F.normalize(self.cust_mlp(x), dim=-1)

    def item(self, iid, cat, price, tokens):
        """iid [N], cat [N], price [N], tokens [N,T] -> [N,d] unit vectors."""
        n_tok = (tokens > 0).sum(1, keepdim=True).clamp(min=1)
        x = torch.cat([self.item_id(iid), self.category(cat), self.price(price),
                       self.tokens(tokens) / n_tok], -1)
        return F.normalize(self.item_mlp(x), dim=-1)

    def repeat_bias(self, h):
        """h [...] recency-weighted times the customer bought the product -> [...] bias."""
        return self.repeat[0] * torch.log1p(h) + self.repeat[1] * (h > 0).float()

    def trend_bias(self, table):
        """table [..., 2] log recent buyers -> [...] logit bias."""
        return self.trend(table).squeeze(-1)


class TwoTower(OrderSequenceModel):
    """See the module docstring. ``score_new_item`` and ``recommend_customers`` with a
    ``NewProduct`` give cold start for products; ``recommend_history`` for new customers."""

    name = "two_tower"
    Config = TwoTowerConfig
    AUTO_ORDERS = 1024

    def start_training(self, train: OrderData, device, rng: np.random.Generator) -> TwoTowerRun:
        return TwoTowerRun(self, train, device, rng)

    def new_net(self, sparse: bool = False) -> TwoTowerNet:
        c, f = self.config, self.features_
        return TwoTowerNet(len(self.customer_ids_), len(self.item_ids_),
                           len(f.country_vocab), len(f.cat_vocab),
                           fx.N_PRICE_BUCKETS + 2, fx.N_TOKEN_BUCKETS, c.dim, c.hidden,
                           c.dropout, sparse)

    # ------------------------------------------------------------------ inference
    def _repeat(self, hist: np.ndarray, w: np.ndarray) -> np.ndarray:
        """[m, n_items] repeat bonus from history codes/weights [m, L] (scores' scale)."""
        seen = np.zeros((len(hist), len(self.item_ids_) + 1), dtype=np.float32)
        np.add.at(seen, (np.repeat(np.arange(len(hist)), hist.shape[1]), hist.ravel() + 1),
                  w.ravel())
        seen = seen[:, 1:]
        return self.repeat_w_[0] * np.log1p(seen) + self.repeat_w_[1] * (seen > 0)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return (self.U_[rows] @ self.V_.T + self.bias_[None, :]
                + self._repeat(self.hist_now_[rows], self.hist_w_now_[rows]))

    def _row_log_norm(self, rows: np.ndarray) -> np.ndarray:
        logits = self._score_rows(rows).astype(np.float64) / self.config.temperature
        top = logits.max(1)
        return top + np.log(np.exp(logits - top[:, None]).sum(1))

    def _column_log_weight(self, j: int) -> np.ndarray:
        # Softmax logits of product j: its column of _score_rows, without the full matrix.
        w = np.where(self.hist_now_ == j, self.hist_w_now_, 0.0).sum(1)
        repeat = self.repeat_w_[0] * np.log1p(w) + self.repeat_w_[1] * (w > 0)
        col = self.U_ @ self.V_[j] + self.bias_[j] + repeat
        return col.astype(np.float64) / self.config.temperature

    def _item_vectors(self) -> np.ndarray:
        return self.V_

    def _customer_vectors(self) -> np.ndarray:
        return self.U_

    # ------------------------------------------------------------------ cold start
    @torch.no_grad()
    def score_new_item(self, name: str, category: str | None = None,
                       price: float | None = None) -> np.ndarray:
        """Scores of every training customer for a new product, from its name, category and
        price alone (its ID embedding is the 'unknown' row, as in ID dropout)."""
        self._check_fitted()
        f = self.features_
        side = fx.ItemSide(f.cat_vocab.encode([category]),
                           fx.price_bucket(np.array([np.nan if price is None else price],
                                                    dtype=float), f.price_edges),
                           fx.hash_tokens([name]))
        t = self.item_tensors(side, np.zeros(1, dtype=np.int64))
        v = self.net_.item(**t).cpu().numpy()[0]
        # A new product has no recent sales: its trend bias is that of zero buyers.
        zero = torch.zeros(1, 2, device=self.device_)
        bias = float(self.net_.trend_bias(zero)[0]) * self.config.temperature \
            if self.config.trend else 0.0
        # Same expected-purchases scale as _item_column: softmax share among the known
        # products plus this one, times recent activity.
        col = (self.U_ @ v + bias) / self.config.temperature
        out = np.empty(len(self.U_), dtype=np.float32)
        for s in range(0, len(out), 2048):
            rows = np.arange(s, min(s + 2048, len(out)))
            logits = self._score_rows(rows) / self.config.temperature
            top = np.maximum(logits.max(1), col[rows])
            denom = np.exp(logits - top[:, None]).sum(1) + np.exp(col[rows] - top)
            out[rows] = np.exp(col[rows] - top) / denom * f.activity[rows]
        return out

    @torch.no_grad()
    def recommend_history(self, item_ids, n: int = 10, country: str | None = None,
                          exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """A new customer scored from the products they bought (no ID embedding)."""
        self._check_fitted()
        ci, codes = self._history_inputs(item_ids, country)
        t = self.customer_tensors(ci)
        u = self.net_.customer(t["cid"], t["country"], t["rfm"], t["hist"], t["hist_w"])
        w = t["hist_w"].cpu().numpy()
        scores = (u.cpu().numpy() @ self.V_.T + self.bias_[None, :]
                  + self._repeat(ci.hist, w)).astype(np.float32)
        return self._history_top(scores, codes, n, exclude_seen)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, np.ndarray]:
        return {"U": self.U_, "V": self.V_, "bias": self.bias_, "hist_now": self.hist_now_,
                "hist_w_now": self.hist_w_now_, "repeat_w": self.repeat_w_,
                **self._feature_state()}

    def _set_state(self, arrays) -> None:
        n_c, n_i = len(self.customer_ids_), len(self.item_ids_)
        self.U_ = arrays.get("U", (n_c, self.config.dim))
        self.V_ = arrays.get("V", (n_i, self.config.dim))
        self.bias_ = arrays.get("bias", (n_i,))
        self.hist_now_ = arrays.get("hist_now", (n_c, self.config.history_len), "i", low=-1,
                                    high=n_i)
        self.hist_w_now_ = arrays.get("hist_w_now", self.hist_now_.shape)
        self.repeat_w_ = arrays.get("repeat_w", (2,))
        self._set_feature_state(arrays)


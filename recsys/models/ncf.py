"""Neural collaborative filtering: NeuMF (He et al. 2017) with negative sampling.

A GMF branch (element-wise product of customer and product embeddings) and an MLP branch
(concatenated embeddings through ReLU layers) fused by a final linear layer. The customer is
an ID embedding, behaviour features, or both: behaviour features are RFM statistics, the
customer's category shares and a recency-weighted pool of the products bought before, all taken
as they stood before each training order (no look-ahead). L2 on the embeddings used in a batch
and dropout keep the ID embeddings from memorising the training period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from recsys.data import OrderData
from recsys.models.sequence import SPARSE_ROWS, OrderSequenceModel, SequenceRun, optimisers

CUSTOMER_MODES = ("id", "features", "id+features")


@dataclass(frozen=True)
class NCFConfig:
    """``customer``: id | features | id+features. ``sampler``: uniform | popularity (counts
    to the power 0.75). ``loss``: bce | bpr."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"dim": (1, 1024), "negatives": (1, 1000), "dropout": (0, 0.99),
                               "history_len": (1, 1000), "history_decay": (0, None),
                               "epochs": (1, 1000), "batch_size": (2, 1 << 20), "lr": (1e-7, 10),
                               "patience": (0, 1000), "val_days": (0, 3650), "l2": (0, None),
                               "batch_orders": (0, 1 << 20),
                               "whole_orders_above": (0, None)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "dim": "Vector size",
        "customer": "Customer input — 'id', 'features' or both",
        "negatives": "Negative samples per purchase",
        "trend": "Use sales trends",
        "sampler": "Negative sampling — 'popularity' or 'uniform'",
        "loss": "Loss — 'bce' or 'bpr'",
        "dropout": "Dropout",
        "l2": "Regularisation",
        "history_len": "Purchases remembered",
        "history_decay": "Forgetting — how fast older purchases fade",
        "epochs": "Max passes",
        "batch_size": "Batch size — order lines per step (with whole orders: not used)",
        "batch_orders": "Whole orders per step — 0 = random order lines (whole orders above "
                        "the next setting); e.g. 256 for big shops: each order's customer "
                        "computed once",
        "whole_orders_above": "Whole orders above — with 0 whole orders per step, shops with "
            "more training lines than this train on 256 whole orders per step (0 = never)",
        "lr": "Learning rate",
        "patience": "Patience — passes without improvement before stopping (0 = no validation)",
        "val_days": "Validation window (days)",
        "device": "Device — 'auto' uses a GPU when there is one"}

    # Settings with fixed choices (forms offer exactly these).
    CHOICES: ClassVar[dict] = {"customer": CUSTOMER_MODES, "sampler": ("uniform", "popularity"),
                               "loss": ("bce", "bpr"), "device": ("auto", "cpu", "cuda")}

    dim: int = 32
    layers: tuple[int, ...] = (64, 32, 16)
    customer: str = "id+features"
    negatives: int = 4
    trend: bool = True  # add a learned bias on each product's recent sales
    sampler: str = "popularity"
    loss: str = "bce"
    dropout: float = 0.2
    l2: float = 1e-4
    history_len: int = 32
    history_decay: float = 0.15
    epochs: int = 20
    batch_size: int = 1024
    batch_orders: int = 0  # > 0: steps of this many whole orders instead of random lines
    whole_orders_above: int = 2_000_000  # training lines (see OrderSequenceModel._training_config)
    lr: float = 5e-3
    patience: int = 1
    val_days: float = 30.0
    device: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))  # JSON gives back a list
        if self.customer not in CUSTOMER_MODES:
            raise ValueError(f"customer must be one of {CUSTOMER_MODES}")
        if self.sampler not in ("uniform", "popularity") or self.loss not in ("bce", "bpr"):
            raise ValueError("sampler is uniform|popularity, loss is bce|bpr")


class NeuMF(nn.Module):
    """Shapes: B pairs, L history length, d embedding dim per branch."""

    def __init__(self, n_cust: int, n_items: int, n_cat: int, dim: int,
                 layers: tuple[int, ...], customer: str, dropout: float, sparse: bool = False):
        super().__init__()
        self.mode = customer
        # sparse: row-sparse gradients for the big tables (see SPARSE_ROWS); same state dict.
        self.cust_id = nn.Embedding(n_cust + 1, 2 * dim, sparse=sparse)  # [GMF | MLP] halves
        self.item = nn.Embedding(n_items + 1, 2 * dim, sparse=sparse)  # row 0: unknown
        self.hist = nn.EmbeddingBag(n_items + 1, 2 * dim, mode="sum", padding_idx=0,
                                    sparse=sparse)
        self.shares = nn.EmbeddingBag(n_cat, 2 * dim, mode="sum")  # linear in category shares
        self.rfm = nn.Linear(4, 2 * dim)
        sizes = (2 * dim, *layers)
        self.mlp = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:])
                                   for m in (nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout))])
        self.out = nn.Linear(dim + layers[-1], 1)
        self.trend = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
        self.dim = dim
        for emb in (self.cust_id, self.item, self.hist, self.shares):
            nn.init.normal_(emb.weight, std=0.05)  # N(0, 1) defaults swamp the MLP at start

    def customer(self, cid, rfm, hist, hist_w, hist_cat):
        """cid [B], rfm [B,4], hist/hist_w/hist_cat [B,L] -> [B,2d]."""
        parts = []
        if "id" in self.mode.split("+"):
            parts.append(self.cust_id(cid))
        if "features" in self.mode:
            norm = hist_w.sum(1, keepdim=True).clamp(min=1e-6)
            parts.append(self.hist(hist, per_sample_weights=hist_w) / norm
                         + self.shares(hist_cat, per_sample_weights=hist_w) / norm
                         + self.rfm(rfm))
        return torch.stack(parts).sum(0)

    def score(self, u, v):
        """u [B,2d], v [B,2d] (or broadcastable) -> [B] logits."""
        d = self.dim
        gmf = u[..., :d] * v[..., :d]
        mlp = self.mlp(torch.cat([u[..., d:], v[..., d:]], -1))
        return self.out(torch.cat([gmf, mlp], -1)).squeeze(-1)


class NCFRun(SequenceRun):
    """Training: each bought pair against sampled products (the loss lives here)."""

    def __init__(self, model: NCF, train: OrderData, device, rng) -> None:
        super().__init__(model, train, device, rng)
        c = model.config
        w = self.item_freq ** 0.75 if c.sampler == "popularity" \
            else np.ones(len(model.item_ids_))
        self.neg_cdf = np.cumsum(w / w.sum())
        # As two_tower: above SPARSE_ROWS customers + products dense Adam over the tables is
        # most of a step (30M-line export: 145 ms), so only the batch's rows move there.
        rows = len(model.customer_ids_) + len(model.item_ids_)
        sparse = rows > SPARSE_ROWS
        self.net = model.net_ = model.new_net(sparse).to(device)
        self.opts = (optimisers(self.net, c.lr, 0.0) if sparse
                     else [torch.optim.Adam(self.net.parameters(), lr=c.lr)])
        if c.batch_orders:
            self.note_whole_orders()

    def step(self, orders: np.ndarray, items: np.ndarray) -> float:
        """Each positive pair against ``negatives`` sampled products."""
        o = torch.tensor(orders, device=self.device)
        u = self.model.customer_vector({key: v[o] for key, v in self.ex.items()})  # [B,2d]
        return self._pairs_loss(u, self.ex["week"][o], items)

    def order_step(self, orders: np.ndarray, row: np.ndarray, items: np.ndarray) -> float:
        """Whole orders: each order's customer through the network once ([R,2d]), then each
        line (order ``row[m]``, product ``items[m]``) as in ``step``: the same loss."""
        o = torch.tensor(orders, device=self.device)
        r = torch.tensor(row, device=self.device)
        u = self.model.customer_vector({key: v[o] for key, v in self.ex.items()})  # [R,2d]
        return self._pairs_loss(u[r], self.ex["week"][o][r], items)

    def _pairs_loss(self, u: torch.Tensor, week: torch.Tensor, items: np.ndarray) -> float:
        """Lines of customers u [B,2d] (in weeks [B]) buying ``items`` [B], each against
        ``negatives`` products sampled here: one optimiser step; returns the loss."""
        m, c, dev, net = self.model, self.model.config, self.device, self.net
        k = c.negatives
        neg = np.searchsorted(self.neg_cdf, self.rng.random((len(items), k)))
        neg = np.minimum(neg, len(m.item_ids_) - 1)
        pos_v = net.item(torch.tensor(items + 1, device=dev))  # [B,2d]
        neg_v = net.item(torch.tensor(neg + 1, device=dev))  # [B,k,2d]
        s_pos = net.score(u, pos_v)  # [B]
        s_neg = net.score(u.unsqueeze(1).expand(-1, k, -1), neg_v)  # [B,k]
        if c.trend:
            s_pos = s_pos + net.trend(self.trend_t[week, torch.tensor(items)]).squeeze(-1)
            s_neg = s_neg + net.trend(
                self.trend_t[week.unsqueeze(1), torch.tensor(neg)]).squeeze(-1)
        if c.loss == "bpr":
            loss = -F.logsigmoid(s_pos.unsqueeze(1) - s_neg).mean()
        else:
            loss = (F.binary_cross_entropy_with_logits(s_pos, torch.ones_like(s_pos))
                    + k * F.binary_cross_entropy_with_logits(s_neg, torch.zeros_like(s_neg)))
            loss = loss / (1 + k)
        reg = (u.pow(2).sum(1).mean() + pos_v.pow(2).sum(1).mean()
               + neg_v.pow(2).sum(2).mean())
        self.update(loss + c.l2 * reg)
        return float(loss.detach())

    @torch.no_grad()
    def finish(self) -> None:
        m, net = self.model, self.net
        net.eval()
        now = self.now_tensors()
        m.U_ = torch.cat([m.customer_vector({k: v[s:s + 4096] for k, v in now.items()})
                          for s in range(0, len(now["cid"]), 4096)]).cpu().numpy()
        m.V_ = net.item.weight[1:].detach().cpu().numpy()
        now = torch.tensor(self.trend_table[-1], device=self.device)
        m.bias_ = (net.trend(now).squeeze(-1).cpu().numpy() if m.config.trend
                   else np.zeros(len(m.V_), np.float32))
        m.log_norm_ = None


class NCF(OrderSequenceModel):
    """NeuMF recommender; sampling and loss live in ``NCFRun``."""

    name = "ncf"
    Config = NCFConfig
    AUTO_ORDERS = 256

    def start_training(self, train: OrderData, device, rng: np.random.Generator) -> NCFRun:
        return NCFRun(self, train, device, rng)

    def new_net(self, sparse: bool = False) -> NeuMF:
        c = self.config
        return NeuMF(len(self.customer_ids_), len(self.item_ids_), len(self.features_.cat_vocab),
                     c.dim, c.layers, c.customer, c.dropout, sparse)

    def customer_vector(self, t: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net_.customer(t["cid"], t["rfm"], t["hist"], t["hist_w"],
                                  self.item_cat_[t["hist"]])

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def _score_vectors(self, U: np.ndarray) -> np.ndarray:
        """NeuMF scores of customer vectors U [m,2d] against every product: [m, n_items]."""
        V = torch.tensor(self.V_)
        out = []
        for s in range(0, len(U), 64):  # [64, n_items, 2d] at a time keeps memory small
            u = torch.tensor(U[s:s + 64]).unsqueeze(1).expand(-1, len(V), -1)
            out.append(self.net_.score(u, V.unsqueeze(0).expand(len(u), -1, -1)))
        return torch.cat(out).numpy() if out else np.zeros((0, len(V)), np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self._score_vectors(self.U_[rows]) + self.bias_[None, :]

    # Purchase weights are sigmoid(score): a product's share is its probability over the sum.
    def _row_log_norm(self, rows: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self._score_rows(rows).astype(np.float64)))
        return np.log(p.sum(1))

    @torch.no_grad()
    def _column_log_weight(self, j: int) -> np.ndarray:
        u = torch.tensor(self.U_)
        s = self.net_.score(u, torch.tensor(self.V_[j]).expand(len(u), -1)).numpy()
        return -np.logaddexp(0.0, -(s.astype(np.float64) + self.bias_[j]))

    def _item_vectors(self) -> np.ndarray:
        return self.V_

    def _customer_vectors(self) -> np.ndarray:
        return self.U_

    @torch.no_grad()
    def recommend_history(self, item_ids, n: int = 10, country: str | None = None,
                          exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        if self.config.customer == "id":
            return super().recommend_history(item_ids, n, country, exclude_seen)

        ci, codes = self._history_inputs(item_ids, country)
        u = self.customer_vector(self.customer_tensors(ci)).numpy()
        scores = self._score_vectors(u) + self.bias_[None, :]
        return self._history_top(scores, codes, n, exclude_seen)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, np.ndarray]:
        return {"U": self.U_, "V": self.V_, "bias": self.bias_, **self._feature_state()}

    def _set_state(self, arrays) -> None:
        n_c, n_i = len(self.customer_ids_), len(self.item_ids_)
        self.U_ = arrays.get("U", (n_c, 2 * self.config.dim))
        self.V_ = arrays.get("V", (n_i, 2 * self.config.dim))
        self.bias_ = arrays.get("bias", (n_i,))
        self._set_feature_state(arrays)


"""Two-tower training: the examples, sampling and loss (the network and the fitted model are
in ``recsys.models.two_tower``).

Every line of a training order is a positive for the customer as they stood before that
order. A step takes random lines, each line's product against the others of its batch, or
(``batch_orders`` > 0; by default on shops above ``whole_orders_above`` training lines) whole
orders: each order's customer goes through the tower once and each of its lines is scored
against one shared sample of the batch's products less its own — the same objective,
estimated with 8-20x fewer customer passes and optimiser steps per epoch.

Measured (NDCG@10, 2 cores). 3M-line synthetic shop (20k customers, 50k products; sparse
tables as at 30M; 2,000 sampled test customers), after passes 1 / 2 / 3: random lines 0.0236 /
0.0321 (~150 s a pass); 1,024 whole orders 0.0175 / 0.0350 / 0.0321 (~30 s a pass). Before the
order's other products counted as negatives: 0.0173 / 0.0241 / 0.0090, then 0.0056 (with
``repeat`` off 0.0173 / 0.0411 / 0.0431: the two interact, how exactly is not pinned down;
the learnt repeat weights were alike in all three runs). Online Retail (full holdout), 128
whole orders: 0.1003 in a 21 s fit against 0.1147 in 51 s with random lines; the demo shop
0.1868 (12 s) against 0.1869 (28 s). Hence whole orders only above a size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.nn import functional as F

from recsys.data import OrderData
from recsys.models.sequence import SPARSE_ROWS, SequenceRun, optimisers

if TYPE_CHECKING:
    from recsys.models.two_tower import TwoTower


def seen_before(hist: torch.Tensor, hist_w: torch.Tensor, it: torch.Tensor,
                n_items: int) -> torch.Tensor:
    """[B, N]: how much row b's customer had bought product it[j] before (history weights
    summed). Through a [B, n_items] scatter on small catalogues; on large ones each
    history slot is looked up among the batch's distinct products instead (O(B L log B),
    never a [B, n_items] matrix)."""
    B, L = hist.shape
    if n_items + 1 <= B * L:
        seen = torch.zeros(B, n_items + 1, device=hist.device)
        seen.scatter_add_(1, hist, hist_w)
        return seen.index_select(1, it + 1)
    uniq, inverse = torch.unique(it + 1, return_inverse=True)  # sorted batch products
    pos = torch.searchsorted(uniq, hist).clamp(max=len(uniq) - 1)  # [B, L]
    hit = uniq[pos] == hist
    seen = torch.zeros(B, len(uniq), device=hist.device)
    seen.scatter_add_(1, pos, hist_w * hit)
    return seen.index_select(1, inverse)


class TwoTowerRun(SequenceRun):
    """Training: sampled softmax over the batch's bought products, log-Q corrected; batches
    of random order lines, or of whole orders (``batch_orders`` > 0)."""

    def __init__(self, model: TwoTower, train: OrderData, device, rng) -> None:
        super().__init__(model, train, device, rng)
        c = model.config
        self.items_per_order = c.items_per_order
        if c.batch_orders:
            self.note_whole_orders(f", each line against {c.batch_size:,} sampled products")
        self.logq = torch.tensor(np.log(np.maximum(self.item_freq, 1e-9)),
                                 dtype=torch.float32, device=device)
        rows = len(model.customer_ids_) + len(model.item_ids_)
        # Dense Adam touches every row of every table each step: on 200k customers x 50k
        # products that is most of a step. Above SPARSE_ROWS only the batch's rows are
        # updated (lazy Adam); data-parallel ranks then exchange only those rows' gradients.
        sparse = rows > SPARSE_ROWS
        self.net = model.net_ = model.new_net(sparse).to(device)
        self.opts = optimisers(self.net, c.lr, c.weight_decay)

    def _customers(self, orders: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The orders' customers through the tower ([B,d]) and their inputs."""
        c, net = self.model.config, self.net
        cust = {k: v[orders] for k, v in self.ex.items()}
        keep = torch.rand(len(orders), device=self.device) >= c.id_dropout
        u = net.customer(cust["cid"] * keep, cust["country"], cust["rfm"], cust["hist"],
                         cust["hist_w"])
        return u, cust

    def _items(self, it: torch.Tensor) -> torch.Tensor:
        """Products (codes [N]) through the tower: [N,d]."""
        side = {k: v[it] for k, v in self.item_t.items()}
        keep = torch.rand(len(it), device=self.device) >= self.model.config.id_dropout
        return self.net.item(side["iid"] * keep, side["cat"], side["price"], side["tokens"])

    def _block_logits(self, u, cust: dict, v, it: torch.Tensor) -> torch.Tensor:
        """[B,N] logits of B customers for N products (codes ``it``): cosine / temperature,
        the products' trend bias in each row's week, the repeat bonus, minus log-Q."""
        c, net = self.model.config, self.net
        logits = u @ v.T / c.temperature
        if c.trend:
            # The bias of the products in every week, then each row's week: [B,N].
            table = net.trend_bias(self.trend_t.index_select(1, it))  # [W+1,N]
            logits = logits + table.index_select(0, cust["week"])
        if c.repeat:
            logits = logits + net.repeat_bias(seen_before(cust["hist"], cust["hist_w"], it,
                                                          len(self.model.item_ids_)))
        if c.logq:
            logits = logits - self.logq[it][None, :]
        return logits

    def _pair_logits(self, u, cust: dict, v, it: torch.Tensor) -> torch.Tensor:
        """[M] logits of row m's customer for product it[m] (the same terms, pairwise)."""
        c, net = self.model.config, self.net
        logits = (u * v).sum(-1) / c.temperature
        if c.trend:
            logits = logits + net.trend_bias(self.trend_t[cust["week"], it])
        if c.repeat:
            seen = ((cust["hist"] == (it + 1)[:, None]) * cust["hist_w"]).sum(1)
            logits = logits + net.repeat_bias(seen)
        if c.logq:
            logits = logits - self.logq[it]
        return logits

    def step(self, orders: np.ndarray, items: np.ndarray) -> float:
        """Random lines: each line's product against the batch's others; the same product as
        another row's positive is masked, not counted as a negative."""
        dev = self.device
        o, it = torch.tensor(orders, device=dev), torch.tensor(items, device=dev)
        u, cust = self._customers(o)
        logits = self._block_logits(u, cust, self._items(it), it)  # [B,B]
        same = (it[None, :] == it[:, None]) & ~torch.eye(len(it), dtype=torch.bool, device=dev)
        target = torch.arange(len(it), device=dev)
        return self.update(F.cross_entropy(logits.masked_fill(same, -1e9), target))

    def order_step(self, orders: np.ndarray, row: np.ndarray, items: np.ndarray) -> float:
        """Whole orders: each order's customer once ([R,d]); each line (order ``row[m]``,
        product ``items[m]``) against the products of ``batch_size`` random lines of the
        batch (a sample by popularity, as log-Q assumes; a product drawn k times counts k
        times) less its own product. The order's other products stay negatives, as in the
        full softmax and in random-line batches: leaving them out too (as before) made the
        novel-product NDCG fall with every pass after the second while the loss kept
        falling, with the repeat bonus on (not with it off; see the module docstring)."""
        dev, size = self.device, self.model.config.batch_size
        o, r = torch.tensor(orders, device=dev), torch.tensor(row, device=dev)
        it = torch.tensor(items, device=dev)
        u, cust = self._customers(o)
        drawn = it[torch.randint(len(it), (size,), device=dev)] if size < len(it) else it
        uniq, inverse = torch.unique(torch.cat([drawn, it]), return_inverse=True)
        neg, counts = inverse[:len(drawn)].unique(return_counts=True)  # columns of uniq
        line_u = inverse[len(drawn):]  # [M] each line's product in uniq
        v = self._items(uniq)  # [N,d]
        logits = self._block_logits(u, cust, v[neg], uniq[neg]) + counts.log()  # [R,K]
        column = torch.full((len(uniq),), -1, dtype=torch.long, device=dev)
        column[neg] = torch.arange(len(neg), device=dev)
        line_col = column[line_u]  # [M] each line's product among the negatives, or -1
        rest = torch.logsumexp(logits, 1)[r]  # [M] all negatives' mass, then less its own
        own = logits[r, line_col.clamp(min=0)]
        share = torch.where(line_col >= 0, torch.exp(own - rest), 0.0).clamp(max=1 - 1e-6)
        rest = rest + torch.log1p(-share)
        per_line = {k: cust[k][r] for k in ("hist", "hist_w", "week")}
        pos = self._pair_logits(u[r], per_line, v[line_u], it)  # [M]
        return self.update((torch.logaddexp(rest, pos) - pos).mean())

    @torch.no_grad()
    def finish(self) -> None:
        m, c, net = self.model, self.model.config, self.net
        net.eval()
        now = self.now_tensors()
        U = [net.customer(*(now[k][s:s + 4096] for k in
                            ("cid", "country", "rfm", "hist", "hist_w")))
             for s in range(0, len(now["cid"]), 4096)]
        m.U_ = torch.cat(U).cpu().numpy()
        m.V_ = net.item(**self.item_t).cpu().numpy()
        bias = net.trend_bias(torch.tensor(self.trend_table[-1], device=self.device))
        m.bias_ = (bias.cpu().numpy() * c.temperature if c.trend
                   else np.zeros(len(m.V_), np.float32))
        ci = self.now_inputs
        m.hist_now_ = ci.hist
        m.hist_w_now_ = np.where(ci.hist >= 0, np.exp(-c.history_decay * ci.age),
                                 0.0).astype(np.float32)
        m.repeat_w_ = (net.repeat.detach().cpu().numpy() * c.temperature if c.repeat
                       else np.zeros(2, np.float32))
        m.log_norm_ = None

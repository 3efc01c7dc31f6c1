"""Purchase propensity: who buys what in the next few weeks, learned from the shop's own past.

The training period is replayed: at cutoffs 30, 60 and 90 days before its end, features of
every (customer, product) pair are computed from the lines before the cutoff (see
``pair_features``) and labelled with whether the customer bought the product in the 30 days
after it. A logistic regression on quantile-binned features (an additive model: one learned
curve per feature) fits those labels; serving applies it to features computed at the end of
the training period. Scores are log-odds of buying within ``window_days``.

Binning keeps the model small, fast and pickle-free (edges and weights save as arrays), and
each score splits into per-feature contributions, which is what ``explain`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import BaseRecommender, Callback, emit
from recsys.models.ease import EASE, EASEConfig
from recsys.models.pair_features import (
    CUSTOMER_FEATURES,
    FEATURES,
    LABELS,
    PRODUCT_FEATURES,
    PairFeatures,
    reference_time,
    sentence,
)

BLOCK = 256
EASE_ITEMS = EASEConfig.max_items  # basket fit from EASE on its best sellers (its own cap)


@dataclass(frozen=True)
class PropensityConfig:
    """``windows`` past cutoffs, ``window_days`` apart, each labelled by the next
    ``window_days`` of purchases, on the ``train_items`` products with the most lines;
    ``bins`` quantile bins per feature; ``C`` inverse L2 strength; ``l2`` EASE's penalty
    (its scores are features); ``max_rows`` caps the training pairs (negatives subsampled)."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"window_days": (1, 365), "windows": (1, 24),
                               "train_items": (1, None), "bins": (2, 256), "C": (1e-9, None),
                               "l2": (1e-6, None), "max_rows": (10, None)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "window_days": "Window (days) — it predicts buying within this many days",
        "windows": "Past windows replayed — more = more to learn from, slower",
        "train_items": "Products learned from — the N best sellers",
        "bins": "Detail per feature — more = finer curves, needs more data",
        "C": "Fit strength — higher = follows the past more closely",
        "l2": "Basket-fit regularisation — for the 'goes with what they buy' feature",
        "max_rows": "Training rows cap — more = slower, a little more accurate"}

    window_days: int = 30
    windows: int = 3
    train_items: int = 200
    bins: int = 32
    C: float = 1.0
    l2: float = 500.0
    max_rows: int = 3_000_000
    seed: int = 0


class Propensity(BaseRecommender):
    """Additive logistic model of buying a product within the next ``window_days``."""

    name = "propensity"
    Config = PropensityConfig
    EXPLAINED: ClassVar[tuple[str, ...]] = FEATURES  # what explanations list, in this order

    def progress_steps(self) -> int:
        return self.config.windows + 1  # one per replayed window, then the fit

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        cfg = self.config
        now = reference_time(train)
        found = self._replay(train, now, callback)
        if not found or not np.concatenate([y for _, y in found]).any():
            raise ValueError(f"Propensity needs purchases in at least one of the last "
                             f"{cfg.windows} {cfg.window_days}-day windows of the training "
                             "period, after some earlier history: the data is too short.")
        F, y, kept = self._subsample(*(np.concatenate(p) for p in zip(*found, strict=True)))
        self._learn(F, y)
        # Thinning the negatives multiplied the odds by 1 / kept; undone, so that scores stay
        # log-odds of buying (campaign forecasts add the chances up).
        self.intercept_ = self.intercept_ + np.log(kept)
        emit(callback, cfg.windows + 1, {"train_rows": float(len(y)), "positives": float(y.sum())})
        self.features_ = PairFeatures.build(train, now, *self._ease(train))

    def _ease(self, data: OrderData) -> tuple[np.ndarray, np.ndarray]:
        """EASE's weights and the item codes they cover (its best sellers above its cap)."""
        ease = EASE(l2=self.config.l2, max_items=EASE_ITEMS).fit(data)
        return ease.B_, pd.Index(data.item_ids).get_indexer(ease.item_ids_)

    def _replay(self, train: OrderData, now: pd.Timestamp, callback: Callback | None
                ) -> list[tuple]:
        """``_window``'s training rows for each past window (newest first; windows without
        history or purchases are skipped), reporting one step per window."""
        found = []
        for k in range(1, self.config.windows + 1):
            got = self._window(train, now - pd.Timedelta(days=self.config.window_days * k))
            if got is not None:
                found.append(got)
            emit(callback, k, {"windows": float(len(found))})
        return found

    def _bought_after(self, train: OrderData, cut: pd.Timestamp):
        """(the lines before ``cut``, [its customers, its products] bought in the window
        after it), or None where either is empty."""
        hist = train.before(cut)
        t = train.interactions["timestamp"]
        after = ((t >= cut) & (t < cut + pd.Timedelta(days=self.config.window_days))).to_numpy()
        if len(hist.interactions) == 0 or not after.any():
            return None
        lines = train.interactions.loc[after]
        r = pd.Index(hist.customer_ids).get_indexer(lines["customer_id"].astype(str))
        c = pd.Index(hist.item_ids).get_indexer(lines["item_id"].astype(str))
        Y = np.zeros((hist.n_customers, hist.n_items), dtype=bool)
        ok = (r >= 0) & (c >= 0)
        Y[r[ok], c[ok]] = True
        return hist, Y

    def _window(self, train: OrderData, cut: pd.Timestamp):
        """Features at ``cut`` for its top products x all its customers, and the labels."""
        got = self._bought_after(train, cut)
        if got is None:
            return None
        hist, Y = got
        cols = pd.Index(hist.item_ids).get_indexer(hist.top_items(self.config.train_items))
        pf = PairFeatures.build(hist, cut, *self._ease(hist))
        rows = np.arange(hist.n_customers)
        F = np.concatenate([pf.block(rows[s:s + BLOCK], cols)
                            for s in range(0, len(rows), BLOCK)])
        return F, Y[:, cols].ravel()

    def _subsample(self, F: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Keep every positive; thin negatives uniformly (ranks are unchanged in expectation:
        uniform thinning only shifts the intercept). Also the share of negatives kept."""
        if len(y) <= self.config.max_rows:
            return F, y, 1.0
        rng = np.random.default_rng(self.config.seed)
        kept = max(self.config.max_rows - y.sum(), 1) / max((~y).sum(), 1)
        keep = y | (rng.random(len(y)) < kept)
        return F[keep], y[keep], float(kept)

    def _learn(self, F: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        qs = np.linspace(0, 1, self.config.bins + 1)[1:-1]
        edges = []
        for j in range(F.shape[1]):
            col = F[:, j][np.isfinite(F[:, j])]
            edges.append(np.unique(np.quantile(col, qs)) if len(col) else np.zeros(0))
        width = max(len(e) for e in edges) + 2  # bins 0..len(e), plus one for missing
        self.edges_ = np.full((F.shape[1], width - 2), np.inf, dtype=np.float64)
        for j, e in enumerate(edges):
            self.edges_[j, :len(e)] = e
        codes = self._bin(F)
        onehot = sp.csr_matrix((np.ones(codes.size, np.float32),
                                codes.ravel(), np.arange(0, codes.size + 1, codes.shape[1])),
                               shape=(len(F), F.shape[1] * width))
        lr = LogisticRegression(C=self.config.C, max_iter=1000).fit(onehot, y)
        self.weights_ = lr.coef_[0].reshape(F.shape[1], width).astype(np.float64)
        self.intercept_ = np.array([lr.intercept_[0]])

    def _bin(self, F: np.ndarray) -> np.ndarray:
        """Flat one-hot column per (row, feature): feature * width + bin; NaN -> last bin."""
        n_f, width = self.edges_.shape[0], self.edges_.shape[1] + 2
        codes = np.empty(F.shape, dtype=np.int64)
        for j in range(n_f):
            b = np.searchsorted(self.edges_[j], F[:, j], side="right")
            codes[:, j] = j * width + np.where(np.isnan(F[:, j]), width - 1, b)
        return codes

    def _contributions(self, F: np.ndarray) -> np.ndarray:
        """[rows, features] the log-odds each feature adds."""
        return self.weights_.ravel()[self._bin(F)]

    def _pair_contributions(self, rows: np.ndarray, cols: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
        """Features and their log-odds contributions for the rows x cols grid."""
        F = self.features_.block(rows, cols)
        return F, self._contributions(F)

    def _logits(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        z = self._pair_contributions(rows, cols)[1].sum(axis=1) + self.intercept_[0]
        return z.reshape(len(rows), len(cols)).astype(np.float32)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self._logits(rows, np.arange(len(self.item_ids_)))

    def _item_column(self, j: int) -> np.ndarray:
        n = self.X_.shape[0]
        return np.concatenate([self._logits(np.arange(s, min(s + 4 * BLOCK, n)), np.array([j]))
                               .ravel() for s in range(0, n, 4 * BLOCK)])

    def item_similarity(self, q: np.ndarray) -> np.ndarray:
        # EASE's B[i, j]: how much buying i predicts j (the same weights the features use).
        return self.features_.similarity(q)

    def explain(self, customer_id: str, item_id: str) -> pd.DataFrame:
        """Each feature's value for the pair and the log-odds it adds, largest effect first."""
        self._check_fitted()
        rows, cols = self.customer_rows([customer_id]), self._items([item_id])
        if rows[0] < 0:
            raise KeyError(f"Unknown customer {customer_id!r}")
        F, contrib = self._pair_contributions(rows, cols)
        names = self.EXPLAINED
        out = pd.DataFrame({"feature": names, "label": [LABELS[f] for f in names],
                            "value": F[0], "contribution": contrib[0]})
        order = out["contribution"].abs().sort_values(ascending=False).index
        return out.reindex(order).reset_index(drop=True)

    def drivers(self, customer_ids, item_ids, top: int = 2) -> list[str]:
        """The strongest reasons in words, e.g. 'bought it 4 times; buys it about every 30
        days', for every (customer, product) pair of the grid, customer-major; unknown
        customers get ''.
        Features that are the same across what is being compared are left out: product
        features for one product's customers, customer features for one customer's list."""
        self._check_fitted()
        rows, cols = self.customer_rows(customer_ids), self._items(item_ids)
        F, contrib = self._pair_contributions(np.maximum(rows, 0), cols)
        same = PRODUCT_FEATURES if len(cols) == 1 else ()
        same += CUSTOMER_FEATURES if len(rows) == 1 else ()
        names = self.EXPLAINED
        contrib[:, [names.index(f) for f in same if f in names]] = 0.0
        order = np.argsort(-contrib, axis=1)[:, :top]
        known = np.repeat(rows >= 0, len(cols))
        out = []
        for r, idx in enumerate(order):
            words = list(dict.fromkeys(sentence(names[j], F[r, j]) for j in idx
                                       if contrib[r, j] > 0))
            out.append(("; ".join(words) or "no strong reason") if known[r] else "")
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {"edges": self.edges_, "weights": self.weights_, "intercept": self.intercept_,
                **{f"pf_{k}": v for k, v in self.features_.arrays().items()}}

    def _set_state(self, arrays) -> None:
        n = len(FEATURES)
        self.edges_ = arrays.get("edges", (n, None), finite=False)  # padded with +inf
        self.weights_ = arrays.get("weights", (n, self.edges_.shape[1] + 2))
        self.intercept_ = arrays.get("intercept", (1,))
        self.features_ = PairFeatures.from_arrays(arrays.prefixed("pf_"),
                                                  len(self.customer_ids_), len(self.item_ids_))


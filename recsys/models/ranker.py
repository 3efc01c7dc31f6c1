"""A learned ranking stage: LightGBM's LambdaRank over each customer's candidate products.

Built on the propensity model's replay (``recsys.models.propensity``): at cutoffs
``window_days`` apart before the end of the training period, every (customer, candidate)
pair gets the pair features of the lines before the cutoff -- times bought, recency, rhythm,
EASE's basket fit (the first generator's score) and its rank among the customer's products,
category share, product popularity and trend -- and is labelled by whether the customer
bought the product in the window after the cutoff (never the holdout: the replay sees only
the training period). Candidates are the ``train_items`` best sellers of each replay; with
``task='novel'`` the products a customer already bought are left out, as the novel ranking
leaves them out. A gradient-boosted LambdaRank model learns to order each customer's
candidates (one query per customer with at least one purchase in the window).

Serving scores every product for a customer from features at the end of the training period.
The booster is kept as LightGBM's own text format (in the ``.npz``, no pickle); ``explain``
returns each feature's contribution (``pred_contrib``), which add up to the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from recsys.models.base import Callback, emit
from recsys.models.pair_features import FEATURES, LABELS, PairFeatures, reference_time
from recsys.models.propensity import BLOCK, Propensity

RANK_FEATURES = (*FEATURES, "ease_rank")
RANK_LABELS = {**LABELS, "ease_rank": "basket-fit rank among their products"}


@dataclass(frozen=True)
class RankerConfig:
    """Replay ``windows`` past windows of ``window_days``; candidates: the ``train_items``
    best sellers (``task='novel'``: without what the customer bought already); the booster:
    ``trees`` trees of ``leaves`` leaves at ``learning_rate``, ``min_rows`` rows per leaf;
    ``l2`` EASE's penalty (its scores are features)."""

    BOUNDS: ClassVar[dict] = {"window_days": (1, 365), "windows": (1, 24),
                               "train_items": (2, None), "trees": (1, 5000),
                               "leaves": (2, 1024), "learning_rate": (1e-4, 1.0),
                               "min_rows": (1, None), "l2": (1e-6, None)}
    CHOICES: ClassVar[dict] = {"task": ("novel", "all")}
    HELP: ClassVar[dict] = {
        "window_days": "Window (days) — learns to rank what is bought within this many days",
        "windows": "Past windows replayed — more = more to learn from, slower",
        "train_items": "Candidates per customer — the N best sellers",
        "task": "Ranks — novel: products new to the customer; all: reorders too",
        "trees": "Trees — more = finer ranking, slower",
        "leaves": "Leaves per tree — more = more feature interactions",
        "learning_rate": "Learning rate — lower = steadier, needs more trees",
        "min_rows": "Rows per leaf at least — higher = smoother",
        "l2": "Basket-fit regularisation — for the EASE score feature"}

    window_days: int = 30
    windows: int = 3
    train_items: int = 300
    task: str = "novel"
    trees: int = 200
    leaves: int = 31
    learning_rate: float = 0.05
    min_rows: int = 50
    l2: float = 500.0
    seed: int = 0


class Ranker(Propensity):
    """Gradient-boosted LambdaRank over pair features (``RankerConfig``)."""

    name = "ranker"
    Config = RankerConfig

    def _fit(self, train, X, callback: Callback | None) -> None:
        cfg = self.config
        now = reference_time(train)
        feats, labels, groups = [], [], []
        for k in range(1, cfg.windows + 1):
            f, y, g = self._window(train, now - pd.Timedelta(days=cfg.window_days * k))
            if f is not None:
                feats.append(f)
                labels.append(y)
                groups.append(g)
            emit(callback, k, {"windows": float(len(feats))})
        if not groups:
            raise ValueError(f"The ranker needs purchases of new products in at least one of "
                             f"the last {cfg.windows} {cfg.window_days}-day windows of the "
                             "training period, after some earlier history: the data is too "
                             "short.")
        self._learn(np.concatenate(feats), np.concatenate(labels), np.concatenate(groups))
        emit(callback, cfg.windows + 1, {"train_rows": float(sum(len(y) for y in labels))})
        self.features_ = PairFeatures.build(train, now, *self._ease(train))

    def _window(self, train, cut: pd.Timestamp):
        """One replay: features of each buying customer's candidates, labels, query sizes."""
        hist = train.before(cut)
        t = train.interactions["timestamp"]
        after = ((t >= cut) & (t < cut + pd.Timedelta(days=self.config.window_days))).to_numpy()
        if len(hist.interactions) == 0 or not after.any():
            return None, None, None
        cols = pd.Index(hist.item_ids).get_indexer(hist.top_items(self.config.train_items))
        lines = train.interactions.loc[after]
        r = pd.Index(hist.customer_ids).get_indexer(lines["customer_id"].astype(str))
        c = pd.Index(hist.item_ids[cols]).get_indexer(lines["item_id"].astype(str))
        ok = (r >= 0) & (c >= 0)
        Y = np.zeros((hist.n_customers, len(cols)), dtype=bool)
        Y[r[ok], c[ok]] = True
        pf = PairFeatures.build(hist, cut, *self._ease(hist))
        fs, ys, gs = [], [], []
        for s in range(0, hist.n_customers, BLOCK):
            rows = np.arange(s, min(s + BLOCK, hist.n_customers))
            F = self._with_rank(pf.block(rows, cols), len(cols))
            keep = np.ones(F.shape[0], dtype=bool) if self.config.task == "all" else \
                F[:, 0] == 0  # n_ui: bought before
            y = Y[rows].ravel() & keep
            for j, row_keep in enumerate(keep.reshape(len(rows), len(cols))):
                if y.reshape(len(rows), -1)[j].any():  # a query only where someone bought
                    fs.append(F[j * len(cols):(j + 1) * len(cols)][row_keep])
                    ys.append(y.reshape(len(rows), -1)[j][row_keep])
                    gs.append(int(row_keep.sum()))
        if not gs:
            return None, None, None
        return np.concatenate(fs), np.concatenate(ys), np.asarray(gs)

    @staticmethod
    def _with_rank(F: np.ndarray, k: int) -> np.ndarray:
        """The features plus EASE's rank of each product among the customer's ``k``."""
        ease = F[:, FEATURES.index("ease")].reshape(-1, k)
        rank = np.argsort(np.argsort(-ease, axis=1, kind="stable"), axis=1).astype(np.float32)
        return np.concatenate([F, (rank / k).reshape(-1, 1)], axis=1)

    def _learn(self, F: np.ndarray, y: np.ndarray, groups: np.ndarray) -> None:
        import lightgbm as lgb

        cfg = self.config
        params = {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10],
                  "learning_rate": cfg.learning_rate, "num_leaves": cfg.leaves,
                  "min_data_in_leaf": cfg.min_rows, "seed": cfg.seed, "deterministic": True,
                  "force_row_wise": True, "num_threads": 2, "verbose": -1}
        data = lgb.Dataset(F, y.astype(np.float32), group=groups,
                           feature_name=list(RANK_FEATURES), free_raw_data=True)
        booster = lgb.train(params, data, num_boost_round=cfg.trees)
        self._set_booster(booster.model_to_string())

    def _set_booster(self, text: str) -> None:
        import lightgbm as lgb

        self.booster_text_ = text
        self.booster_ = lgb.Booster(model_str=text)
        self.intercept_ = np.zeros(1)

    # ------------------------------------------------------------ scoring
    def _block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        F = self.features_.block(rows, cols)
        if len(cols) == len(self.item_ids_):
            return self._with_rank(F, len(cols))
        # The rank is among all the customer's products, whatever ``cols`` is asked for.
        full = self._with_rank(self.features_.block(rows, np.arange(len(self.item_ids_))),
                               len(self.item_ids_))
        rank = full[:, -1].reshape(len(rows), -1)[:, cols].reshape(-1, 1)
        return np.concatenate([F, rank], axis=1)

    def _logits(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        z = self.booster_.predict(self._block(rows, cols), num_threads=2)
        return np.asarray(z, np.float32).reshape(len(rows), len(cols))

    def _pair_contributions(self, rows: np.ndarray, cols: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
        F = self._block(rows, cols)
        contrib = np.asarray(self.booster_.predict(F, pred_contrib=True, num_threads=2))
        self.intercept_ = contrib[:1, -1].copy()  # the expected score: the same for all
        return F[:, :len(FEATURES)], contrib[:, :len(FEATURES)] + \
            np.where(np.arange(len(FEATURES)) == FEATURES.index("ease"),
                     contrib[:, len(FEATURES):len(FEATURES) + 1], 0.0)

    def explain(self, customer_id: str, item_id: str) -> pd.DataFrame:
        """Each feature's value and its contribution to the score (LightGBM's SHAP values;
        the basket-fit rank counted with the basket fit), largest effect first; they add up
        to the score with the expected score (``intercept_``)."""
        return super().explain(customer_id, item_id)

    # ------------------------------------------------------------ storage
    def _state(self) -> dict[str, np.ndarray]:
        return {"booster": np.array(self.booster_text_),
                **{f"pf_{k}": v for k, v in self.features_.arrays().items()}}

    def _set_state(self, arrays) -> None:
        self._set_booster(str(arrays.get("booster", (), kind="U")))
        if self.booster_.num_feature() != len(RANK_FEATURES):
            raise arrays.fail("the ranking model does not match its features")
        self.features_ = PairFeatures.from_arrays(arrays.prefixed("pf_"),
                                                  len(self.customer_ids_), len(self.item_ids_))


__all__ = ["RANK_FEATURES", "RANK_LABELS", "Ranker", "RankerConfig"]

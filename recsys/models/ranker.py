"""A learned ranking stage: a LightGBM ranker over each customer's candidate products.

Built on the propensity model's replay (``recsys.models.propensity``): at cutoffs
``window_days`` apart before the end of the training period, every (customer, candidate)
pair gets the pair features of the lines before the cutoff -- times bought, recency, rhythm,
EASE's basket fit (the first generator's score) and its rank among all the customer's
products, category share, product popularity and trend, and what the customer's taste
segment buys (``recsys.models.taste``) -- and is labelled by whether the
customer bought the product in the window after the cutoff (never the holdout: the replay
sees only the training period). Candidates are the ``train_items`` best sellers and each
customer's ``ease_items`` best by basket fit; with ``task='novel'`` the products a customer
already bought are left out. A gradient-boosted ranker (LightGBM's cross-entropy NDCG loss,
``rank_xendcg``, by default; LambdaRank on request) learns to order each customer's
candidates (one query per customer with at least one purchase in the window).

Serving scores every candidate from features at the end of the training period; the other
products rank below all candidates, by basket fit. The booster is kept as LightGBM's own
text format (in the ``.npz``, no pickle); ``explain`` returns each feature's contribution
(``pred_contrib``; the basket-fit rank counted with the basket fit), which add up to the
score with the expected score ``intercept_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from recsys.models.base import Callback, emit
from recsys.models.pair_features import FEATURES, PairFeatures, reference_time
from recsys.models.propensity import BLOCK, Propensity
from recsys.models.taste import TASTE_FEATURES, Segments

RANK_FEATURES = (*FEATURES, "ease_rank", *TASTE_FEATURES)
EASE = FEATURES.index("ease")
RANK = RANK_FEATURES.index("ease_rank")
EXPLAINED = (*FEATURES, *TASTE_FEATURES)  # the basket-fit rank is told with the fit
KEEP = [RANK_FEATURES.index(f) for f in EXPLAINED]  # their columns among the booster's
THREADS = 2  # fixed, so that a seed gives the same booster on any machine


@dataclass(frozen=True)
class RankerConfig:
    """Replay ``windows`` past windows of ``window_days``; candidates: the ``train_items``
    best sellers and each customer's ``ease_items`` best by EASE (``task='novel'``: without
    what the customer bought already); the booster:
    ``trees`` trees of ``leaves`` leaves at ``learning_rate``, ``min_rows`` rows per leaf,
    learning LightGBM's ranking ``objective``; ``l2`` EASE's penalty (its scores are
    features)."""

    BOUNDS: ClassVar[dict] = {"window_days": (1, 365), "windows": (1, 24),
                               "train_items": (0, None), "ease_items": (0, None),
                               "trees": (1, 5000),
                               "leaves": (2, 1024), "learning_rate": (1e-4, 1.0),
                               "min_rows": (1, None), "l2": (1e-6, None),
                               "segments": (0, None)}
    CHOICES: ClassVar[dict] = {"task": ("novel", "all"),
                               "objective": ("rank_xendcg", "lambdarank")}
    HELP: ClassVar[dict] = {
        "window_days": "Window (days) — learns to rank what is bought within this many days",
        "windows": "Past windows replayed — more = more to learn from, slower",
        "train_items": "Best-seller candidates — the N best sellers, for everyone",
        "ease_items": "Basket-fit candidates — each customer's N best by EASE",
        "task": "Ranks — novel: products new to the customer; all: reorders too",
        "trees": "Trees — more = finer ranking, slower",
        "leaves": "Leaves per tree — more = more feature interactions",
        "learning_rate": "Learning rate — lower = steadier, needs more trees",
        "min_rows": "Rows per leaf at least — higher = smoother",
        "objective": "Ranking loss — rank_xendcg (cross-entropy NDCG) or lambdarank",
        "l2": "Basket-fit regularisation — for the EASE score feature",
        "segments": "Taste segments — customers grouped by the categories they buy"}

    window_days: int = 30
    windows: int = 6  # Online Retail, 2011-09-01: 0.1191 with 3 windows, 0.1248 with 6
    train_items: int = 100
    # Online Retail 2011-09-01: 0.1278 with 100 basket-fit candidates, 0.1324 with 200, 0.1360
    ease_items: int = 400
    task: str = "all"  # reorders too: 0.1278 against 0.1248 learning new products only
    trees: int = 200
    leaves: int = 31
    learning_rate: float = 0.05
    min_rows: int = 50
    # NDCG@10 novel on Online Retail at 2011-08/09/10/11-01: 0.1668, 0.1397, 0.1468, 0.1458
    # with rank_xendcg against 0.1623, 0.1360, 0.1433, 0.1393 with lambdarank, fitted faster
    # (both before taste segments)
    objective: str = "rank_xendcg"
    l2: float = 500.0
    # Taste segments (k-means on the category mix); NDCG@10 novel on the basket shop with
    # 0 / 8 / 16 / 32 / 64 of them: 0.3491 / 0.3596 / 0.3461 / 0.3516 / 0.3519 (noise ~0.01);
    # on the long tail 32 took the ranker from 0.0925 to 0.1088.
    segments: int = 32
    seed: int = 0


class Ranker(Propensity):
    """A gradient-boosted ranker over pair features (``RankerConfig``)."""

    name = "ranker"
    Config = RankerConfig
    EXPLAINED = EXPLAINED

    def _fit(self, train, X, callback: Callback | None) -> None:
        cfg = self.config
        now = reference_time(train)
        found = self._replay(train, now, callback)
        if not found:
            raise ValueError(f"The ranker needs purchases of new products in at least one of "
                             f"the last {cfg.windows} {cfg.window_days}-day windows of the "
                             "training period, after some earlier history: the data is too "
                             "short.")
        F, y, groups = (list(part) for part in zip(*found, strict=True))
        del found  # the windows' features are handed to LightGBM as they are, not copied
        y, groups = np.concatenate(y), np.concatenate(groups)
        self._learn(F, y, groups)
        emit(callback, cfg.windows + 1, {"train_rows": float(len(y))})
        self.features_ = PairFeatures.build(train, now, *self._ease(train))
        self.segments_ = self._segments(self.features_)
        self.top_ = self._top(train)

    def _window(self, train, cut: pd.Timestamp):
        """One replay: features of each buying customer's candidates, labels, query sizes."""
        got = self._bought_after(train, cut)
        if got is None:
            return None
        hist, Y = got
        pf = PairFeatures.build(hist, cut, *self._ease(hist))
        top, seg = self._top(hist), self._segments(pf)
        fs, ys, gs = [], [], []
        buyers = np.flatnonzero(Y.any(axis=1))
        for s in range(0, len(buyers), BLOCK // 4):
            rows = buyers[s:s + BLOCK // 4]
            F, u, i, _ = self._candidate_features(pf, seg, rows, top)
            y = Y[rows][u, i]
            q = np.bincount(u[y], minlength=len(rows)) > 0  # a query where one was bought
            fs.append(F[q[u]])  # row-major: query by query
            ys.append(y[q[u]])
            gs.append(np.bincount(u, minlength=len(rows))[q])
        groups = np.concatenate(gs)
        if not groups.size:
            return None
        return np.concatenate(fs), np.concatenate(ys), groups

    def _top(self, data) -> np.ndarray:
        """The best sellers' codes (candidates for everyone)."""
        return pd.Index(data.item_ids).get_indexer(data.top_items(self.config.train_items))

    def _segments(self, pf: PairFeatures) -> Segments:
        return Segments.fit(pf, self.config.segments, self.config.seed)

    def _candidate_features(self, pf: PairFeatures, seg: Segments, rows: np.ndarray,
                            top: np.ndarray) -> tuple[np.ndarray, ...]:
        """The candidates of ``rows`` (a best seller, or among the customer's ``ease_items``
        best by basket fit; with ``task='novel'`` never a product they bought) as pairs
        (``u``: position in ``rows``, ``i``: product), row-major; their features with
        EASE's rank among all the customer's products (a share, 0: the best fit) and the
        taste segment's; and that rank for every product [len(rows), n]. Only the
        candidates' features are built: on a long catalogue (16,605 products) building
        every product's took three times as long to serve."""
        n = pf.count.shape[1]
        hist = pf.count[rows]
        ease, ease_count = pf.basket_fit(hist, np.arange(n))
        rank = _rank_share(ease)
        cand = rank * n < self.config.ease_items
        cand[:, top[top >= 0]] = True
        if self.config.task == "novel":
            cand[hist.nonzero()] = False  # bought before
        u, i = np.nonzero(cand)
        return _pair_rows(pf, seg, rows, u, i, ease, ease_count, rank), u, i, rank

    def _learn(self, F: list[np.ndarray], y: np.ndarray, groups: np.ndarray) -> None:
        """Fit the booster on the windows' features ``F`` (emptied once LightGBM has binned
        them: at 5M lines joining them first held every training row twice)."""
        import lightgbm as lgb

        cfg = self.config
        params = {"objective": cfg.objective, "metric": "ndcg", "eval_at": [10],
                  "learning_rate": cfg.learning_rate, "num_leaves": cfg.leaves,
                  "min_data_in_leaf": cfg.min_rows, "seed": cfg.seed, "deterministic": True,
                  "force_row_wise": True, "num_threads": THREADS, "verbose": -1}
        data = lgb.Dataset(F, y.astype(np.float32), group=groups, params=params,
                           feature_name=list(RANK_FEATURES), free_raw_data=True).construct()
        F.clear()
        booster = lgb.train(params, data, num_boost_round=cfg.trees)
        self._set_booster(booster.model_to_string())

    def _set_booster(self, text: str) -> None:
        import lightgbm as lgb

        self.booster_text_ = text
        self.booster_ = lgb.Booster(model_str=text)
        # The expected score (SHAP's base value): the same for every pair.
        probe = np.zeros((1, self.booster_.num_feature()))
        self.intercept_ = self.booster_.predict(probe, pred_contrib=True)[0, -1:].copy()

    # ------------------------------------------------------------ scoring
    def _logits(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Scores in row blocks: a block's grid of every product's features is the memory
        a call needs."""
        if not len(rows):
            return np.zeros((0, len(cols)), np.float32)
        return np.concatenate([self._block_logits(rows[s:s + BLOCK // 2], cols)
                               for s in range(0, len(rows), BLOCK // 2)])

    def _block_logits(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The booster's score for candidates; below every candidate, by basket fit, for
        the rest (the booster never learned to rank them)."""
        F, u, i, rank = self._candidate_features(self.features_, self.segments_, rows,
                                                 self.top_)
        z = (-1e3 - rank).astype(np.float64)
        if len(u):
            z[u, i] = self.booster_.predict(F, num_threads=THREADS)
        return z.astype(np.float32)[:, cols]

    def _pair_contributions(self, rows: np.ndarray, cols: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray]:
        # The rank is among all the customer's products, whatever ``cols`` asks for.
        pf, n = self.features_, len(self.item_ids_)
        ease, ease_count = pf.basket_fit(pf.count[rows], np.arange(n))
        u, i = np.repeat(np.arange(len(rows)), len(cols)), np.tile(cols, len(rows))
        F = _pair_rows(pf, self.segments_, rows, u, i, ease, ease_count, _rank_share(ease))
        contrib = np.asarray(self.booster_.predict(F, pred_contrib=True, num_threads=THREADS))
        out = contrib[:, KEEP].copy()
        out[:, EASE] += contrib[:, RANK]  # the basket-fit rank, with the basket fit
        return F[:, KEEP], out

    # ------------------------------------------------------------ storage
    def _state(self) -> dict[str, np.ndarray]:
        return {"booster": np.array(self.booster_text_), "top": self.top_,
                **{f"pf_{k}": v for k, v in self.features_.arrays().items()},
                **{f"seg_{k}": v for k, v in self.segments_.arrays().items()}}

    def _set_state(self, arrays) -> None:
        self._set_booster(str(arrays.get("booster", (), kind="U")))
        if self.booster_.num_feature() != len(RANK_FEATURES):
            raise arrays.fail("the ranking model does not match its features")
        self.features_ = PairFeatures.from_arrays(arrays.prefixed("pf_"),
                                                  len(self.customer_ids_), len(self.item_ids_))
        self.top_ = arrays.get("top", (None,), kind="i", low=0, high=len(self.item_ids_))
        self.segments_ = Segments.from_arrays(arrays.prefixed("seg_"), self.features_)


def _pair_rows(pf: PairFeatures, seg: Segments, rows: np.ndarray, u: np.ndarray,
               i: np.ndarray, ease: np.ndarray, ease_count: np.ndarray, rank: np.ndarray
               ) -> np.ndarray:
    """[len(u), len(RANK_FEATURES)]: the pairs (rows[u], i)'s features in the booster's
    order (``ease``, ``ease_count``, ``rank``: [len(rows), products])."""
    return np.concatenate([pf.pairs(rows, u, i, ease[u, i], ease_count[u, i]),
                           rank[u, i, None], seg.pairs(rows[u], i, pf.item_cat)], axis=1)


def _rank_share(ease: np.ndarray) -> np.ndarray:
    """Each product's place in each row's basket fit, as a share of the row (0: the best)."""
    n = ease.shape[1]
    return np.argsort(np.argsort(-ease, axis=1, kind="stable"), axis=1).astype(np.float32) / n


__all__ = ["RANK_FEATURES", "Ranker", "RankerConfig"]

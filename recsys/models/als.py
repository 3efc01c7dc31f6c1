"""Matrix factorisation baselines through the implicit library: iALS and BPR."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import Callback, FactorScoring, emit


@dataclass(frozen=True)
class ALSConfig:
    """iALS (Hu, Koren, Volinsky 2008): confidence 1 + alpha * purchases on bought pairs."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"factors": (1, 1024), "regularization": (0, None),
                               "alpha": (0, None), "iterations": (1, 1000),
                               "half_life": (0, None)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "factors": "Taste dimensions — more = finer tastes, slower, needs more data",
        "regularization": "Regularisation — higher = smoother, closer to best sellers",
        "alpha": "Confidence in a purchase — how much more a purchase counts than no purchase",
        "iterations": "Passes — more = a closer fit, slower",
        "weighting": "What counts — 'binary': bought or not; 'count': lines; 'quantity': units",
        "half_life": "Recency (days) — a purchase this old counts half; 0 = all purchases alike"}

    # Settings with fixed choices (forms offer exactly these).
    CHOICES: ClassVar[dict] = {"weighting": ("binary", "count", "quantity")}

    factors: int = 64
    regularization: float = 0.05
    alpha: float = 2.0
    iterations: int = 15
    weighting: str = "binary"
    half_life: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class BPRConfig:
    """Bayesian personalised ranking with SGD over sampled (bought, not bought) pairs."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"factors": (1, 1024), "learning_rate": (1e-6, 10),
                               "regularization": (0, None), "iterations": (1, 10000)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "factors": "Taste dimensions — more = finer tastes, slower",
        "learning_rate": "Learning rate — step size; too high is unstable",
        "regularization": "Regularisation — higher = smoother",
        "iterations": "Passes over the data"}

    factors: int = 64
    learning_rate: float = 0.05
    regularization: float = 0.01
    iterations: int = 100
    seed: int = 0


class _Factorisation(FactorScoring):
    """Training and persistence shared by the implicit factor models."""

    CUSTOMERS, ITEMS = "user_factors_", "item_factors_"

    def _state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _set_state(self, arrays) -> None:
        self.user_factors_ = arrays.get("user_factors", (len(self.customer_ids_), None))
        self.item_factors_ = arrays.get("item_factors", (len(self.item_ids_),
                                                         self.user_factors_.shape[1]))

    def progress_steps(self) -> int:
        return int(self.config.iterations)

    def _train(self, make_algo, X: sp.csr_matrix, callback: Callback | None) -> None:
        from threadpoolctl import threadpool_limits

        start = time.perf_counter()

        def report(iteration: int, elapsed: float, *extra: float) -> None:
            # ALS passes the training loss; BPR passes (correct, skipped) sample counts.
            metrics = {"seconds": float(elapsed)}
            if len(extra) == 1:
                metrics["loss"] = float(extra[0])
            elif len(extra) == 2:
                metrics["correct"] = float(extra[0])
            emit(callback, iteration + 1, metrics)

        # implicit parallelises itself; a threaded BLAS underneath only oversubscribes the cores.
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*BLAS.*")
            algo = make_algo()
            algo.fit(X, show_progress=False, callback=report)
        self.user_factors_ = np.asarray(algo.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(algo.item_factors, dtype=np.float32)
        self.fit_seconds_ = time.perf_counter() - start


class ALS(_Factorisation):
    """Implicit-feedback ALS (implicit's conjugate-gradient solver)."""

    name = "als"
    Config = ALSConfig

    @property
    def weighting(self) -> str:  # type: ignore[override]
        return self.config.weighting

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        c = self.config
        # Tastes drift: with a half-life, recent purchases weigh more in the confidences
        # (the filter of already-bought products still uses the plain matrix X).
        confidence = train.matrix(c.weighting, c.half_life)
        self._train(lambda: AlternatingLeastSquares(
            factors=c.factors, regularization=c.regularization, alpha=c.alpha,
            iterations=c.iterations, random_state=c.seed, calculate_training_loss=True,
        ), confidence, callback)


class BPR(_Factorisation):
    """BPR-MF; single-threaded so that the same seed gives the same model."""

    name = "bpr"
    Config = BPRConfig

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        c = self.config
        self._train(lambda: BayesianPersonalizedRanking(
            factors=c.factors, learning_rate=c.learning_rate, regularization=c.regularization,
            iterations=c.iterations, random_state=c.seed, num_threads=1,
        ), X, callback)

"""Choosing between models by several validation windows, not one.

One window can crown a model by noise: on Online Retail at 2011-09-01 iALS led the last
validation window (0.128 against EASE's 0.124) and trailed on the test weeks (0.117 against
0.1256). ``choose`` fits every candidate at the start of each of the last ``windows`` windows
of the training period, scores it on the window after (full ranking, the test's metric), and
picks the best mean NDCG over all those windows' customers. The paired difference between
the chosen model and the runner-up, customer by customer across the windows, says how sure
the choice is. Only the training period is read: the test weeks never inform the choice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys.data import OrderData
from recsys.evaluate import Split, build_truth, paired_difference
from recsys.pipelines import fit_and_score


@dataclass
class Choice:
    """The chosen model, each model's NDCG per window (newest first) and pooled, and the
    chosen model's paired difference over the runner-up (None: one candidate)."""

    chosen: str
    cutoffs: list[str]
    customers: list[int]  # scored per window
    by_window: dict[str, list[float]]
    pooled: dict[str, float]
    margin: dict[str, float] | None
    runner_up: str | None
    skipped: dict[str, str]

    def last_window_choice(self) -> str:
        """What one window (the last) would have chosen."""
        return max(self.by_window, key=lambda m: self.by_window[m][0])

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "runner_up": self.runner_up, "cutoffs": self.cutoffs,
                "customers": self.customers,
                "pooled_ndcg": {m: round(v, 5) for m, v in self.pooled.items()},
                "last_window_choice": self.last_window_choice(),
                "by_window": {m: [round(v, 5) for v in s] for m, s in self.by_window.items()},
                "margin": None if self.margin is None
                else {k: round(v, 5) for k, v in self.margin.items()},
                "skipped": self.skipped}


def window_splits(train: OrderData, windows: int, days: float) -> list[Split]:
    """The last ``windows`` windows of ``days`` of ``train``, newest first: each split's
    training part is every line before its window, its test part the window alone."""
    inter = train.interactions
    t = inter["timestamp"]
    end = t.max()
    out = []
    for w in range(1, windows + 1):
        cut = (end - pd.Timedelta(days=days * w)).normalize()
        stop = cut + pd.Timedelta(days=days)
        before = (t < cut).to_numpy()
        inside = ((t >= cut) & (t < stop)).to_numpy()
        if before.any() and inside.any():
            out.append(Split(train.subset(before),
                             inter.loc[inside].reset_index(drop=True), cut))
    return out


def choose(train: OrderData, models: list[str], params: dict[str, dict[str, Any]] | None = None,
           *, windows: int = 3, days: float = 30, k: int = 10, task: str = "novel",
           seed: int = 0, log: Callable[[str], Any] | None = None) -> Choice:
    """Fit and score each of ``models`` on each validation window; the best pooled NDCG@K
    wins. A model that cannot fit a window (too little history) is left out of the choice."""
    splits = window_splits(train, windows, days)
    if not splits:
        raise ValueError("No validation window with lines both before and in it: the "
                         "training period is too short to choose by windows.")
    per, skipped, cutoffs, customers = _window_scores(splits, models, params or {}, k, task,
                                                      seed, log)
    if not per:
        raise ValueError("No model could be scored on the validation windows.")
    pooled = {m: float(np.concatenate(v).mean()) for m, v in per.items()}
    ranked = sorted(pooled, key=pooled.get, reverse=True)
    chosen, runner = ranked[0], (ranked[1] if len(ranked) > 1 else None)
    margin = None if runner is None else paired_difference(
        np.concatenate(per[chosen]), np.concatenate(per[runner]), seed=seed)
    return Choice(chosen, cutoffs, customers,
                  {m: [float(a.mean()) for a in v] for m, v in per.items()}, pooled,
                  margin, runner, skipped)


def _window_scores(splits: list[Split], models: list[str], params: dict[str, dict[str, Any]],
                   k: int, task: str, seed: int, log: Callable[[str], Any] | None) -> tuple:
    """Each model's per-customer NDCG on each window with buyers (models that could not
    fit a window left out), why those were left out, the windows' cutoffs and customers."""
    per: dict[str, list[np.ndarray]] = {m: [] for m in models}
    skipped: dict[str, str] = {}
    cutoffs, customers = [], []
    for split in splits:
        truth = build_truth(split, task)
        if not len(truth.customer_ids):
            continue
        cutoffs.append(str(split.cutoff.date()))
        customers.append(len(truth.customer_ids))
        for name in [m for m in models if m not in skipped]:
            try:
                s = fit_and_score(name, params.get(name, {}), split, label=name, k=k,
                                  task=task, n_boot=0, seed=seed, truth=truth)
            except ValueError as e:  # the model's own 'too little data' refusal
                skipped[name] = str(e)
                continue
            per[name].append(s.result.per_customer["ndcg"])
            if log:
                log(f"  window from {split.cutoff.date()}: {name} "
                    f"ndcg@{k}={per[name][-1].mean():.4f}")
    per = {m: v for m, v in per.items() if m not in skipped and v}
    return per, skipped, cutoffs, customers


__all__ = ["Choice", "choose", "window_splits"]

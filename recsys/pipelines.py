"""One pipeline per action, called alike by the command line (in its own process) and by the
job handlers (in a worker): fit a model and score it on the holdout, segment a model's
embeddings. Their results have one shape wherever they are shown (``ScoreRow``).

A pipeline reports its steps through ``step(name)``, a context manager: the bench measures
time and memory with it, a job moves its progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recsys import campaign as cp
from recsys import plan as pl
from recsys import segments
from recsys.data import OrderData
from recsys.evaluate import EvalResult, Split, Truth, evaluate
from recsys.models import BaseRecommender, make_model
from recsys.models.base import Callback
from recsys.presentation import settings_in_words
from recsys.records import ScoreRow

Step = Callable[[str], AbstractContextManager]
Fitter = Callable[[BaseRecommender, OrderData, Callback | None], BaseRecommender]


def _no_step(name: str) -> AbstractContextManager:
    return nullcontext()


def plain_fit(model: BaseRecommender, train: OrderData,
              callback: Callback | None) -> BaseRecommender:
    return model.fit(train, callback=callback)


@dataclass
class Scored:
    """A model fitted before the holdout, its evaluation, and its row."""

    model: BaseRecommender
    result: EvalResult
    row: ScoreRow


def fit_and_score(name: str, params: dict[str, Any], split: Split, *, label: str,
                  k: int = 10, task: str = "novel", n_boot: int = 500, seed: int = 0,
                  truth: Truth | None = None, fit: Fitter = plain_fit,
                  callback: Callback | None = None, step: Step = _no_step,
                  tuned: bool = False, validation_ndcg: float | None = None) -> Scored:
    """Fit ``name`` with ``params`` on the orders before the split's cutoff (through ``fit``:
    here, or data-parallel on a cluster) and score it on the weeks after (full ranking)."""
    model = make_model(name, **params)
    with step("fit"):
        start = time.perf_counter()
        model = fit(model, split.train, callback)
        fit_seconds = time.perf_counter() - start
    with step("evaluate"):
        result = evaluate(model, split, k=k, task=task, n_boot=n_boot, seed=seed, truth=truth)
    row = ScoreRow.of(result, label, fit_seconds=fit_seconds,
                      cutoff=str(split.cutoff.date()), partial=bool(model.partial_),
                      notes=tuple(model.notes()), tuned=tuned,
                      validation_ndcg=validation_ndcg, settings=settings_in_words(name, params))
    return Scored(model, result, row)


@dataclass
class Segmented:
    """A model's embeddings grouped and drawn: the segments (``recsys.segments.segment``),
    the 2D projection and the points to plot."""

    ids: np.ndarray
    vectors: np.ndarray
    segments: dict[str, Any]
    projection: Any
    points: pd.DataFrame


def segment_model(data: OrderData, model: BaseRecommender, what: str, k: int | str,
                  method: str, step: Step = _no_step) -> Segmented:
    """Cluster a fitted model's customer (or product) vectors, choosing K by silhouette
    unless given, and project them to 2D."""
    ids, vectors = segments.model_vectors(model, what)
    with step("cluster"):
        res = segments.segment(data, vectors, ids, what, k, method)
    with step("project"):
        proj = segments.project(vectors, method, strata=res["labels"])
        points = segments.scatter_frame(data, ids, what, proj, res["labels"])
    return Segmented(ids, vectors, res, proj, points)


def plan_campaign(data: OrderData, model_name: str, params: dict | None, inputs,
                  track_windows: int = 0, step: Step = lambda _: nullcontext()):
    """A campaign plan made now (at the end of the data): the model fitted before the last
    window for the backtest, one fitted on everything for the audience, and, with
    ``track_windows``, the same plan replayed on that many past windows (two more fits each
    way back)."""
    window = cp.CampaignWindow.of(data, str(cp.default_cutoff(data, inputs.days)), inputs.days)
    pl.check_demand(data, inputs, window.cutoff + pd.Timedelta(days=inputs.days))
    params = cp.campaign_params(model_name, inputs.days) if params is None else params
    fits = {}
    for j in range(track_windows + 2):
        cut = window.cutoff - (j - 1) * pd.Timedelta(days=inputs.days)
        with step(f"fitting {model_name} on the orders before {cut.date()}"):
            fits[cut] = make_model(model_name, **params).fit(data.before(cut) if j else data)
    with step("planning"):
        return pl.plan_with_record(data, window, fits, inputs, model_name)

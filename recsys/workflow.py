"""The jobs behind the app's buttons: fit and evaluate a model on the temporal holdout, fit
a serving model on all data, and describe a model's hyper-parameters for a form."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import Any

from recsys.data import OrderData
from recsys.evaluate import evaluate, temporal_split
from recsys.models import make_model, model_class, registry
from recsys.models.base import Callback


def default_model(data: OrderData) -> str:
    """A strong model that trains in seconds on this data (used before any training)."""
    return registry.default_model(data.n_items)


def param_fields(name: str) -> list[dict[str, Any]]:
    """The model's hyper-parameters: name, type and default, for building a form."""
    out = []
    for f in dataclasses.fields(model_class(name).Config):
        default = f.default
        kind = type(default).__name__
        if kind in ("int", "float", "bool", "str"):
            out.append({"name": f.name, "type": kind, "default": default})
    return out


def model_key(fingerprint: str, name: str, params: dict[str, Any]) -> str:
    """A key for a model fitted on a dataset's content (its fingerprint, never its name)."""
    blob = json.dumps({"d": fingerprint, "m": name, "p": params}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def fit_evaluate(data: OrderData, name: str, params: dict[str, Any] | None = None,
                 cutoff: str | None = None, k: int = 10, task: str = "novel",
                 callback: Callback | None = None) -> dict[str, Any]:
    """Fit on the data before the cutoff and score the holdout; returns the leaderboard row."""
    split = temporal_split(data, cutoff=cutoff)
    model = make_model(name, **(params or {}))
    start = time.perf_counter()
    model.fit(split.train, callback=callback)
    fit_s = time.perf_counter() - start
    res = evaluate(model, split, k=k, task=task, n_boot=500)
    row = {"model": name, **res.metrics, **{f"{m}_lo": lo for m, (lo, _) in res.ci.items()},
           **{f"{m}_hi": hi for m, (_, hi) in res.ci.items()}, "coverage": res.coverage,
           "customers": len(res.customer_ids), "fit_seconds": fit_s,
           "cutoff": str(split.cutoff.date()), "task": task, "k": k}
    return row


def fit_serving(data: OrderData, name: str, params: dict[str, Any] | None = None,
                callback: Callback | None = None):
    """The model the pages use: fitted on all the data."""
    return make_model(name, **(params or {})).fit(data, callback=callback)


def default_cutoff(data: OrderData):
    """The first day of the default holdout window (see ``evaluate.default_test_days``)."""
    import pandas as pd

    from recsys.evaluate import default_test_days

    last = data.interactions["timestamp"].max()
    return (last - pd.Timedelta(days=default_test_days(data))).date()


LEADERBOARD_COLUMNS = ["model", "ndcg", "ndcg_lo", "ndcg_hi", "recall", "hr", "precision", "map",
                       "coverage", "customers", "fit_seconds", "cutoff"]


def leaderboard_frame(rows: dict[str, dict[str, Any]]):
    """Leaderboard rows (from ``fit_evaluate``) as a table, best NDCG first."""
    import pandas as pd

    board = pd.DataFrame(list(rows.values())).sort_values("ndcg", ascending=False)
    return board[[c for c in LEADERBOARD_COLUMNS if c in board]].round(4)

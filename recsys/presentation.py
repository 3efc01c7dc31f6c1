"""How things read: model labels, settings in plain words, what a job is for, leaderboard
columns with their help, form fields for a model's settings. Wording only -- no workspace,
no jobs -- so that the pages, the command line and the job records say things the same way.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd

from recsys.models import model_class, model_settings, registry
from recsys.requests import (
    CampaignRequest,
    FitRequest,
    ImportRequest,
    Params,
    Request,
    SegmentsRequest,
    ServeRequest,
    TuneRequest,
    decode,
)


def short(value: Any) -> str:
    """A setting's value as a label shows it: 3 significant digits, long text cut."""
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 24 else text[:23] + "…"


def model_label(model: str, params: dict[str, Any] | None) -> str:
    """'ease' for the defaults, 'ease (l2=250)' when settings differ from them."""
    given, default = model_settings(model, params), model_settings(model)
    diff = [f"{k}={short(v)}" for k, v in given.items() if default.get(k) != v]
    return model + (f" ({', '.join(diff[:3])}{', …' if len(diff) > 3 else ''})" if diff else "")


def settings_in_words(model: str, params: dict[str, Any]) -> str:
    """The settings that differ from the defaults, by their plain names: 'Regularisation 312,
    Taste dimensions 16' ('' for the defaults); a blend says what it mixes."""
    given = model_settings(model, params)
    if registry.spec(model).wraps_base:
        base = settings_in_words(given["base"], json.loads(given["base_params"]))
        return (f"{given['base']}{f' ({base})' if base else ''} with "
                f"{given['popularity']:.0%} best sellers and {given['recent']:.0%} best "
                f"sellers of the last {given['recent_days']} days")
    helps = getattr(model_class(model).Config, "HELP", {})
    default = model_settings(model)
    words = []
    for key, value in given.items():
        if key in ("seed", "patience") or default.get(key) == value:
            continue
        words.append(f"{helps.get(key, key).partition(' — ')[0]} {short(value)}")
    return ", ".join(words)


def fit_label(request: FitRequest) -> str:
    """What a fitted model is called: a tuned one by what it is (its settings are in the
    leaderboard's own column), else by its settings."""
    return f"{request.model} · tuned" if request.tuned else model_label(request.model,
                                                                        request.params)


def request_label(request: Request) -> str:
    """How a job reads in a list: 'ease · fit + holdout score', 'als · fitted on all
    orders', ..."""
    if isinstance(request, ImportRequest):
        return f"import {request.name}"
    if isinstance(request, SegmentsRequest):
        what = "customer" if request.what == "customers" else "product"
        return f"{what} segments and their map ({request.method.upper()})"
    if isinstance(request, TuneRequest):
        models = request.models
        return (f"tune · {', '.join(models[:4])}{', …' if len(models) > 4 else ''} · "
                f"{request.minutes:g} min each")
    if isinstance(request, FitRequest):
        return f"{fit_label(request)} · fit + holdout score"
    if isinstance(request, ServeRequest):
        name = request.label or model_label(request.model, request.asked)
        return f"{name} · fitted on all orders"
    if isinstance(request, CampaignRequest):  # its settings are in the job's details
        return (f"{request.model} · learns who bought what before {request.cutoff}, to "
                "backtest campaigns")
    return request.kind_name if isinstance(request, Params) else request.kind


def job_details(kind: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """A job's settings as (what, value) rows in words: the details view of a job line,
    whose name only says what the job is for."""
    try:
        request = decode(kind, params)
    except (KeyError, TypeError, ValueError):
        return [("settings", json.dumps(params, default=str)[:400])]
    rows: list[tuple[str, str]] = []
    model = getattr(request, "model", None)
    if model:
        rows.append(("model", f"{model}: {registry.spec(model).description}"))
        given = getattr(request, "params", None) or getattr(request, "asked", None) or {}
        rows.append(("settings", settings_in_words(model, given) or "the defaults"))
    for name, what in (("cutoff", "learns from orders before"), ("window_days", "window (days)"),
                       ("models", "models"), ("minutes", "minutes per model"),
                       ("what", "what"), ("method", "projection"),
                       ("k", "segments" if isinstance(request, SegmentsRequest)
                        else "scored on the top"),
                       ("refit", "refit on all orders after"), ("n_boot", "bootstrap samples")):
        value = getattr(request, name, None)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        if value not in (None, "", ()):
            rows.append((what, ", ".join(value) if isinstance(value, tuple) else str(value)))
    if getattr(request, "tuned", None):
        rows.append(("settings chosen by", "a tuning search on the validation window"))
    return rows


def param_fields(name: str) -> list[dict[str, Any]]:
    """A model's settings for a form: name, type, default, a plain label, one line of help
    and the allowed range."""
    config = model_class(name).Config
    helps, bounds = getattr(config, "HELP", {}), getattr(config, "BOUNDS", {})
    choices = getattr(config, "CHOICES", {})
    out = []
    for f in dataclasses.fields(config):
        default = f.default
        kind = type(default).__name__
        if kind in ("int", "float", "bool", "str"):
            label, _, help_ = helps.get(f.name, "Random seed — the same seed gives the same "
                                        "model" if f.name == "seed" else f.name).partition(" — ")
            lo, hi = bounds.get(f.name, (None, None))
            out.append({"name": f.name, "type": kind, "default": default, "label": label,
                        "help": help_ or None, "min": lo, "max": hi,
                        "choices": list(choices.get(f.name, ())) or None})
    return out


# ---------------------------------------------------------------- leaderboard
LEADERBOARD_COLUMNS = ["model", "ndcg", "ndcg_lo", "ndcg_hi", "validation_ndcg", "tuned",
                       "settings", "recall", "hr", "precision", "map", "coverage", "customers",
                       "fit_seconds", "cutoff", "partial", "notes"]
# Each leaderboard column in plain words: (heading, what it means).
COLUMN_HELP = {
    "model": ("Model", "The model and any settings that differ from its defaults."),
    "ndcg": ("Ranking quality (NDCG@10)", "0 to 1: how near the top of each customer's 10 "
                                          "recommendations the products they actually bought "
                                          "next were."),
    "ndcg_lo": ("Quality, low end", "Lower end of the 95% confidence interval of the ranking "
                                    "quality (bootstrap over customers)."),
    "ndcg_hi": ("Quality, high end", "Upper end of the 95% confidence interval."),
    "validation_ndcg": ("Quality where tuned", "NDCG@10 on the last weeks before the holdout, "
                                              "where tuning chose the settings (the holdout "
                                              "is never seen by it)."),
    "tuned": ("Tuned", "Settings chosen by a search on the validation window; otherwise the "
                       "defaults or what was typed in."),
    "settings": ("Settings", "Settings that differ from the defaults, in plain words."),
    "recall": ("Recall@10", "Share of what each customer bought next that was in their 10."),
    "hr": ("Hit rate@10", "Share of customers with at least one purchase among their 10."),
    "precision": ("Precision@10", "Share of the 10 recommendations that were bought."),
    "map": ("Ranked precision (MAP@10)", "Mean average precision: like precision, rewarding "
                                         "hits near the top."),
    "coverage": ("Catalogue covered", "Share of the catalogue recommended to anyone at all."),
    "customers": ("Customers scored", "Customers who bought before and after the cutoff."),
    "fit_seconds": ("Training (s)", "Seconds to train on the orders before the cutoff."),
    "cutoff": ("Holdout from", "Trained on orders before this day, scored on those after."),
    "partial": ("Stopped early", "Training was stopped before the end; the best epoch so "
                                 "far is kept."),
    "notes": ("Limits", "Limits the model worked under on this shop (e.g. EASE learning on the "
                        "best sellers only when the catalogue is too big for it)."),
}


def leaderboard_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Leaderboard rows as a table, best NDCG first, without the columns that say nothing
    here (no model tuned, no notes; the cutoff is the table's title, and a stopped model
    says "partial" in its name)."""
    board = pd.DataFrame(rows).sort_values("ndcg", ascending=False)
    if "notes" in board:
        board["notes"] = board["notes"].map(lambda n: "; ".join(n) if isinstance(n, list) else n)
    said = [c for c in LEADERBOARD_COLUMNS if c in board and c not in ("cutoff", "partial")
            and board[c].map(_says_something).any()]
    return board[said].round(4)


def _says_something(value: Any) -> bool:
    """A cell worth a column: not empty, not "no" (a score of 0 still says something)."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return value is not None and value != "" and not (isinstance(value, float)
                                                      and np.isnan(value))


def tuning_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One search as a table: validation NDCG of the defaults, of the shop-scaled start and
    of the chosen settings, with those settings in words."""
    rows = [{"model": name, "trials": len(r["trials"]),
             "validation: defaults": r.get("default_score"),
             "validation: scaled start": r.get("start_score"), "validation: tuned": r["score"],
             "settings": r.get("settings") or "defaults"}
            for name, r in summary["models"].items()]
    return pd.DataFrame(rows).round(4)


def served_table(models) -> pd.DataFrame:
    """A dataset's model configurations (``workflow.Served``, best first) as a table: the
    name, which version serves the pages, the holdout score and its cutoff."""
    return pd.DataFrame([{"model": s.label, "serving": s.note, "ndcg": s.ndcg,
                          "holdout from": s.cutoff} for s in models],
                        columns=["model", "serving", "ndcg", "holdout from"])

"""What the app's buttons ask for, as job requests, and what the workspace holds for a dataset:
the models serving its pages, their holdout scores, and the jobs a new dataset starts with.

Requests are (kind, parameters) for ``recsys.jobs.Jobs``; parameters name the dataset by its
content fingerprint and spell every hyper-parameter out, so equal requests are one job.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recsys.data import OrderData
from recsys.jobs.kinds import canonical_params, dataset_params, settings_in_words
from recsys.models import model_class, registry
from recsys.workspace import DatasetRef, Workspace

Request = tuple[str, dict[str, Any]]
CAMPAIGN_WINDOW_DAYS = 30


def default_cutoff(data: OrderData):
    """The first day of the default holdout window (see ``evaluate.default_test_days``)."""
    from recsys.evaluate import default_test_days

    last = data.interactions["timestamp"].max()
    return (last - pd.Timedelta(days=default_test_days(data))).date()


def param_fields(name: str) -> list[dict[str, Any]]:
    """The model's hyper-parameters for a form: name, type, default, a plain label, one line
    of help and the allowed range."""
    config = model_class(name).Config
    helps, bounds = getattr(config, "HELP", {}), getattr(config, "BOUNDS", {})
    out = []
    for f in dataclasses.fields(config):
        default = f.default
        kind = type(default).__name__
        if kind in ("int", "float", "bool", "str"):
            label, _, help_ = helps.get(f.name, "Random seed — the same seed gives the same "
                                        "model" if f.name == "seed" else f.name).partition(" — ")
            lo, hi = bounds.get(f.name, (None, None))
            out.append({"name": f.name, "type": kind, "default": default, "label": label,
                        "help": help_ or None, "min": lo, "max": hi})
    return out


# ---------------------------------------------------------------- requests
def fit_request(ref: DatasetRef, fingerprint: str, model: str, params: dict | None,
                cutoff: str | None) -> Request:
    """Fit before ``cutoff`` and score the holdout (then refit on all data to serve)."""
    return "fit", {**dataset_params(ref, fingerprint), "model": model,
                   "params": canonical_params(model, params),
                   "cutoff": None if cutoff is None else str(cutoff)}


def tune_request(ref: DatasetRef, fingerprint: str, models: list[str], cutoff: str | None,
                 minutes: float, trials: int | None = None, total_minutes: float | None = None,
                 seed: int = 0) -> Request:
    """Search the models' settings on the validation window before ``cutoff`` (then fit the
    tuned models and their blend before it and score them on the holdout)."""
    for m in models:
        registry.spec(m)
    return "tune", {**dataset_params(ref, fingerprint), "models": list(models),
                    "cutoff": None if cutoff is None else str(cutoff),
                    "minutes": float(minutes), "trials": trials, "seed": int(seed),
                    "total_minutes": total_minutes}


def serve_request(ref: DatasetRef, fingerprint: str, model: str, params: dict | None
                  ) -> Request:
    """Fit on all the data, for the pages (campaign target lists use campaign settings)."""
    return "serve", {**dataset_params(ref, fingerprint), "model": model,
                     "params": canonical_params(model, params)}


def campaign_request(ref: DatasetRef, fingerprint: str, model: str, cutoff: str,
                     window_days: int = CAMPAIGN_WINDOW_DAYS) -> Request:
    """Stage 1 of a campaign backtest: the model (campaign settings) before the cutoff."""
    from recsys.campaign import campaign_params

    return "campaign", {**dataset_params(ref, fingerprint), "model": model,
                        "params": canonical_params(model, campaign_params(model)),
                        "cutoff": str(cutoff), "window_days": int(window_days)}


def segments_request(ref: DatasetRef, fingerprint: str, model_id: str, what: str,
                     method: str, holdout_id: str | None = None) -> Request:
    """Clusters and a projection of a model's embeddings; with ``holdout_id`` (the same
    model fitted before the holdout) also how well the segments predict purchases."""
    return "segments", {**dataset_params(ref, fingerprint), "model_id": model_id,
                        "what": what, "method": method, "holdout_id": holdout_id}


def starter_requests(ref: DatasetRef, fingerprint: str, data: OrderData) -> list[Request]:
    """What a dataset gets on first sight, so that every page has something to show: the
    starter models (fitted and scored, then refitted to serve) and the default campaign
    backtests."""
    cutoff = str(default_cutoff(data))
    starters = [s.name for s in registry.specs() if s.starter and
                (s.max_default_items is None or data.n_items <= s.max_default_items)]
    out = [fit_request(ref, fingerprint, m, None, cutoff) for m in starters]
    from recsys.campaign import default_cutoff as campaign_cutoff

    campaign_cut = str(campaign_cutoff(data, CAMPAIGN_WINDOW_DAYS))
    for m in registry.campaign_models()[:2]:
        out.append(campaign_request(ref, fingerprint, m, campaign_cut))
        out.append(serve_request(ref, fingerprint, m,
                                 registry.spec(m).campaign_params))
    return out


# ---------------------------------------------------------------- what is there
@dataclass
class Served:
    """One trained model configuration of a dataset and the version that serves the pages:
    the refit on all data when it is there, else the holdout model."""

    label: str
    model: str
    group: str
    serving_id: str
    trained_on: str
    holdout_id: str | None
    metrics: dict[str, Any]
    partial: bool

    @property
    def note(self) -> str:
        if self.trained_on == "all":
            return "serving: fitted on all orders"
        cut = self.metrics.get("cutoff", "the cutoff")
        return (f"serving: the holdout model (orders before {cut})"
                + (", stopped early" if self.partial else "; the refit on all data follows"))


def served_models(ws: Workspace, fingerprint: str) -> list[Served]:
    """The dataset's trained (holdout-scored) model configurations, newest first."""
    groups: dict[str, list[dict]] = {}
    for m in ws.list_models(fingerprint=fingerprint):
        if m.get("trained_on") in ("holdout", "all"):
            groups.setdefault(m["group"], []).append(m)
    out = []
    for group, metas in groups.items():
        full = [m for m in metas if m["trained_on"] == "all" and not m.get("partial")]
        holdout = [m for m in metas if m["trained_on"] == "holdout"]
        if not holdout:  # fitted for a campaign target list only: not a trained model
            continue
        serving = (full or holdout)[0]
        out.append(Served(serving.get("label") or serving["model"], serving["model"], group,
                          serving["name"], serving["trained_on"],
                          holdout[0]["name"], holdout[0].get("metrics", {}),
                          bool(serving.get("partial"))))
    return out


def leaderboard_rows(ws: Workspace, fingerprint: str, cutoff: str | None = None
                     ) -> list[dict[str, Any]]:
    """Holdout scores of the dataset's models at one cutoff (newest per configuration)."""
    rows: dict[str, dict] = {}
    for m in ws.list_models(fingerprint=fingerprint, trained_on="holdout"):
        met = m.get("metrics") or {}
        if cutoff is None or met.get("cutoff") == str(cutoff):
            rows.setdefault(m["group"], {
                **met, "model": m.get("label") or m["model"],
                "tuned": bool(m.get("tuned") or met.get("tuned")),
                "settings": met.get("settings", settings_in_words(m["model"],
                                                                  m.get("requested") or {}))})
    return list(rows.values())


LEADERBOARD_COLUMNS = ["model", "ndcg", "ndcg_lo", "ndcg_hi", "val_ndcg", "tuned", "settings",
                       "recall", "hr", "precision", "map", "coverage", "customers",
                       "fit_seconds", "cutoff", "partial", "notes"]
# Each leaderboard column in plain words: (heading, what it means).
COLUMN_HELP = {
    "model": ("Model", "The model and any settings that differ from its defaults."),
    "ndcg": ("NDCG@10", "Ranking quality, 0 to 1: how near the top of each customer's 10 "
                        "recommendations the products they actually bought next were."),
    "ndcg_lo": ("NDCG low", "Lower end of the 95% confidence interval (bootstrap over "
                            "customers)."),
    "ndcg_hi": ("NDCG high", "Upper end of the 95% confidence interval."),
    "val_ndcg": ("Validation NDCG@10", "NDCG@10 on the last weeks before the holdout, where "
                                       "tuning chose the settings (the holdout is never seen "
                                       "by it)."),
    "tuned": ("Tuned", "Settings chosen by a search on the validation window; otherwise the "
                       "defaults or what was typed in."),
    "settings": ("Settings", "Settings that differ from the defaults, in plain words."),
    "recall": ("Recall@10", "Share of what each customer bought next that was in their 10."),
    "hr": ("Hit rate@10", "Share of customers with at least one purchase among their 10."),
    "precision": ("Precision@10", "Share of the 10 recommendations that were bought."),
    "map": ("MAP@10", "Mean average precision: like precision, rewarding hits near the top."),
    "coverage": ("Coverage", "Share of the catalogue recommended to anyone at all."),
    "customers": ("Customers scored", "Customers who bought before and after the cutoff."),
    "fit_seconds": ("Training (s)", "Seconds to train on the orders before the cutoff."),
    "cutoff": ("Holdout from", "Trained on orders before this day, scored on those after."),
    "partial": ("Stopped early", "Training was stopped before the end; the best epoch so "
                                 "far is kept."),
    "notes": ("Limits", "Limits the model worked under on this shop (e.g. EASE learning on the "
                        "best sellers only when the catalogue is too big for it)."),
}


def tuning_summaries(ws: Workspace, jobs: list, cutoff: str | None = None
                     ) -> list[dict[str, Any]]:
    """The stored searches of finished tune jobs (newest first), at one holdout cutoff, each
    with its job's trial history and label."""
    out = []
    for job in jobs:
        if job.kind != "tune" or not job.result or not ws.has_result(job.result["result"]):
            continue
        summary = ws.load_result(job.result["result"])[0]
        if cutoff is None or summary.get("cutoff") == str(cutoff):
            out.append({**summary, "history": job.history, "label": job.label})
    return out


def tuning_table(summary: dict[str, Any]) -> pd.DataFrame:
    """One search as a table: validation NDCG of the defaults, of the shop-scaled start and
    of the chosen settings, with those settings in words."""
    rows = [{"model": name, "trials": len(r["trials"]),
             "validation: defaults": r.get("default_score"),
             "validation: scaled start": r.get("start_score"), "validation: tuned": r["score"],
             "settings": r.get("settings") or "defaults"}
            for name, r in summary["models"].items()]
    return pd.DataFrame(rows).round(4)


def leaderboard_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Leaderboard rows as a table, best NDCG first."""
    board = pd.DataFrame(rows).sort_values("ndcg", ascending=False)
    return board[[c for c in LEADERBOARD_COLUMNS if c in board]].round(4)


"""What the workspace holds for a dataset -- the models serving its pages, their holdout
scores, stored searches -- and what a dataset seen for the first time asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from recsys.campaign import default_cutoff as campaign_cutoff
from recsys.data import OrderData
from recsys.evaluate import default_test_days
from recsys.models import registry
from recsys.presentation import settings_in_words
from recsys.records import ScoreRow, TrainedOn
from recsys.requests import CampaignRequest, DatasetKey, FitRequest, Request, ServeRequest
from recsys.workspace import Workspace

CAMPAIGN_WINDOW_DAYS = 30


def default_cutoff(data: OrderData):
    """The first day of the default holdout window (see ``evaluate.default_test_days``)."""
    last = data.interactions["timestamp"].max()
    return (last - pd.Timedelta(days=default_test_days(data))).date()


def starter_requests(data_key: DatasetKey, data: OrderData) -> list[Request]:
    """What a dataset gets on first sight, so that every page has something to show: the
    starter models (fitted and scored, then refitted to serve) and the default campaign
    model (before the last window, for the backtest, and on all data, for the audience)."""

    cutoff = str(default_cutoff(data))
    starters = [s.name for s in registry.specs() if s.starter and
                (s.max_default_items is None or data.n_items <= s.max_default_items)]
    out: list[Request] = [FitRequest.of(data_key, m, None, cutoff) for m in starters]
    campaign_cut = str(campaign_cutoff(data, CAMPAIGN_WINDOW_DAYS))
    m = registry.campaign_models()[0]  # the plan's default model (others on request)
    out.append(CampaignRequest.of(data_key, m, campaign_cut, CAMPAIGN_WINDOW_DAYS))
    out.append(ServeRequest.for_campaigns(data_key, m))
    return out


@dataclass
class Served:
    """One trained model configuration of a dataset and the version that serves the pages:
    the refit on all data when it is there, else the holdout model."""

    title: str  # its name (``label`` adds "partial", "below best sellers")
    model: str
    group: str
    serving_id: str
    trained_on: TrainedOn
    holdout_id: str | None
    score: ScoreRow | None
    partial: bool
    below_baseline: bool = False  # personalised, yet under best sellers on its holdout

    @property
    def label(self) -> str:
        """How lists show it: its name, and "partial" / "below best sellers" when so."""
        return self.title + (PARTIAL if self.partial else "") + \
            (BELOW if self.below_baseline else "")

    @property
    def eligible(self) -> bool:
        """Fit to be a page's default: trained to the end, and not beaten by best sellers."""
        return not self.partial and not self.below_baseline

    @property
    def ndcg(self) -> float | None:
        return self.score.metrics.get("ndcg") if self.score else None

    @property
    def cutoff(self) -> str | None:
        return self.score.cutoff if self.score else None

    @property
    def note(self) -> str:
        if self.holdout_id is None:
            return "serving: a model file taken in" + (
                "" if self.score else " (trained on other data: no holdout score here)")
        if self.trained_on is TrainedOn.ALL:
            return "serving: fitted on all orders"
        cut = self.cutoff or "the cutoff"
        return (f"serving: the holdout model (orders before {cut})"
                + (", stopped early" if self.partial else "; the refit on all data follows"))


PARTIAL, BELOW = " · partial", " · below best sellers"


def served_models(ws: Workspace, fingerprint: str) -> list[Served]:
    """The dataset's trained (holdout-scored) model configurations, best first: complete
    models before stopped ones (labelled partial), then by holdout NDCG; a personalised
    model scoring under the best non-personalised one (best sellers) at its cutoff is
    labelled so. The first ``eligible`` one is what pages show unless the analyst chose."""
    groups: dict[str, list] = {}
    for r in ws.model_records(fingerprint=fingerprint):
        if r.trained_on in (TrainedOn.HOLDOUT, TrainedOn.ALL):
            groups.setdefault(r.group or r.name, []).append(r)
    out = []
    for group, records in groups.items():
        full = [r for r in records if r.trained_on is TrainedOn.ALL and not r.partial]
        holdout = [r for r in records if r.trained_on is TrainedOn.HOLDOUT]
        imported = [r for r in records if r.origin is not None]
        if imported:  # a model file taken in: served as it came, scored where it was made
            r = imported[0]
            out.append(Served(r.display, r.model, group, r.name, r.trained_on, None,
                              r.metrics, r.partial))
        elif holdout:  # else fitted for a campaign target list only: not a trained model
            serving = (full or holdout)[0]
            out.append(Served(serving.display, serving.model, group, serving.name,
                              serving.trained_on, holdout[0].name, holdout[0].metrics,
                              serving.partial))
    return _ranked(out)


def _ranked(models: list[Served]) -> list[Served]:
    baseline: dict[str | None, float] = {}
    for s in models:
        if s.ndcg is not None and not s.partial and not registry.spec(s.model).personalised:
            baseline[s.cutoff] = max(baseline.get(s.cutoff, 0.0), s.ndcg)
    for s in models:
        bar = baseline.get(s.cutoff)
        s.below_baseline = bool(registry.spec(s.model).personalised and bar is not None
                                and s.ndcg is not None and s.ndcg < bar)
    return sorted(models, key=lambda s: (not s.eligible, s.partial,
                                         1.0 if s.ndcg is None else -s.ndcg))  # unscored last


def default_models(models: list[Served], n: int = 1) -> list[Served]:
    """What a page shows when the analyst has not chosen: the ``n`` best eligible models
    (never a stopped one or one below best sellers), else the best there is."""
    return [s for s in models if s.eligible][:n] or models[:1]



def leaderboard_rows(ws: Workspace, fingerprint: str, cutoff: str | None = None
                     ) -> list[dict[str, Any]]:
    """Holdout scores of the dataset's models at one cutoff (newest per configuration), as
    flat rows (``ScoreRow.to_dict``)."""
    rows: dict[str, dict] = {}
    for r in ws.model_records(fingerprint=fingerprint, trained_on=TrainedOn.HOLDOUT):
        if r.metrics is None or (cutoff is not None and r.metrics.cutoff != str(cutoff)):
            continue
        partial = r.partial or r.metrics.partial
        row = r.metrics.but(model=r.display + (PARTIAL if partial else ""),
                            tuned=bool(r.tuned or r.metrics.tuned),
                            settings=r.metrics.settings
                            or settings_in_words(r.model, r.requested or {}))
        rows.setdefault(r.group or r.name, row.to_dict())
    return list(rows.values())


def tuning_summaries(ws: Workspace, jobs: list, cutoff: str | None = None
                     ) -> list[dict[str, Any]]:
    """The stored searches of finished tune jobs (newest first), at one holdout cutoff, each
    with its job's trial history and label."""
    out = []
    for job in jobs:
        if job.kind != "tune" or not job.result or not ws.has_result(job.result_key):
            continue
        summary = ws.load_result(job.result_key)[0]
        if cutoff is None or summary.get("cutoff") == str(cutoff):
            out.append({**summary, "history": job.history, "label": job.label})
    return out

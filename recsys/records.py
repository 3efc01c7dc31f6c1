"""What the workspace keeps about a fitted model, and the one schema of a holdout score.

``ModelRecord`` is a stored model's meta.json as a typed record: which job made it, on
what (``trained_on``: the orders before the holdout, all of them, or a campaign's window),
with which settings, and how it scored. ``ScoreRow`` is a holdout score -- the leaderboard's
row and the bench's per-model entry alike, with the same names. Both read records written
by earlier versions (a leaderboard row's ``val_ndcg``, the bench's ``ndcg_ci`` pairs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

METRICS = ("ndcg", "recall", "hr", "precision", "map")


class TrainedOn(StrEnum):
    """What a stored model was fitted on."""

    HOLDOUT = "holdout"  # the orders before the holdout cutoff: scored on the weeks after
    ALL = "all"  # every order: the version the pages serve
    WINDOW = "window"  # the orders before a campaign backtest's cutoff


@dataclass(frozen=True)
class ScoreRow:
    """One model's score on a temporal holdout (full ranking at ``k``): the mean metrics
    with their 95% bootstrap intervals, catalogue coverage and novelty, how long it took."""

    model: str  # how it is named: 'ease (l2=250)', 'als · tuned'
    k: int
    task: str
    metrics: dict[str, float]
    lo: dict[str, float] = field(default_factory=dict)
    hi: dict[str, float] = field(default_factory=dict)
    coverage: float = 0.0
    novelty: float = 0.0
    customers: int = 0
    recommend_ms_per_customer: float = 0.0
    fit_seconds: float | None = None
    cutoff: str | None = None
    partial: bool = False
    notes: tuple[str, ...] = ()
    tuned: bool = False
    validation_ndcg: float | None = None  # on the tuning's validation window, when tuned
    settings: str = ""  # the settings that differ from the defaults, in words

    @classmethod
    def of(cls, result, model: str, **more: Any) -> ScoreRow:
        """From ``evaluate``'s result, rounded as every stored score and bench JSON is (five
        places; the leaderboard and the bench print four)."""
        return cls(model=model, k=result.k, task=result.task,
                   metrics={m: round(float(v), 5) for m, v in result.metrics.items()},
                   lo={m: round(float(lo), 5) for m, (lo, _) in result.ci.items()},
                   hi={m: round(float(hi), 5) for m, (_, hi) in result.ci.items()},
                   coverage=round(float(result.coverage), 5),
                   novelty=round(float(result.novelty), 4),
                   customers=int(len(result.customer_ids)),
                   recommend_ms_per_customer=round(float(result.recommend_ms_per_customer), 4),
                   **more)

    def but(self, **changes: Any) -> ScoreRow:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Flat, for tables and JSON: ``ndcg``, ``ndcg_lo``, ``ndcg_hi``, ..."""
        out: dict[str, Any] = {"model": self.model, **self.metrics}
        out.update({f"{m}_lo": v for m, v in self.lo.items()})
        out.update({f"{m}_hi": v for m, v in self.hi.items()})
        for f in dataclasses.fields(self):
            if f.name not in ("model", "metrics", "lo", "hi"):
                out[f.name] = getattr(self, f.name)
        out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoreRow:
        """A row as stored, by this version or an earlier one."""
        metrics = {m: float(d[m]) for m in METRICS if d.get(m) is not None}
        lo = {m: float(d[f"{m}_lo"]) for m in METRICS if d.get(f"{m}_lo") is not None}
        hi = {m: float(d[f"{m}_hi"]) for m in METRICS if d.get(f"{m}_hi") is not None}
        for m in METRICS:  # the bench wrote [lo, hi] pairs
            if isinstance(d.get(f"{m}_ci"), (list, tuple)):
                lo[m], hi[m] = (float(x) for x in d[f"{m}_ci"])
        notes = d.get("notes") or ()
        notes = tuple(n for n in notes.split("; ") if n) if isinstance(notes, str) \
            else tuple(notes)
        simple = {f.name: d[f.name] for f in dataclasses.fields(cls)
                  if f.name in d and f.name not in ("model", "metrics", "lo", "hi", "notes",
                                                    "validation_ndcg")}
        return cls(model=str(d.get("model", "?")), metrics=metrics, lo=lo, hi=hi, notes=notes,
                   validation_ndcg=d.get("validation_ndcg", d.get("val_ndcg")),
                   **{"k": int(d.get("k", 10)), "task": str(d.get("task", "novel")), **simple})


@dataclass(frozen=True)
class ModelRecord:
    """A stored model's description (its folder's meta.json)."""

    name: str  # the folder, i.e. the id pages and jobs use
    model: str  # the registry name
    params: dict[str, Any]  # the settings it was fitted with
    trained_on: TrainedOn
    created: float = 0.0
    label: str | None = None
    fingerprint: str | None = None  # the dataset's content
    dataset: dict[str, Any] | None = None  # where the dataset is (kind, name)
    group: str | None = None  # the configuration: a holdout model and its refit share it
    requested: dict[str, Any] = field(default_factory=dict)  # the settings as asked
    partial: bool = False  # training was stopped: the best epoch so far
    cutoff: str | None = None  # holdout or campaign window start
    window_days: int | None = None
    metrics: ScoreRow | None = None  # the holdout score (trained_on HOLDOUT)
    fit_seconds: float | None = None
    tuned: str | None = None  # the key of the tune job that chose the settings
    source: str | None = None  # the holdout model a refit repeats
    serve_params: dict[str, Any] | None = None  # a refit's own settings (the best epoch)
    job: str | None = None  # the job that made it: its id, kind, key, parameters, label
    kind: str | None = None
    job_key: str | None = None
    job_params: dict[str, Any] | None = None
    job_label: str | None = None
    origin: dict[str, Any] | None = None  # an imported model: its card's dataset, score, date

    @property
    def display(self) -> str:
        return self.label or self.model

    def to_meta(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name != "name" and getattr(self, f.name) is not None}
        out["trained_on"] = self.trained_on.value
        if self.metrics is not None:
            out["metrics"] = self.metrics.to_dict()
        return out

    @classmethod
    def from_meta(cls, meta: dict[str, Any], name: str) -> ModelRecord:
        """A meta.json as written by this version or an earlier one (unknown keys are
        ignored, missing ones take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in meta.items() if k in known and k not in ("name", "metrics")}
        try:
            d["trained_on"] = TrainedOn(meta.get("trained_on") or "all")
        except ValueError:
            d["trained_on"] = TrainedOn.ALL
        metrics = meta.get("metrics")
        return cls(name=name, model=str(meta.get("model", "?")),
                   params=dict(meta.get("params") or {}),
                   metrics=ScoreRow.from_dict(metrics) if isinstance(metrics, dict)
                   and metrics.get("ndcg") is not None else None,
                   **{k: v for k, v in d.items() if k not in ("model", "params")})

    def but(self, **changes: Any) -> ModelRecord:
        return dataclasses.replace(self, **changes)

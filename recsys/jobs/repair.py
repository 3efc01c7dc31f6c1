"""A job table made again from what the workspace holds (after the old one was damaged).

Every stored model, result and dataset was made by a job; the model's meta.json and the
result's job.json keep that job's id, kind, key and parameters, so the rebuilt records are
the finished jobs as they were: the same request finds its stored result and is not run
again. Entries stored before those fields existed get a record that lists them (with a key
of their own, so they are not mistaken for a request)."""

from __future__ import annotations

import time
from typing import Any

from recsys.data.report import ImportReport
from recsys.jobs.store import DONE, STOPPED, Job
from recsys.workspace import Workspace


def records(ws: Workspace) -> list[Job]:
    """Finished-job records for every model, stored result and dataset of ``ws``."""
    return [*_models(ws), *_results(ws), *_datasets(ws)]


def _done(id: str, kind: str, key: str, params: dict[str, Any], result: dict[str, Any],
          created: float | None, label: str | None, dataset: str | None,
          partial: bool = False) -> Job:
    when = float(created or time.time())
    return Job(id=id, kind=kind, params=params, key=key, state=STOPPED if partial else DONE,
               created=when, started=when, finished=when, dataset=dataset, label=label,
               progress=1.0, result=result, step="listed again from the workspace")


def _models(ws: Workspace) -> list[Job]:
    out = []
    for r in ws.model_records():
        params = r.job_params or {"dataset": r.dataset, "fingerprint": r.fingerprint,
                                  "model": r.model, "params": r.requested or r.params}
        result: dict[str, Any] = {"model_id": r.name, "partial": r.partial}
        if r.metrics is not None:
            result["metrics"] = r.metrics.to_dict()
        out.append(_done(r.job or r.name, r.kind or "fit", r.job_key or f"rebuilt-{r.name}",
                         params, result, r.created, r.job_label or r.label, r.fingerprint,
                         partial=r.partial))
    return out


def _results(ws: Workspace) -> list[Job]:
    out = []
    for key, job in ws.list_results():
        job = job or {}
        out.append(_done(str(job.get("id") or f"r-{key[:10]}"), str(job.get("kind") or "result"),
                         key, job.get("params") or {}, {"result": key}, job.get("created"),
                         job.get("label"), job.get("dataset")))
    return out


def _datasets(ws: Workspace) -> list[Job]:
    out = []
    for meta in ws.list_datasets():
        name = meta["name"]
        try:
            fingerprint = str(meta["fingerprint"])
        except KeyError:
            continue
        report = ImportReport.from_dict(meta.get("report"))
        result = {"dataset": name, "fingerprint": fingerprint, "format": report.format,
                  "rows_read": report.rows_read, "rows_kept": report.rows_kept}
        saved = meta.get("saved_at")
        try:
            created = time.mktime(time.strptime(saved, "%Y-%m-%d %H:%M:%S")) if saved else None
        except (ValueError, TypeError):
            created = None
        out.append(_done(f"d-{fingerprint[:10]}", "import", f"rebuilt-import-{name}",
                         {"name": name}, result, created, f"import {name}", fingerprint))
    return out


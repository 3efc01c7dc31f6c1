"""Background jobs kept in the workspace: ``Jobs(workspace).submit(request)``.

A job's record (its request's parameters, state, progress with ETA and live metrics,
timings, error, where its result lives) sits in the workspace's SQLite file, so any page,
session, reload or the command line sees it. Results are stored in the workspace; the same
request (``recsys.requests``: it names the dataset by its content fingerprint) reuses the
stored result instead of computing it again. Executors run the jobs: ``LocalExecutor`` in
worker processes on this machine (the default; no service to start), ``InlineExecutor`` in
the calling process.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from recsys.errors import is_ours, safe_message, safe_traceback
from recsys.jobs.executor import (
    Executor,
    InlineExecutor,
    LocalExecutor,
    RayExecutor,
    default_executor,
)
from recsys.jobs.kinds import KINDS, JobError
from recsys.jobs.progress import Reporter
from recsys.jobs.repair import records
from recsys.jobs.store import (
    ACTIVE,
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    Job,
    JobStore,
    JobTableDamaged,
    JobTableError,
    ReadOnlyWorkspace,
)
from recsys.models.trainer import StopTraining
from recsys.presentation import request_label
from recsys.records import ModelRecord, TrainedOn
from recsys.requests import DatasetKey, Params, Request, decode, key_of, kind_of
from recsys.workspace import DatasetRef, StoreError, Workspace

log = logging.getLogger(__name__)


UPLOAD_GRACE_S = 120.0  # an upload no import job names yet is being submitted right now


class Jobs:
    """The job layer of one workspace. ``create=False``: a listing that never makes the
    workspace (one that does not exist reads as empty)."""

    def __init__(self, workspace: Workspace | None = None,
                 executor: Executor | None = None, *, create: bool = True) -> None:
        self.ws = workspace or Workspace()
        self.store = JobStore(self.ws.jobs_db(), create=create)
        self._executor = executor
        self.reporters: dict[str, Reporter] = {}  # jobs running in this process

    @property
    def executor(self) -> Executor:
        """Who runs the jobs, made when first needed: listing needs no workers."""
        if self._executor is None:
            self._executor = default_executor()
        return self._executor

    # ------------------------------------------------------------ asking
    def submit(self, request: Request, *, label: str | None = None, owner: str | None = None,
               priority: int = 0, reuse: bool = True, start: bool = True) -> Job:
        """Queue the request's job and have it run; returns its record. With ``reuse`` an
        identical job that is running, queued or done (its result still stored) is returned
        instead. ``start=False`` only queues it: ``start_queued`` (or the next ``reap``)
        starts it."""
        kind = kind_of(request)
        if kind not in KINDS:
            raise JobError(f"Unknown job kind {kind!r}; kinds: {', '.join(KINDS)}")
        if self.store.readonly:
            raise ReadOnlyWorkspace(self.ws.root)
        key = request.key()
        self.store.reap()  # a job whose worker died is never handed back as still running
        if reuse:
            found = self.store.find(key, (QUEUED, RUNNING, DONE, STOPPED))
            if found is not None and (found.active or self.result_exists(found)):
                if found.state == QUEUED and priority < found.priority:
                    self.store.hurry(found.id, priority)
                return self.store.get(found.id)
        job = self.store.add(kind, request.to_params(), key, dataset=request.fingerprint,
                             label=label or request_label(request), owner=owner,
                             priority=priority)
        if start:
            self.executor.start(self, job)
        return self.store.get(job.id)

    def start_queued(self) -> None:
        """Have the queued jobs run (those submitted with ``start=False``)."""
        if not self.store.readonly and self.store.queued():
            self.executor.start(self, None)

    def latest(self, request: Request) -> Job | None:
        """The newest job for this request, whatever its state."""
        job = self.store.find(request.key(), (*ACTIVE, *FINISHED))
        if job is not None and job.state in (DONE, STOPPED) and not self.result_exists(job):
            return None
        return job

    def ensure(self, request: Request, **kw: Any) -> Job:
        """The job for this request: the one there is (even failed, so a page does not
        retry it on every rerun), else a new one."""
        return self.latest(request) or self.submit(request, **kw)

    def get(self, job_id: str) -> Job:
        return self.store.get(job_id)

    def list(self, **filters: Any) -> list[Job]:
        return self.store.list(**filters)

    def cancel(self, job_id: str) -> Job:
        return self.store.request_cancel(job_id)

    def reap(self) -> list[str]:
        """Fail jobs whose worker died, remove the raw uploads no running import needs, and
        start workers for jobs still queued."""
        dead = self.store.reap()
        self.sweep_uploads()
        if not self.store.readonly and self.store.queued():
            self.executor.start(self, None)
        return dead

    def sweep_uploads(self, grace: float = UPLOAD_GRACE_S) -> list[str]:
        """Delete raw uploads (whole exports: e-mails, names, addresses) whose import is no
        longer queued or running -- it ended, failed, or its worker was killed. An upload no
        job names yet is kept for ``grace`` seconds (it is being submitted)."""
        if self.store.readonly:
            return []
        imports = self.store.list(kind="import", limit=100_000)
        # An import's own folders: its upload, and its scratch space when it reads files.
        waiting = {n for j in imports if j.active for n in (j.params.get("upload"),
                                                              f"job-{j.id}")}
        named = {n for j in imports for n in (j.params.get("upload"), f"job-{j.id}")}
        gone = []
        for digest, age in self.ws.list_uploads():
            if digest not in waiting and (digest in named or age > grace):
                self.ws.drop_upload(digest)
                gone.append(digest)
        return gone

    @staticmethod
    def rebuild(ws: Workspace) -> tuple[Path | None, int]:
        """A new job table listing what the workspace holds (its models, stored results and
        datasets, as finished jobs); a damaged one is moved aside first, never deleted.
        Returns where the old file went and how many records were written."""
        path = ws.jobs_db()
        aside = None
        if path.exists():
            aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, aside)
            for side in ("-wal", "-shm"):
                if path.with_name(path.name + side).exists():
                    os.replace(path.with_name(path.name + side),
                               aside.with_name(aside.name + side))
        store = JobStore(path)
        found = records(ws)
        for job in found:
            store.insert(job)
        return aside, len(found)

    def wait(self, job_id: str, timeout: float = 600, poll: float = 0.2) -> Job:
        end = time.monotonic() + timeout
        while True:
            job = self.store.get(job_id)
            if not job.active or time.monotonic() > end:
                return job
            time.sleep(poll)

    def result_exists(self, job: Job) -> bool:
        res = job.result or {}
        if "model_id" in res:
            return self.ws.has_model(res["model_id"])
        if "result" in res:
            return self.ws.has_result(res["result"])
        if "dataset" in res:  # and not replaced by another import under the same name
            ref = DatasetRef.saved(res["dataset"])
            return self.ws.has_dataset(ref) and self.ws.fingerprint(ref) == res["fingerprint"]
        return job.state in (DONE, STOPPED)

    # ------------------------------------------------------------ running (worker side)
    def run(self, job: Job) -> Job:
        """Run a claimed job to its end in this process; never raises for the job's errors."""
        reporter = Reporter(lambda **kw: self.store.report(job.id, **kw))
        self.reporters[job.id] = reporter
        ctx = JobContext(self, job, reporter)
        try:
            request = decode(job.kind, job.params)
            # A plugin's kind (no request type of its own) gets its parameters as given.
            result = KINDS[job.kind](ctx, request.values if isinstance(request, Params)
                                     else request)
        except BaseException as exc:  # noqa: BLE001 (a job's failure is recorded, not raised)
            state, error = _failure(exc, reporter)
            # Neither the record nor the log may quote the user's file: library messages
            # are left out (recsys.errors).
            log.warning("job %s (%s) %s: %s\n%s", job.id, job.kind, state, error,
                        safe_traceback(exc))
            self.store.finish(job.id, state, error=error)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            partial = bool(result.get("partial")) or reporter.cancelled
            self.store.finish(job.id, STOPPED if partial else DONE, result=result)
        finally:
            self.reporters.pop(job.id, None)
        return self.store.get(job.id)


def _failure(exc: BaseException, reporter: Reporter) -> tuple[str, str]:
    """The state and one-line message a failed job ends with."""
    if isinstance(exc, (StopTraining, KeyboardInterrupt)) or reporter.cancelled:
        return CANCELLED, "Stopped on request before anything usable was trained."
    if isinstance(exc, MemoryError):
        return FAILED, ("Ran out of memory. Try a smaller model, fewer products, or a machine "
                        "with more memory.")
    if isinstance(exc, (ValueError, KeyError, StoreError, JobError, NotImplementedError)) \
            and is_ours(exc):
        return FAILED, safe_message(exc)
    return FAILED, f"Unexpected error ({safe_message(exc)}); see the workspace log."


class JobContext:
    """What a handler may use: the workspace, its dataset, progress and follow-up jobs."""

    def __init__(self, jobs: Jobs, job: Job, reporter: Reporter) -> None:
        self.jobs, self.job, self.reporter = jobs, job, reporter
        self.ws = jobs.ws

    def dataset(self, data: DatasetKey):
        """The request's dataset, refusing one whose content changed since it was asked."""
        if self.ws.fingerprint(data.ref) != data.fingerprint:
            raise JobError(f"The dataset {data.ref.label!r} was replaced after this job was "
                           "asked for; ask again on the new data.")
        return self.ws.load_dataset(data.ref)

    def save_model(self, model, data: DatasetKey, name: str, asked: dict[str, Any],
                   trained_on: TrainedOn, **fields: Any) -> str:
        """Store a fitted model under this job's id, with what it was trained on (the
        configuration it belongs to: ``name`` with the settings as ``asked``); returns the
        id."""
        j = self.job
        record = ModelRecord(
            name=j.id, model=model.name, params=model.params(), trained_on=trained_on,
            fingerprint=data.fingerprint, dataset=data.params()["dataset"],
            group=key_of("model", {"model": name, "params": asked}), requested=asked,
            partial=bool(model.partial_), job=j.id, kind=j.kind, job_key=j.key,
            job_params=j.params, job_label=j.label, **fields)
        self.ws.save_model(model, record)
        return j.id

    def save_result(self, summary: dict[str, Any], **tables: Any) -> str:
        """Store this job's result under its key (with the job's record beside it, so a
        rebuilt job table finds it again); returns the key."""
        j = self.job
        self.ws.save_result(j.key, summary, **tables,
                            job={"id": j.id, "kind": j.kind, "params": j.params,
                                 "label": j.label, "dataset": j.dataset,
                                 "created": j.created})
        return j.key

    def submit(self, request: Request, **kw: Any) -> Job:
        """A follow-up job, as urgent as this one."""
        return self.jobs.submit(request, priority=self.job.priority, **kw)


__all__ = ["ACTIVE", "CANCELLED", "DONE", "FAILED", "FINISHED", "QUEUED", "RUNNING",
           "STOPPED", "InlineExecutor", "Job", "JobContext", "JobError", "JobStore",
           "JobTableDamaged", "JobTableError", "Jobs", "LocalExecutor", "RayExecutor",
           "ReadOnlyWorkspace"]

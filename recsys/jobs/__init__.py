"""Background jobs kept in the workspace: ``Jobs(workspace).submit(kind, params)``.

A job's record (parameters, state, progress with ETA and live metrics, timings, error, where
its result lives) sits in the workspace's SQLite file, so any page, session, reload or the
command line sees it. Results are stored in the workspace; the same (kind, parameters) --
parameters name the dataset by its content fingerprint -- reuses the stored result instead of
computing it again. Executors run the jobs: ``LocalExecutor`` in worker processes on this
machine (the default; no service to start), ``InlineExecutor`` in the calling process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from typing import Any

from recsys.jobs.executor import (
    Executor,
    InlineExecutor,
    LocalExecutor,
    RayExecutor,
    default_executor,
)
from recsys.jobs.kinds import JobError
from recsys.jobs.progress import Reporter
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
)
from recsys.workspace import DatasetRef, StoreError, Workspace

log = logging.getLogger(__name__)


def job_key(kind: str, params: dict[str, Any]) -> str:
    """What makes two jobs the same: kind + parameters, without '_'-prefixed notes."""
    core = {k: v for k, v in params.items() if not k.startswith("_")}
    blob = json.dumps({"kind": kind, "params": core}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class Jobs:
    """The job layer of one workspace."""

    def __init__(self, workspace: Workspace | None = None,
                 executor: Executor | None = None) -> None:
        self.ws = workspace or Workspace()
        self.store = JobStore(self.ws.jobs_db())
        self.executor = executor or default_executor()
        self.reporters: dict[str, Reporter] = {}  # jobs running in this process

    # ------------------------------------------------------------ asking
    def submit(self, kind: str, params: dict[str, Any], *, label: str | None = None,
               owner: str | None = None, priority: int = 0, reuse: bool = True) -> Job:
        """Queue a job and have it run; returns its record. With ``reuse`` an identical job
        that is running, queued or done (its result still stored) is returned instead."""
        from recsys.jobs.kinds import KINDS, label_of

        if kind not in KINDS:
            raise JobError(f"Unknown job kind {kind!r}; kinds: {', '.join(KINDS)}")
        key = job_key(kind, params)
        if reuse:
            found = self.store.find(key, (QUEUED, RUNNING, DONE, STOPPED))
            if found is not None and (found.active or self.result_exists(found)):
                if found.state == QUEUED and priority < found.priority:
                    self.store.hurry(found.id, priority)
                return self.store.get(found.id)
        job = self.store.add(kind, params, key, dataset=params.get("fingerprint"),
                             label=label or label_of(kind, params), owner=owner,
                             priority=priority)
        self.executor.start(self, job)
        return self.store.get(job.id)

    def latest(self, kind: str, params: dict[str, Any]) -> Job | None:
        """The newest job with these (kind, parameters), whatever its state."""
        job = self.store.find(job_key(kind, params), (*ACTIVE, *FINISHED))
        if job is not None and job.state in (DONE, STOPPED) and not self.result_exists(job):
            return None
        return job

    def ensure(self, kind: str, params: dict[str, Any], **kw: Any) -> Job:
        """The job for these settings: the one there is (even failed, so a page does not
        retry it on every rerun), else a new one."""
        return self.latest(kind, params) or self.submit(kind, params, **kw)

    def get(self, job_id: str) -> Job:
        return self.store.get(job_id)

    def list(self, **filters: Any) -> list[Job]:
        return self.store.list(**filters)

    def cancel(self, job_id: str) -> Job:
        return self.store.request_cancel(job_id)

    def reap(self) -> list[str]:
        """Fail jobs whose worker died; start workers for jobs still queued."""
        dead = self.store.reap()
        if self.store.queued():
            self.executor.start(self, None)
        return dead

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
        from recsys.jobs.kinds import KINDS

        reporter = Reporter(lambda **kw: self.store.report(job.id, **kw))
        self.reporters[job.id] = reporter
        ctx = JobContext(self, job, reporter)
        try:
            result = KINDS[job.kind](ctx, job.params)
        except BaseException as exc:  # noqa: BLE001 (a job's failure is recorded, not raised)
            state, error = _failure(exc, reporter)
            log.warning("job %s (%s) %s: %s\n%s", job.id, job.kind, state, error,
                        traceback.format_exc())
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
    from recsys.models.trainer import StopTraining

    if isinstance(exc, (StopTraining, KeyboardInterrupt)) or reporter.cancelled:
        return CANCELLED, "Stopped on request before anything usable was trained."
    if isinstance(exc, MemoryError):
        return FAILED, ("Ran out of memory. Try a smaller model, fewer products, or a machine "
                        "with more memory.")
    if isinstance(exc, (ValueError, KeyError, StoreError, JobError, NotImplementedError)):
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return FAILED, str(text).splitlines()[0] if str(text) else type(exc).__name__
    return FAILED, f"Unexpected error ({type(exc).__name__}: {exc}); see the workspace log."


class JobContext:
    """What a handler may use: the workspace, its dataset, progress and follow-up jobs."""

    def __init__(self, jobs: Jobs, job: Job, reporter: Reporter) -> None:
        self.jobs, self.job, self.reporter = jobs, job, reporter
        self.ws = jobs.ws

    def dataset(self, p: dict[str, Any]):
        """The job's dataset, refusing one whose content changed since the job was asked."""
        ref = DatasetRef(**p["dataset"])
        if self.ws.fingerprint(ref) != p["fingerprint"]:
            raise JobError(f"The dataset {ref.label!r} was replaced after this job was "
                           "asked for; ask again on the new data.")
        return self.ws.load_dataset(ref)

    @staticmethod
    def dataset_part(p: dict[str, Any]) -> dict[str, Any]:
        return {"dataset": p["dataset"], "fingerprint": p["fingerprint"]}

    def save_model(self, model, p: dict[str, Any], **meta: Any) -> str:
        """Store a fitted model under this job's id; returns the id."""
        self.ws.save_model(model, self.job.id, job=self.job.id, kind=self.job.kind,
                           dataset=p.get("dataset"), fingerprint=p.get("fingerprint"),
                           group=job_key("model", {"model": p["model"],
                                                   "params": p["params"]}),
                           requested=p["params"], partial=bool(model.partial_), **meta)
        return self.job.id

    def submit(self, kind: str, params: dict[str, Any], **kw: Any) -> Job:
        """A follow-up job, as urgent as this one."""
        return self.jobs.submit(kind, params, priority=self.job.priority, **kw)


__all__ = ["ACTIVE", "CANCELLED", "DONE", "FAILED", "FINISHED", "QUEUED", "RUNNING",
           "STOPPED", "InlineExecutor", "Job", "JobContext", "JobError", "JobStore", "Jobs",
           "LocalExecutor", "RayExecutor", "job_key"]

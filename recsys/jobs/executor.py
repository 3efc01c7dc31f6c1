"""Executors: who runs the queued jobs.

``LocalExecutor`` (the default) keeps up to ``RECSYS_WORKERS`` worker processes on this
machine (started on demand, gone after a quiet spell); each claims queued jobs from the
workspace's job table and runs them, so a crash or an out-of-memory kill takes down one
worker, never the app. ``InlineExecutor`` runs a job in the calling process (the command
line). ``RayExecutor`` (when ``RECSYS_RAY_ADDRESS`` is set) runs each job as a Ray task:
any executor only has to make sure each submitted job gets claimed and run by ``Jobs.run``
somewhere that sees the same workspace.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import recsys
from recsys import distributed
from recsys.jobs.store import CANCELLED, HEARTBEAT_S, Job, pid_alive
from recsys.models import registry
from recsys.settings import env_int
from recsys.workspace import Workspace

if TYPE_CHECKING:
    from recsys.jobs import Jobs
    from recsys.workspace import Workspace

WORKERS_ENV = "RECSYS_WORKERS"
THREADS_ENV = "RECSYS_WORKER_THREADS"
IDLE_EXIT_S = 30.0  # a worker with nothing to do for this long exits
CANCEL_GRACE_S = 3.0  # a job asked to stop that does not stop by itself is ended this soon


class Executor(Protocol):
    def start(self, jobs: Jobs, job: Job | None) -> None:
        """Make sure ``job`` (or any queued job, for None) will be run."""


class InlineExecutor:
    """Runs a job right away in this process (blocking): the command line's executor."""

    def start(self, jobs: Jobs, job: Job | None) -> None:
        if job is None:
            return
        claimed = jobs.store.claim(job.id)
        if claimed is not None:
            with Heartbeat(jobs, claimed.id, kill=False):
                jobs.run(claimed)


class LocalExecutor:
    """Worker processes on this machine; see the module docstring."""

    def __init__(self, workers: int | None = None) -> None:
        set_here = os.environ.get(WORKERS_ENV, "").strip()
        self.workers = max(1, workers or (env_int(WORKERS_ENV) if set_here
                                          else min(2, os.cpu_count() or 1)))

    def threads(self) -> int:
        """Math threads per worker: the cores but one (the app's), shared by the workers."""
        return env_int(THREADS_ENV) or max(1, ((os.cpu_count() or 1) - 1) // self.workers)

    def start(self, jobs: Jobs, job: Job | None) -> None:
        root = jobs.ws.root
        with _locked(jobs.ws.log_file("workers.lock")):
            pids = [p for p in _worker_pids(jobs) if pid_alive(p)]
            wanted = min(self.workers, len(jobs.store.list(states=("queued", "running"))))
            for _ in range(max(0, wanted - len(pids))):
                pids.append(_spawn(root, jobs.ws.log_file("worker.log"), self.threads(),
                                   jobs.ws.create_key))
            _write_pids(jobs, pids)

    @staticmethod
    def shutdown(jobs: Jobs | Workspace) -> None:
        """Stop this workspace's workers (tests, server shutdown); needs no job table."""
        for pid in _worker_pids(jobs):
            if pid_alive(pid):
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass


class RayExecutor:
    """Each job a Ray task on the cluster at ``RECSYS_RAY_ADDRESS`` (see
    ``recsys.distributed``). The task claims the job and runs it with ``Jobs.run`` exactly as
    a local worker would, so the workspace -- its job table, datasets and models -- must be
    on a path every node sees (a shared file system)."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address
        self.refs: list = []  # the tasks in flight (kept so they can be waited on)

    def start(self, jobs: Jobs, job: Job | None) -> None:
        import ray


        distributed.connect(self.address)
        todo = [job] if job is not None else jobs.store.list(states=("queued",))
        for j in todo:
            # A data-parallel fit only waits on its Ray Train workers, which hold the CPUs.
            cpus = 0 if distributed.delegates(j.kind, j.params) else 1
            remote = ray.remote(num_cpus=cpus, max_retries=0)(run_on_node)
            self.refs.append(remote.remote(type(jobs), str(jobs.ws.root), j.id,
                                           jobs.ws.create_key, self.address, _ray_settings()))


def _ray_settings() -> dict[str, str]:
    """This server's Ray settings, for the tasks it submits: a cluster's nodes were started
    without them, and a fit job needs them to hand its training to Ray Train workers."""
    names = (distributed.ADDRESS_ENV, distributed.WORKERS_ENV, distributed.STORAGE_ENV)
    return {n: os.environ[n] for n in names if os.environ.get(n)}


def run_on_node(jobs_cls: type[Jobs], root: str, job_id: str, create_key: bool,
                address: str | None, settings: dict[str, str] | None = None) -> str:
    """A Ray task: claim and run one job of the workspace at ``root``; returns its state.
    (``jobs_cls`` is ``Jobs``, passed in: this module is imported by ``recsys.jobs``.)"""
    # Inside a task Ray is already connected: "auto" only says "use this cluster".
    os.environ.update({distributed.ADDRESS_ENV: "auto", **(settings or {})})
    registry.load_plugins()
    jobs = jobs_cls(Workspace(root, create_key=create_key), executor=RayExecutor(address))
    claimed = jobs.store.claim(job_id)
    if claimed is None:  # another task or worker took it
        return jobs.store.get(job_id).state
    with Heartbeat(jobs, claimed.id, kill=False):
        return jobs.run(claimed).state


def default_executor() -> Executor:
    """Ray's when a cluster is configured (``RECSYS_RAY_ADDRESS``), else local workers."""
    where = distributed.address()
    return RayExecutor(where) if where else LocalExecutor()


# ---------------------------------------------------------------- worker processes
def _worker_pids(jobs: Jobs | Workspace) -> list[int]:
    path = getattr(jobs, "ws", jobs).log_file("workers.pids")
    if not path.exists():
        return []
    return [int(x) for x in path.read_text().split() if x.strip().isdigit()]


def _write_pids(jobs: Jobs, pids: list[int]) -> None:
    jobs.ws.log_file("workers.pids").write_text("\n".join(map(str, pids)))


class _locked:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        self.fh = open(self.path, "a")  # noqa: SIM115 (held for the lock's lifetime)
        fcntl.flock(self.fh, fcntl.LOCK_EX)

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _spawn(root: Path, log: Path, threads: int, create_key: bool) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(recsys.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    # torch and BLAS read these when they load: a worker never takes the app's last core.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, str(threads))
    with open(log, "ab") as out:
        args = [sys.executable, "-m", "recsys.jobs.worker", str(root)]
        proc = subprocess.Popen(args + ([] if create_key else ["--shared"]),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, close_fds=True)
    # Waited for as soon as it exits, so an ended worker never lingers as a zombie under a
    # long-running server.
    threading.Thread(target=proc.wait, name=f"reap-worker-{proc.pid}", daemon=True).start()
    return proc.pid


class Heartbeat:
    """While a job runs: say it is alive every few seconds, and end it when it was asked to
    stop but does not (a step with no progress callbacks, like EASE's one big solve)."""

    def __init__(self, jobs: Jobs, job_id: str, kill: bool) -> None:
        self.jobs, self.job_id, self.kill = jobs, job_id, kill
        self._stop = threading.Event()

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        asked = None
        while not self._stop.wait(HEARTBEAT_S / 2):
            if self.jobs.store.report(self.job_id) and asked is None:
                asked = time.monotonic()
            reporter = self.jobs.reporters.get(self.job_id)
            stopping = reporter is not None and reporter.cancelled  # it keeps what it has
            if asked is not None and not stopping and self.kill \
                    and time.monotonic() - asked > CANCEL_GRACE_S:
                if self.jobs.store.get(self.job_id).active:
                    self.jobs.store.finish(self.job_id, CANCELLED, error="Stopped on request.")
                    os._exit(0)  # the worker goes; another starts for the queue

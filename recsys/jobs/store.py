"""Job records in the workspace (SQLite from the standard library).

Every page, session, reload, worker process and the command line read the same records: a
job's kind and parameters, its state, progress (share, step, ETA, latest metrics and the
per-epoch history), timings, error and where its result lives. Workers claim queued jobs
with an atomic update, so any number of them can share one queue.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys.workspace import StoreError

QUEUED, RUNNING, DONE, FAILED, CANCELLED, STOPPED = (
    "queued", "running", "done", "failed", "cancelled", "stopped")
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED, STOPPED)
HEARTBEAT_S = 2.0
STALE_S = 60.0  # a running job whose worker has not been heard of for this long is dead

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, params TEXT NOT NULL, key TEXT NOT NULL,
    dataset TEXT, label TEXT, owner TEXT, priority INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, step TEXT, eta REAL,
    metrics TEXT, history TEXT, created REAL NOT NULL, started REAL, finished REAL,
    heartbeat REAL, pid INTEGER, host TEXT, error TEXT, result TEXT,
    cancel INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, priority, created);
"""
_JSON = ("params", "metrics", "history", "result")


@dataclass
class Job:
    """One job's record, as every reader sees it."""

    id: str
    kind: str
    params: dict[str, Any]
    key: str
    state: str
    created: float
    dataset: str | None = None
    label: str | None = None
    owner: str | None = None
    priority: int = 0
    progress: float = 0.0
    step: str | None = None
    eta: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    heartbeat: float | None = None
    pid: int | None = None
    host: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    cancel: int = 0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    # What a finished job stored, by name (its ``result`` is the handler's small JSON).
    @property
    def model_id(self) -> str | None:
        """The model a fit, serve or campaign job stored."""
        return (self.result or {}).get("model_id")

    @property
    def result_key(self) -> str | None:
        """The stored result of a tune or segments job (``Workspace.load_result``)."""
        return (self.result or {}).get("result")

    @property
    def holdout(self) -> dict[str, Any]:
        """A fit job's holdout score (a ``ScoreRow`` as a dict; empty for other kinds)."""
        return (self.result or {}).get("metrics") or {}

    @property
    def elapsed(self) -> float:
        """Seconds it has run (or ran)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}


def _host() -> str:
    return os.uname().nodename


class JobTableError(StoreError):
    """The job table cannot be used: the message names the file and what to do."""


class JobTableDamaged(JobTableError):
    """The job table's file is not a readable SQLite database (truncated, overwritten, a
    folder). ``Jobs.rebuild`` moves it aside and lists again what the workspace holds."""

    def __init__(self, path: Path, why: str) -> None:
        self.path = path
        super().__init__(f"The job table {path} is damaged ({why}). Rebuild it from what the "
                         "workspace holds with `python -m recsys jobs --rebuild` (or 'Rebuild "
                         "the job table' in the app): the damaged file is moved aside, not "
                         "deleted, and the models and results already stored are listed again.")


class ReadOnlyWorkspace(JobTableError):
    """The workspace cannot be written: listing works, running and saving do not."""

    def __init__(self, root: Path) -> None:
        self.root = root
        super().__init__(f"The workspace at {root} is read-only: its jobs, datasets and models "
                         "can be listed and opened, but nothing can be run or saved there. Use "
                         "a writable workspace (RECSYS_WORKSPACE) or ask for write access.")


_DAMAGED = ("not a database", "malformed", "file is encrypted", "disk image")


def writable(folder: Path) -> bool:
    """Whether this process may create and change files in ``folder`` (access() says no on a
    read-only mount, to root too)."""
    return os.access(folder, os.W_OK | os.X_OK)


class JobStore:
    """The ``jobs`` table of one workspace (``<root>/jobs.sqlite``). ``create=False`` never
    makes the file (a listing of a workspace that does not exist yet reads as empty); a
    workspace that cannot be written is opened read-only (``readonly``)."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        self.readonly = False
        self.missing = False  # no table yet, and none made: every read is empty
        if self.path.is_dir():
            raise JobTableDamaged(self.path, "it is a folder, not a file")
        folder = self.path.parent
        if (folder.exists() and not writable(folder)) or (
                self.path.exists() and not os.access(self.path, os.W_OK)):
            self.readonly = True
        if not self.path.exists() and (self.readonly or not create):
            self.missing = True
            return
        if self.readonly:
            with self._db() as db:  # a damaged file is found out now, not on first use
                db.execute("SELECT COUNT(*) FROM jobs").fetchone()
            return
        self._make()

    def _make(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.missing = False
        with self._db(write=True) as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        if write and self.readonly:
            raise ReadOnlyWorkspace(self.path.parent)
        if write and self.missing:
            self._make()  # the first write makes the table
        try:
            db = self._connect()
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from None
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            raise self._explain(exc) from None
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        if self.missing:  # nothing on disk: reads see an empty table, and no file is made
            db = sqlite3.connect(":memory:", isolation_level=None)
            db.executescript(_SCHEMA)
        elif self.readonly:
            # A WAL database on a read-only disk cannot make its shared-memory file;
            # ``immutable`` reads it as it is.
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1",
                                 uri=True, timeout=30, isolation_level=None)
        else:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.row_factory = sqlite3.Row
        return db

    def _explain(self, exc: sqlite3.DatabaseError) -> Exception:
        """SQLite's error as the analyst's problem: a damaged table, a read-only workspace,
        or a busy one."""
        text = str(exc).lower()
        if any(w in text for w in _DAMAGED):
            return JobTableDamaged(self.path, str(exc))
        if self.path.is_dir():
            return JobTableDamaged(self.path, "it is a folder, not a file")
        if any(w in text for w in ("readonly", "read-only", "unable to open")) \
                and not writable(self.path.parent):
            return ReadOnlyWorkspace(self.path.parent)
        if "locked" in text or "busy" in text:
            return JobTableError(f"The job table {self.path} is busy (another process has held "
                                 "it locked for over 30 s); try again.")
        if "no such table" in text:
            return JobTableDamaged(self.path, "it holds no job table")
        return JobTableError(f"The job table {self.path} cannot be used ({exc}).")

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        d = dict(row)
        for k in _JSON:
            d[k] = json.loads(d[k]) if d[k] else ({} if k != "history" else [])
        if not d["result"]:
            d["result"] = None
        return Job(**d)

    # ------------------------------------------------------------ create and read
    def add(self, kind: str, params: dict[str, Any], key: str, dataset: str | None = None,
            label: str | None = None, owner: str | None = None, priority: int = 0) -> Job:
        job_id = uuid.uuid4().hex[:12]
        with self._db(write=True) as db:
            db.execute("INSERT INTO jobs (id, kind, params, key, dataset, label, owner, priority,"
                       " state, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (job_id, kind, json.dumps(params, sort_keys=True, default=str), key,
                        dataset, label, owner, priority, QUEUED, time.time()))
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"No job {job_id!r} in this workspace.")
        return self._job(row)

    def find(self, key: str, states: tuple[str, ...]) -> Job | None:
        """The newest job with this key in one of these states."""
        marks = ",".join("?" * len(states))
        with self._db() as db:
            row = db.execute(f"SELECT * FROM jobs WHERE key = ? AND state IN ({marks}) "
                             "ORDER BY created DESC LIMIT 1", (key, *states)).fetchone()
        return self._job(row) if row else None

    def list(self, dataset: str | None = None, states: tuple[str, ...] | None = None,
             kind: str | None = None, limit: int = 200) -> list[Job]:
        """Newest first, optionally for one dataset fingerprint, some states or one kind."""
        where, args = [], []
        if dataset is not None:
            where.append("dataset = ?")
            args.append(dataset)
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._job(r) for r in rows]

    # ------------------------------------------------------------ the worker's side
    def hurry(self, job_id: str, priority: int) -> None:
        """Raise a waiting job's priority (someone asked for it now)."""
        with self._db(write=True) as db:
            db.execute("UPDATE jobs SET priority = MIN(priority, ?) WHERE id = ?",
                       (priority, job_id))

    def claim(self, job_id: str | None = None) -> Job | None:
        """Take the next queued job (or this one) for the calling process, atomically."""
        with self._db(write=True) as db:
            db.execute("BEGIN IMMEDIATE")
            if job_id is None:
                row = db.execute("SELECT id FROM jobs WHERE state = ? ORDER BY priority, created "
                                 "LIMIT 1", (QUEUED,)).fetchone()
                job_id = row["id"] if row else None
            claimed = job_id is not None and db.execute(
                "UPDATE jobs SET state = ?, started = ?, heartbeat = ?, pid = ?, host = ? "
                "WHERE id = ? AND state = ?", (RUNNING, time.time(), time.time(), os.getpid(),
                                               _host(), job_id, QUEUED)).rowcount == 1
            db.execute("COMMIT")
        return self.get(job_id) if claimed else None

    def report(self, job_id: str, progress: float | None = None, step: str | None = None,
               eta: float | None = None, metrics: dict[str, Any] | None = None,
               history: list[dict[str, Any]] | None = None) -> bool:
        """Progress from the worker; returns whether a cancel has been asked for."""
        sets, args = ["heartbeat = ?"], [time.time()]
        for col, val in (("progress", progress), ("step", step), ("eta", eta)):
            if val is not None:
                sets.append(f"{col} = ?")
                args.append(val)
        for col, val in (("metrics", metrics), ("history", history)):
            if val is not None:
                sets.append(f"{col} = ?")
                args.append(json.dumps(val, default=float))
        with self._db(write=True) as db:
            db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = ?", (*args, job_id))
            row = db.execute("SELECT cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row["cancel"])

    def finish(self, job_id: str, state: str, result: dict[str, Any] | None = None,
               error: str | None = None) -> None:
        """The end of a job; only a job that is still active can end (once)."""
        assert state in FINISHED, state
        with self._db(write=True) as db:
            db.execute("UPDATE jobs SET state = ?, finished = ?, result = ?, error = ?, "
                       "progress = CASE WHEN ? = 'done' THEN 1.0 ELSE progress END, eta = NULL "
                       f"WHERE id = ? AND state IN ('{QUEUED}', '{RUNNING}')",
                       (state, time.time(), json.dumps(result) if result else None, error,
                        state, job_id))

    # ------------------------------------------------------------ control
    def request_cancel(self, job_id: str) -> Job:
        """Ask a job to stop: a queued one is cancelled at once, a running one by its worker
        (models that train in epochs keep their best epoch and end 'stopped')."""
        with self._db(write=True) as db:
            db.execute("UPDATE jobs SET cancel = 1 WHERE id = ?", (job_id,))
        job = self.get(job_id)
        if job.state == QUEUED:
            self.finish(job_id, CANCELLED, error="Cancelled before it started.")
        return self.get(job_id)

    def reap(self, alive=None) -> list[str]:
        """Mark failed the running jobs whose worker is gone: its process no longer exists on
        this host, or it has not reported for ``STALE_S`` seconds (killed, out of memory, a
        server restart). ``alive(pid)`` says whether a local process runs."""
        if self.readonly or self.missing:
            return []
        alive = alive or pid_alive
        dead = []
        now, host = time.time(), _host()
        for job in self.list(states=(RUNNING,)):
            gone = job.host == host and job.pid is not None and not alive(job.pid)
            if gone or (job.heartbeat or job.started or now) < now - STALE_S:
                dead.append(job.id)
                self.finish(job.id, FAILED, error="The worker running this job stopped "
                            "unexpectedly (killed, out of memory, or the server restarted). "
                            "Run it again; if it keeps failing, try a smaller model or data.")
        return dead

    def queued(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM jobs WHERE state = ?",
                                  (QUEUED,)).fetchone()[0])

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next queued job to be claimed, 2 for the one after, ...; None when the
        job is not waiting."""
        with self._db() as db:
            row = db.execute("SELECT priority, created FROM jobs WHERE id = ? AND state = ?",
                             (job_id, QUEUED)).fetchone()
            if row is None:
                return None
            ahead = db.execute("SELECT COUNT(*) FROM jobs WHERE state = ? AND (priority < ? OR "
                               "(priority = ? AND created < ?))",
                               (QUEUED, row["priority"], row["priority"], row["created"])
                               ).fetchone()[0]
        return int(ahead) + 1

    def insert(self, job: Job) -> None:
        """A whole record as it is (rebuilding the table from what the workspace holds)."""
        d = job.to_dict()
        for k in _JSON:
            d[k] = json.dumps(d[k], default=str) if d[k] or k == "params" else None
        cols = list(d)
        with self._db(write=True) as db:
            db.execute(f"INSERT OR REPLACE INTO jobs ({', '.join(cols)}) VALUES "
                       f"({', '.join('?' * len(cols))})", [d[c] for c in cols])


def pid_alive(pid: int) -> bool:
    """Whether a process runs on this host (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True

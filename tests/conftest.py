"""Shared fixtures: small order data sets the tests build themselves, the test tiers, and
a fake executor for page tests.

Tiers: a test marked ``full`` (or ``e2e``, ``slow``, ``ray``) needs worker processes, a
browser, a Ray cluster, the shared data or minutes of training; every other test is marked
``fast`` when collected, and a fast test that starts a worker process fails (so the gate
``pytest -m fast`` stays fast and never depends on timing). ``pytest -m full`` runs the rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.data import OrderData

SHARED_RETAIL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / \
    "online_retail.csv.gz"


def make_lines(rows: list[tuple]) -> pd.DataFrame:
    """Canonical lines from (customer, item, order, 'YYYY-MM-DD', [category]) tuples."""
    recs = []
    for r in rows:
        cust, item, order, day = r[:4]
        recs.append({"customer_id": cust, "item_id": item, "order_id": order,
                     "timestamp": pd.Timestamp(day), "quantity": 1.0, "price": 2.0,
                     "name": f"Product {item}", "category": r[4] if len(r) > 4 else None,
                     "country": "United Kingdom", "region": None, "cancelled": False,
                     "event": "purchase"})
    return pd.DataFrame(recs)


def make_data(rows: list[tuple]) -> OrderData:
    return OrderData.from_lines(make_lines(rows), {"format": "test"})


FULL_MARKERS = ("full", "e2e", "slow", "ray")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(m) for m in FULL_MARKERS):
            item.add_marker(pytest.mark.full)
        else:
            item.add_marker(pytest.mark.fast)


@pytest.fixture(autouse=True)
def _no_workers_in_the_fast_tier(request, monkeypatch):
    if request.node.get_closest_marker("fast") is None:
        return

    def refuse(*args, **kwargs):
        raise AssertionError("a fast test started a job worker process: use the fake "
                             "executor (fake_jobs) or mark the test full")
    monkeypatch.setattr("recsys.jobs.executor._spawn", refuse)


class FakeExecutor:
    """Instead of worker processes: ``held`` leaves jobs queued (a page just after asking),
    ``inline`` runs each at once in this process, as the command line does (only jobs of
    ``kinds``, when given; the others wait)."""

    def __init__(self, mode: str = "held", kinds: tuple[str, ...] | None = None) -> None:
        self.mode, self.kinds = mode, kinds

    def run(self, *kinds: str) -> FakeExecutor:
        """Run jobs of these kinds (all, when none is named) as they are asked for."""
        self.mode, self.kinds = "inline", kinds or None
        return self

    def hold(self) -> FakeExecutor:
        self.mode, self.kinds = "held", None
        return self

    def start(self, jobs, job) -> None:
        from recsys.jobs import InlineExecutor

        if self.mode != "inline":
            return
        for j in [job] if job is not None else jobs.store.list(states=("queued",)):
            if self.kinds is None or j.kind in self.kinds:
                InlineExecutor().start(jobs, j)


@pytest.fixture
def fake_jobs(monkeypatch) -> FakeExecutor:
    """Every ``Jobs`` made from here on runs its jobs with one FakeExecutor (held at first)."""
    fake = FakeExecutor()
    monkeypatch.setattr("recsys.jobs.default_executor", lambda: fake)
    return fake


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory) -> Path:
    """A workspace where the demo's starter jobs ran (in this process, once per session):
    what the app shows once its first models are trained."""
    from recsys.jobs import InlineExecutor, Jobs
    from recsys.requests import DatasetKey
    from recsys.workflow import starter_requests
    from recsys.workspace import DatasetRef, Workspace

    root = tmp_path_factory.mktemp("trained-demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSYS_WORKSPACE", str(root))
        mp.setenv("RECSYS_PII_KEY_FILE", str(root.parent / "trained-demo.key"))
        ws, ref = Workspace(root), DatasetRef.demo()
        jobs = Jobs(ws, InlineExecutor())
        for request in starter_requests(DatasetKey.of(ws, ref), ws.load_dataset(ref)):
            jobs.submit(request, priority=1)
        assert all(j.state == "done" for j in jobs.list()), jobs.list()
    return root


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's AppTest installs the app as ``__main__`` and leaves it there: a process
    spawned later (torch's data-parallel ranks) would then run the app in bare mode."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def _workspace(tmp_path_factory, monkeypatch):
    """Every test writes its workspace (and PII secret) into a temporary folder; worker
    processes it started are stopped afterwards."""
    root = tmp_path_factory.mktemp("ws")
    monkeypatch.setenv("RECSYS_WORKSPACE", str(root))
    monkeypatch.setenv("RECSYS_WORKERS", "2")
    monkeypatch.setenv("RECSYS_PII_KEY_FILE", str(root.parent / f"{root.name}.pii.key"))
    monkeypatch.delenv("RECSYS_PII_KEY", raising=False)
    yield root
    from recsys.jobs import LocalExecutor
    from recsys.workspace import Workspace

    for db in job_tables(root):
        LocalExecutor.shutdown(Workspace(db.parent))  # whatever state its job table is in


def job_tables(root: Path) -> list[Path]:
    """The job tables where workspaces keep them: the server's, the team's and each
    analyst's. (A walk of the whole tree races the workers' atomic renames of temporary
    folders.)"""
    return [db for db in (root / "jobs.sqlite", root / "team" / "jobs.sqlite",
                          *(root / "users").glob("*/jobs.sqlite")) if db.exists()]


def settle(timeout: float = 300.0, kinds: tuple[str, ...] | None = None) -> None:
    """Wait until the test's workspace has no queued or running job (of these kinds)."""
    import time

    from recsys.jobs import Jobs
    from recsys.workspace import Workspace

    root = Workspace().root
    end = time.monotonic() + timeout
    while True:
        pending = [j for db in job_tables(root)
                   for j in Jobs(Workspace(db.parent)).list(states=("queued", "running"))
                   if not kinds or j.kind in kinds]
        if not pending:
            return
        for db in job_tables(root):
            Jobs(Workspace(db.parent)).reap()
        if time.monotonic() > end:
            raise AssertionError(f"jobs still running: {pending}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def clustered_data() -> OrderData:
    """Two taste groups over 40 items and 120 days: group A buys items 0-19, group B 20-39.
    Structure any sensible model can learn, small enough for every test."""
    return make_data(clustered_rows())


def clustered_rows() -> list[tuple]:
    """The lines of ``clustered_data`` (for tests that build it in another process)."""
    rng = np.random.default_rng(0)
    rows = []
    for c in range(120):
        group = c % 2
        for o in range(6):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
            items = rng.choice(20, size=3, replace=False) + 20 * group
            for i in items:
                rows.append((f"c{c:03d}", f"i{i:02d}", f"o{c}-{o}", day.strftime("%Y-%m-%d"),
                             "A" if i < 20 else "B"))
    return rows


@pytest.fixture(scope="session")
def retail_path() -> Path:
    if not SHARED_RETAIL.exists():
        pytest.skip("shared Online Retail data not present")
    return SHARED_RETAIL


# ---------------------------------------------------------------- requests, briefly
def fit_request(ref, fingerprint: str, model: str, params=None, cutoff=None, **kw):
    """A FitRequest for the dataset ``ref`` with content ``fingerprint``."""
    from recsys.requests import DatasetKey, FitRequest

    return FitRequest.of(DatasetKey(ref, fingerprint), model, params, cutoff, **kw)


def serve_request(ref, fingerprint: str, model: str, params=None):
    from recsys.requests import DatasetKey, ServeRequest

    return ServeRequest.of(DatasetKey(ref, fingerprint), model, params)


def tune_request(ref, fingerprint: str, models, cutoff, minutes: float, trials=None,
                 total_minutes=None, seed: int = 0):
    from recsys.requests import DatasetKey, TuneRequest

    return TuneRequest(DatasetKey(ref, fingerprint), tuple(models), cutoff, float(minutes),
                       trials, seed, total_minutes)


# ---------------------------------------------------------------- the app under AppTest
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def new_session():
    """A fresh browser session of the app (AppTest), after its first run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def no_errors(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture
def cold(fake_jobs):
    """The app just opened on the demo: its starter jobs have only been asked for."""
    return new_session()


@pytest.fixture
def app(trained_demo, _workspace, fake_jobs):
    """The app opened on a workspace whose starter jobs have finished (a copy per test)."""
    import shutil

    shutil.copytree(trained_demo, _workspace, dirs_exist_ok=True)
    return new_session()


@pytest.fixture
def app_with_workers(trained_demo, _workspace):
    """As ``app``, with real worker processes running what the page asks for."""
    import shutil

    shutil.copytree(trained_demo, _workspace, dirs_exist_ok=True)
    return new_session()

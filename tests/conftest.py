"""Shared fixtures: small order data sets the tests build themselves."""

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

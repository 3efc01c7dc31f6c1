"""The job layer on small data: submit, progress, result reuse, cancel (cooperative and by
force), failures, crashed workers and orphans after a restart."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from recsys.jobs import (
    CANCELLED,
    DONE,
    FAILED,
    STOPPED,
    InlineExecutor,
    Jobs,
    LocalExecutor,
)
from recsys.jobs.progress import Reporter
from recsys.models import registry
from recsys.models.trainer import StopTraining
from recsys.requests import Params
from recsys.workflow import leaderboard_rows, served_models
from recsys.workspace import Workspace
from tests.conftest import fit_request

PLUGINS = "tests.plugins.job_kinds"


@pytest.fixture
def shop(clustered_data, tmp_path):
    ws = Workspace(tmp_path / "ws")
    ref = ws.save_dataset(clustered_data, "shop")
    return ws, ref, ws.fingerprint(ref)


@pytest.fixture
def pool(shop, monkeypatch):
    """Jobs run by real worker processes (the app's default executor)."""
    monkeypatch.setenv("RECSYS_PLUGINS", PLUGINS)
    import tests.plugins.job_kinds  # noqa: F401 (registers the test kinds here too)

    jobs = Jobs(shop[0], LocalExecutor(workers=2))
    yield jobs
    LocalExecutor.shutdown(jobs)


def wait_until(pred, timeout: float = 120.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_fit_job_stores_model_metrics_and_serving_refit(shop):
    ws, ref, fp = shop
    jobs = Jobs(ws, InlineExecutor())
    job = jobs.submit(fit_request(ref, fp, "ease", {"l2": 50.0}, "2024-04-01"))
    assert job.state == DONE and job.progress == 1.0
    record = ws.model_record(job.result["model_id"])
    assert record.trained_on == "holdout" and record.fingerprint == fp
    assert record.metrics.metrics["ndcg"] == job.result["metrics"]["ndcg"] > 0
    kinds = {j.kind: j for j in jobs.list()}
    assert kinds["serve"].state == DONE and kinds["segments"].state == DONE
    served = served_models(ws, fp)
    assert len(served) == 1 and served[0].trained_on == "all"
    assert served[0].label == "ease (l2=50)" and served[0].cutoff == "2024-04-01"
    assert [r["model"] for r in leaderboard_rows(ws, fp, "2024-04-01")] == ["ease (l2=50)"]
    assert ws.load_model(served[0].serving_id).recommend(["c000"], n=3)[0].shape == (1, 3)


def test_same_request_reuses_the_stored_result(shop, monkeypatch):
    ws, ref, fp = shop
    jobs = Jobs(ws, InlineExecutor())
    first = jobs.submit(fit_request(ref, fp, "ease", None, "2024-04-01"))
    fits = []
    from recsys.models.base import BaseRecommender

    real = BaseRecommender.fit
    monkeypatch.setattr(BaseRecommender, "fit",
                        lambda self, *a, **k: (fits.append(self.name), real(self, *a, **k))[1])
    again = jobs.submit(fit_request(ref, fp, "ease", {"l2": 500.0}, "2024-04-01"))
    assert again.id == first.id and fits == []  # same settings spelled differently: one job
    ws.delete_model(first.result["model_id"])
    third = jobs.submit(fit_request(ref, fp, "ease", None, "2024-04-01"))
    assert third.id != first.id and fits == ["ease"]  # the stored model was gone: fitted again


def test_keys_follow_content_not_names(shop, clustered_data):
    ws, ref, fp = shop
    a = fit_request(ref, fp, "ease", None, "2024-04-01")
    ws.save_dataset(clustered_data.subset(clustered_data.interactions.index < 500), "shop")
    b = fit_request(ref, ws.fingerprint(ref), "ease", None, "2024-04-01")
    assert a.key() != b.key()
    job = Jobs(ws, InlineExecutor()).submit(a)  # asked for the old content
    assert job.state == FAILED and "replaced" in job.error


@pytest.mark.full
def test_worker_process_reports_progress_then_finishes(pool, shop):
    ws, ref, fp = shop
    params = {**registry.spec("two_tower").quick, "epochs": 40, "patience": 0}
    job = pool.submit(fit_request(ref, fp, "two_tower", params, "2024-04-01"))
    seen = wait_until(lambda: (j := pool.get(job.id)).history and 0 < j.progress < 1 and j)
    assert seen.state == "running" and "epoch" in seen.step and seen.pid != os.getpid()
    assert seen.history[0]["phase"] == "fit" and "loss" in seen.history[0]
    done = pool.wait(job.id, timeout=300)
    assert done.state == DONE and done.result["metrics"]["ndcg"] > 0


@pytest.mark.full
def test_stop_keeps_the_epochs_trained_as_a_partial_model(pool, shop):
    ws, ref, fp = shop
    params = {**registry.spec("two_tower").quick, "epochs": 400, "patience": 0}
    job = pool.submit(fit_request(ref, fp, "two_tower", params, "2024-04-01"))
    wait_until(lambda: len(pool.get(job.id).history) >= 2)
    pool.cancel(job.id)
    end = pool.wait(job.id, timeout=120)
    assert end.state == STOPPED and end.result["partial"]
    record = ws.model_record(end.result["model_id"])
    assert record.partial and 2 <= len(end.history) < 400
    assert ws.load_model(end.result["model_id"]).recommend(["c000"], n=3)[0].shape == (1, 3)
    assert [j.kind for j in pool.list()] == ["fit"]  # no refit of a stopped model
    assert served_models(ws, fp)[0].partial


@pytest.mark.full
def test_stop_ends_work_without_progress_reports_by_force(pool):
    job = pool.submit(Params("nap", {"seconds": 300}))
    wait_until(lambda: pool.get(job.id).state == "running")
    start = time.monotonic()
    pool.cancel(job.id)
    end = pool.wait(job.id, timeout=30)
    assert end.state == CANCELLED and time.monotonic() - start < 15
    again = pool.submit(Params("nap", {"seconds": 0.1}))  # the pool goes on with a new worker
    assert pool.wait(again.id, timeout=60).state == DONE


def test_queued_job_cancels_at_once(shop):
    ws, ref, fp = shop

    class Never:
        def start(self, jobs, job):
            pass

    jobs = Jobs(ws, Never())
    job = jobs.submit(fit_request(ref, fp, "ease", None, None))
    assert jobs.cancel(job.id).state == CANCELLED


@pytest.mark.parametrize("how,words", [("raise", "Unexpected error (RuntimeError in job_kinds)"),
                                       ("memory", "Ran out of memory")])
@pytest.mark.full
def test_failures_end_as_failed_with_a_clear_message(pool, how, words):
    job = pool.wait(pool.submit(Params("crash", {"how": how})).id, timeout=60)
    assert job.state == FAILED and job.error.startswith(words)
    assert pool.wait(pool.submit(Params("nap", {"seconds": 0.1})).id, timeout=60).state == DONE


@pytest.mark.full
def test_killed_worker_is_noticed_and_others_go_on(pool):
    job = pool.submit(Params("crash", {"how": "exit"}))
    end = wait_until(lambda: (pool.reap() or True) and not (j := pool.get(job.id)).active and j,
                     timeout=60)
    assert end.state == FAILED and "stopped unexpectedly" in end.error
    assert pool.wait(pool.submit(Params("nap", {"seconds": 0.1})).id, timeout=60).state == DONE


@pytest.mark.full
def test_orphans_after_a_restart_are_marked_failed(pool):
    job = pool.submit(Params("nap", {"seconds": 300}))
    running = wait_until(lambda: (j := pool.get(job.id)).state == "running" and j)
    os.kill(running.pid, signal.SIGKILL)  # the server and its workers went down
    wait_until(lambda: not os.path.exists(f"/proc/{running.pid}/status")
               or "zombie" in open(f"/proc/{running.pid}/status").read())
    fresh = Jobs(pool.ws, LocalExecutor(workers=1))  # what a restarted app does first
    assert job.id in fresh.reap()
    assert fresh.get(job.id).state == FAILED


def test_reporter_progress_eta_and_stop():
    writes, clock = [], [0.0]
    cancel = [False]

    def report(**kw):
        writes.append(kw)
        return cancel[0]

    # A run of 10 s epochs: validation improves up to epoch 3, stops after 2 more (patience
    # 2), then 3 epochs refit: 80 s in all. The ETA is the plan from what was seen so far.
    r = Reporter(report, now=lambda: clock[0])
    r.stage("training", 0.0, 0.8, steps=30)
    etas, bars = [], []
    for epoch, best in ((1, 1), (2, 2), (3, 3), (4, 3), (5, 3)):
        clock[0] += 5
        r(epoch, {"progress": 0.5, "phase": "validate", "of": 30})  # within the epoch
        clock[0] += 5
        r(epoch, {"loss": 1.0 / epoch, "val_ndcg": 0.1, "best": best, "patience": 2,
                  "phase": "validate", "of": 30})
        etas.append(writes[-1]["eta"])
        bars.append(writes[-1]["progress"])
    # really 70, 60, 50, 40, 30 s left: the plan assumes improvement stops soon, grows while
    # it goes on, and is exact once it has stopped
    assert etas == pytest.approx([30, 60, 70, 40, 30])
    assert bars == sorted(bars)  # the bar never moves back
    assert writes[2]["eta"] is not None  # an ETA within the first epoch already
    clock[0] += 10
    r(1, {"loss": 0.4, "phase": "fit", "of": 3})  # validation ended after 5: 6 of 8
    assert writes[-1]["progress"] == pytest.approx(0.8 * 6 / 8)
    assert writes[-1]["eta"] == pytest.approx(60 * 2 / 6)
    assert [h["phase"] for h in writes[-1]["history"]] == ["validate"] * 5 + ["fit"]
    cancel[0] = True
    clock[0] += 1
    with pytest.raises(StopTraining):
        r(2, {"progress": 0.5, "phase": "fit", "of": 3})
    assert r.cancelled


def test_ray_runs_store_where_every_node_reaches_and_leave_nothing(tmp_path, monkeypatch):
    """A Ray Train run's storage: $RECSYS_RAY_STORAGE (object storage URI or shared path),
    else the workspace's; only the run's own folder is removed afterwards."""
    from recsys import distributed

    monkeypatch.delenv(distributed.STORAGE_ENV, raising=False)
    ws = Workspace(tmp_path / "ws")
    with distributed.run_storage(ws.ray_storage()) as (where, name):
        assert where == str(ws.ray_storage().resolve())
        (Path(where) / name / "checkpoint").mkdir(parents=True)
    assert ws.ray_storage().is_dir() and not list(ws.ray_storage().iterdir())
    bucket = tmp_path / "bucket"
    (bucket / "kept").mkdir(parents=True)
    monkeypatch.setenv(distributed.STORAGE_ENV, bucket.as_uri())
    with distributed.run_storage(ws.ray_storage()) as (where, name):
        assert where == bucket.as_uri()  # the configured store wins over the workspace
        (bucket / name / "checkpoint").mkdir(parents=True)
        (bucket / name / "checkpoint" / "weights.pt").write_bytes(b"x")
    assert [p.name for p in bucket.iterdir()] == ["kept"]
    monkeypatch.delenv(distributed.STORAGE_ENV)
    with distributed.run_storage() as (where, name):  # nothing configured: this machine's
        assert Path(where).is_dir()
    assert not Path(where).exists()

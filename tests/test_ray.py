"""Ray on a real local cluster (2 CPUs): data-parallel two_tower training matches the
single-process model, and a job submitted through the Ray executor reports progress and
lands its model in the workspace. Skipped, with the reason, where Ray cannot start."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.ray

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r "
                          "requirements-ray.txt)")

from recsys import distributed  # noqa: E402
from recsys.evaluate import evaluate, temporal_split  # noqa: E402
from recsys.jobs import DONE, Jobs, RayExecutor  # noqa: E402
from recsys.models import make_model, registry  # noqa: E402
from recsys.workspace import Workspace  # noqa: E402
from tests.conftest import fit_request  # noqa: E402

# The default settings (early stopping on the validation window), fewer epochs at most.
PARAMS = {"epochs": 3}


@pytest.fixture(scope="module")
def cluster():
    try:
        distributed.connect("local", num_cpus=2)
    except Exception as exc:  # noqa: BLE001 (any failure to start is a reason to skip)
        pytest.skip(f"Ray cannot start a local cluster here: {exc}")
    yield
    ray.shutdown()


def _demo():
    from recsys.datasets import load_demo

    return load_demo()


@pytest.fixture(scope="module")
def demo_split():
    return temporal_split(_demo())


def test_two_workers_match_the_single_process_model(cluster, demo_split, tmp_path,
                                                    monkeypatch):
    # The run's checkpoint through object storage's path: a pyarrow filesystem URI.
    monkeypatch.setenv(distributed.STORAGE_ENV, (tmp_path / "bucket").as_uri())
    single = make_model("two_tower", **PARAMS).fit(demo_split.train)
    seen = []
    double = distributed.fit_data_parallel("two_tower", PARAMS, demo_split.train, workers=2,
                                           callback=lambda e, m: seen.append((e, m)))
    a = evaluate(single, demo_split, n_boot=0).metrics["ndcg"]
    b = evaluate(double, demo_split, n_boot=0).metrics["ndcg"]
    assert abs(b - a) <= 0.05 * a, (a, b)
    fitted = [e for e, m in seen if "progress" not in m and m["phase"] == "fit"]
    assert fitted == list(range(1, double.best_epoch_ + 1))  # rank 0's epochs, relayed
    assert double.recommend(demo_split.train.customer_ids[:3], n=5)[0].shape == (3, 5)
    assert (tmp_path / "bucket").is_dir() and not list((tmp_path / "bucket").iterdir())


def test_each_worker_gets_its_own_share_of_the_examples_not_the_shop(cluster, demo_split):
    """The driver builds each phase's examples once; every worker's share of the order rows
    is a Ray Dataset of its own (equal, disjoint, drawn by the seed), and what all workers
    get through the object store holds no order rows."""
    phase, datasets = distributed.prepare("two_tower", PARAMS, demo_split.train, 2)
    assert sorted(datasets) == ["fit-0", "fit-1", "validate-0", "validate-1"]
    shares = [set(datasets[f"fit-{r}"].select_columns(["order"]).to_pandas()["order"])
              for r in (0, 1)]
    n_orders = demo_split.train.interactions["order_id"].nunique()
    assert len(shares[0]) == len(shares[1]) == n_orders // 2 and not shares[0] & shares[1]
    assert phase.rest.orders is None and phase.validate[0].rest.orders is None
    again, _ = distributed.prepare("two_tower", PARAMS, demo_split.train, 2)
    assert set(_["fit-0"].select_columns(["order"]).to_pandas()["order"]) == shares[0]


def test_models_that_cannot_train_data_parallel_say_so(cluster, demo_split):
    assert registry.names(data_parallel=True) == ["two_tower", "ncf"]
    with pytest.raises(ValueError, match="does not train data-parallel"):
        distributed.fit_data_parallel("ease", {}, demo_split.train)


def test_a_job_through_the_ray_executor_reports_progress_and_lands_its_model(
        cluster, tmp_path, monkeypatch):
    monkeypatch.setenv(distributed.ADDRESS_ENV, "local")
    ws = Workspace(tmp_path / "ws")
    ref = ws.save_dataset(_demo(), "shop")
    jobs = Jobs(ws, RayExecutor("local"))
    quick = {**registry.spec("two_tower").quick, "epochs": 3, "patience": 0}
    job = jobs.submit(fit_request(ref, ws.fingerprint(ref), "two_tower", quick, None,
                                  refit=False))
    progress = set()
    end = time.monotonic() + 600
    while time.monotonic() < end:
        job = jobs.get(job.id)
        progress.add(round(job.progress or 0, 2))
        if not job.active:
            break
        time.sleep(0.2)
    assert job.state == DONE, job.error
    assert len([p for p in progress if 0 < p < 1]) >= 2  # progress was seen while it ran
    assert ws.has_model(job.result["model_id"])
    # The task handed training to Ray Train, whose run lived in the workspace until done.
    assert ws.ray_storage().is_dir() and not list(ws.ray_storage().iterdir())
    model = ws.load_model(job.result["model_id"])
    assert model.recommend(model.customer_ids_[:2], n=3)[0].shape == (2, 3)
    assert job.result["metrics"]["ndcg"] > 0


def test_a_search_runs_its_trials_on_the_cluster(cluster, demo_split):
    """Ray Tune with the Optuna searcher: the same starting points first, and each trial
    scored exactly as the single-process search scores it."""
    from recsys import tuning, tuning_ray

    val = tuning.Validation.of(demo_split.train)
    seen = []
    res = tuning_ray.tune_on_ray("ease", val, trials=3, minutes=5,
                                  callback=lambda n, e: seen.append(e))
    assert len(res.trials) == len(seen) == 3
    local = tuning.tune("ease", val, trials=2)  # the start and the defaults
    assert {t["params"]["l2"] for t in res.trials} >= {t["params"]["l2"] for t in local.trials}
    assert res.start_score == pytest.approx(local.start_score, abs=1e-9)
    again = val.score(make_model("ease", **res.params).fit(val.train))
    assert res.score == pytest.approx(again, abs=1e-9) and res.score >= local.score - 1e-9
    # The standard-error rule as in the local search, on the per-customer scores the trials
    # sent back: the best by mean is kept only if it beats the better starting point (the
    # start or the defaults) by SE_RULE errors.
    per = {t["trial"]: val.per_customer(make_model("ease", **t["params"]).fit(val.train))
           for t in res.trials}
    from recsys.models.search import ShopShape

    points = tuning.starts("ease", ShopShape.of(val.train), {})
    ref = max((t for t in res.trials if t["params"] in points), key=lambda t: t["val_ndcg"])
    top = max(res.trials, key=lambda t: t["val_ndcg"])["trial"]
    assert res.kept_start == (top != ref["trial"]
                              and not tuning.beats(per[top], per[ref["trial"]]))
    if res.kept_start:
        assert res.score == pytest.approx(ref["val_ndcg"], abs=1e-12)
    assert res.score >= res.default_score - 1e-12

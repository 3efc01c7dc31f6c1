"""Hyper-parameter search: only the validation window, reproducible, always finishing, and a
blend that never scores below its parts there."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys import tuning
from recsys.bench import run_bench
from recsys.data import load_orders
from recsys.evaluate import temporal_split
from recsys.models import make_model, registry
from recsys.models.search import Dim, ShopShape
from recsys.synthetic import Shape, generate

CUTOFF = "2023-12-01"
FAST_EPOCHS = {"epochs": 3, "batch_size": 1024}  # torch models: a few big steps


@pytest.fixture(scope="module")
def shop_file(tmp_path_factory):
    """A small generated basket shop (taste clusters, 60 products, one year)."""
    path = tmp_path_factory.mktemp("shop") / "shop.parquet"
    generate(path, Shape(lines=8_000, customers=500, products=60, aisles=6, clusters=4,
                         basket=3.0, reorder=0.3, seed=4))
    return path


@pytest.fixture(scope="module")
def shop(shop_file):
    return load_orders(shop_file)


@pytest.fixture(scope="module")
def train(shop):
    return temporal_split(shop, cutoff=CUTOFF).train


def poisoned_copy(src, dst) -> None:
    """The same export with every line on/after the cutoff scrambled (other customers,
    other products, three times as many lines)."""
    df = pd.read_parquet(src)
    after = df["order_time"] >= pd.Timestamp(CUTOFF)
    test = pd.concat([df[after]] * 3, ignore_index=True)
    rng = np.random.default_rng(9)
    test["product_id"] = rng.permutation(test["product_id"].to_numpy())
    test["customer_id"] = rng.permutation(test["customer_id"].to_numpy())
    test["order_id"] = test["order_id"] + 10_000_000 * np.repeat([0, 1, 2], after.sum())
    pd.concat([df[~after], test], ignore_index=True).to_parquet(dst)


def test_the_search_never_reads_the_test_window(shop_file, tmp_path):
    bad = tmp_path / "poisoned.parquet"
    poisoned_copy(shop_file, bad)
    # Both read here, with this test's pseudonymisation key: the module's ``shop`` was read
    # before this test's key was set, and other pseudonyms sort the customers otherwise
    # (iALS then sums in another order, and a near tie can flip a validation ranking).
    runs = [run_bench(load_orders(path), ["ease", "als"], cutoff=CUTOFF, n_boot=0,
                      tune_minutes=10, tune_trials=4) for path in (shop_file, bad)]
    for name in ("ease", "als", "blend"):
        clean, poisoned = (r["models"][name] for r in runs)
        assert clean["params"] == poisoned["params"], name
        assert clean["validation_ndcg"] == poisoned["validation_ndcg"], name
    # The poison reached the test window: the test scores moved, the choices did not.
    assert runs[0]["models"]["ease"]["ndcg"] != runs[1]["models"]["ease"]["ndcg"]


def test_same_seed_same_choice(train):
    a, b = (tuning.tune("als", train, trials=6, seed=3, minutes=10) for _ in range(2))
    assert a.params == b.params and a.score == b.score
    assert [t["val_ndcg"] for t in a.trials] == [t["val_ndcg"] for t in b.trials]
    c = tuning.tune("als", train, trials=6, seed=4, minutes=10)
    assert [t["params"] for t in c.trials][2:] != [t["params"] for t in a.trials][2:]


def test_same_seed_same_choice_for_a_model_trained_in_epochs(train):
    fixed = {**registry.spec("two_tower").quick, **FAST_EPOCHS}
    a, b = (tuning.tune("two_tower", train, trials=1, seed=0, minutes=10, fixed=fixed)
            for _ in range(2))
    assert a.params == b.params and a.score == b.score
    assert a.params["patience"] == 0 and 1 <= a.params["epochs"] <= 3  # the best epoch


@pytest.mark.parametrize("name", [n for n in registry.names() if n != "blend"])
def test_a_one_trial_budget_completes(name, train):
    fixed = {**registry.spec(name).quick,
             **(FAST_EPOCHS if registry.spec(name).data_parallel else {})}
    res = tuning.tune(name, train, trials=1, minutes=10, fixed=fixed)
    assert len(res.trials) == 1 and np.isfinite(res.score)
    make_model(name, **res.params)  # the chosen settings are valid settings
    assert res.trials[0]["params"] == {k: v for k, v in res.params.items()
                                       if k in registry.spec(name).search and k not in fixed}
    # What was fixed stays; a model scored after each epoch keeps its best epoch within the
    # fixed number (a cap, see test_same_seed_same_choice_for_a_model_trained_in_epochs).
    assert all(res.params[k] == v for k, v in fixed.items() if k != "epochs")
    assert res.params.get("epochs", 0) <= fixed.get("epochs", 0)


def test_a_tiny_time_budget_still_runs_one_trial(train):
    res = tuning.tune("ease", train, minutes=1e-6)
    assert len(res.trials) == 1 and res.start_score == res.score


def test_the_scaled_start_beats_the_defaults_on_a_small_catalogue(train):
    """One trial (the shop-scaled start) is already better than the fixed defaults."""
    val = tuning.Validation.of(train)
    default = val.score(make_model("als").fit(val.train))
    start = tuning.tune("als", val, trials=1)
    assert start.params["factors"] < make_model("als").params()["factors"]
    assert start.score > default


def test_starting_points_scale_with_the_shop():
    small = ShopShape(customers=3_000, items=150, lines=30_000, pairs=20_000, days=365)
    large = ShopShape(customers=200_000, items=50_000, lines=30_000_000, pairs=20_000_000,
                      days=365)
    als = registry.spec("als")
    assert als.starting_point(small)["factors"] < als.starting_point(large)["factors"]
    ease = registry.spec("ease")
    assert ease.starting_point(small)["l2"] < ease.starting_point(large)["l2"]
    assert Dim(1, 10).clip(50) == 10 and Dim(choices=(1, 2)).clip(3) == 1


def test_the_blend_never_scores_below_its_parts_on_validation(train):
    val = tuning.Validation.of(train)
    for base_name in ("als", "itemknn"):
        params = make_model(base_name, **registry.spec(base_name).quick).params()
        base = make_model(base_name, **params).fit(val.train)
        res = tuning.tune_blend(base_name, params, val, base=base)
        parts = [val.score(base), val.score(make_model("popularity").fit(val.train)),
                 val.score(make_model("recent_popularity").fit(val.train))]
        assert res.score >= max(parts) - 1e-9, (res.score, parts)
        # The grid's scoring is the blend model's own scoring.
        fitted = make_model("blend", **res.params).fit(val.train)
        assert val.score(fitted) == pytest.approx(res.score, abs=1e-6)
        assert json.loads(res.params["base_params"]) == params


def test_tune_many_adds_the_blend_of_the_best(train):
    res = tuning.tune_many(["popularity", "ease", "itemknn"], train, trials=3)
    assert list(res) == ["popularity", "ease", "itemknn", "blend"]
    best = max(("ease", "itemknn"), key=lambda n: res[n].score)
    assert res["blend"].params["base"] == best
    assert res["blend"].score >= max(r.score for r in res.values() if r.model != "blend")


def test_the_total_budget_is_shared(train):
    import time

    start = time.monotonic()
    res = tuning.tune_many(["ease", "als"], train, minutes=5, total_minutes=0.05, blend=False)
    assert time.monotonic() - start < 30 and all(len(r.trials) >= 1 for r in res.values())


def test_a_stop_keeps_the_best_so_far(train):
    from recsys.models.trainer import StopTraining

    def stop_after_three(n, entry):
        if n == 3:
            raise StopTraining

    res = tuning.tune("ease", train, trials=20, callback=stop_after_three)
    assert res.stopped and len(res.trials) == 3 and np.isfinite(res.score)


def test_no_validation_customers_is_a_clear_error(shop):
    early = temporal_split(shop, cutoff="2023-01-03").train
    with pytest.raises(ValueError, match="Too little history to tune"):
        tuning.tune("ease", early, trials=1)


def test_a_blend_around_a_model_on_fewer_products(clustered_data, tmp_path):
    """EASE on its 10 best sellers: the blend still ranks every product, and reloads."""
    from recsys.models import load_model

    blend = make_model("blend", base="ease", base_params='{"max_items": 10}',
                       popularity=0.3).fit(clustered_data)
    assert blend.notes() and "10 best-selling" in blend.notes()[0]
    items, scores = blend.recommend(clustered_data.customer_ids[:5], n=40, exclude_seen=False)
    assert all(len(set(row)) == 40 for row in items) and np.isfinite(scores).all()
    blend.save(tmp_path / "b")
    again = load_model(tmp_path / "b")
    np.testing.assert_allclose(again.recommend(clustered_data.customer_ids[:5])[1],
                               blend.recommend(clustered_data.customer_ids[:5])[1], rtol=1e-6)


@pytest.mark.parametrize("bad", [{"popularity": 0.8, "recent": 0.5}, {"base": "blend"},
                                 {"base_params": "[1]"}, {"base_params": "not json"}])
def test_bad_blend_settings_are_refused(bad):
    with pytest.raises(ValueError):
        make_model("blend", **bad)


# ---------------------------------------------------------------- as a job, on the command line
def test_a_tune_job_stores_the_search_and_trains_the_tuned_models():
    from recsys.jobs import InlineExecutor, Jobs
    from recsys.presentation import tuning_table
    from recsys.workflow import leaderboard_rows, tuning_summaries
    from recsys.workspace import DatasetRef
    from tests.conftest import tune_request

    jobs = Jobs(executor=InlineExecutor())
    ref = DatasetRef.demo()
    fp = jobs.ws.fingerprint(ref)
    job = jobs.submit(tune_request(ref, fp, ["popularity", "ease"], "2011-11-01",
                                    minutes=5, trials=3))
    assert job.state == "done", job.error
    trials = [h for h in job.history if "trial" in h]
    assert {h["model"] for h in trials} == {"popularity", "ease"}
    assert all(h["best"] >= (h["val_ndcg"] or 0) - 1e-12 for h in trials)
    [found] = tuning_summaries(jobs.ws, jobs.list(dataset=fp), "2011-11-01")
    assert found["validation"]["to"] < "2011-11-01"  # the window ends before the holdout
    table = tuning_table(found)
    assert list(table["model"]) == ["popularity", "ease", "blend"]
    assert (table["validation: tuned"] >= table["validation: defaults"].fillna(0) - 1e-9).all()
    board = {r["model"]: r for r in leaderboard_rows(jobs.ws, fp, "2011-11-01")}
    tuned = {m: r for m, r in board.items() if r["tuned"]}
    assert set(tuned) == {"popularity · tuned", "ease · tuned", "blend · tuned"}
    for row in tuned.values():
        assert row["validation_ndcg"] is not None and row["settings"] is not None
    assert "best sellers" in next(r["settings"] for m, r in tuned.items()
                                  if m.startswith("blend"))
    # the tuned models serve the pages too (refitted on all the orders)
    from recsys.workflow import served_models
    assert sum(s.trained_on == "all" and "tuned" in s.label
               for s in served_models(jobs.ws, fp)) == 3


def test_the_command_line_tunes_and_benches(tmp_path, capsys):
    from recsys.cli import main

    out = tmp_path / "bench.json"
    assert main(["bench", "--demo", "--models", "popularity,ease", "--bootstrap", "20",
                 "--tune-minutes", "1", "--tune-trials", "2", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["models"]) == {"popularity", "ease", "blend"}
    ease = res["models"]["ease"]
    assert ease["tuning"]["trials"] == 2 and 0 < ease["validation_ndcg"] < 1
    assert ease["params"]["l2"] != make_model("ease").params()["l2"]  # the scaled start won
    assert "val ndcg" in capsys.readouterr().out
    assert main(["tune", "--demo", "--models", "recent_popularity", "--tune-minutes",
                 "0.05", "--json", str(tmp_path / "tune.json")]) == 0
    text = capsys.readouterr().out
    assert "recent_popularity" in text and "never seen" in text
    assert main(["tune", "--demo", "--models", "nope", "--tune-minutes", "1"]) == 2
    assert "Unknown model" in capsys.readouterr().err


def test_start_and_default_scores_are_those_trials(train):
    val = tuning.Validation.of(train)
    res = tuning.tune("als", val, trials=3)
    start = val.score(make_model("als", **{**make_model("als").params(),
                                           **res.trials[0]["params"]}).fit(val.train))
    default = val.score(make_model("als").fit(val.train))
    assert res.start_score == pytest.approx(start, abs=1e-6)
    assert res.default_score == pytest.approx(default, abs=1e-6)
    same = tuning.tune("popularity", val)  # nothing searched: one trial, start = defaults
    assert same.start_score == same.default_score == same.score


def test_a_gain_within_the_noise_keeps_the_start(train):
    rng = np.random.default_rng(0)
    start = rng.uniform(0, 1, 1000)
    assert not tuning.beats(start + 0.001 + rng.normal(0, 0.05, 1000), start)
    assert tuning.beats(start + 0.02 + rng.normal(0, 0.05, 1000), start)
    res = tuning.tune("als", train, trials=8)
    best = max(t["val_ndcg"] for t in res.trials if t["val_ndcg"] is not None)
    kept = max(res.start_score, res.default_score)  # the better starting point
    if res.kept_start:  # a better trial existed, but not by two standard errors
        assert res.score == kept < best
        ref = next(t for t in res.trials if t["val_ndcg"] == kept)
        assert res.params["factors"] == ref["params"]["factors"]
    else:
        assert res.score == best
    assert res.score >= res.default_score  # never below the defaults on validation


@pytest.mark.parametrize("name", [n for n in registry.names() if registry.spec(n).data_parallel])
def test_trials_train_whole_orders_when_the_final_fit_will(name, train):
    """The validation window's training part has fewer lines than the whole training period.
    With the whole-orders threshold between the two, the final fit trains on whole orders;
    the trials (and the settings handed to it) must too, not decide on the shorter window."""
    val = tuning.Validation.of(train)
    assert val.train.n_lines < train.n_lines
    auto = type(make_model(name)).AUTO_ORDERS
    seen: list[int] = []
    real = tuning.run_trial

    def spy(name_, params, val_, report):
        seen.append(make_model(name_, **params)._training_config(val_.train)[0].batch_orders)
        return real(name_, params, val_, report)

    fixed = {**registry.spec(name).quick, **FAST_EPOCHS, "whole_orders_above": val.train.n_lines}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tuning, "run_trial", spy)
        res = tuning.tune(name, train, trials=1, minutes=10, fixed=fixed)
    final = make_model(name, **res.params)._training_config(train)[0].batch_orders
    assert seen == [auto] and res.params["batch_orders"] == final == auto
    # Above the whole period's size nothing is picked: trials and final fit train on lines.
    res = tuning.tune(name, train, trials=1, minutes=10,
                      fixed={**fixed, "whole_orders_above": train.n_lines})
    assert res.params["batch_orders"] == 0

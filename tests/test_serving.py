"""Which model a page shows: the best complete model on the dataset's leaderboard; a stopped
model is labelled partial and a personalised model under best sellers says so, and neither
is ever chosen for the analyst; the analyst's own choice stays theirs."""

from __future__ import annotations

import shutil

from streamlit.testing.v1 import AppTest

from recsys.models import make_model
from recsys.records import ModelRecord, ScoreRow, TrainedOn
from recsys.workflow import default_models, leaderboard_rows, served_models
from recsys.workspace import DatasetRef, Workspace
from tests.conftest import APP, no_errors

FP = "fp-test"


def _store(ws, data, name: str, ndcg: float, created: float, partial: bool = False):
    model = make_model(name, **({"iterations": 2, "factors": 4} if name == "als" else {}))
    model.fit(data)
    row = ScoreRow(model=name, k=10, task="novel", metrics={"ndcg": ndcg}, cutoff="2024-04-01",
                   partial=partial)
    ws.save_model(model, ModelRecord(name, name, {}, TrainedOn.HOLDOUT, created=created,
                                     fingerprint=FP, group=name, partial=partial,
                                     cutoff="2024-04-01", metrics=row))


def test_best_complete_model_first_partial_and_below_best_sellers_labelled(clustered_data,
                                                                           tmp_path):
    ws = Workspace(tmp_path)
    _store(ws, clustered_data, "ease", 0.20, created=1)
    _store(ws, clustered_data, "popularity", 0.10, created=2)
    _store(ws, clustered_data, "als", 0.30, created=3, partial=True)  # newest and "best"
    _store(ws, clustered_data, "itemknn", 0.05, created=4)  # newest, under best sellers
    models = served_models(ws, FP)
    assert [s.label for s in models] == ["ease", "popularity", "itemknn · below best sellers",
                                         "als · partial"]
    assert default_models(models)[0].model == "ease"
    assert [s.eligible for s in models] == [True, True, False, False]
    assert models[3].title == "als"
    board = {r["model"] for r in leaderboard_rows(ws, FP)}
    assert "als · partial" in board


def test_with_only_poor_models_the_best_there_is_is_shown(clustered_data, tmp_path):
    ws = Workspace(tmp_path)
    _store(ws, clustered_data, "ease", 0.20, created=1, partial=True)
    assert default_models(served_models(ws, FP))[0].title == "ease"


def _poor_copies(ws: Workspace) -> None:
    """Beside the demo's starters: a stopped model with the best score and a newer model
    under best sellers -- what an interrupted or careless training leaves."""
    fp = ws.fingerprint(DatasetRef.demo())
    ease = next(r for r in ws.model_records(fingerprint=fp, trained_on=TrainedOn.HOLDOUT)
                if r.model == "ease")
    best = max(r.metrics.metrics["ndcg"] for r in ws.model_records(fingerprint=fp)
               if r.metrics is not None)
    for name, ndcg, partial in (("stopped", best + 0.1, True), ("careless", 0.001, False)):
        ws.save_model(ws.load_model(ease.name), ease.but(
            name=name, group=name, label=name, partial=partial, created=ease.created + 10**6,
            metrics=ease.metrics.but(metrics={**ease.metrics.metrics, "ndcg": ndcg},
                                     partial=partial)))


def test_pages_never_default_to_a_stopped_or_poor_model(app):
    _poor_copies(Workspace())
    app.switch_page("pages/products.py").run()
    no_errors(app)
    picked = app.selectbox(key="w_model")
    assert "stopped · partial" in picked.options and "careless · below best sellers" in \
        picked.options
    assert picked.value not in ("stopped · partial", "careless · below best sellers")
    app.switch_page("pages/customer.py").run()
    shown = app.multiselect(key="w_models").value
    assert shown and not {"stopped · partial", "careless · below best sellers"} & set(shown)
    app.switch_page("pages/embeddings.py").run()
    assert "partial" not in app.selectbox(key="w_vectors").value


def test_the_analysts_choice_survives_page_switches_reloads_and_others_training(app):
    app.switch_page("pages/products.py").run()
    box = app.selectbox(key="w_model")
    mine = next(o for o in box.options if o != box.value)
    box.set_value(mine).run()
    app.switch_page("pages/customer.py").run()
    app.switch_page("pages/products.py").run()
    assert app.selectbox(key="w_model").value == mine  # a page switch
    assert app.query_params["model"] == [mine] or app.query_params["model"] == mine
    _poor_copies(Workspace())  # someone else trains meanwhile
    app.run()
    assert app.selectbox(key="w_model").value == mine
    link = AppTest.from_file(APP, default_timeout=180)  # a reload, or the link sent on
    link.query_params["model"] = mine
    link.run()
    link.switch_page("pages/products.py").run()
    no_errors(link)
    assert link.selectbox(key="w_model").value == mine
    ws = Workspace()
    shutil.rmtree(ws.root / "models" / "careless")  # a linked model that is gone...
    gone = AppTest.from_file(APP, default_timeout=180)
    gone.query_params["model"] = "careless · below best sellers"
    gone.run()
    gone.switch_page("pages/products.py").run()
    no_errors(gone)  # ...never breaks a page: it shows the default instead
    best = default_models(served_models(ws, ws.fingerprint(DatasetRef.demo())))[0]
    assert gone.selectbox(key="w_model").value == best.label

"""Every page under Streamlit's AppTest: renders without exceptions, shows its key numbers and
charts before and after the background jobs, survives a bad upload, trains a model as a job,
and keeps what was trained across sessions (a reload).

The fast tests run the app with the fake executor (``fake_jobs``): jobs asked for stay
queued, or run at once in this process where a test needs their result; the workspace
whose starter jobs ran is built once per session (``trained_demo``). The ``full`` tests at
the end run the same journeys with real worker processes."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from recsys.jobs import Jobs
from tests.conftest import new_session, no_errors, settle
from tests.test_import_formats import RETAIL

PAGES = ["pages/data.py", "pages/models.py", "pages/customer.py", "pages/products.py",
         "pages/embeddings.py", "pages/campaigns.py"]


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_data_page_shows_demo_summary(cold):
    no_errors(cold)
    labels = {m.label: m.value for m in cold.metric}
    assert int(labels["Customers"].replace(",", "")) > 1000
    assert charts(cold) == 4
    assert cold.sidebar.selectbox[0].value.is_demo


def test_first_start_asks_for_the_starter_jobs_and_pages_show_data_meanwhile(cold):
    kinds = sorted(j.kind for j in Jobs().list())
    assert kinds.count("fit") == 4 and kinds.count("campaign") == 1
    cold.switch_page("pages/customer.py").run()
    no_errors(cold)
    assert len(cold.metric) == 4 and charts(cold) >= 1  # profile and timeline already
    cold.switch_page("pages/products.py").run()
    no_errors(cold)
    assert len(cold.metric) == 4


@pytest.mark.parametrize("page", PAGES[1:])
def test_every_page_renders_once_the_starters_are_done(app, page):
    app.switch_page(page).run()
    no_errors(app)
    for button in app.get("download_button"):  # a file built on click ("deferred") is
        assert button.proto.url and not button.proto.HasField("deferred_file_id")  # dropped
        # by a rerun before it arrives; a built one is kept through the next run
    if page in ("pages/customer.py", "pages/products.py"):
        assert len(app.dataframe) >= 2 and charts(app) >= 1
        assert len(app.metric) == 4
    if page == "pages/campaigns.py":  # gains, lift, profit; the plan in words; the list
        assert charts(app) >= 3 and any(m.label == "Expected buyers" for m in app.metric)
        specs = [c.proto.spec for c in app.get("plotly_chart")]  # the model beside simple rules
        assert any(all(f'"name":"{m}"' in s for m in ("propensity", "random", "most_active"))
                   for s in specs)
        assert len(app.dataframe[0].value) >= 1
    if page == "pages/embeddings.py":  # scatter, usefulness vs baselines, RFM mix, K curve
        specs = [c.proto.spec for c in app.get("plotly_chart")]
        assert charts(app) == 4 and any("predict next purchases" in s for s in specs)
        assert len(app.dataframe) == 2  # the segment profiles, what to promote
        assert any("RFM segments" in c.value for c in app.caption)
    if page == "pages/models.py":
        board = app.dataframe[0].value
        assert set(board["model"]) >= {"popularity", "ease", "als", "propensity"}


def test_customer_recommendations_have_reasons(app):
    app.switch_page("pages/customer.py").run()
    table = app.dataframe[-1].value
    assert len(table) == 10 and "because you bought" in table.columns
    app.toggle[0].set_value(False).run()
    no_errors(app)
    app.text_input[0].set_value("no-such-customer").run()
    assert app.error and "No customer" in app.error[0].value


def test_products_page_similar_and_targets(app):
    app.switch_page("pages/products.py").run()
    no_errors(app)
    assert {"Similar products", "Most likely next buyers"} <= {s.value for s in app.subheader}
    assert len(app.dataframe[2].value) == 50  # default audience size


def test_upload_good_then_bad_keeps_dataset(cold, fake_jobs):
    cold.file_uploader[0].upload("retail.csv", RETAIL.encode(), "text/csv").run()
    cold.text_input[0].set_value("tiny-shop")
    fake_jobs.run("import")  # the import runs as it is asked for; the new shop's starters wait
    button(cold, "Import").click().run()  # a job: done at once here, the page follows it
    no_errors(cold)
    assert cold.success and "Imported 7 lines" in cold.success[0].value
    assert {m.label: m.value for m in cold.metric}["Customers"] == "3"
    cold.file_uploader[0].clear()
    cold.file_uploader[0].upload("bad.csv", b"a,b\n1,2\n", "text/csv").run()
    button(cold, "Import").click().run()
    assert not cold.exception
    assert cold.error and "Could not import" in cold.error[0].value
    assert {m.label: m.value for m in cold.metric}["Customers"] == "3"  # still loaded


def test_models_page_trains_as_a_job_and_a_new_session_sees_it(app, fake_jobs):
    app.switch_page("pages/models.py").run()
    app.multiselect[0].set_value(["itemknn"]).run()
    app.button[0].click().run()  # the form's submit button: the page does not wait
    no_errors(app)
    job = next(j for j in Jobs().list() if j.kind == "fit" and "itemknn" in j.label)
    assert job.state == "queued"
    fake_jobs.run().start(Jobs(), None)  # as a worker would, meanwhile
    app.run()
    no_errors(app)
    board = app.dataframe[0].value
    assert "itemknn" in set(board["model"]) and (board["ndcg_lo"] <= board["ndcg"]).all()
    other = new_session()  # a reload, or a second browser tab
    other.switch_page("pages/models.py").run()
    assert "itemknn" in set(other.dataframe[0].value["model"])
    other.switch_page("pages/customer.py").run()
    assert "itemknn" in other.multiselect[0].options


@pytest.mark.full
def test_models_page_trains_a_neural_model_and_shows_its_progress(app_with_workers):
    app = app_with_workers
    app.switch_page("pages/models.py").run()
    app.multiselect[0].set_value(["two_tower"]).run()
    app.number_input(key="p_two_tower_epochs").set_value(1)
    app.number_input(key="p_two_tower_patience").set_value(0)
    app.button[0].click().run()
    no_errors(app)
    assert any(s.value.startswith("Running") for s in app.subheader)  # followed, not awaited
    assert any("two_tower" in p.proto.text for p in app.get("progress"))
    settle()
    app.run()
    no_errors(app)
    assert "two_tower (epochs=1, patience=0)" in set(app.dataframe[0].value["model"])


@pytest.mark.full
def test_models_page_tunes_as_a_job_with_a_trial_chart(app_with_workers):
    app = app_with_workers
    app.switch_page("pages/models.py").run()
    app.multiselect(key="tune_models").set_value(["recent_popularity"]).run()
    app.slider(key="tune_minutes").set_value(1).run()
    next(b for b in app.button if b.label == "Tune").click().run()
    no_errors(app)
    assert any(j.kind == "tune" for j in Jobs().list())
    settle()
    app.run()
    no_errors(app)
    frames = [d.value for d in app.dataframe]
    search = next(f for f in frames if "validation: scaled start" in f)
    assert list(search["model"]) == ["recent_popularity"] and search["trials"][0] >= 1
    board = next(f for f in frames if "ndcg_lo" in f)
    row = board[board["model"] == "recent_popularity · tuned"].iloc[0]
    assert row["tuned"] and row["validation_ndcg"] > 0
    # the same words (no column at all when every model runs on its defaults)
    assert row.get("settings", "") == search["settings"][0].replace("defaults", "")
    assert any("validation NDCG" in str(c.proto.spec) for c in app.get("plotly_chart"))


def test_bad_settings_are_refused_before_any_job(app):
    app.switch_page("pages/models.py").run()
    before = len(Jobs().list())
    app.multiselect[0].set_value(["propensity"]).run()
    app.number_input(key="p_propensity_windows").set_value(0)
    app.button[0].click().run()
    assert not app.exception
    assert any("windows must be between 1 and 24" in e.value for e in app.error)
    assert len(Jobs().list()) == before


def test_a_job_that_fails_is_listed_with_its_message(app):
    from recsys.jobs import FAILED
    from recsys.workspace import DatasetRef, Workspace

    jobs = Jobs()
    fp = Workspace().fingerprint(DatasetRef.demo())
    job = jobs.store.add("fit", {"fingerprint": fp}, "k", dataset=fp, label="doomed")
    jobs.store.finish(job.id, FAILED, error="Ran out of memory. Try a smaller model.")
    app.switch_page("pages/models.py").run()
    assert not app.exception
    assert any("doomed" in e.value and "Ran out of memory" in e.value for e in app.error)


def test_a_damaged_model_stops_the_page_with_a_message(app):
    """A tampered model folder (an out-of-range index would crash scipy) is refused."""
    import numpy as np

    from recsys.workflow import served_models
    from recsys.workspace import DatasetRef, Workspace

    ws = Workspace()
    ease = next(s for s in served_models(ws, ws.fingerprint(DatasetRef.demo()))
                if s.model == "ease")
    state = ws.root / "models" / ease.serving_id / "state.npz"
    with np.load(state) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["X_indices"] = arrays["X_indices"] + 10**6
    np.savez(state, **arrays)
    app.switch_page("pages/products.py").run()
    app.selectbox[1].set_value("ease").run()
    assert not app.exception
    assert any("cannot be used" in e.value and "damaged" in e.value for e in app.error)


def test_tuning_a_shop_with_too_little_history_is_refused_at_once(cold, fake_jobs):
    """Said where it was asked, before any job: a tune job would wait its turn behind the
    shop's starter jobs only to say the same."""
    from tests.test_e2e_browser import ONE_MONTH_SHOP

    cold.file_uploader[0].upload("shop.csv", ONE_MONTH_SHOP.encode(), "text/csv").run()
    cold.text_input[0].set_value("small-shop")
    fake_jobs.run("import")
    button(cold, "Import").click().run()
    fake_jobs.hold()
    cold.switch_page("pages/models.py").run()
    no_errors(cold)
    button(cold, "Tune").click().run()
    assert any("Too little history to tune" in e.value for e in cold.error)
    assert not any(j.kind == "tune" for j in Jobs().list())


def _watch_script(ids: tuple[str, ...]) -> None:
    import streamlit as st

    from ui import state as S
    from ui.jobs import _watch

    if st.session_state.get("left"):  # the analyst has switched to another page since
        st.session_state[S.PAGE_SHOWN] = "the page they switched to"
    _watch(ids, False, False)


def test_a_late_job_watch_from_a_page_left_draws_nothing(cold):
    """The browser can send one more timed rerun of the last page's job watch after a page
    switch: it must neither draw nor rerun the app on the page the analyst left."""
    ids = tuple(j.id for j in Jobs().list(states=("queued",)))
    assert ids
    at = AppTest.from_function(_watch_script, args=(ids,), default_timeout=60)
    at.run()
    assert len(at.get("progress")) == len(ids)  # on the page shown: every job's line
    at.session_state["left"] = True
    at.run()
    assert not at.exception and not at.get("progress")

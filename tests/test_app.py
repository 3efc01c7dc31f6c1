"""Every page under Streamlit's AppTest: renders without exceptions, shows its key numbers and
charts, survives a bad upload, trains a quick model."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_import_formats import RETAIL

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["pages/data.py", "pages/models.py", "pages/customer.py", "pages/products.py",
         "pages/embeddings.py", "pages/campaigns.py"]


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def test_data_page_shows_demo_summary(app):
    no_errors(app)
    labels = {m.label: m.value for m in app.metric}
    assert int(labels["Customers"].replace(",", "")) > 1000
    assert charts(app) == 4
    assert app.sidebar.selectbox[0].value.is_demo


@pytest.mark.parametrize("page", PAGES[1:])
def test_every_page_renders_before_any_upload(app, page):
    app.switch_page(page).run()
    no_errors(app)
    if page in ("pages/customer.py", "pages/products.py"):
        assert len(app.dataframe) >= 1 and charts(app) >= 1
        assert len(app.metric) == 5
    if page == "pages/campaigns.py":  # gains, lift, profit; the summary; the target list
        assert charts(app) == 3 and app.success[0].value.startswith("Targeting")
        lift = app.get("plotly_chart")[1].proto.spec  # both default models beside the heuristics
        assert all(f'"name":"{m}"' in lift.replace(" ", "") for m in ("propensity", "ease"))
        assert len(app.dataframe[0].value) >= 1
    if page == "pages/embeddings.py":  # scatter, silhouette curve, profiles, baseline metric
        assert charts(app) == 2 and len(app.dataframe) == 1 and len(app.metric) == 1


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
    assert len(app.dataframe[1].value) == 50  # default audience size


def test_upload_good_then_bad_keeps_dataset(app):
    app.file_uploader[0].upload("retail.csv", RETAIL.encode(), "text/csv").run()
    app.text_input[0].set_value("tiny-shop")
    app.button[0].click().run()
    no_errors(app)
    assert app.success and "Imported 7 lines" in app.success[0].value
    assert {m.label: m.value for m in app.metric}["Customers"] == "3"
    app.file_uploader[0].clear()
    app.file_uploader[0].upload("bad.csv", b"a,b\n1,2\n", "text/csv").run()
    app.button[0].click().run()
    assert not app.exception
    assert app.error and "Could not import" in app.error[0].value
    assert {m.label: m.value for m in app.metric}["Customers"] == "3"  # still loaded


def test_models_page_trains_and_shows_leaderboard(app):
    app.switch_page("pages/models.py").run()
    app.multiselect[0].set_value(["popularity", "ease"]).run()
    app.button[0].click().run()  # the form's submit button
    no_errors(app)
    board = app.dataframe[0].value
    assert set(board["model"]) == {"popularity", "ease"}
    assert (board["ndcg_lo"] <= board["ndcg"]).all() and charts(app) >= 1
    app.switch_page("pages/customer.py").run()
    no_errors(app)
    assert len(app.dataframe) >= 3  # history + one table per model


def test_models_page_trains_a_neural_model_quickly(app):
    app.switch_page("pages/models.py").run()
    app.multiselect[0].set_value(["two_tower"]).run()
    app.number_input(key="p_two_tower_epochs").set_value(1)
    app.number_input(key="p_two_tower_patience").set_value(0)
    app.button[0].click().run()
    no_errors(app)
    assert "two_tower" in set(app.dataframe[0].value["model"])


def test_campaign_what_if_fits_nothing(app, monkeypatch):
    """Costs and margins are priced on stored backtest curves: changing them (or the
    audience size, or going back to a product seen before) fits no model."""
    from recsys.models.base import BaseRecommender

    app.switch_page("pages/campaigns.py").run()
    no_errors(app)
    before = app.success[0].value
    fits = []
    real_fit = BaseRecommender.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(self.name)
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(BaseRecommender, "fit", counting_fit)
    app.number_input(key="cost").set_value(0.40).run()
    app.number_input(key="fixed").set_value(100.0).run()
    app.number_input(key="margin").set_value(45.0).run()
    app.slider[0].set_value(50).run()
    no_errors(app)
    assert fits == []
    assert app.success[0].value != before and "£0.40 per contact" in app.success[0].value
    product = app.selectbox(key="product")
    first, other = product.value, product.options[3].rsplit("(", 1)[1].rstrip(")")
    product.set_value(other).run()  # another product: stage 2 only
    app.selectbox(key="product").set_value(first).run()
    no_errors(app)
    assert fits == []

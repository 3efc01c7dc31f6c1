"""The Campaigns page under AppTest: a plan with its interval, money and control group from
the stored models; sizing by budget; a product whose backtest window has no buyer; the
read-back of an uploaded contact list; and a link that carries the plan's inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.jobs import Jobs
from tests.conftest import new_session, no_errors


def open_page(app):
    app.switch_page("pages/campaigns.py").run()
    no_errors(app)
    return app


def metric(app, label: str) -> str:
    return next(m for m in app.metric if m.label == label).value


def targets(app) -> pd.DataFrame:
    return next(d.value for d in app.dataframe if "probability" in d.value.columns)


def test_the_plan_shows_a_forecast_with_its_interval_and_a_list_that_adds_up_to_it(app):
    open_page(app)
    buyers = float(metric(app, "Expected buyers").replace(",", ""))
    text = " ".join(m.value for m in app.markdown)
    assert "80% interval" in text and "control group" in text and "Backtest" in text
    assert "£" in metric(app, "Expected profit")  # the demo's currency, always shown
    assert len(app.get("plotly_chart")) >= 3
    t = targets(app)
    p = t["probability"].to_numpy()
    assert (np.diff(p) < 0).all()  # decreasing with rank: no flat bands at the top
    assert set(t["group"]) == {"target", "control"}
    audience = int(metric(app, "Audience").replace(",", ""))
    if audience <= 200:  # the table shows the first 200 rows
        assert p.sum() == pytest.approx(buyers, abs=0.6)


def test_changing_the_economics_fits_nothing_and_asks_for_no_job(app, monkeypatch):
    from recsys.models.base import BaseRecommender

    open_page(app)
    jobs_before, profit = len(Jobs().list()), metric(app, "Expected profit")
    fits = []
    monkeypatch.setattr(BaseRecommender, "fit", lambda self, *a, **k: fits.append(self.name))
    app.number_input(key="w_cost").set_value(0.10).run()
    app.number_input(key="w_margin").set_value(45.0).run()
    no_errors(app)
    product = app.selectbox(key="w_product")
    product.set_value(product.options[3].rsplit("(", 1)[1].split(")")[0]).run()  # another
    no_errors(app)
    assert fits == [] and len(Jobs().list()) == jobs_before
    assert metric(app, "Expected profit") != profit


def test_a_budget_sizes_the_audience(app):
    open_page(app)
    app.selectbox(key="w_size_by").set_value("Budget").run()
    app.number_input(key="w_budget").set_value(35.0).run()
    no_errors(app)
    assert metric(app, "Audience") == "100"  # £35 at £0.35 per contact
    assert any("budget of £35" in m.value for m in app.markdown)


def quiet_shop() -> bytes:
    """Six months of a small shop where product 99 sold only in the first month."""
    rows = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    for o in range(500):
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=o * 180 // 500)
        items = [(o * 7 + k * 3) % 30 for k in range(3)] + ([99] if o < 60 else [])
        rows += [f"{1000 + o},{20000 + i},PRODUCT {i},1,{day:%Y-%m-%d} 10:00:00,2.5,"
                 f"{500 + o % 80}.0,UK" for i in items]
    return ("\n".join(rows) + "\n").encode()


@pytest.mark.full  # the shop's campaign models are trained (in this process)
def test_a_product_without_buyers_in_the_window_says_so_in_words(cold, fake_jobs):
    cold.file_uploader[0].upload("quiet.csv", quiet_shop(), "text/csv").run()
    cold.text_input[0].set_value("quiet-shop")
    fake_jobs.run("import", "campaign", "serve")
    next(b for b in cold.button if b.label == "Import").click().run()
    open_page(cold)
    choices = cold.selectbox(key="w_product")
    assert " 0 returning" not in choices.format_func(choices.value)  # opens on one that sells
    cold.selectbox(key="w_product").set_value("20099").run()
    assert not cold.exception
    assert "No customer bought" in " ".join(w.value for w in cold.warning)
    page = " ".join(m.value for m in cold.markdown) + " ".join(m.value for m in cold.metric)
    assert "nan" not in page.lower() and "-100%" not in page


def test_reading_a_campaign_back_from_the_downloaded_list(app):
    open_page(app)
    t = targets(app)
    contacts = t[["customer_id", "group", "probability"]].assign(date="2011-10-01")
    app.file_uploader(key="contacts").upload(
        "contacts.csv", contacts.to_csv(index=False).encode(), "text/csv").run()
    no_errors(app)
    said = " ".join(s.value for s in app.success) + " ".join(s.value for s in app.info)
    assert "contacted customers bought" in said and "held back" in said
    assert "caused an estimated" in said
    assert any("Qini" in c.proto.spec for c in app.get("plotly_chart"))


def test_the_link_carries_the_plan(app):
    open_page(app)
    app.selectbox(key="w_size_by").set_value("Number of customers").run()
    app.number_input(key="w_size_n").set_value(120).run()
    app.number_input(key="w_cost").set_value(0.5).run()
    params = {k: v[0] if isinstance(v, list) else v for k, v in app.query_params.items()}
    assert params["size_by"] == "Number of customers" and params["size_n"] == "120"
    colleague = new_session()
    for k, v in params.items():
        colleague.query_params[k] = v
    colleague.switch_page("pages/campaigns.py").run()
    no_errors(colleague)
    assert metric(colleague, "Audience") == "120"
    assert colleague.number_input(key="w_cost").value == 0.5


def test_a_personalised_mailing_says_who_is_offered_what(app):
    open_page(app)
    app.selectbox(key="w_scope").set_value("A personalised mailing").run()
    no_errors(app)
    assert any("offered their best placed product" in m.value for m in app.markdown)
    assert targets(app)["product"].nunique() >= 2


def test_a_demand_change_set_on_the_page_scales_the_forecast_and_travels_in_the_link(app):
    open_page(app)
    app.selectbox(key="w_size_by").set_value("Number of customers").run()
    app.number_input(key="w_size_n").set_value(300).run()
    before = float(metric(app, "Expected buyers").replace(",", ""))
    demand = app.selectbox(key="w_demand")
    assert demand.value.startswith("Auto")
    assert "As it moved a year ago" not in demand.options  # the demo has no year back
    demand.set_value("A change I expect (%)").run()
    app.number_input(key="w_demand_pct").set_value(50.0).run()
    no_errors(app)
    after = float(metric(app, "Expected buyers").replace(",", ""))
    assert after == pytest.approx(1.5 * before, abs=1.0)
    assert any("the change you set (+50%" in m.value for m in app.markdown)
    params = {k: v[0] if isinstance(v, list) else v for k, v in app.query_params.items()}
    assert params["demand"] == "A change I expect (%)" and float(params["demand_pct"]) == 50
    colleague = new_session()
    for k, v in params.items():
        colleague.query_params[k] = v
    colleague.switch_page("pages/campaigns.py").run()
    no_errors(colleague)
    assert metric(colleague, "Expected buyers") == metric(app, "Expected buyers")

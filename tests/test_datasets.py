"""The embedded demo shop."""

from __future__ import annotations

import pandas as pd

from recsys.datasets import load_demo, make_demo_orders


def test_demo_export_is_online_retail_and_deterministic():
    a = make_demo_orders(n_customers=200, n_products=80, seed=3)
    b = make_demo_orders(n_customers=200, n_products=80, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:8]) == ["InvoiceNo", "StockCode", "Description", "Quantity",
                                   "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    assert not a.equals(make_demo_orders(n_customers=200, n_products=80, seed=4))


def test_demo_goes_through_the_importer_with_realistic_shape():
    data = load_demo(n_customers=400, n_products=120)
    assert data.report.format == "online_retail"
    removed = {r["rule"]: r["removed"] for r in data.report.cleaning}
    assert removed["cancellations"] > 0 and removed["missing_customer"] > 0
    assert removed["non_products"] > 0 and removed["duplicates"] > 0
    orders = data.customers["orders"]
    assert orders.median() <= 5 and orders.max() >= 20  # most rare, a few wholesalers
    counts = data.products["lines"].sort_values(ascending=False).to_numpy()
    assert counts[: len(counts) // 10].sum() > 0.25 * counts.sum()  # popularity is skewed
    assert data.products["category"].nunique() >= 8
    late = data.products[data.products["name"].str.startswith("NEW ")]
    assert len(late) == 1
    assert late["first_seen"].iloc[0] > data.interactions["timestamp"].max() - pd.Timedelta(days=50)


def test_a_longer_shop_with_seasonal_lines_sells_them_in_season():
    def share_by_month(df: pd.DataFrame) -> pd.Series:
        month = pd.to_datetime(df["InvoiceDate"]).dt.month
        return (df["Category"] == "Christmas").groupby(month).mean()

    seasonal = make_demo_orders(n_customers=400, n_products=100, seed=1, days=740,
                                seasonal_lines=True)
    when = pd.to_datetime(seasonal["InvoiceDate"])
    assert when.max() - when.min() > pd.Timedelta(days=720)  # two years of orders
    lines = share_by_month(seasonal)
    assert lines[10] > 2.5 * lines[4]  # Christmas lines in October, hardly in April
    plain = share_by_month(make_demo_orders(n_customers=400, n_products=100, seed=1))
    assert plain[10] < 1.25 * plain[4]  # the default demo: no seasonal lines


def test_demo_customers_arrive_and_lapse_through_the_year():
    df = make_demo_orders(n_customers=600, n_products=120, seed=2)
    df = df[df["CustomerID"] != ""]
    when = pd.to_datetime(df["InvoiceDate"])
    span = when.groupby(df["CustomerID"]).agg(["min", "max"])
    start, end = when.min(), when.max()
    assert (span["min"] > start + pd.Timedelta(days=180)).mean() > 0.25  # newcomers
    assert (span["max"] < end - pd.Timedelta(days=90)).mean() > 0.4  # lapsed by the end
    assert (span["min"] < start + pd.Timedelta(days=7)).mean() < 0.35  # no pile-up on day one


def test_the_demo_shows_what_a_campaign_model_adds_over_simple_rules():
    """The demo's story (the campaign page's default backtest): the default campaign model
    reaches at least 5x a random audience at the top 5% on the 20 best sellers, and 1.5x the
    best simple rule (buyers of the category, the most active customers)."""
    from recsys.campaign import Economics, report
    from recsys.models import registry

    data = load_demo()
    end = data.interactions["timestamp"].max()
    cut = str((end - pd.Timedelta(days=30)).date())
    model = registry.campaign_models()[0]
    lifts = report(data, model, None, None, 20, cut, 30, Economics())["lift_at_5pct_all"]
    rules = max(lifts["category_buyers"], lifts["most_active"])
    assert lifts[model] >= 5 and lifts[model] >= 1.5 * rules, lifts

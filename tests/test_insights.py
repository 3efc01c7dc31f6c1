"""Small helpers the pages use: finding a customer by what the analyst knows, money."""

from __future__ import annotations

import numpy as np

from recsys import insights
from recsys.data import ImportOptions, load_orders
from recsys.data.readers import RawSource
from tests.shops import shopify_orders


def test_find_a_customer_by_email_or_phone_never_stored():
    data = load_orders(RawSource(name="orders_export.csv", data=shopify_orders(seed=1)),
                       options=ImportOptions(pii_key=b"k"))
    key = lambda: b"k"  # noqa: E731
    found = [insights.find_customer(data, f"BUYER{c}@mail.example", key) for c in range(60)]
    by_phone = [insights.find_customer(data, f"+880 1{c:09d}", key) for c in range(60)]
    assert sum(f is not None for f in found) >= 10 and sum(f is not None for f in by_phone) >= 5
    assert set(f for f in found + by_phone if f) <= set(data.customer_ids)
    assert insights.find_customer(data, "nobody@example.com", key) is None
    cid = data.customer_ids[0]
    assert insights.find_customer(data, cid, key) == cid


def test_money_never_assumes_pounds():
    assert insights.money(1234.5, "GBP") == "£1,234.50"
    assert insights.money(1234.5, "bdt") == "৳1,234.50"
    assert insights.money(1234.5, "XYZ") == "XYZ 1,234.50"
    assert insights.money(1234.5, None) == "1,234.50"
    assert np.isclose(1, 1)


def test_next_buyers_say_how_likely_in_words_not_raw_scores(clustered_data):
    from recsys.insights import likelihood_band, target_table
    from recsys.models import make_model

    assert list(likelihood_band(np.array([1, 5, 6, 50, 51, 100]), 100)) == [
        "top 1%", "top 5%", "top 10%", "top half", "lower half", "lower half"]
    model = make_model("ease", l2=10.0).fit(clustered_data)
    table = target_table(model, clustered_data, clustered_data.item_ids[0], n=30)
    assert list(table.columns[:3]) == ["rank", "customer_id", "likely"]
    assert table["likely"].iloc[0] == "top 1%" and table["likely"].iloc[-1] == "top quarter"


def test_the_import_is_described_in_words():
    """No raw format codes, date styles or JSON: the Data page's facts and mapping read as
    sentences, and a shop keyed by e-mail, phone or name says so in the mapping too."""
    from recsys.data import ImportOptions, load_orders
    from recsys.data.readers import RawSource
    from recsys.insights import dataset_facts, mapping_table

    data = load_orders(RawSource(name="orders_export.csv", data=shopify_orders()),
                       options=ImportOptions(pii_key=b"k" * 32))
    facts = dataset_facts(data.report, "BDT")
    assert "Shopify orders export" in facts and "year-month-day" in facts
    assert "shopify" not in facts and "iso" not in facts
    table = mapping_table(data.report)
    customer = table.set_index("field").loc["Customer", "from the file"]
    assert "e-mail" in customer and "phone number" in customer and "Email" not in customer

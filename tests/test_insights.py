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

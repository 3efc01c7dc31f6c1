"""Each cleaning rule removes what it should, is counted, and can be switched off."""

from __future__ import annotations

import io

import pytest

from recsys.data import CleaningOptions, ImportOptions, load_orders

LINES = """InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1001,A1,MUG,2,2024-01-01 10:00:00,3.0,1,UK
1001,A1,MUG,2,2024-01-01 10:00:00,3.0,1,UK
C1002,A1,MUG,1,2024-01-02 10:00:00,3.0,1,UK
1003,A2,BOWL,-3,2024-01-03 10:00:00,3.0,2,UK
1004,A3,PLATE,1,2024-01-04 10:00:00,0,2,UK
1005,A4,CUP,1,2024-01-05 10:00:00,1.0,,UK
1006,POST,POSTAGE,1,2024-01-06 10:00:00,18.0,2,UK
1007,gift_0001_20,Dotcomgiftshop Gift Voucher £20.00,1,2024-01-07 10:00:00,17.0,2,UK
1008,A5,SAUCER,1,not a date,1.0,2,UK
1009,A6,SPOON,1,2024-01-09 10:00:00,1.0,3,UK
1010,A7,FORK,1e39,2024-01-10 10:00:00,1.0,3,UK
1011,A8,KNIFE,1,9999-12-31 10:00:00,1.0,3,UK
"""

EXPECTED = {"implausible": 2, "invalid": 1, "cancellations": 1, "returns": 1,
            "nonpositive_price": 1, "missing_customer": 1, "non_products": 2, "duplicates": 1}


def load(**cleaning):
    buf = io.BytesIO(LINES.encode())
    buf.name = "lines.csv"
    return load_orders(buf, options=ImportOptions(cleaning=CleaningOptions(**cleaning)))


def counts(data):
    return {r["rule"]: r["removed"] for r in data.report.cleaning}


def test_every_rule_counted_and_nothing_lost_silently():
    data = load()
    assert counts(data) == EXPECTED
    assert data.report.rows_kept == 2
    assert data.report.rows_read == sum(EXPECTED.values()) + data.report.rows_kept
    assert sorted(data.item_ids) == ["A1", "A6"]


@pytest.mark.parametrize("switch,rule,extra", [
    ("drop_cancellations", "cancellations", 1),
    ("drop_returns", "returns", 1),
    ("drop_nonpositive_price", "nonpositive_price", 1),
    ("drop_missing_customer", "missing_customer", 1),
    ("drop_non_products", "non_products", 2),
    ("drop_duplicates", "duplicates", 1),
])
def test_rules_switch_off(switch, rule, extra):
    data = load(**{switch: False})
    c = counts(data)
    assert c[rule] == 0
    assert not next(r for r in data.report.cleaning if r["rule"] == rule)["enabled"]
    assert data.report.rows_kept == 2 + extra


def test_guest_lines_kept_get_one_customer_per_order():
    data = load(drop_missing_customer=False)
    assert "guest:1005" in set(data.customer_ids)


def test_configurable_non_product_list():
    data = load(non_product_codes=("A6",), non_product_patterns=())
    assert "A6" not in set(data.item_ids) and "POST" in set(data.item_ids)


def test_everything_removed_is_a_clear_error():
    from recsys.data import FormatError

    buf = io.BytesIO(LINES.splitlines()[0].encode() + b"\n1,POST,POSTAGE,1,2024-01-01,1,1,UK\n")
    buf.name = "x.csv"
    with pytest.raises(FormatError, match="No order lines are left"):
        load_orders(buf)

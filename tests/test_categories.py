"""Categories an analyst would use: from the export when it has them, else from names."""

from __future__ import annotations

import pytest

from recsys.data import ImportOptions, load_orders
from recsys.data.categories import categorise
from recsys.data.readers import RawSource
from tests.shops import shopify_orders


@pytest.mark.parametrize("name,category", [
    ("WHITE HANGING HEART T-LIGHT HOLDER", "Candles & lighting"),
    ("JUMBO BAG RED RETROSPOT", "Bags"),
    ("PACK OF 72 RETROSPOT CAKE CASES", "Kitchen & dining"),
    ("S/4 PINK FLOWER CANDLES IN BOWL", "Candles & lighting"),
    ("PAPER CHAIN KIT 50'S CHRISTMAS", "Christmas"),
    ("SET 7 BABUSHKA NESTING BOXES", "Storage & boxes"),
    ("COSY HOUR GIANT TUBE MATCHES", "Candles & lighting"),
    ("POPPY'S PLAYHOUSE KITCHEN", "Toys, games & crafts"),
    ("BLUE TEA TOWEL CLASSIC DESIGN", "Kitchen & dining"),
    ("ANT SILVER PURPLE BOUDICCA RING", "Jewellery & accessories"),
    ("Canvas Tote Bag", "Bags"),
    ("GLASS BEAD HOOP EARRINGS AMETHYST", "Jewellery & accessories"),
    ("XYZZY PLUGH", "Other"),
])
def test_names_to_categories(name, category):
    assert categorise(name) == category


def test_export_category_wins_and_a_vendor_is_not_a_category():
    data = load_orders(RawSource(name="orders_export.csv", data=shopify_orders()),
                       options=ImportOptions(pii_key=b"k"))
    assert data.report.category_source == "derived from product names"
    assert "Maker Co" not in set(data.products["category"])
    assert data.products.set_index("name").loc["Canvas Tote Bag", "category"] == "Bags"
    text = ("customer_id,product_id,order_date,aisle\n"
            "u1,p1,2024-01-01,fresh fruits\nu2,p2,2024-01-02,yogurt\n")
    generic = load_orders(RawSource(name="orders.csv", data=text.encode()),
                          options=ImportOptions(pii_key=b"k"))
    assert generic.report.category_source == "export"
    assert set(generic.products["category"]) == {"fresh fruits", "yogurt"}

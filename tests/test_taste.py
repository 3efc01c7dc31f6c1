"""Taste segments: customers who shop the same categories are grouped, and a group's shares
are what its customers bought."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.models.pair_features import PairFeatures
from recsys.models.taste import TASTE_FEATURES, Segments
from tests.conftest import make_data


def _mixed_rows(seed: int = 0) -> list[tuple]:
    """Two groups over four categories of five products: group 0 buys mostly categories
    A and B, group 1 mostly C and D, each with a tenth of its lines anywhere."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(80):
        liked = (0, 1) if c % 2 == 0 else (2, 3)
        for n in range(12):
            cat = int(rng.choice(liked)) if rng.random() < 0.9 else int(rng.integers(4))
            item = 5 * cat + int(rng.integers(5))
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(90)))
            rows.append((f"c{c:02d}", f"i{item:02d}", f"o{c}-{n}", day.strftime("%Y-%m-%d"),
                         "ABCD"[cat]))
    return rows


def _features(data) -> PairFeatures:
    at = data.interactions["timestamp"].max() + pd.Timedelta(days=1)
    return PairFeatures.build(data, at, np.zeros((data.n_items, data.n_items), np.float32))


def test_customers_who_shop_the_same_categories_share_a_segment():
    data = make_data(_mixed_rows())
    seg = Segments.fit(_features(data), k=2, seed=0)
    group = np.array([int(c[1:]) % 2 for c in data.customer_ids])
    assert len(set(seg.label)) == 2
    assert all(len(set(seg.label[group == g])) == 1 for g in (0, 1))
    np.testing.assert_allclose(seg.item.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(seg.cat.sum(axis=1), 1, atol=1e-5)
    # The first group's segment buys categories A and B; the second's C and D.
    cats = pd.Index(sorted("ABCD"))
    first = seg.label[group == 0][0]
    assert seg.cat[first, cats.get_indexer(["A", "B"])].sum() > 0.8
    assert seg.cat[1 - first, cats.get_indexer(["C", "D"])].sum() > 0.8
    # A product's share of its category's lines: the shares in each category add up to 1.
    pf = _features(data)
    per_cat = np.bincount(pf.item_cat, weights=seg.within)
    np.testing.assert_allclose(per_cat, 1, atol=1e-5)


def test_one_category_or_one_segment_asked_is_the_whole_shop():
    rows = [(c, i, o, t, "same") for c, i, o, t, _ in _mixed_rows()]
    data = make_data(rows)
    for seg in (Segments.fit(_features(data), k=8, seed=0),
                Segments.fit(_features(make_data(_mixed_rows())), k=1, seed=0)):
        assert (seg.label == 0).all() and seg.item.shape[0] == 1


def test_pairs_read_the_customers_segment():
    data = make_data(_mixed_rows())
    pf = _features(data)
    seg = Segments.fit(pf, k=2, seed=0)
    customers, items = np.array([0, 1, 2]), np.array([3, 0, 17])
    got = seg.pairs(customers, items, pf.item_cat)
    assert got.shape == (3, len(TASTE_FEATURES))
    s = seg.label[customers]
    np.testing.assert_array_equal(got[:, 0], seg.item[s, items])
    np.testing.assert_array_equal(got[:, 1], seg.cat[s, pf.item_cat[items]])
    np.testing.assert_array_equal(got[:, 2], seg.within[items])

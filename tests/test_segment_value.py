"""What segments are worth: holdout NDCG of segment best sellers, distinctness, promotions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import segment_value as sv
from recsys.evaluate import temporal_split
from recsys.models import make_model, registry
from tests.conftest import make_data


@pytest.fixture(scope="module")
def two_tastes():
    """Two groups with separate catalogues; a group's later purchases are its own products."""
    rng = np.random.default_rng(0)
    rows = []
    for c in range(80):
        g = c % 2
        for o in range(8):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 150)))
            for i in rng.choice(15, 3, replace=False) + 15 * g:
                rows.append((f"c{c:02d}", f"i{i:02d}", f"o{c}-{o}", day.strftime("%Y-%m-%d"),
                             "A" if i < 15 else "B"))
    return make_data(rows)


def test_true_segments_beat_one_list_for_everyone(two_tastes):
    split = temporal_split(two_tastes, cutoff="2024-05-01")
    ids = split.train.customer_ids
    truth = np.array([int(c[1:]) % 2 for c in ids])
    right = sv.segment_ndcg(split, ids, truth)
    alike = sv.segment_ndcg(split, ids, np.zeros(len(ids), int))
    shuffled = sv.segment_ndcg(split, ids, np.random.default_rng(1).permutation(truth))
    assert right > alike and right > shuffled + 0.05


def test_distinctness_zero_for_alike_high_for_separate(two_tastes):
    ids = two_tastes.customer_ids
    truth = np.array([int(c[1:]) % 2 for c in ids])
    assert sv.distinctness(two_tastes, ids, truth) > 0.5
    assert sv.distinctness(two_tastes, ids, np.zeros(len(ids), int)) == pytest.approx(0, abs=1e-9)


def test_usefulness_of_a_model_fitted_before_the_cutoff(two_tastes):
    split = temporal_split(two_tastes, cutoff="2024-05-01")
    model = make_model("als", **registry.spec("als").quick).fit(split.train)
    emb = model.embeddings()
    value = sv.usefulness(two_tastes, "2024-05-01", emb.customer_ids, emb.customers, 2)
    assert set(value["ndcg"]) == {"embedding segments", "RFM segments",
                                  "category-mix segments", "everyone alike"}
    assert value["ndcg"]["embedding segments"] > value["ndcg"]["everyone alike"]
    assert value["test_customers"] > 0 and value["k"] == 2


def test_promote_and_rfm_mix(two_tastes):
    ids = two_tastes.customer_ids
    labels = np.array([int(c[1:]) % 2 for c in ids])
    promo = sv.promote(two_tastes, ids, labels)
    assert set(promo["segment"]) == {0, 1} and (promo["times more likely"] > 1.5).all()
    for seg, rows in promo.groupby("segment"):
        numbers = rows["product"].str.extract(r"i(\d+)", expand=False).astype(int)
        assert ((numbers >= 15) == bool(seg)).all()  # each segment's own catalogue
    mix = sv.rfm_mix(two_tastes, ids, labels)
    np.testing.assert_allclose(mix[list(sv.RFM_STATUS)].sum(1), 1.0)


def test_never_promotes_what_a_segment_buys_less_than_everyone(two_tastes):
    """A segment of customers spread over both catalogues buys each product about as often
    as everyone does: nothing of theirs is 'promotable' (the demo listed one at 0.9x)."""
    ids = two_tastes.customer_ids
    mixed = np.array([int(c[1:]) // 2 % 2 for c in ids])  # each half holds both tastes
    promo = sv.promote(two_tastes, ids, mixed)
    assert promo.empty or (promo["times more likely"] > 1.0).all()


def test_no_more_segments_than_distinct_customers():
    """Customers alike in every figure (a tiny shop's RFM rows) make one segment each kind,
    without k-means' warning of duplicate points."""
    import warnings

    X = np.array([[0.0, 1.0]] * 6 + [[1.0, 0.0]] * 3, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels = sv._kmeans(X, 5, seed=0)
    assert len(set(labels)) == 2 and len(set(labels[:6])) == 1

"""Reproduces the reference figures on the shared Online Retail data (skipped where absent).

Protocol: cutoff 2011-11-01, K=10, novel task, binary customer x item matrix.
"""

from __future__ import annotations

import pytest

from recsys.data import load_orders
from recsys.evaluate import build_truth, evaluate, temporal_split
from recsys.models import make_model

pytestmark = pytest.mark.slow

REFERENCE = {"ease": 0.103, "itemknn": 0.073, "popularity": 0.038}


@pytest.fixture(scope="module")
def split(retail_path):
    return temporal_split(load_orders(retail_path), cutoff="2011-11-01")


def test_split_sizes(split):
    assert split.train.n_customers == 3970 and split.train.n_items == 3607
    assert len(build_truth(split, "novel").customer_ids) == 1440


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_ndcg_within_3_percent(split, name):
    params = {"l2": 500.0} if name == "ease" else {}
    res = evaluate(make_model(name, **params).fit(split.train), split, k=10, n_boot=100)
    assert res.metrics["ndcg"] == pytest.approx(REFERENCE[name], rel=0.03)
    if name == "ease":
        assert res.metrics["recall"] == pytest.approx(0.063, rel=0.03)
        assert res.metrics["hr"] == pytest.approx(0.465, rel=0.03)

"""Metrics against hand-computed cases; splits and the protocol on tiny data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys.evaluate import (
    bootstrap_ci,
    build_truth,
    evaluate,
    hit_matrix,
    metrics_from_hits,
    paired_difference,
    temporal_split,
)
from tests.conftest import make_data


def test_metrics_hand_computed():
    # Customer 1: truth {a, b, c}, hits at ranks 1 and 3 of K=4.
    # Customer 2: truth {d}, no hit.
    hits = np.array([[1, 0, 1, 0], [0, 0, 0, 0]], dtype=bool)
    m = metrics_from_hits(hits, np.array([3, 1]))
    assert m["hr"].tolist() == [1.0, 0.0]
    assert m["precision"][0] == pytest.approx(2 / 4)
    assert m["recall"][0] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"][0] == pytest.approx(dcg / idcg)
    assert m["map"][0] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert m["ndcg"][1] == 0 and m["map"][1] == 0


def test_ideal_dcg_uses_min_truth_k():
    # 5 relevant items but K=2: a perfect list scores NDCG 1 and MAP 1.
    m = metrics_from_hits(np.array([[1, 1]], dtype=bool), np.array([5]))
    assert m["ndcg"][0] == pytest.approx(1.0) and m["map"][0] == pytest.approx(1.0)
    assert m["recall"][0] == pytest.approx(2 / 5)


def test_hit_matrix_lookup():
    truth = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0]], dtype=np.float32))
    rec = np.array([[2, 0, -1], [1, 0, 3]])
    assert hit_matrix(truth, rec).tolist() == [[True, False, False], [False, True, False]]


def test_bootstrap_ci_brackets_mean_and_paired_difference():
    rng = np.random.default_rng(1)
    a = rng.random(500)
    lo, hi = bootstrap_ci(a, 500, seed=0)
    assert lo < a.mean() < hi and hi - lo < 0.1
    d = paired_difference(a + 0.05, a, 200)
    assert d["diff"] == pytest.approx(0.05) and d["lo"] == pytest.approx(0.05)
    noisy = paired_difference(a, rng.random(500), 200)
    assert noisy["lo"] < 0 < noisy["hi"] or abs(noisy["diff"]) > 0.02


def tiny():
    return make_data([
        ("u1", "a", "o1", "2024-01-01"), ("u1", "b", "o1", "2024-01-01"),
        ("u2", "a", "o2", "2024-01-02"), ("u2", "c", "o2", "2024-01-02"),
        ("u3", "b", "o3", "2024-01-03"),
        # test period
        ("u1", "c", "o4", "2024-02-01"), ("u1", "a", "o4", "2024-02-01"),
        ("u2", "a", "o5", "2024-02-02"),  # repeat only: dropped from the novel task
        ("u3", "new", "o6", "2024-02-03"),  # item unseen in train: dropped from truth
        ("u9", "a", "o7", "2024-02-03"),  # customer unseen in train: not a test customer
    ])


def test_split_and_truth_protocol():
    split = temporal_split(tiny(), cutoff="2024-01-15")
    assert split.train.n_customers == 3 and split.train.n_items == 3
    novel = build_truth(split, "novel")
    assert novel.customer_ids.tolist() == ["u1"]
    assert novel.matrix.toarray().tolist() == [[0, 0, 1]]  # only c, a was bought before
    alltask = build_truth(split, "all")
    assert alltask.customer_ids.tolist() == ["u1", "u2"]
    assert alltask.matrix.toarray().tolist() == [[1, 0, 1], [1, 0, 0]]


def test_default_split_keeps_last_window_and_errors():
    data = tiny()
    split = temporal_split(data)
    assert split.cutoff < data.interactions["timestamp"].max()
    with pytest.raises(ValueError, match="leaves no test data"):
        temporal_split(data, cutoff="2030-01-01")


class Oracle:
    """Recommends each customer's true held-out items first: every metric must be perfect."""

    name = "oracle"

    def __init__(self, truth, item_ids):
        self.truth, self.items = truth, np.asarray(item_ids)

    def recommend(self, customers, n=10, exclude_seen=True):
        rows = {c: i for i, c in enumerate(self.truth.customer_ids)}
        out = []
        for c in customers:
            t = self.truth.matrix[rows[c]].indices.tolist()
            rest = [j for j in range(len(self.items)) if j not in t]
            out.append(self.items[(t + rest)[:n]])
        return np.array(out), np.ones((len(out), n))


def test_evaluate_oracle_is_perfect_and_random_is_not(clustered_data):
    split = temporal_split(clustered_data, cutoff="2024-04-01")
    truth = build_truth(split, "novel")
    res = evaluate(Oracle(truth, split.train.item_ids), split, k=10, truth=truth)
    assert res.metrics["hr"] == 1.0 and res.metrics["ndcg"] == pytest.approx(1.0)
    assert 0 < res.coverage <= 1 and res.novelty > 0
    assert res.ci["ndcg"][0] <= res.metrics["ndcg"] <= res.ci["ndcg"][1]
    table = pd.DataFrame([res.to_dict()])
    assert {"ndcg", "ndcg_ci", "coverage"} <= set(table.columns)

"""The ranking stage: its explanation adds up to its score, the holdout never reaches its
training labels, and a stored ranker scores the same as the one that was fitted."""

from __future__ import annotations

import numpy as np

from recsys.evaluate import temporal_split
from recsys.models import load_model, make_model, registry
from recsys.models.ranker import EASE
from tests.conftest import clustered_rows, make_data

QUICK = dict(registry.spec("ranker").quick)


def test_contributions_add_up_to_the_score(clustered_data):
    model = make_model("ranker", **QUICK).fit(clustered_data)
    who = clustered_data.customer_ids[3]
    items, scores = model.recommend([who], n=5)
    for item, score in zip(items[0], scores[0], strict=True):
        parts = model.explain(who, item)
        assert abs(parts["contribution"].sum() + model.intercept_[0] - score) < 1e-4
        assert {"seg_item", "ease"} <= set(parts["feature"])


def test_the_holdout_never_reaches_the_training_labels():
    rows = clustered_rows()
    rng = np.random.default_rng(1)
    late = [i for i, r in enumerate(rows) if r[3] >= "2024-04-01"]
    shuffled = rng.permutation([rows[i][1] for i in late])
    poisoned = list(rows)
    for i, item in zip(late, shuffled, strict=True):  # the holdout's purchases scrambled
        poisoned[i] = (*rows[i][:1], str(item), *rows[i][2:4], "A" if item < "i20" else "B")
    a = make_model("ranker", **QUICK).fit(temporal_split(make_data(rows), "2024-04-01").train)
    b = make_model("ranker", **QUICK).fit(temporal_split(make_data(poisoned),
                                                         "2024-04-01").train)
    who = a.customer_ids_[:20]
    np.testing.assert_array_equal(a.recommend(who, n=10)[0], b.recommend(who, n=10)[0])
    np.testing.assert_array_equal(a.recommend(who, n=10)[1], b.recommend(who, n=10)[1])


def test_a_stored_ranker_scores_the_same(clustered_data, tmp_path):
    model = make_model("ranker", **QUICK).fit(clustered_data)
    model.save(tmp_path / "r")
    again = load_model(tmp_path / "r")
    who = clustered_data.customer_ids[:10]
    np.testing.assert_array_equal(model.recommend(who, n=10)[1], again.recommend(who, n=10)[1])
    assert "state_booster" in np.load(tmp_path / "r" / "state.npz", allow_pickle=False).files


def test_the_candidates_features_are_those_of_every_products_grid(clustered_data):
    """The ranker builds features for its candidates only; they must be the very rows the
    whole grid (every product for each customer) holds for those pairs."""
    model = make_model("ranker", **{**QUICK, "ease_items": 5, "train_items": 3,
                                    "task": "novel"}).fit(clustered_data)
    pf, n = model.features_, len(model.item_ids_)
    rows = np.arange(0, len(model.customer_ids_), 3)
    F, u, i, rank = model._candidate_features(pf, model.segments_, rows, model.top_)
    grid = pf.block(rows, np.arange(n))
    np.testing.assert_array_equal(F[:, :grid.shape[1]], grid[u * n + i])
    taste = model.segments_.pairs(rows[u], i, pf.item_cat)
    np.testing.assert_array_equal(F[:, grid.shape[1] + 1:], taste)  # after EASE's rank
    assert ((rank * n).round() == np.argsort(np.argsort(
        -grid[:, EASE].reshape(len(rows), n), axis=1, kind="stable"), axis=1)).all()
    per_row = np.bincount(u, minlength=len(rows))
    bought = pf.count[rows].toarray() > 0
    assert ((per_row >= 3 - bought[:, model.top_].sum(axis=1)) & (per_row <= 8)).all()
    assert not bought[u, i].any()  # novel: never a product the customer bought


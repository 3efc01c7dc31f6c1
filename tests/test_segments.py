"""Segments: projections, K by silhouette, profiles, the CLI JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys import segments
from recsys.cli import main
from tests.conftest import make_data


def blobs(k: int = 4, n: int = 400, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:k] * 5 + 1  # distinct directions, so cosine geometry sees them
    labels = rng.integers(0, k, n)
    return centres[labels] + rng.normal(0, 0.3, (n, dim)), labels


@pytest.mark.parametrize("method", ["pca", "tsne",
                                    pytest.param("umap", marks=pytest.mark.full)])  # numba: 10 s
def test_projection_shape_and_determinism(method):
    X, _ = blobs(n=150)
    a = segments.project(X, method, seed=3)
    b = segments.project(X, method, seed=3)
    assert a.coords.shape == (150, 2) and not a.sampled
    np.testing.assert_allclose(a.coords, b.coords, atol=1e-5)


def test_large_inputs_are_sampled_by_strata():
    X, labels = blobs(n=1000)
    p = segments.project(X, "pca", max_points=200, strata=labels)
    assert p.sampled and abs(len(p.index) - 200) <= 4
    share = np.bincount(labels[p.index], minlength=4) / len(p.index)
    np.testing.assert_allclose(share, np.bincount(labels) / 1000, atol=0.03)


def test_k_selection_recovers_true_k():
    X, truth = blobs(k=4)
    found = segments.cluster(X, "auto", range(2, 9))
    assert found.k == 4 and max(found.silhouette, key=found.silhouette.get) == 4
    # The clusters are the blobs (up to renaming).
    pairs = {(int(a), int(b)) for a, b in zip(found.labels, truth)}
    assert len(pairs) == 4


def test_no_more_clusters_than_distinct_points():
    """A tiny shop whose customers share two profiles gets two segments, without k-means'
    warning of duplicate points."""
    import warnings

    X = np.array([[1.0, 0.0]] * 5 + [[0.0, 1.0]] * 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = segments.cluster(X, "auto")
        fixed = segments.cluster(X, 5)
    assert found.k == 2 and fixed.k == 2
    assert len(set(found.labels[:5])) == 1 and found.labels[0] != found.labels[-1]
    assert segments.cluster(X[4:6], "auto").k == 1  # two customers: nothing to compare


def test_customer_profiles_hand_built():
    rows = []
    for c in range(6):  # customers 0-2 buy tea things, 3-5 garden things; everyone buys "bag"
        items = ["teapot", "mug"] if c < 3 else ["spade", "pot"]
        for i in items + ["bag"]:
            rows.append((f"c{c}", i, f"o{c}", "2024-01-0" + str(1 + c),
                         "Kitchen" if i in ("teapot", "mug") else "Garden"))
    data = make_data(rows)
    ids = np.array([f"c{c}" for c in range(6)])
    prof = segments.customer_profiles(data, ids, np.array([0, 0, 0, 1, 1, 1]))
    assert [p["size"] for p in prof] == [3, 3] and prof[0]["share"] == 0.5
    assert prof[0]["top_categories"][0] == "Kitchen"
    assert set(prof[0]["distinctive_items"][:2]) == {"Product teapot", "Product mug"}
    assert "Product bag" not in prof[0]["distinctive_items"][:2]  # lift 1: not distinctive


def test_segments_cli_json(tmp_path):
    out = tmp_path / "seg.json"
    rc = main(["segments", "--demo", "--model", "als", "--set", "als.factors=16",
               "--projection", "pca", "--k", "4", "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert {"k", "silhouette", "baseline_silhouette", "clusters", "projection"} <= set(res)
    assert res["k"] == 4 and len(res["clusters"]) == 4 and res["projection"] == "pca"
    assert {"size", "top_items", "top_categories", "distinctive_items"} <= set(
        res["clusters"][0])


def test_model_without_customer_vectors_is_a_clear_error(clustered_data):
    from recsys.models import make_model

    with pytest.raises(ValueError, match="no customer embeddings"):
        segments.model_vectors(make_model("itemknn").fit(clustered_data), "customers")


def test_segments_are_named_from_their_profiles():
    prof = [{"cluster": 0, "top_categories": ["Christmas", "Gifts"], "mean_recency_days": 200.0,
             "mean_orders": 2.0, "distinctive_items": ["PAPER CHAIN"]},
            {"cluster": 1, "top_categories": ["Kitchen"], "mean_recency_days": 20.0,
             "mean_orders": 9.0, "distinctive_items": ["TEAPOT"]},
            {"cluster": 2, "top_categories": ["Kitchen"], "mean_recency_days": 90.0,
             "mean_orders": 3.0, "distinctive_items": ["MUG"]}]
    names = segments.name_segments(prof, "customers")
    assert names[0] == "Christmas buyers · lapsing" and names[1].startswith("Kitchen buyers ·")
    assert "active" in names[1] and "frequent" in names[1] and len(set(names)) == 3
    assert segments.segment_names([{"cluster": 4}]) == {4: "segment 4"}  # stored before

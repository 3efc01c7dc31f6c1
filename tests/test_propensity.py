"""Pair features by hand, and what the propensity model must learn from constructed shops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys import campaign, insights
from recsys.models import load_model, make_model
from recsys.models.pair_features import FEATURES, PairFeatures, reference_time
from tests.conftest import make_data


@pytest.mark.parametrize("learned", [None, [0, 2, 3, 5, 7, 11, 13, 17, 19, 23]])
def test_basket_fit_is_the_histories_through_B(clustered_data, learned):
    """EASE's basket fit of any products for any customers equals the dense product of
    their histories with B's columns (zero for products EASE never learned)."""
    n = clustered_data.n_items
    items = np.arange(n) if learned is None else np.array(learned)
    rng = np.random.default_rng(0)
    B = rng.normal(size=(len(items), len(items))).astype(np.float32)
    pf = PairFeatures.build(clustered_data, pd.Timestamp("2024-05-01"), B, learned)
    rows, cols = np.array([0, 3, 7]), np.array([1, 2, 0, 5, 39, 17])
    hist = pf.count[rows].toarray()[:, items]
    full = np.zeros((len(items), n), np.float32)
    full[:, items] = B
    ease, ease_count = pf.basket_fit(pf.count[rows], cols)
    np.testing.assert_allclose(ease, (hist > 0) @ full[:, cols], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ease_count, hist @ full[:, cols], rtol=1e-6, atol=1e-5)


def test_pair_features_by_hand():
    data = make_data([
        ("a", "x", "o1", "2024-01-01", "A"), ("a", "x", "o2", "2024-01-11", "A"),
        ("a", "x", "o3", "2024-01-21", "A"), ("a", "y", "o3", "2024-01-21", "B"),
        ("b", "y", "o4", "2024-01-06", "B"),
    ])
    assert reference_time(data) == pd.Timestamp("2024-01-22")
    B = np.array([[0.0, 0.5], [0.25, 0.0]], dtype=np.float32)
    pf = PairFeatures.build(data, pd.Timestamp("2024-01-31"), B)
    F = pd.DataFrame(pf.block(np.array([0, 1]), np.array([0, 1])), columns=FEATURES)
    ax, ay, bx, by = (F.iloc[k] for k in range(4))  # rows: customer-major (a,x) (a,y) (b,x)
    assert (ax["n_ui"], ax["r_ui"], ax["f_ui"], ax["gap_ui"], ax["due_ui"]) == (3, 10, 30, 10, 1)
    assert ax["share_ui"] == 1.0 and ay["share_ui"] == pytest.approx(1 / 3)
    assert (ax["n_u"], ax["r_u"], ax["f_u"], ax["o30_u"], ax["o90_u"]) == (3, 10, 30, 2, 3)
    assert ax["rate_u"] == pytest.approx(0.1)
    assert ay["n_ui"] == 1 and np.isnan(ay["gap_ui"])
    assert bx["n_ui"] == 0 and np.isnan(bx["r_ui"]) and np.isnan(bx["f_ui"])
    # EASE terms: a's basket {x, y} -> x gets B[y, x]; with counts (3, 1) the same; own adds 3.
    assert ax["ease"] == pytest.approx(0.25) and ax["ease_count"] == pytest.approx(0.25)
    assert ax["ease_own"] == pytest.approx(3.25)
    assert ay["ease_count"] == pytest.approx(1.5)  # 3 lines of x x 0.5
    assert ax["cat_n"] == 3 and ax["cat_share"] == pytest.approx(0.75)
    assert by["cat_n"] == 1 and by["cat_share"] == 1.0
    assert ax["lines_i"] == 3 and ax["trend_i"] == pytest.approx(2 / 3)
    assert ax["repeat_i"] == 1.0 and ay["repeat_i"] == 0.0
    from recsys.models.stored import StoredArrays

    round_trip = PairFeatures.from_arrays(StoredArrays(Path("pf"), pf.arrays()), 2, 2)
    np.testing.assert_array_equal(round_trip.block(np.array([0, 1]), np.array([0, 1])),
                                  pf.block(np.array([0, 1]), np.array([0, 1])))


def regular_shop(seed: int = 0):
    """'Regulars' reorder product z about every 12 days all year; 'lapsed' bought z once
    early on and since only other things; 'others' never bought z."""
    rng = np.random.default_rng(seed)
    rows, start = [], pd.Timestamp("2024-01-01")
    for c in range(90):
        kind = ("regular", "lapsed", "other")[c % 3]
        day, k = int(rng.integers(0, 12)), 0
        while day < 240:
            items = [f"p{int(i)}" for i in rng.choice(30, size=2, replace=False)]
            if kind == "regular" or (kind == "lapsed" and k == 0):
                items.append("z")
            for item in items:
                rows.append((f"{kind}{c:02d}", item, f"o{c}-{k}",
                             (start + pd.Timedelta(days=day)).strftime("%Y-%m-%d")))
            day, k = day + int(rng.integers(9, 16)), k + 1
    return make_data(rows)


def test_learns_who_reorders():
    data = regular_shop()
    model = make_model("propensity", bins=8).fit(data)
    cust, scores = model.recommend_customers("z", n=30, exclude_buyers=False)
    assert np.mean([c.startswith("regular") for c in cust]) > 0.9
    p = 1 / (1 + np.exp(-model.score(["regular00", "lapsed01", "other02"], ["z"]).ravel()))
    assert p[0] > 0.5 > p[1] and p[0] > p[2]


def test_explain_adds_up_to_the_score(tmp_path):
    data = regular_shop(1)
    model = make_model("propensity", bins=8).fit(data)
    why = model.explain("regular00", "z")
    assert list(why.columns) == ["feature", "label", "value", "contribution"]
    assert set(why["feature"]) == set(FEATURES)
    assert why["contribution"].abs().is_monotonic_decreasing
    score = model.score(["regular00"], ["z"])[0, 0]
    assert why["contribution"].sum() + model.intercept_[0] == pytest.approx(score, abs=1e-4)
    from recsys.models.pair_features import sentence

    top = why[why["contribution"] > 0].head(2)
    words = model.drivers(["regular00"], ["z"])[0]
    said = [sentence(f, v) for f, v in zip(top["feature"], top["value"])]
    assert words == "; ".join(dict.fromkeys(said)) and "(+" not in words
    model.save(tmp_path / "p")
    back = load_model(tmp_path / "p")
    pd.testing.assert_frame_equal(back.explain("regular00", "z"), why)
    with pytest.raises(KeyError, match="Unknown customer"):
        model.explain("nobody", "z")


def test_customer_page_table_says_why():
    data = regular_shop(2)
    model = make_model("propensity", bins=8).fit(data)
    table = insights.recommendation_table(model, data, "regular00", n=3, exclude_seen=False)
    assert "drivers" in table.columns and table["item_id"].iloc[0] == "z"
    assert table["drivers"].str.len().gt(0).all() and not table["drivers"].str.contains(
        r"\(\+").any()
    assert not table["drivers"].str.contains("orders so far|ordered .* days ago").any()


def test_target_list_says_why_each_customer():
    data = regular_shop(3)
    model = make_model("propensity", bins=8).fit(data)
    targets = campaign.target_list(model, data, "z", n=12)
    assert list(targets["customer_id"]) == list(model.recommend_customers(
        "z", n=12, exclude_buyers=False)[0])
    assert targets["why"].str.len().gt(0).all()
    assert not targets["why"].str.contains("best seller|selling more|often bought again").any()
    assert model.drivers(["nobody", "regular00"], ["z"])[0] == ""


def test_negatives_thinned_positives_kept():
    model = make_model("propensity", max_rows=100, seed=3)
    y = np.zeros(1000, bool)
    y[::50] = True
    F = np.arange(1000, dtype=np.float32)[:, None]
    Fs, ys, kept = model._subsample(F, y)
    assert ys.sum() == 20 and 50 < len(ys) < 160
    assert kept == pytest.approx(80 / 980)
    np.testing.assert_array_equal(Fs[ys, 0], F[y, 0])


def test_thinned_negatives_leave_the_chances_calibrated(clustered_data):
    """Scores stay log-odds of buying when the training pairs are capped: campaign
    forecasts add the chances up, so thinning may move the ranks' noise, not their level."""
    def chances(**cfg):
        m = make_model("propensity", seed=0, **cfg).fit(clustered_data)
        item = clustered_data.top_items(1)[0]
        z = m.recommend_customers(item, n=clustered_data.n_customers, exclude_buyers=False)[1]
        return (1 / (1 + np.exp(-z))).sum()

    full, thinned = chances(), chances(max_rows=2_000)
    assert thinned == pytest.approx(full, rel=0.35)


def test_too_short_history_is_a_clear_error():
    data = make_data([("a", "x", "o1", "2024-01-01"), ("b", "y", "o2", "2024-01-03")])
    with pytest.raises(ValueError, match="too short"):
        make_model("propensity").fit(data)


def test_a_catalogue_above_the_ease_cap(clustered_data, tmp_path, monkeypatch):
    """Above EASE's product cap the basket-fit features use its best sellers only (a 30M-line
    shop with 18k products crashed here with an IndexError)."""
    import numpy as np

    from recsys.models import load_model, make_model
    from recsys.models import propensity as pm

    monkeypatch.setattr(pm, "EASE_ITEMS", 15)
    model = make_model("propensity", train_items=20).fit(clustered_data)
    assert model.features_.B.shape == (15, 15)
    items, scores = model.recommend(clustered_data.customer_ids[:4], n=40, exclude_seen=False)
    assert np.isfinite(scores).all() and all(len(set(r)) == 40 for r in items)
    sims, _ = model.similar_items(clustered_data.item_ids[:2], n=5)
    assert sims.shape == (2, 5)
    model.save(tmp_path / "p")
    again = load_model(tmp_path / "p")
    np.testing.assert_allclose(again.recommend(clustered_data.customer_ids[:4])[1],
                               model.recommend(clustered_data.customer_ids[:4])[1], rtol=1e-6)

"""Campaign sizing: curves, calibration, economics, export and the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from recsys import campaign as cp
from recsys.cli import main
from recsys.insights import safe_csv


def test_gains_hand_computed():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    pos = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1], dtype=bool)
    g = cp.gains(scores, pos, np.array([1, 2, 3, 10]))
    assert g["hits"].tolist() == [1, 1, 2, 3]
    np.testing.assert_allclose(g["precision"], [1, 0.5, 2 / 3, 0.3])
    np.testing.assert_allclose(g["recall"], [1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(g["lift"], np.array([1, 0.5, 2 / 3, 0.3]) / 0.3)


def test_random_expectation_is_lift_one():
    pos = np.zeros(100, bool)
    pos[:7] = True
    r = cp.expected_random(pos, np.array([5, 50, 100]))
    assert (r["lift"] == 1).all() and r["hits"].iloc[-1] == pytest.approx(7)


def test_calibration_monotonic_in_rank():
    rng = np.random.default_rng(0)
    scores = rng.random(2000)
    pos = rng.random(2000) < scores * 0.2  # higher score, more likely to buy
    iso = cp.calibrate(pos, scores)
    probs = iso.predict(np.linspace(0, 1, 50))
    assert (np.diff(probs) <= 1e-12).all() and probs[0] > probs[-1]


def test_best_size_and_break_even_constructed():
    # 10 buyers among the first 10 ranks, none after: each contact costs 1, a buyer earns 5.
    curve = pd.DataFrame({"n": np.arange(1, 101), "hits": np.minimum(np.arange(1, 101), 10),
                          "precision": 0.0, "recall": 0.0, "lift": 0.0})
    out = cp.economics(curve, cp.Economics(cost_per_contact=1.0), margin=5.0)
    best, even = cp.best_sizes(out)
    assert best == 10  # profit 50 - 10 = 40
    assert even == 50  # 10 * 5 = 50 margin covers 50 contacts
    assert out.loc[out["n"] == 10, "roi"].item() == pytest.approx(4.0)
    assert out.loc[out["n"] == 10, "cost_per_conversion"].item() == pytest.approx(1.0)


def test_summary_sentence_reads_like_a_person_wrote_it():
    curve = pd.DataFrame({"n": [100], "hits": [10.0], "precision": [0.1], "recall": [0.5],
                          "lift": [2.0]})
    econ = cp.Economics(cost_per_contact=0.5, currency="£")
    out = cp.economics(curve, econ, margin=20.0)
    text = cp.summary_sentence(out, 100, 0.05, econ)
    assert text == ("Targeting 100 customers reaches an expected 10 buyers (10.0%, 2.0× the "
                    "5.0% base rate) at £0.50 per contact: £50 cost, £200 margin, ROI 300%.")


def test_target_list_is_formula_safe():
    df = pd.DataFrame({"customer_id": ["=HYPERLINK(1)", "+1", "-2", "@SUM", "\tx", "ok"],
                       "score": [1, 2, 3, 4, 5, 6]})
    text = safe_csv(df).decode()
    back = pd.read_csv(io.StringIO(text), dtype=str)
    assert all(v.startswith("'") for v in back["customer_id"][:5])
    assert back["customer_id"].iloc[-1] == "ok"


def test_campaign_cli_json(tmp_path):
    out = tmp_path / "c.json"
    assert main(["campaign", "--demo", "--model", "ease", "--top-products", "2",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {"products", "base_rate", "curve", "best_n", "break_even_n", "lift_at_5pct",
            "summary"} <= set(res)
    assert len(res["products"]) == 2 and set(res["per_product"]) == set(res["products"])
    assert {"n", "precision", "recall", "lift", "expected_profit"} <= set(res["curve"][0])
    assert res["lift_at_5pct_all"]["random"] == pytest.approx(1.0)


def test_cutoff_before_any_order_is_a_clear_error(clustered_data):
    with pytest.raises(ValueError, match="No orders before the cutoff 2023-06-01"):
        cp.CampaignWindow.of(clustered_data, "2023-06-01", 30)


def test_new_product_needs_two_tower():
    assert main(["campaign", "--demo", "--model", "ease", "--new-product", "MUG,Kitchen,3"]) == 2

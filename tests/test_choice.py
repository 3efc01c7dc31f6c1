"""Choosing a model on several validation windows (recsys.choice)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys import choice as ch
from recsys.bench import format_leaderboard, run_bench
from tests.conftest import clustered_rows, make_data


def test_windows_are_the_last_ones_newest_first_and_never_overlap(clustered_data):
    splits = ch.window_splits(clustered_data, windows=3, days=20)
    assert len(splits) == 3
    cuts = [s.cutoff for s in splits]
    assert cuts == sorted(cuts, reverse=True)
    end = clustered_data.interactions["timestamp"].max()
    assert end - cuts[0] <= pd.Timedelta(days=21)
    for s in splits:
        assert s.train.interactions["timestamp"].max() < s.cutoff
        t = s.test["timestamp"]
        assert t.min() >= s.cutoff and t.max() < s.cutoff + pd.Timedelta(days=20)


def test_a_model_that_learns_the_tastes_is_chosen_over_best_sellers(clustered_data):
    c = ch.choose(clustered_data, ["popularity", "ease"], windows=2, days=20)
    assert c.chosen == "ease" and c.runner_up == "popularity"
    assert len(c.cutoffs) == 2 and all(len(v) == 2 for v in c.by_window.values())
    assert c.margin["diff"] > 0 and c.margin["lo"] > 0


def _planted(scores: dict[str, list[float]], monkeypatch) -> None:
    """Each model's NDCG per window, newest first, for 50 customers a window."""
    calls: dict[str, int] = {}

    def fake(name, params, split, **kw):
        w = calls[name] = calls.get(name, -1) + 1
        if scores[name] is None:
            raise ValueError(f"{name} needs more history")
        rng = np.random.default_rng(w)
        per = np.clip(scores[name][w] + rng.normal(0, 0.01, 50), 0, 1)
        return SimpleNamespace(result=SimpleNamespace(per_customer={"ndcg": per}))

    monkeypatch.setattr(ch, "fit_and_score", fake)


def test_a_win_on_the_last_window_alone_is_not_crowned(clustered_data, monkeypatch):
    _planted({"lucky": [0.50, 0.10, 0.10], "steady": [0.40, 0.35, 0.30]}, monkeypatch)
    c = ch.choose(clustered_data, ["lucky", "steady"], windows=3, days=20)
    assert c.last_window_choice() == "lucky"
    assert c.chosen == "steady"
    assert c.pooled["steady"] == pytest.approx(0.35, abs=0.01)


def test_a_model_that_cannot_fit_a_window_is_left_out_saying_why(clustered_data,
                                                                  monkeypatch):
    _planted({"short": None, "steady": [0.4, 0.3]}, monkeypatch)
    c = ch.choose(clustered_data, ["short", "steady"], windows=2, days=20)
    assert c.chosen == "steady" and c.runner_up is None and c.margin is None
    assert "needs more history" in c.skipped["short"]


def test_the_bench_choice_never_reads_the_test_weeks(clustered_data):
    cutoff = "2024-04-01"
    rows = clustered_rows()
    after = [j for j, r in enumerate(rows) if r[3] >= cutoff]
    items = np.random.default_rng(1).permutation([rows[j][1] for j in after])
    for j, item in zip(after, items, strict=True):  # scramble who bought what after it
        rows[j] = (rows[j][0], str(item), *rows[j][2:])
    poisoned = make_data(rows)
    runs = [run_bench(d, ["popularity", "ease"], cutoff=cutoff, n_boot=0, choose_windows=2)
            for d in (clustered_data, poisoned)]
    keep = ("chosen", "pooled_ndcg", "by_window", "cutoffs")
    chosen_clean, chosen_poisoned = ({k: r["choice"][k] for k in keep} for r in runs)
    assert chosen_clean == chosen_poisoned
    assert runs[0]["models"] != runs[1]["models"]  # the test weeks themselves did change
    assert "chosen on 2 validation windows: ease" in format_leaderboard(runs[0])

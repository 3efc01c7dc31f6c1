"""The number of customer segments is chosen by use: how well the segments' best sellers
predict next purchases on the holdout, and how different the segments are from one another."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import viz
from recsys.segment_value import choose_k, separation
from tests.conftest import make_data


def _planted(groups: int, customers: int = 300, seed: int = 0):
    """Customers in ``groups`` taste groups, each buying its own 10 products (its own
    category); vectors that place them by group, with noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        g = c % groups
        for o in range(8):
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 150)))
            for i in rng.choice(10, 3, replace=False) + 10 * g:
                rows.append((f"c{c:03d}", f"i{i:02d}", f"o{c}-{o}", day.strftime("%Y-%m-%d"),
                             f"cat{g}"))
    ids = np.array([f"c{c:03d}" for c in range(customers)])
    vectors = np.eye(groups)[np.arange(customers) % groups] + rng.normal(0, 0.3,
                                                                         (customers, groups))
    return make_data(rows), ids, vectors


@pytest.mark.parametrize("groups", [4, 7])
def test_the_planted_number_of_taste_groups_is_found(groups):
    data, ids, vectors = _planted(groups)
    choice = choose_k(data, "2024-05-01", ids, vectors)
    assert choice["k"] == groups, choice["why"]
    assert f"{groups} segments" in choice["why"] and len(choice["curve"]) == 10
    assert choice["everyone"] < choice["curve"][str(groups)]["ndcg"]
    viz.segment_count_curve(choice)  # draws


def test_a_segment_cut_in_two_is_less_separated():
    data, ids, _ = _planted(4)
    groups = np.arange(len(ids)) % 4
    cut = np.where((groups == 0) & (np.arange(len(ids)) % 8 == 0), 4, groups)
    assert separation(data, ids, cut) < separation(data, ids, groups) - 0.2


def test_segments_are_named_by_what_sets_them_apart_not_by_what_everyone_buys():
    from recsys.segments import customer_profiles, name_segments

    rows = []
    for c in range(40):
        for o in range(4):
            day = f"2024-01-{o + 1:02d}"
            rows += [(f"c{c}", f"home{(c + o + j) % 12}", f"o{c}-{o}", day, "Home decor")
                     for j in range(3)]
            if c >= 20:  # the second half also buys Christmas lines
                rows.append((f"c{c}", f"xmas{(c + o) % 5}", f"o{c}-{o}", day, "Christmas"))
    data = make_data(rows)
    ids = np.array([f"c{c}" for c in range(40)])
    labels = (np.arange(40) >= 20).astype(int)
    names = name_segments(customer_profiles(data, ids, labels))
    assert names[1].startswith("Christmas buyers") and names[0].startswith("Home decor")


def test_vectors_that_predict_nothing_still_give_segments_and_say_so(monkeypatch):
    """A model stopped after one epoch: no count of its segments beats one list for
    everyone. The job still ends with segments (the most separated count) and says why."""
    import recsys.segment_value as sv

    data, ids, vectors = _planted(4)
    monkeypatch.setattr(sv, "segment_ndcg", lambda split, i, labels: 0.5 if not np.any(labels)
                        else 0.4)
    choice = choose_k(data, "2024-05-01", ids, vectors)
    assert choice["k"] == 4  # the planted groups are still the most separated
    assert "do not say what customers buy next" in choice["why"]

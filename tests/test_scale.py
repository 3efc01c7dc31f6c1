"""Large shops on one machine, scaled down: the generator, the columnar import, EASE's
product limit, item-kNN's blocked top-k, batch scoring, the vectorised training features,
and a 1M-line import-fit-evaluate run inside a hard memory limit."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from recsys.data import ImportOptions, load_orders
from recsys.data.clean import duplicate_rows
from recsys.data.formats import category_flags, concat_lines, text_categories
from recsys.evaluate import evaluate, temporal_split
from recsys.memory import PeakRSS, rss_bytes
from recsys.models import base, features, itemknn, load_model, make_model
from recsys.models.two_tower_training import seen_before
from recsys.synthetic import Shape, generate

KEY = ImportOptions(pii_key=b"k" * 32)
SMALL = Shape(lines=40_000, customers=800, products=400, aisles=20, clusters=6, seed=3)


@pytest.fixture(scope="module")
def small_shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("gen") / "shop.parquet"
    generate(path, SMALL)
    return path, load_orders(path, options=KEY)


def test_generator_writes_the_asked_shape_with_taste_to_learn(small_shop, tmp_path):
    path, data = small_shop
    raw = pd.read_parquet(path)
    assert len(raw) == SMALL.lines
    assert not raw.duplicated(["order_id", "product_id"]).any()  # one line per product
    assert raw["customer_id"].nunique() <= SMALL.customers
    assert raw["product_id"].max() <= SMALL.products
    assert len(data.interactions) == SMALL.lines  # nothing for cleaning to remove
    split = temporal_split(data)
    pop = evaluate(make_model("popularity").fit(split.train), split, n_boot=0)
    ease = evaluate(make_model("ease").fit(split.train), split, n_boot=0)
    assert ease.metrics["ndcg"] > 1.5 * pop.metrics["ndcg"]  # clusters and staples
    csv = tmp_path / "shop.csv.gz"
    generate(csv, SMALL)
    again = load_orders(csv, options=KEY)
    assert again.summary() == data.summary()


def test_text_columns_become_categoricals_cleaned_once_per_value():
    s = pd.Series([" a ", "b", "", None, "a", "B "])
    out = text_categories(s, lambda t: t.str.lower())
    assert isinstance(out.dtype, pd.CategoricalDtype)
    assert out.astype(object).where(out.notna(), None).tolist() == ["a", "b", None, None,
                                                                     "a", "b"]
    assert list(category_flags(out, lambda t: t == "b")) == [False, True, False, False,
                                                            False, True]
    parts = [pd.DataFrame({"x": text_categories(pd.Series(v))}) for v in (["p", "q"], ["q", "r"])]
    both = concat_lines(parts)["x"]
    assert isinstance(both.dtype, pd.CategoricalDtype)
    assert both.astype(str).tolist() == ["p", "q", "q", "r"]


def test_fast_duplicates_equal_pandas():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 80))
        df = pd.DataFrame({
            "a": pd.Categorical(rng.choice(["x", "y", None], n)),
            "b": rng.choice([1.0, np.nan, 2.0], n),
            "c": pd.Series(rng.choice(["p", None], n), dtype="string"),
            "d": rng.choice([True, False], n),
            "t": pd.to_datetime(rng.choice(["2024-01-01", "2024-01-02"], n))})
        assert (duplicate_rows(df) == df.duplicated().to_numpy()).all()


def test_ease_works_on_the_best_sellers_above_its_product_limit(small_shop, tmp_path):
    _, data = small_shop
    model = make_model("ease", max_items=100).fit(data)
    assert len(model.item_ids_) == 100
    assert set(model.item_ids_) == set(data.top_items(100))
    assert "100 best-selling of" in model.notes()[0]
    model.save(tmp_path / "m")
    assert load_model(tmp_path / "m").notes() == model.notes()
    assert make_model("ease").fit(data).notes() == []  # under the limit: no note
    with pytest.raises(ValueError, match="product limit"):
        make_model("ease", max_items=100, over_limit="refuse").fit(data)


def test_item_knn_top_k_is_exact_and_blocked(small_shop, monkeypatch):
    _, data = small_shop
    X = data.matrix("binary").tocsc().astype(np.float32)
    monkeypatch.setattr(itemknn, "BLOCK", 37)
    S = itemknn.top_k_similarity(X, 5, 2.0).toarray()
    co = (X.T @ X).toarray()
    norms = np.sqrt(np.diag(co))
    full = co / (norms[:, None] * norms[None, :] + 2.0 + 1e-9)
    np.fill_diagonal(full, 0)
    for j in range(0, X.shape[1], 7):
        want = np.sort(full[:, j][full[:, j] > 0])[::-1][:5]
        got = np.sort(S[:, j][S[:, j] > 0])[::-1]
        np.testing.assert_allclose(got, want, rtol=1e-5)
    monkeypatch.setattr(itemknn, "FULL_LIMIT", 50)
    capped = make_model("itemknn").fit(data)
    assert "nearest neighbours" in capped.notes()[0]
    assert (np.diff(capped.S_.tocsc().indptr) <= itemknn.LARGE_K).all()


def test_item_knn_scores_in_threads_equal_one_product(small_shop, monkeypatch):
    _, data = small_shop
    monkeypatch.setattr(itemknn, "_threads", lambda: 3)  # whatever cores this machine has
    model = make_model("itemknn", k=20).fit(data)
    rows = np.r_[np.arange(0, 300), [5, 5, 7]]  # uneven parts, a row twice
    got = model._score_rows(rows)
    want = (model.X_[rows] @ model.S_).toarray()
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6)
    monkeypatch.setattr(itemknn, "_threads", lambda: 1)
    np.testing.assert_array_equal(model._score_rows(rows), got)
    np.testing.assert_array_equal(make_model("itemknn", k=20).fit(data).S_.toarray(),
                                  model.S_.toarray())  # the fit's threads: same neighbours


@pytest.mark.parametrize("wide", [False, True])
def test_topn_is_the_best_first_and_ranks_nan_last(wide, monkeypatch):
    if wide:  # the torch.topk path, taken from TORCH_TOPN_COLUMNS columns on
        monkeypatch.setattr(base, "TORCH_TOPN_COLUMNS", 100)
    rng = np.random.default_rng(0)
    scores = rng.random((50, 300)).astype(np.float32)
    scores[3, 10] = np.nan
    scores[4, :] = -np.inf
    idx, val = base.topn(scores, 7)
    ref = np.where(np.isnan(scores), -np.inf, scores)
    want = np.sort(ref, axis=1)[:, ::-1][:, :7]
    np.testing.assert_array_equal(val, want)
    np.testing.assert_array_equal(np.take_along_axis(ref, idx, 1), want)
    assert 10 not in idx[3] and len(set(idx[4])) == 7
    assert base.topn(scores, 1000)[0].shape == (50, 300)
    assert base.topn(scores[:, :0], 5)[0].shape == (50, 0)


def test_batch_scores_are_the_callers_to_change():
    """Scores go back uncopied when fresh, copied when a model hands out a view of its
    state (recommend masks bought products in place)."""
    class View:
        item_ids_ = np.arange(4)
        state = np.ones((10, 4), dtype=np.float32)

        def _score_rows(self, rows):
            return self.state[2:2 + len(rows)]

    out = base.BaseRecommender.row_scores(View(), np.arange(3))
    out[:] = -np.inf
    assert (View.state == 1).all()
    fresh = np.zeros((3, 4), dtype=np.float32)
    View._score_rows = lambda self, rows: fresh
    assert base.BaseRecommender.row_scores(View(), np.arange(3)) is fresh


@pytest.mark.parametrize("name", ["als", "ease", "itemknn"])
def test_batch_scoring_equals_dense_scoring(small_shop, name, monkeypatch):
    _, data = small_shop
    split = temporal_split(data)
    model = make_model(name, **({"iterations": 5} if name == "als" else {})).fit(split.train)
    ids = split.train.customer_ids[:300]
    dense = model.row_scores(model.customer_rows(ids))
    dense[model.X_[model.customer_rows(ids)].nonzero()] = -np.inf
    order = np.argsort(-dense, axis=1, kind="stable")[:, :10]
    monkeypatch.setattr(base, "BATCH", 17)
    got, scores = model.recommend(ids, n=10)
    np.testing.assert_allclose(scores, np.take_along_axis(dense, order, 1), rtol=1e-5)
    assert (np.sort(scores, axis=1)[:, ::-1] == scores).all()


def test_recent_items_vectorised_equals_the_loop(small_shop):
    _, data = small_shop
    h = features.order_history(data)
    k = np.arange(len(h.cust))
    items, age = features.recent_items(h, h.first_of_cust, k, 6)
    for r in range(0, len(k), 97):
        lo, hi = h.item_ptr[h.first_of_cust[r]], h.item_ptr[k[r]]
        lo = max(lo, hi - 6)
        want = np.full(6, -1)
        if hi > lo:
            want[-(hi - lo):] = h.items[lo:hi]
            owner = np.searchsorted(h.item_ptr, np.arange(lo, hi), side="right") - 1
            assert (age[r, -(hi - lo):] == k[r] - owner).all()
        assert (items[r] == want).all()


def test_weekly_buyers_count_each_customer_once_per_product_and_week(small_shop, monkeypatch):
    """Distinct buyers per (week, product), counted from the lines one by one; the packed
    one-column path and the row-wise fallback (for sizes whose key would overflow) agree."""
    _, data = small_shop
    inter = data.interactions
    start = inter["timestamp"].min().normalize()
    got = features.weekly_buyers(data, start)
    week = ((inter["timestamp"] - start) // pd.Timedelta(days=7)).to_numpy()
    seen = set(zip(week, inter["item_id"].cat.codes, inter["customer_id"].cat.codes,
                   strict=True))
    want = np.zeros_like(got)
    for w, i, _c in seen:
        want[w, i] += 1
    assert len(seen) < len(inter)  # someone bought a product twice in one week
    np.testing.assert_array_equal(got, want)
    monkeypatch.setattr(type(data), "n_customers", property(lambda self: 2**62))
    np.testing.assert_array_equal(features.weekly_buyers(data, start), want)


def test_repeat_bias_by_comparison_equals_the_scatter():
    g = torch.Generator().manual_seed(0)
    B, L, n = 32, 6, 5000  # n > B * L: the comparison path
    hist = torch.randint(0, n + 1, (B, L), generator=g)
    it = torch.randint(0, n, (B,), generator=g)
    hist[:, 0] = it[torch.randint(0, B, (B,), generator=g)] + 1
    w = torch.rand(B, L, generator=g) * (hist > 0)
    seen = torch.zeros(B, n + 1)
    seen.scatter_add_(1, hist, w)
    torch.testing.assert_close(seen_before(hist, w, it, n), seen.index_select(1, it + 1))
    small = hist % 101  # a 100-product catalogue: the scatter path, same answer
    it_small = it % 100
    torch.testing.assert_close(seen_before(small, w, it_small, 100),
                               seen_before(small, w, it_small, 10**6))


def test_peak_memory_is_measured_inside_a_step():
    before = rss_bytes()
    with PeakRSS(interval=0.005) as m:
        block = np.ones(40_000_000, dtype=np.float64)  # 320 MB, touched, then freed
        block.sum()
        del block
    assert m.peak - before >= 250 * 2**20
    assert rss_bytes() - before < 250 * 2**20 and m.seconds > 0


@pytest.mark.full
def test_a_million_lines_import_fit_and_evaluate_in_2_gb(tmp_path):
    """The whole path on 1M lines in a subprocess whose heap is capped at 2 GB."""
    code = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, 2 << 30))
        from recsys.data import ImportOptions, load_orders
        from recsys.evaluate import evaluate, temporal_split
        from recsys.models import make_model
        from recsys.synthetic import Shape, generate
        path = {str(tmp_path / "big.parquet")!r}
        generate(path, Shape(lines=1_000_000, customers=20_000, products=10_000))
        data = load_orders(path, options=ImportOptions(pii_key=b"k" * 32))
        split = temporal_split(data)
        for name, params in (("als", {{"iterations": 3}}), ("ease", {{"max_items": 2000}})):
            res = evaluate(make_model(name, **params).fit(split.train), split, n_boot=0)
            print(name, len(data.interactions), round(res.metrics["ndcg"], 4))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line.split() for line in proc.stdout.splitlines()]
    assert [r[0] for r in rows] == ["als", "ease"]
    assert all(int(r[1]) == 1_000_000 and float(r[2]) > 0.01 for r in rows)


def test_generate_and_bench_from_the_command_line(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recsys", *map(str, args)],
                              capture_output=True, text=True, timeout=300,
                              cwd=Path(__file__).resolve().parents[1])

    out = tmp_path / "shop.parquet"
    made = cli("generate", "--out", out, "--lines", 20000, "--customers", 400,
               "--products", 200)
    assert made.returncode == 0 and "wrote 20,000 lines" in made.stdout
    bad = cli("generate", "--out", tmp_path / "shop.txt")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and ".parquet" in bad.stderr
    result = tmp_path / "bench.json"
    bench = cli("bench", out, "--models", "popularity,ease", "--set", "ease.max_items=50",
                "--bootstrap", 0, "--json", result)
    assert bench.returncode == 0, bench.stderr
    import json

    res = json.loads(result.read_text())
    assert set(res["steps"]) == {"import", "split"}
    assert all(v["seconds"] >= 0 and v["peak_gb"] > 0 for v in res["steps"].values())
    ease = res["models"]["ease"]
    assert ease["fit_peak_gb"] > 0 and ease["evaluate_seconds"] >= 0
    assert re.search(r"50 best-selling of \d+ products", ease["notes"][0])
    assert "note: ease: learned on the 50 best-selling" in bench.stdout



def test_the_bench_lets_the_whole_data_go_once_split(small_shop, monkeypatch, capsys):
    """The models fit on the training part; the whole data (30M lines: 0.9 GB) must not stay
    alive beside it when the caller handed it over, as the command line does."""
    import gc
    import weakref

    import recsys.bench as bench
    from recsys import cli, pipelines

    refs: list[weakref.ref] = []
    alive: list[bool] = []
    real = pipelines.make_model

    def spy(name, **params):
        gc.collect()
        alive.append(refs[-1]() is not None)
        return real(name, **params)

    def load(args=None):
        data = load_orders(small_shop[0], options=KEY)
        refs.append(weakref.ref(data))
        return data

    monkeypatch.setattr(pipelines, "make_model", spy)
    monkeypatch.setattr(cli, "load_input", load)
    held = [load()]
    assert bench.run_bench(held.pop(), ["popularity"], n_boot=0)["dataset"]["clean_rows"] > 0
    assert cli.main(["bench", str(small_shop[0]), "--models", "popularity", "--bootstrap",
                     "0"]) == 0
    assert alive == [False, False]
    kept = load()  # a caller that keeps its own reference keeps the data, results the same
    assert bench.run_bench(kept, ["popularity"], n_boot=0)["dataset"]["clean_rows"] > 0
    assert alive == [False, False, True]

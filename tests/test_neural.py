"""The neural models beyond the contract: recoverable held-out items, cold start, early
stopping, the Stop control, and no degenerate scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.evaluate import build_truth, evaluate, temporal_split
from recsys.models import NewProduct, make_model
from recsys.models.trainer import StopTraining
from tests.conftest import make_data

NEURAL = {
    "ncf": {"epochs": 15, "patience": 0, "dim": 16, "layers": (32, 16), "batch_size": 64,
            "device": "cpu", "lr": 0.01},
    "two_tower": {"epochs": 15, "patience": 0, "dim": 16, "hidden": 32, "batch_size": 64,
                  "device": "cpu", "lr": 0.01},
    "item2vec": {"epochs": 30, "dim": 16, "alpha": 0.05, "sample": 0.0},
    "customer2vec": {"epochs": 40, "dim": 16, "infer_epochs": 20, "negative": 5},
}


@pytest.fixture(scope="module")
def bundles():
    """12 bundles of 3 products (a, b, c). Every customer buys a and b of one bundle, and b
    with c some weeks later; for 24 late customers that second order falls in the test window
    (April on), so their held-out novel product is c."""
    rng = np.random.default_rng(0)
    rows = []
    for c in range(240):
        g = c % 12
        late = c >= 216
        base = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 20)))
        first = base + pd.Timedelta(days=60 if late else 0)
        third = first + pd.Timedelta(days=45 if late else 40)
        cat = "ABC"[g % 3]
        for item, when in ((f"b{g}a", first), (f"b{g}b", first), (f"b{g}b", third),
                           (f"b{g}c", third)):
            rows.append((f"c{c:03d}", item, f"o{c}-{when.date()}", when.strftime("%Y-%m-%d"),
                         cat))
    data = make_data(rows)
    return temporal_split(data, cutoff="2024-04-01")


@pytest.mark.parametrize("name", list(NEURAL))
def test_held_out_item_is_recovered(name, bundles):
    model = make_model(name, **NEURAL[name]).fit(bundles.train)
    truth = build_truth(bundles, "novel")
    assert len(truth.customer_ids) == 24
    res = evaluate(model, bundles, k=10, n_boot=0, truth=truth)
    assert res.metrics["hr"] >= 0.9, res.metrics


@pytest.mark.parametrize("name", ["ncf", "two_tower"])
def test_scores_vary_across_items(name, clustered_data):
    """Trained with negatives, scores are not ~1 everywhere, and lists are personal."""
    model = make_model(name, **NEURAL[name]).fit(clustered_data)
    scores = model.score(clustered_data.customer_ids[:20], clustered_data.item_ids)
    assert scores.std(axis=1).min() > 1e-3
    items, _ = model.recommend(clustered_data.customer_ids[:2], n=5)
    assert set(items[0]) != set(items[1])


@pytest.mark.parametrize("name", ["ncf", "two_tower"])
def test_customer_ranking_is_expected_purchases(name, clustered_data, tmp_path):
    """recommend_customers ranks by the product's share of each customer's predicted
    purchases times recent activity, computed from one column (not the full matrix)."""
    model = make_model(name, **NEURAL[name]).fit(clustered_data)
    S = model._score_rows(np.arange(clustered_data.n_customers)).astype(np.float64)
    if name == "two_tower":
        L = S / model.config.temperature
        P = np.exp(L - L.max(1, keepdims=True))
    else:
        P = 1 / (1 + np.exp(-S))
    P /= P.sum(1, keepdims=True)
    for j in (0, 25):
        np.testing.assert_allclose(model._item_column(j), P[:, j] * model.features_.activity, rtol=1e-4)
    model.save(tmp_path / "m")
    back = type(model).load(tmp_path / "m")
    np.testing.assert_allclose(back._item_column(3), model._item_column(3), rtol=1e-5)
    inactive = np.argmin(model.features_.activity)
    cust, _ = model.recommend_customers(clustered_data.item_ids[0], n=10, exclude_buyers=False)
    assert clustered_data.customer_ids[inactive] not in cust


@pytest.mark.parametrize("name", ["two_tower", "ncf", "item2vec", "customer2vec"])
def test_new_customer_from_history(name, clustered_data):
    model = make_model(name, **NEURAL[name]).fit(clustered_data)
    history = ["i02", "i05", "i07", "i11"]  # group A products, for someone never seen
    items, scores = model.recommend_history(history, n=5)
    assert len(items) == 5 and not set(history) & set(items)
    assert np.mean([int(i[1:]) < 20 for i in items]) >= 0.8


def test_new_product_cold_start(clustered_data):
    model = make_model("two_tower", **NEURAL["two_tower"]).fit(clustered_data)
    col = model.score_new_item("Product launch", category="A", price=2.0)
    group_a = np.array([int(c[1:]) % 2 == 0 for c in model.customer_ids_])
    assert col[group_a].mean() > col[~group_a].mean()
    cust, sc = model.recommend_customers(NewProduct("Product launch", "A", 2.0), n=20)
    assert np.mean([int(c[1:]) % 2 == 0 for c in cust]) >= 0.8
    with pytest.raises(NotImplementedError, match="two_tower"):
        make_model("ease").fit(clustered_data).score_new_item("x")


def test_early_stopping_on_validation_window(clustered_data):
    seen = []
    model = make_model("two_tower", **{**NEURAL["two_tower"], "epochs": 6, "patience": 1,
                                       "val_days": 20}).fit(
        clustered_data, callback=lambda e, m: seen.append(m))
    val = [h for h in model.history_ if h["phase"] == "validate"]
    fit = [h for h in model.history_ if h["phase"] == "fit"]
    assert val and all("val_ndcg" in h for h in val)
    assert 1 <= model.best_epoch_ <= 6 and len(fit) == model.best_epoch_
    assert any("val_ndcg" in m for m in seen)


def test_stop_training_keeps_a_usable_model(clustered_data):
    def stop(epoch, metrics):
        if epoch >= 2 and "loss" in metrics:
            raise StopTraining

    model = make_model("ncf", **NEURAL["ncf"]).fit(clustered_data, callback=stop)
    assert len(model.history_) == 2
    items, _ = model.recommend(clustered_data.customer_ids[:3], n=4)
    assert items.shape == (3, 4)


def test_customer2vec_similar_customers(clustered_data):
    model = make_model("customer2vec", **NEURAL["customer2vec"]).fit(clustered_data)
    sims, _ = model.similar_customers("c000", n=10)
    assert "c000" not in sims
    assert np.mean([int(c[1:]) % 2 == 0 for c in sims]) >= 0.8


def test_stop_during_validation_keeps_the_best_epoch(clustered_data):
    """Stop while epochs are still being chosen: the model is the validation run at its best
    epoch so far (restored, not the last one), marked partial."""
    from recsys.evaluate import validation_split

    def stop(epoch, metrics):
        if metrics.get("phase") == "validate" and "loss" in metrics and epoch >= 4:
            raise StopTraining

    params = {**NEURAL["two_tower"], "epochs": 20, "patience": 10, "val_days": 20, "lr": 0.05}
    model = make_model("two_tower", **params).fit(clustered_data, callback=stop)
    assert model.partial_ and [h["phase"] for h in model.history_] == ["validate"] * 4
    best = max(model.history_, key=lambda h: h["val_ndcg"])
    assert model.best_epoch_ == best["epoch"] < 4  # so restoring is what is tested
    val = validation_split(clustered_data, 20)
    again = evaluate(model, val, k=10, n_boot=0).metrics["ndcg"]
    assert again == pytest.approx(best["val_ndcg"], abs=1e-9)
    assert model.refit_params()["epochs"] == best["epoch"]


def test_two_tower_sparse_tables_learn_the_same_structure(bundles, monkeypatch, tmp_path):
    """Above SPARSE_ROWS the ID, history and name tables train with sparse gradients
    (SparseAdam); the model still recovers held-out products, the same seed gives the same
    model, and it saves and loads like the dense one."""
    import recsys.models.two_tower_training as tt
    from recsys.models import load_model

    monkeypatch.setattr(tt, "SPARSE_ROWS", 0)
    fits = [make_model("two_tower", **NEURAL["two_tower"]).fit(bundles.train) for _ in "ab"]
    model = fits[0]
    assert model.net_.item_id.sparse and model.net_.hist.sparse and model.net_.tokens.sparse
    net = model.new_net(True)
    kinds = {type(o).__name__ for o in tt.optimisers(net, 0.01, 1e-6)}
    assert kinds == {"AdamW", "SparseAdam"}
    np.testing.assert_array_equal(fits[0].V_, fits[1].V_)
    res = evaluate(model, bundles, k=10, n_boot=0)
    assert res.metrics["hr"] >= 0.9, res.metrics
    model.save(tmp_path / "tt")
    back = load_model(tmp_path / "tt")
    np.testing.assert_allclose(back.score(bundles.train.customer_ids[:5], bundles.train.item_ids),
                               model.score(bundles.train.customer_ids[:5],
                                           bundles.train.item_ids), rtol=1e-5)


def test_ncf_sparse_tables_learn_the_same_structure(bundles, monkeypatch, tmp_path):
    """NCF above SPARSE_ROWS: customer, product and history tables with sparse gradients
    (SparseAdam, AdamW for the rest); held-out products still recovered, the same seed gives
    the same model, and it saves and loads like the dense one."""
    import recsys.models.ncf as ncf
    from recsys.models import load_model

    monkeypatch.setattr(ncf, "SPARSE_ROWS", 0)
    fits = [make_model("ncf", **NEURAL["ncf"]).fit(bundles.train) for _ in "ab"]
    model = fits[0]
    assert model.net_.item.sparse and model.net_.hist.sparse and model.net_.cust_id.sparse
    np.testing.assert_array_equal(fits[0].V_, fits[1].V_)
    res = evaluate(model, bundles, k=10, n_boot=0)
    assert res.metrics["hr"] >= 0.9, res.metrics
    model.save(tmp_path / "ncf")
    back = load_model(tmp_path / "ncf")
    assert not back.net_.item.sparse
    np.testing.assert_allclose(back.score(bundles.train.customer_ids[:5], bundles.train.item_ids),
                               model.score(bundles.train.customer_ids[:5],
                                           bundles.train.item_ids), rtol=1e-5)


def test_ncf_whole_order_step_is_the_line_step_with_each_customer_computed_once(bundles):
    """NCF with batch_orders: a step on whole orders is exactly the line step on the same
    lines (same negatives from the same draw), the customer vector computed once per order."""
    import torch

    model = make_model("ncf", **{**NEURAL["ncf"], "dropout": 0.0, "batch_orders": 6})
    model.bind(bundles.train)
    run = model.start_training(bundles.train, torch.device("cpu"), np.random.default_rng(0))
    run.update = lambda loss: float(loss.detach())  # the loss only, no optimiser step
    lines = np.flatnonzero(run.pair_order < 6)
    orders, row = np.unique(run.pair_order[lines], return_inverse=True)
    items = run.pair_item[lines]
    calls = []
    vec = model.customer_vector
    model.customer_vector = lambda t: calls.append(len(t["cid"])) or vec(t)
    state = run.rng.bit_generator.state
    by_order = run.order_step(orders, row, items)
    run.rng.bit_generator.state = state
    by_line = run.step(orders[row], items)
    assert by_order == pytest.approx(by_line, rel=1e-6)
    assert calls == [len(orders), len(lines)] and len(lines) > len(orders)


def test_ncf_whole_order_batches_learn_the_same_structure(bundles):
    params = {**NEURAL["ncf"], "batch_orders": 16}
    fits = [make_model("ncf", **params).fit(bundles.train) for _ in "ab"]
    np.testing.assert_array_equal(fits[0].V_, fits[1].V_)
    res = evaluate(fits[0], bundles, k=10, n_boot=0)
    assert res.metrics["hr"] >= 0.9, res.metrics
    assert fits[0].notes() == ["trained on whole orders (16 per step) rather than random lines"]


def test_two_tower_whole_order_batches_learn_the_same_structure(bundles):
    """batch_orders > 0: whole orders per step (each customer once, its lines against a shared
    sample of the batch's products); held-out products are still recovered, the same seed
    gives the same model, and the model's notes say how it was trained (none by default)."""
    params = {**NEURAL["two_tower"], "batch_size": 16, "batch_orders": 16}
    fits = [make_model("two_tower", **params).fit(bundles.train) for _ in "ab"]
    np.testing.assert_array_equal(fits[0].V_, fits[1].V_)
    res = evaluate(fits[0], bundles, k=10, n_boot=0)
    assert res.metrics["hr"] >= 0.9, res.metrics
    notes = fits[0].notes()
    assert len(notes) == 1 and "whole orders (16 per step" in notes[0]
    assert make_model("two_tower", **{**NEURAL["two_tower"], "epochs": 1}).fit(
        bundles.train).notes() == []


def test_whole_order_loss_is_sampled_softmax_less_the_lines_own_product(bundles):
    """One whole-order step's loss against the formula written out line by line: the
    line's product against every product of the batch's lines (counted as often as drawn)
    except itself; the order's other products are negatives too, as in the full softmax."""
    import torch

    model = make_model("two_tower", **{**NEURAL["two_tower"], "id_dropout": 0.0,
                                       "batch_size": 1000, "batch_orders": 6})
    model.bind(bundles.train)
    run = model.start_training(bundles.train, torch.device("cpu"), np.random.default_rng(0))
    run.update = lambda loss: float(loss.detach())  # the loss only, no optimiser step
    lines = np.flatnonzero(run.pair_order < 6)  # the first 6 orders, 2 lines each
    orders, row = np.unique(run.pair_order[lines], return_inverse=True)
    items = run.pair_item[lines]
    got = run.order_step(orders, row, items)
    with torch.no_grad():
        u, cust = run._customers(torch.tensor(orders))
        every = torch.arange(len(model.item_ids_))
        logits = run._block_logits(u, cust, run._items(every), every).numpy()  # [R, n_items]
    drawn = np.bincount(items, minlength=len(model.item_ids_))
    want = []
    for r, j in zip(row, items, strict=True):
        rest = [k for k in range(len(drawn)) if drawn[k] and k != j]
        denom = np.exp(logits[r, j]) + sum(drawn[k] * np.exp(logits[r, k]) for k in rest)
        want.append(np.log(denom) - logits[r, j])
    assert len(set(items)) > 2 and drawn.max() > 1  # repeats across orders are counted
    assert any(len(set(items[row == r])) > 1 for r in set(row))  # orders with other products
    np.testing.assert_allclose(got, np.mean(want), rtol=1e-4)


def test_whole_order_epochs_split_orders_evenly_between_data_parallel_ranks(bundles):
    """Each rank of a data-parallel fit takes its own equal share of an epoch's whole orders
    (the same shuffle everywhere), so all take the same number of steps."""
    import torch

    from recsys.models.trainer import Shard

    seen = []
    for rank in (0, 1):
        model = make_model("two_tower", **{**NEURAL["two_tower"], "batch_orders": 8})
        model.bind(bundles.train)
        run = model.start_training(bundles.train, torch.device("cpu"), np.random.default_rng(0))
        run.shard, steps = Shard(rank, 2), []
        run.order_step = lambda orders, row, items, steps=steps: steps.append(orders) or 1.0
        run.run_epoch(0, lambda done, total: None)
        seen.append(np.concatenate(steps))
    n_orders = int(run.pair_order.max()) + 1
    assert len(seen[0]) == len(seen[1]) == n_orders // 2
    assert not set(seen[0]) & set(seen[1])


@pytest.mark.parametrize("name", ["two_tower", "ncf"])
def test_big_shops_train_on_whole_orders_unless_told_otherwise(bundles, name):
    """Above ``whole_orders_above`` training lines a fit with ``batch_orders`` 0 is the fit
    with the model's whole orders per step (bit for bit), says so, and keeps the asked
    config; at or below it, and with the threshold 0, it trains on random lines."""
    params = {**NEURAL[name], "epochs": 2, "patience": 1, "val_days": 30}
    auto_cls = type(make_model(name))
    n = len(bundles.train.interactions)

    def fit(**extra):
        return make_model(name, **{**params, **extra}).fit(bundles.train)

    auto = fit(whole_orders_above=n - 1)
    told = fit(batch_orders=auto_cls.AUTO_ORDERS, whole_orders_above=0)
    lines = fit(whole_orders_above=n)
    np.testing.assert_array_equal(auto.U_, told.U_)
    assert not np.array_equal(auto.U_, lines.U_)
    np.testing.assert_array_equal(lines.U_, fit(whole_orders_above=0).U_)
    assert auto.config.batch_orders == 0 and auto.params()["whole_orders_above"] == n - 1
    assert any(f"{n:,} training lines" in note for note in auto.notes())
    assert any("trained on whole orders" in note for note in auto.notes())
    assert lines.notes() == []


def _shares(blocks: int = 7):
    """A stand-in for Ray Data: a phase's order rows come back in blocks, last block first."""
    import pyarrow as pa

    published = {}

    def share(name, table):
        size = -(-table.num_rows // blocks)
        parts = [table.slice(s, size) for s in range(0, table.num_rows, size)][::-1]
        published[name] = table
        return lambda: pa.concat_tables(parts)

    return share, published


@pytest.mark.parametrize("name", ["two_tower", "ncf"])
@pytest.mark.parametrize("batch_orders", [0, 8])
def test_examples_prepared_for_workers_fit_the_same_model(bundles, name, batch_orders):
    """The driver of a data-parallel fit builds each phase's examples once and ships the
    order rows as a dataset (``prepare_fit``); a fit from them, blocks in any order, is the
    fit from the OrderData, bit for bit (validation phase and refit included)."""
    from recsys.models.examples import prepare_fit

    params = {**NEURAL[name], "epochs": 3, "patience": 1, "val_days": 30,
              "batch_orders": batch_orders}
    share, published = _shares()
    prepared = prepare_fit(make_model(name, **params), bundles.train, share)
    assert set(published) == {"validate", "fit"}
    assert published["fit"].num_rows == bundles.train.interactions["order_id"].nunique()
    local = make_model(name, **params).fit(bundles.train)
    shipped = make_model(name, **params).fit(prepared)
    assert shipped.best_epoch_ == local.best_epoch_ and shipped.val_ndcg_ == local.val_ndcg_
    np.testing.assert_array_equal(shipped.U_, local.U_)
    np.testing.assert_array_equal(shipped.V_, local.V_)
    assert shipped.recommend(["c000"], n=3)[0].tolist() == local.recommend(["c000"], n=3)[0] \
        .tolist()


def test_order_rows_round_trip_through_arrow(bundles):
    """Every order's inputs and products survive the trip to Arrow and back."""
    from recsys.models.examples import build_examples, from_order_table, order_table

    model = make_model("two_tower")
    model.bind(bundles.train)
    ex = build_examples(model.customer_ids_, model.item_ids_, bundles.train, 5)
    table = order_table(ex)
    back = from_order_table(table.slice(0, 10), ex.without_orders())
    assert back.sharded and len(back.orders.cust) == 10
    for k in ("cust", "country", "rfm", "hist", "age", "week"):
        got, want = getattr(back.orders, k), getattr(ex.orders, k)[:10]
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
    lines = ex.pair_order < 10
    np.testing.assert_array_equal(back.pair_item, ex.pair_item[lines])
    np.testing.assert_array_equal(back.pair_order, ex.pair_order[lines])


@pytest.mark.parametrize("batch_orders", [0, 8])
def test_workers_with_their_own_shares_take_the_same_number_of_steps(bundles, batch_orders):
    """Each worker trains on its own share of the examples; the shares' lines differ, so
    every rank takes the fewest steps any rank has (else the gradient average would hang)."""
    import torch

    from recsys.models.examples import prepare_fit
    from recsys.models.trainer import Shard

    params = {**NEURAL["two_tower"], "batch_orders": batch_orders, "patience": 0}

    class TwoRanks(Shard):
        def least(self, n):
            asked.append(n)
            return 3

    asked = []
    share, published = _shares()
    prepared = prepare_fit(make_model("two_tower", **params), bundles.train, share)
    model = make_model("two_tower", **params)
    model.bind(prepared)
    run = model.start_training(prepared, torch.device("cpu"), np.random.default_rng(0))
    run.shard, steps = TwoRanks(0, 2), []
    run.step = lambda orders, items: steps.append(len(items)) or 1.0
    run.order_step = lambda orders, row, items: steps.append(len(orders)) or 1.0
    run.run_epoch(0, lambda done, total: None)
    assert len(steps) == 3 and len(asked) == 1
    n = len(run.pair_item) if not batch_orders else published["fit"].num_rows
    assert asked[0] == -(-n // (batch_orders or params["batch_size"]))  # all its batches


@pytest.mark.full
def test_same_seed_same_model_with_two_math_threads_on_a_bigger_shop(tmp_path):
    """Big enough tensors for torch's threaded CPU kernels: some (embedding backward among
    them) add up in the order their threads finish unless the deterministic ones are asked
    for, and the same seed gave other weights from run to run."""
    import torch

    from recsys.data import load_orders
    from recsys.synthetic import Shape, generate

    path = tmp_path / "shop.parquet"
    generate(path, Shape(lines=100_000, customers=10_000, products=1_600, seed=2))
    data = load_orders(path)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fits = [make_model("two_tower", epochs=1, patience=0, batch_orders=256).fit(data)
                for _ in "abc"]
    finally:
        torch.set_num_threads(threads)
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].U_, other.U_)
    assert not torch.are_deterministic_algorithms_enabled()  # the caller's setting is back

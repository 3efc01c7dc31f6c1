"""The contract every registered model passes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from recsys.models import NotFittedError, Recommender, load_model, make_model, registry

# Every registered model, with its spec's quick settings; adding a model adds it here.
MODELS = registry.names()
PERSONALISED = registry.names(personalised=True)


def build(name):
    return make_model(name, **registry.spec(name).quick)


@pytest.fixture(scope="module", params=MODELS)
def fitted(request, clustered_data):
    model = build(request.param)
    assert model.fit(clustered_data) is model
    return model


def test_protocol_and_config(fitted):
    assert isinstance(fitted, Recommender)
    assert dataclasses.is_dataclass(fitted.config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fitted.config.seed = 1  # type: ignore[misc]
    assert "seed" in fitted.params()


def test_recommend_shapes_order_and_seen_excluded(fitted, clustered_data):
    customers = clustered_data.customer_ids[:7]
    items, scores = fitted.recommend(customers, n=5)
    assert items.shape == scores.shape == (7, 5)
    assert set(items.ravel()) <= set(clustered_data.item_ids)
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    X = clustered_data.matrix()
    pos = {c: i for i, c in enumerate(clustered_data.item_ids)}
    for row, _c in enumerate(customers):
        seen = set(clustered_data.item_ids[X[row].indices])
        assert not seen & set(items[row])
    all_items, _ = fitted.recommend(customers, n=40, exclude_seen=False)
    assert len(set(all_items[0])) == 40 and set(all_items[0]) == set(pos)


def test_unknown_customer_gets_fallback(fitted):
    items, scores = fitted.recommend(["nobody"], n=3)
    assert items.shape == (1, 3) and np.isfinite(scores).all()


def test_score_and_recommend_customers(fitted, clustered_data):
    s = fitted.score(clustered_data.customer_ids[:3], clustered_data.item_ids[:4])
    assert s.shape == (3, 4)
    item = clustered_data.item_ids[0]
    cust, sc = fitted.recommend_customers(item, n=10)
    assert len(cust) == len(sc) == 10 and (np.diff(sc) <= 1e-6).all()
    X = clustered_data.matrix().tocsc()
    buyers = set(clustered_data.customer_ids[X[:, 0].indices])
    assert not buyers & set(cust)
    with pytest.raises(KeyError, match="Unknown product"):
        fitted.recommend_customers("no-such-item")


def test_similar_items_exclude_query(fitted, clustered_data):
    q = clustered_data.item_ids[:3]
    sims, scores = fitted.similar_items(q, n=5)
    assert sims.shape == (3, 5)
    for row, item in enumerate(q):
        assert item not in sims[row]


def test_embeddings(fitted, clustered_data):
    emb = fitted.embeddings()
    assert len(emb.item_ids) == clustered_data.n_items
    if emb.items is not None:
        assert emb.items.shape[0] == clustered_data.n_items
    if emb.customers is not None:
        assert emb.customers.shape[0] == clustered_data.n_customers


def test_save_load_round_trip(fitted, clustered_data, tmp_path):
    fitted.save(tmp_path / "m")
    assert not list(tmp_path.glob("m/*.pkl")) and (tmp_path / "m" / "config.json").exists()
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(fitted) and loaded.config == fitted.config
    cust = clustered_data.customer_ids[:10]
    np.testing.assert_array_equal(loaded.recommend(cust)[0], fitted.recommend(cust)[0])
    np.testing.assert_allclose(loaded.recommend(cust)[1], fitted.recommend(cust)[1], rtol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_same_seed_same_model_and_callback(name, clustered_data):
    calls = []
    a = build(name).fit(clustered_data, callback=lambda e, m: calls.append((e, m)))
    b = build(name).fit(clustered_data)
    assert calls and all(isinstance(m, dict) for _, m in calls)
    reports = [e for e, m in calls if "progress" not in m]  # not the in-epoch heartbeats
    assert len(reports) == a.progress_steps() and reports[-1] == a.progress_steps()
    cust = clustered_data.customer_ids
    np.testing.assert_allclose(a.recommend(cust)[1], b.recommend(cust)[1], rtol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_clear_error_before_fit(name, clustered_data):
    with pytest.raises(NotFittedError, match="fit"):
        build(name).recommend(clustered_data.customer_ids[:1])
    with pytest.raises(NotFittedError):
        build(name).save("unused")


@pytest.mark.parametrize("name", PERSONALISED)
def test_learns_taste_groups(name, clustered_data):
    """Group A customers (even numbers) only ever buy items i00-i19: so should their lists."""
    model = build(name).fit(clustered_data)
    items, _ = model.recommend(clustered_data.customer_ids, n=3)
    group = np.array([int(c[1:]) % 2 for c in clustered_data.customer_ids])
    in_group = (np.vectorize(lambda i: int(i[1:]) >= 20)(items) == group[:, None]).mean()
    assert in_group > 0.85, in_group


def check_capabilities(model, spec, data) -> None:
    """What a spec says its model can do is what the fitted model does."""
    emb = model.embeddings()
    assert (emb.customers is not None) == spec.customer_vectors, "customer_vectors"
    assert (emb.items is not None) == spec.item_vectors, "item_vectors"
    cust, items = data.customer_ids[:2], data.item_ids[:3]
    checks = {"new_items": lambda: model.score_new_item("Product new", "A", 2.0),
              "new_customers": lambda: model.recommend_history(list(items), n=3),
              "drivers": lambda: model.drivers(cust, items)}
    for flag, call in checks.items():
        if getattr(spec, flag):
            try:
                out = call()
            except NotImplementedError as exc:
                raise AssertionError(f"{flag}: {exc}") from exc
            assert len(out) > 0, flag
        else:
            with pytest.raises(NotImplementedError):
                call()


def test_declared_capabilities_are_true(fitted, clustered_data):
    """Pages and the CLI trust the registry, so the registry must tell the truth."""
    spec = registry.spec(fitted.name)
    assert type(fitted) is spec.cls  # a model's name is its spec's (loading relies on it)
    check_capabilities(fitted, spec, clustered_data)


def test_public_explanations(fitted, clustered_data):
    """Presentation reads only the public API: who is known, their history, the reasons."""
    c = clustered_data.customer_ids[0]
    bought = set(fitted.history_items(c))
    assert fitted.knows_customer(c) and not fitted.knows_customer("nobody")
    assert bought == set(clustered_data.item_ids[clustered_data.matrix()[0].indices])
    items, _ = fitted.recommend([c], n=4)
    reasons = fitted.because(c, items[0])
    assert len(reasons) == 4 and all(set(r) <= bought and len(r) <= 2 for r in reasons)
    assert fitted.because("nobody", items[0]) == [[]] * 4
    assert fitted.refit_params()["seed"] == fitted.params()["seed"]


def test_bad_parameters_and_unknown_model():
    with pytest.raises(ValueError, match="Bad parameters"):
        make_model("ease", lambda_=3)
    with pytest.raises(KeyError, match="Unknown model"):
        make_model("deep-magic")


def test_ease_scoring_options(clustered_data, tmp_path):
    """Count history and the own-purchase term change scores, not the learned weights."""
    plain = make_model("ease").fit(clustered_data)
    opt = make_model("ease", history="count", self_weight=1.0).fit(clustered_data)
    np.testing.assert_allclose(plain.B_, opt.B_)
    item = clustered_data.item_ids[0]
    buyers = clustered_data.matrix().tocsc()[:, 0].indices
    gap = opt._item_column(0) - plain._item_column(0)
    assert (gap[buyers] >= 1.0 - 1e-5).all()  # every past buyer gains at least one line
    opt.save(tmp_path / "e")
    back = load_model(tmp_path / "e")
    np.testing.assert_allclose(back._item_column(0), opt._item_column(0), rtol=1e-6)
    assert item in set(back.item_ids_)
    with pytest.raises(ValueError, match="history"):
        make_model("ease", history="weird")


@pytest.mark.parametrize("name", MODELS)
def test_every_numeric_setting_has_allowed_ranges(name):
    """Out-of-range settings are refused up front in words, so every number needs bounds."""
    config = registry.spec(name).cls.Config
    numeric = [f.name for f in dataclasses.fields(config) if f.name != "seed"
               and type(f.default) in (int, float)]
    assert set(numeric) <= set(getattr(config, "BOUNDS", {})), set(numeric) - set(
        getattr(config, "BOUNDS", {}))
    with pytest.raises(ValueError, match="must be"):
        make_model(name, seed="zero")


@pytest.mark.parametrize("name", MODELS)
def test_every_setting_has_a_plain_name(name):
    """Forms show 'Regularisation', not 'l2': every setting an analyst sees is named."""
    from recsys.presentation import param_fields

    for f in param_fields(name):
        assert f["label"] != f["name"], (name, f["name"])


@pytest.mark.parametrize("name", MODELS)
def test_settings_with_fixed_choices_offer_them_and_refuse_others(name):
    """Forms offer a choice list, not a free-text box, where a setting has fixed values."""
    from recsys.presentation import param_fields

    for f in param_fields(name):
        if f["choices"]:
            assert f["default"] in f["choices"]
            with pytest.raises(ValueError):
                make_model(name, **{f["name"]: "no-such-choice"})


def test_recency_weighted_matrix():
    """With a half-life each line counts 0.5 ** (age / half-life), age from the last line:
    'binary' keeps the pair's latest purchase, 'count' adds them up."""
    from tests.conftest import make_data

    rows = [("c1", "a", "o1", "2024-01-01", "X"), ("c1", "a", "o2", "2024-01-11", "X"),
            ("c2", "b", "o3", "2024-01-21", "X"), ("c1", "b", "o4", "2024-01-21", "X")]
    data = make_data(rows)
    binary = data.matrix("binary", half_life=10).toarray()
    count = data.matrix("count", half_life=10).toarray()
    np.testing.assert_allclose(binary, [[0.5, 1.0], [0.0, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(count, [[0.5 + 0.25, 1.0], [0.0, 1.0]], rtol=1e-6)
    np.testing.assert_array_equal(data.matrix("binary").toarray(), [[1, 1], [0, 1]])
    with pytest.raises(ValueError, match="half_life"):
        data.matrix("binary", half_life=-1)


def test_als_half_life_changes_the_confidences_not_the_filter(clustered_data):
    """iALS with a half-life learns from recency-weighted confidences, yet still knows every
    purchase (the already-bought filter is the plain matrix)."""
    plain = make_model("als", factors=8, iterations=5).fit(clustered_data)
    recent = make_model("als", factors=8, iterations=5, half_life=20.0).fit(clustered_data)
    assert not np.allclose(plain.item_factors_, recent.item_factors_)
    assert (recent.X_ != clustered_data.matrix("binary")).nnz == 0

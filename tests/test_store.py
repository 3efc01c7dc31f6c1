"""Workspace persistence: datasets and models round-trip, atomically, without pickle."""

from __future__ import annotations

import numpy as np
import pytest

from recsys import store
from recsys.models import make_model


def test_dataset_round_trip_list_delete(clustered_data, tmp_path):
    store.save_dataset(clustered_data, "shop one", root=tmp_path)
    back = store.load_dataset("shop one", root=tmp_path)
    assert back.summary() == clustered_data.summary()
    assert list(back.customer_ids) == list(clustered_data.customer_ids)
    assert (back.matrix() != clustered_data.matrix()).nnz == 0
    assert [d["name"] for d in store.list_datasets(tmp_path)] == ["shop one"]
    store.save_dataset(clustered_data.subset(np.arange(len(clustered_data.interactions)) < 10),
                       "shop one", root=tmp_path)  # overwrite replaces atomically
    assert store.load_dataset("shop one", root=tmp_path).summary()["lines"] == 10
    assert not [p for p in (tmp_path / "datasets").iterdir() if p.name.startswith(".")]
    store.delete_entry("datasets", "shop one", root=tmp_path)
    assert store.list_datasets(tmp_path) == []
    with pytest.raises(store.StoreError):
        store.load_dataset("shop one", root=tmp_path)


def test_model_round_trip(clustered_data, tmp_path):
    model = make_model("ease", l2=10.0).fit(clustered_data)
    store.save_model(model, "ease-10", metrics={"ndcg": 0.5}, root=tmp_path, dataset="demo")
    listed = store.list_models(tmp_path)
    assert listed[0]["name"] == "ease-10" and listed[0]["metrics"]["ndcg"] == 0.5
    back = store.load_model("ease-10", root=tmp_path)
    cust = clustered_data.customer_ids[:5]
    np.testing.assert_array_equal(back.recommend(cust)[0], model.recommend(cust)[0])
    assert not list((tmp_path / "models").rglob("*.pkl"))


def test_failed_save_leaves_nothing(clustered_data, tmp_path):
    class Broken:
        name = "broken"

        def save(self, path):
            (path / "half.npz").write_bytes(b"x")
            raise OSError("disk full")

        def params(self):
            return {}

    with pytest.raises(OSError):
        store.save_model(Broken(), "b", root=tmp_path)
    assert not any((tmp_path / "models").iterdir())


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden"])
def test_names_checked(bad, tmp_path):
    with pytest.raises(store.StoreError):
        store.check_name(bad)


def test_workspace_secret_stable(tmp_path):
    a = store.workspace_secret(tmp_path)
    assert a == store.workspace_secret(tmp_path) and len(a) == 64

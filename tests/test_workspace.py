"""The workspace: datasets and models round-trip, atomically, without pickle; fingerprints
follow content, not names."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.models import make_model
from recsys.records import ModelRecord, TrainedOn
from recsys.workspace import DatasetRef, StoreError, Workspace, check_name


def test_dataset_round_trip_list_delete(clustered_data, tmp_path):
    ws = Workspace(tmp_path)
    ref = ws.save_dataset(clustered_data, "shop one")
    assert ref == DatasetRef.saved("shop one") and ws.has_dataset(ref)
    back = ws.load_dataset(ref)
    assert back.summary() == clustered_data.summary()
    assert list(back.customer_ids) == list(clustered_data.customer_ids)
    assert (back.matrix() != clustered_data.matrix()).nnz == 0
    assert [d["name"] for d in ws.list_datasets()] == ["shop one"]
    first = ws.fingerprint(ref)
    ws.save_dataset(clustered_data.subset(np.arange(len(clustered_data.interactions)) < 10),
                    "shop one")  # overwrite replaces atomically
    assert ws.load_dataset(ref).summary()["lines"] == 10
    assert ws.fingerprint(ref) != first  # same name, other content: another fingerprint
    assert not [p for p in (tmp_path / "datasets").iterdir() if p.name.startswith(".")]
    ws.delete_dataset("shop one")
    assert ws.list_datasets() == []
    with pytest.raises(StoreError):
        ws.load_dataset(ref)


def test_same_content_same_fingerprint(clustered_data, tmp_path):
    ws = Workspace(tmp_path)
    a = ws.fingerprint(ws.save_dataset(clustered_data, "a"))
    b = ws.fingerprint(ws.save_dataset(clustered_data, "b"))
    assert a == b


def test_demo_is_generated_once_and_kept(tmp_path):
    ws = Workspace(tmp_path)
    demo = DatasetRef.demo()
    assert not ws.has_dataset(demo)
    data = ws.load_dataset(demo)
    assert ws.has_dataset(demo) and data.n_customers > 1000
    assert ws.list_datasets() == []  # the demo is not one of the analyst's datasets


def test_model_round_trip(clustered_data, tmp_path):
    ws = Workspace(tmp_path)
    model = make_model("ease", l2=10.0).fit(clustered_data)
    ws.save_model(model, ModelRecord("ease-10", "ease", {}, TrainedOn.HOLDOUT, label="mine",
                                     cutoff="2024-04-01"))
    listed = ws.model_records()
    assert listed[0].name == "ease-10" and listed[0].label == "mine"
    assert listed[0].trained_on is TrainedOn.HOLDOUT and listed[0].params["l2"] == 10.0
    back = ws.load_model("ease-10")
    cust = clustered_data.customer_ids[:5]
    np.testing.assert_array_equal(back.recommend(cust)[0], model.recommend(cust)[0])
    assert not list((tmp_path / "models").rglob("*.pkl"))
    ws.delete_model("ease-10")
    with pytest.raises(StoreError):
        ws.load_model("ease-10")


def test_failed_save_leaves_nothing(tmp_path):
    class Broken:
        name = "broken"

        def save(self, path):
            (path / "half.npz").write_bytes(b"x")
            raise OSError("disk full")

        def params(self):
            return {}

    with pytest.raises(OSError):
        Workspace(tmp_path).save_model(Broken(), "b")
    assert not any((tmp_path / "models").iterdir())


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "evil\n", "x" * 101])
def test_names_checked(bad):
    with pytest.raises(StoreError):
        check_name(bad)
    with pytest.raises(StoreError):
        DatasetRef.saved(bad)


def test_pii_key_lives_outside_the_workspace(tmp_path, monkeypatch):
    key_file = tmp_path / "config" / "pii.key"
    monkeypatch.setenv("RECSYS_PII_KEY_FILE", str(key_file))
    ws = Workspace(tmp_path / "ws")
    a = ws.pii_key()
    assert a == ws.pii_key() and len(a) == 64 and key_file.exists()
    assert not (tmp_path / "ws").exists() or a not in b"".join(
        p.read_bytes() for p in (tmp_path / "ws").rglob("*") if p.is_file())
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("RECSYS_PII_KEY", "from-env-" + "k" * 32)
    assert ws.pii_key() == b"from-env-" + b"k" * 32


def test_a_shared_server_never_makes_its_own_key(tmp_path, monkeypatch):
    from recsys.keys import MissingKeyError

    monkeypatch.setenv("RECSYS_PII_KEY_FILE", str(tmp_path / "none" / "pii.key"))
    with pytest.raises(MissingKeyError, match="RECSYS_PII_KEY"):
        Workspace(tmp_path / "ws", create_key=False).pii_key()


def test_a_key_left_in_the_workspace_is_moved_out(tmp_path, monkeypatch):
    key_file = tmp_path / "config" / "pii.key"
    monkeypatch.setenv("RECSYS_PII_KEY_FILE", str(key_file))
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / ".secret").write_bytes(b"old-key" * 8 + b"\n")
    assert Workspace(tmp_path / "ws").pii_key() == b"old-key" * 8  # same pseudonyms as before
    assert not (tmp_path / "ws" / ".secret").exists() and key_file.read_bytes() == b"old-key" * 8

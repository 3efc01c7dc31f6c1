"""A model as one file: exported from one workspace and imported into another on the same
data it serves identical recommendations; a tampered or foreign file is refused in one line."""

from __future__ import annotations

import io
import json
import stat
import warnings
import zipfile

import numpy as np
import pytest

from recsys import cli, model_files
from recsys.model_files import ModelFileError, export_model, import_model, read_card
from recsys.models import make_model, registry
from recsys.records import ModelRecord, ScoreRow, TrainedOn
from recsys.workflow import served_models
from recsys.workspace import DatasetRef, Workspace
from tests.conftest import make_data, no_errors


def _workspace_with_model(root, data, model: str = "ease", **params):
    ws = Workspace(root)
    ref = ws.save_dataset(data, "shop")
    fp = ws.fingerprint(ref)
    fitted = make_model(model, **params).fit(data)
    row = ScoreRow(model=model, k=10, task="novel", metrics={"ndcg": 0.2}, cutoff="2024-04-01")
    ws.save_model(fitted, ModelRecord("m1", model, {}, TrainedOn.HOLDOUT, fingerprint=fp,
                                      group="m1", cutoff="2024-04-01", metrics=row,
                                      dataset={"kind": "saved", "name": "shop"}))
    return ws, ref


@pytest.mark.parametrize("model,params", [
    ("ease", {}), ("itemknn", {}), ("als", {"factors": 4, "iterations": 2}),
    ("two_tower", dict(registry.spec("two_tower").quick))])
def test_exported_model_serves_identical_recommendations_in_another_workspace(
        clustered_data, tmp_path, model, params):
    a, ref = _workspace_with_model(tmp_path / "a", clustered_data, model, **params)
    blob, file_name = export_model(a, "m1")
    assert file_name.endswith(model_files.SUFFIX)
    card = read_card(blob)
    assert card["model"] == model and card["holdout"]["ndcg"] == 0.2
    assert card["dataset"]["first"] and card["dataset"]["customers"] == 120

    b = Workspace(tmp_path / "b")
    ref_b = b.save_dataset(clustered_data, "shop")
    done = import_model(b, blob, ref_b, b.load_dataset(ref_b))
    assert done.same_data and done.customers_known == 1.0 and "this very dataset" in \
        done.message()
    served = served_models(b, b.fingerprint(ref_b))
    assert [s.serving_id for s in served] == [done.record.name]
    assert served[0].ndcg == 0.2 and "imported" in served[0].label

    who = clustered_data.customer_ids[:15]
    items_a, scores_a = a.load_model("m1").recommend(who, n=10)
    items_b, scores_b = b.load_model(done.record.name).recommend(who, n=10)
    assert (items_a == items_b).all()
    np.testing.assert_array_equal(scores_a, scores_b)


def test_other_data_that_overlaps_is_taken_in_unscored_and_says_how_much_it_knows(
        clustered_data, tmp_path):
    a, _ = _workspace_with_model(tmp_path / "a", clustered_data)
    blob, _ = export_model(a, "m1")
    lines = clustered_data.interactions
    half = make_data([(c, i, o, str(t.date()))
                      for c, i, o, t in lines[["customer_id", "item_id", "order_id",
                                               "timestamp"]].itertuples(index=False)
                      if int(c[1:]) < 60] + [("new1", "i00", "n1", "2024-02-01")])
    b = Workspace(tmp_path / "b")
    ref = b.save_dataset(half, "other")
    done = import_model(b, blob, ref, b.load_dataset(ref))
    assert not done.same_data and done.record.metrics is None
    assert done.customers_known == pytest.approx(60 / 61) and done.products_known == 1.0
    assert "98% of this dataset's customers and 100% of its products" in done.message()
    assert "not ranked" in done.message()
    served = served_models(b, b.fingerprint(ref))
    assert served[0].ndcg is None and "no holdout score" in served[0].note


def test_a_model_of_another_shop_is_refused(clustered_data, tmp_path):
    a, _ = _workspace_with_model(tmp_path / "a", clustered_data)
    blob, _ = export_model(a, "m1")
    other = make_data([("x1", "z1", "o1", "2024-01-01"), ("x2", "z2", "o2", "2024-01-02")])
    b = Workspace(tmp_path / "b")
    ref = b.save_dataset(other, "other")
    with pytest.raises(ModelFileError, match="knows none of other's products"):
        import_model(b, blob, ref, b.load_dataset(ref))
    assert b.model_records() == []


def _rebuilt(blob: bytes, change) -> bytes:
    """The file with its entries passed through ``change(name, bytes) -> [(ZipInfo|name,
    bytes)]``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w") as dst, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "duplicate name": one test writes one on purpose
        for info in src.infolist():
            for name, data in change(info.filename, src.read(info)):
                dst.writestr(name, data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _card_edit(**changes):
    def change(name, data):
        if name == "card.json":
            data = json.dumps({**json.loads(data), **changes}).encode()
        return [(name, data)]
    return change


def _npz_edit(edit):
    def change(name, data):
        if name.endswith("state.npz"):
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            edit(arrays)
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            data = buf.getvalue()
        return [(name, data)]
    return change


def _plus(extra: str, payload: bytes = b"print(1)"):
    return lambda n, d: [(n, d)] + ([(extra, payload)] if n == "card.json" else [])


def _link(name, data):
    if name != "model/config.json":
        return [(name, data)]
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return [(info, b"/etc/passwd")]


def _nan_scores(arrays):
    key = next(k for k in arrays if arrays[k].dtype.kind == "f" and arrays[k].size)
    arrays[key] = arrays[key].copy()
    arrays[key].flat[0] = np.nan


TAMPERED = {
    "not a zip": lambda blob: b"hello, I am a model" * 10,
    "path out of the folder": lambda blob: _rebuilt(blob, _plus("model/../../evil.py")),
    "absolute path": lambda blob: _rebuilt(blob, _plus("/tmp/evil")),
    "a link": lambda blob: _rebuilt(blob, _link),
    "zip bomb": lambda blob: _rebuilt(blob, _plus("model/pad.bin", b"\0" * 50_000_000)),
    "many entries": lambda blob: _rebuilt(blob, lambda n, d: [(n, d)] + (
        [(f"model/x{i}", b"1") for i in range(300)] if n == "card.json" else [])),
    "foreign card": lambda blob: _rebuilt(blob, _card_edit(format="x/9")),
    "score not numbers": lambda blob: _rebuilt(blob, _card_edit(holdout={"ndcg": "high"})),
    "name written twice": lambda blob: _rebuilt(blob, lambda n, d: [(n, d), (n, d)]),
    "unknown model": lambda blob: _rebuilt(blob, _card_edit(model="rm -rf")),
    "card says another model": lambda blob: _rebuilt(blob, _card_edit(model="als")),
    "no card": lambda blob: _rebuilt(blob, lambda n, d: [] if n == "card.json" else [(n, d)]),
    "card not json": lambda blob: _rebuilt(blob, lambda n, d: [(n, b"{" if n == "card.json"
                                                                else d)]),
    "NaN in the arrays": lambda blob: _rebuilt(blob, _npz_edit(_nan_scores)),
    "pickled ids": lambda blob: _rebuilt(blob, _npz_edit(lambda a: a.__setitem__(
        "customer_ids", np.array([{"evil": 1}] * 3, dtype=object)))),
    "truncated ids": lambda blob: _rebuilt(blob, _npz_edit(lambda a: a.__setitem__(
        "item_ids", a["item_ids"][:3]))),
    "cut short": lambda blob: blob[: len(blob) // 2],
}


@pytest.mark.parametrize("how", list(TAMPERED))
def test_a_tampered_file_is_refused_in_one_line_and_nothing_is_stored(clustered_data,
                                                                       tmp_path, how):
    a, _ = _workspace_with_model(tmp_path / "a", clustered_data)
    blob = TAMPERED[how](export_model(a, "m1")[0])
    b = Workspace(tmp_path / "b")
    ref = b.save_dataset(clustered_data, "shop")
    with pytest.raises(ModelFileError) as err:
        import_model(b, blob, ref, b.load_dataset(ref))
    message = str(err.value)
    assert message.startswith("Refused") and "\n" not in message, message
    assert b.model_records() == []
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "b" / "evil.py").exists()


def test_command_line_exports_and_imports_and_refuses_in_one_line(clustered_data, tmp_path,
                                                                   monkeypatch, capsys):
    a, _ = _workspace_with_model(tmp_path / "a", clustered_data)
    monkeypatch.setenv("RECSYS_WORKSPACE", str(tmp_path / "a"))
    out = tmp_path / "m.recsys-model.zip"
    assert cli.main(["model", "list", "--dataset", "shop"]) == 0
    assert "m1" in capsys.readouterr().out
    assert cli.main(["model", "export", "m1", "--out", str(out)]) == 0
    monkeypatch.setenv("RECSYS_WORKSPACE", str(tmp_path / "b"))
    Workspace(tmp_path / "b").save_dataset(clustered_data, "shop")
    assert cli.main(["model", "import", str(out), "--dataset", "shop"]) == 0
    assert "this very dataset" in capsys.readouterr().out
    bad = tmp_path / "bad.recsys-model.zip"
    bad.write_bytes(TAMPERED["NaN in the arrays"](out.read_bytes()))
    assert cli.main(["model", "import", str(bad), "--dataset", "shop"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Refused") and "\n" not in err


def _picker(app):
    return next(s for s in app.selectbox if s.label == "Pick a model")


def test_models_page_downloads_and_takes_in_a_model_file(app):
    app.switch_page("pages/models.py").run()
    no_errors(app)
    _picker(app).set_value(_picker(app).options[1]).run()
    no_errors(app)
    assert any("Download model" in str(e.proto) for e in app.get("download_button"))
    ws = Workspace()
    best = served_models(ws, ws.fingerprint(DatasetRef.demo()))[0]
    blob, name = export_model(ws, best.serving_id)
    upload = app.file_uploader(key="model_upload")
    upload.upload(name, TAMPERED["truncated ids"](blob), "application/zip").run()
    app.button(key="model_import").click().run()
    assert app.error[0].value.startswith("Refused") and "\n" not in app.error[0].value
    app.file_uploader(key="model_upload").upload(name, blob, "application/zip").run()
    app.button(key="model_import").click().run()
    no_errors(app)
    assert "this very dataset" in app.success[0].value
    assert any(o.endswith("· imported") for o in _picker(app).options)

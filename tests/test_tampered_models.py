"""Damaged and tampered model folders: every one is refused with one clear message when it is
opened -- never a crash of the process, a silent popularity fallback or -inf scores. The loads
run in a child process, so that a crash (scipy segfaults on bad sparse indices) fails the test
instead of killing it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys.models import make_model, registry
from recsys.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"ease": {}, "als": dict(registry.spec("als").quick), "itemknn": {},
           "popularity": {}, "propensity": {"train_items": 20},
           "two_tower": dict(registry.spec("two_tower").quick),
           "item2vec": dict(registry.spec("item2vec").quick)}


def edit_npz(folder: Path, change) -> None:
    with np.load(folder / "state.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    np.savez(folder / "state.npz", **arrays)


def set_array(key, value):
    return lambda f: edit_npz(f, lambda a: a.__setitem__(key, value(a[key]) if callable(value)
                                                         else value))


def drop_array(key):
    return lambda f: edit_npz(f, lambda a: a.pop(key))


def edit_config(change):
    def apply(folder: Path) -> None:
        meta = json.loads((folder / "config.json").read_text())
        change(meta)
        (folder / "config.json").write_text(json.dumps(meta))
    return apply


def nan_first(a):
    a = a.astype(np.float32).copy()
    a.flat[0] = np.nan
    return a


def net_state(change):
    def apply(folder: Path) -> None:
        state = torch.load(folder / "net.pt", weights_only=True)
        change(state)
        torch.save(state, folder / "net.pt")
    return apply


def pickled_array(folder: Path) -> None:
    with np.load(folder / "state.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["customer_ids"] = np.array([{"evil": 1}] * 3, dtype=object)
    np.savez(folder / "state.npz", **arrays)  # needs allow_pickle to read: refused


def link_out(folder: Path) -> None:
    outside = folder.parent.parent.parent / "outside-model"
    shutil.rmtree(outside, ignore_errors=True)
    shutil.move(str(folder), outside)
    os.symlink(outside, folder)


def link_file(folder: Path) -> None:
    target = folder.parent.parent.parent / "outside-state.npz"
    shutil.copy(folder / "state.npz", target)
    (folder / "state.npz").unlink()
    os.symlink(target, folder / "state.npz")


CASES = {
    "sparse index out of range": ("ease", set_array("X_indices", lambda a: a + 10**6)),
    "row pointers go backwards": ("ease", set_array("X_indptr", lambda a: a[::-1].copy())),
    "row pointers too short": ("ease", set_array("X_indptr", lambda a: a[:-3])),
    "training matrix NaN": ("ease", set_array("X_data", nan_first)),
    "matrix shape lies": ("ease", set_array("X_shape", np.array([5, 5]))),
    "customer ids truncated": ("als", set_array("customer_ids", lambda a: a[:-10])),
    "item ids duplicated": ("als", set_array("item_ids", lambda a: np.r_[a[:-1], a[:1]])),
    "customer ids are numbers": ("als", set_array("customer_ids",
                                                  lambda a: np.arange(len(a)))),
    "factors missing": ("als", drop_array("state_user_factors")),
    "factors NaN": ("als", set_array("state_user_factors", nan_first)),
    "factors wrong width": ("als", set_array("state_item_factors", lambda a: a[:, :3])),
    "EASE weights wrong shape": ("ease", set_array("state_B", lambda a: a[:5])),
    "EASE history index out of range": ("ease", set_array("state_H_indices",
                                                          lambda a: a * 0 + 10**7)),
    "kNN neighbour out of range": ("itemknn", set_array("state_S_indices",
                                                        lambda a: a * 0 - 5)),
    "popularity counts short": ("popularity", set_array("state_counts", lambda a: a[:4])),
    "propensity pair index out of range": ("propensity", set_array(
        "state_pf_count_indices", lambda a: a * 0 + 10**6)),
    "propensity weights wrong shape": ("propensity", set_array("state_weights",
                                                               lambda a: a[:, :3])),
    "two-tower history index out of range": ("two_tower", set_array(
        "state_hist_now", lambda a: a * 0 + 10**6)),
    "two-tower category out of range": ("two_tower", set_array(
        "state_item_cat", lambda a: a * 0 + 999)),
    "two-tower net missing": ("two_tower", lambda f: (f / "net.pt").unlink()),
    "two-tower net garbage": ("two_tower", lambda f: (f / "net.pt").write_bytes(b"\x80junk")),
    "two-tower net from another shape": ("two_tower", net_state(
        lambda s: s.__setitem__("item_id.weight", torch.zeros(3, 3)))),
    "two-tower net NaN weights": ("two_tower", net_state(
        lambda s: s["item_id.weight"].fill_(float("nan")))),
    "item2vec vectors NaN": ("item2vec", set_array("state_V", nan_first)),
    "config missing": ("ease", lambda f: (f / "config.json").unlink()),
    "config not json": ("ease", lambda f: (f / "config.json").write_text("{nope")),
    "config unknown model": ("ease", edit_config(lambda m: m.__setitem__("model", "evil"))),
    "config bad value": ("two_tower", edit_config(lambda m: m["config"].__setitem__("dim",
                                                                                   "abc"))),
    "config negative size": ("als", edit_config(lambda m: m["config"].__setitem__("factors",
                                                                                 -4))),
    "state missing": ("ease", lambda f: (f / "state.npz").unlink()),
    "state truncated": ("ease", lambda f: (f / "state.npz").write_bytes(
        (f / "state.npz").read_bytes()[:500])),
    "state holds pickled objects": ("ease", pickled_array),
    "folder links outside": ("ease", link_out),
    "file links outside": ("ease", link_file),
    "meta not json": ("ease", lambda f: (f / "meta.json").write_text("[garbage")),
}

CHILD = """
import json, sys
from recsys.workspace import Workspace
ws = Workspace(sys.argv[1])
out = {}
for name in json.loads(sys.argv[2]):
    try:
        model = ws.load_model(name)
        items, scores = model.recommend(list(model.customer_ids_[:3]), n=3)
        out[name] = "loaded; finite scores: %s" % bool((scores > -1e30).all())
    except Exception as exc:
        out[name] = "refused %s: %s" % (type(exc).__name__, exc)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tampered(clustered_data, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    ws = Workspace(tmp_path_factory.mktemp("tampered-ws"))
    for model, params in SOURCES.items():
        ws.save_model(make_model(model, **params).fit(clustered_data), f"src-{model}")
    names = {}
    for i, (case, (model, tamper)) in enumerate(CASES.items()):
        name = f"case{i:02d}"
        shutil.copytree(ws.root / "models" / f"src-{model}", ws.root / "models" / name)
        tamper(ws.root / "models" / name)
        names[case] = name
    return ws.root, names


def test_enough_cases():
    assert len(CASES) >= 25


def test_every_tampered_model_is_refused(tampered):
    root, names = tampered
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), json.dumps(
        list(names.values()))], capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, f"the loading process died ({proc.returncode}): " \
        f"{proc.stderr[-2000:]}"
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    results = {case: outcome[name] for case, name in names.items()}
    for case, text in results.items():
        print(f"{case:<40} {text[:150]}")
    bad = {c: t for c, t in results.items() if not t.startswith(("refused ModelFileError",
                                                                   "refused StoreError"))}
    assert not bad, bad
    messages = [t.split(": ", 1)[1] for t in results.values()]
    assert all("\n" not in m and len(m) < 400 for m in messages)


def test_untouched_models_still_load(tampered):
    root, _ = tampered
    ws = Workspace(root)
    for model in SOURCES:
        assert ws.load_model(f"src-{model}").recommend(["c000"], n=2)[0].shape == (1, 2)

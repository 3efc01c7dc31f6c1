"""The workspace: datasets (Parquet + JSON), trained models (folders) and benchmark results.

Every write goes to a temporary sibling first and is renamed into place, so a crash never
leaves half a dataset or model behind. Nothing here uses pickle.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

WORKSPACE_ENV = "RECSYS_WORKSPACE"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,99}$")


class StoreError(ValueError):
    """A name is invalid or an entry does not exist."""


def workspace(path: str | Path | None = None) -> Path:
    """The workspace folder: the argument, else $RECSYS_WORKSPACE, else ./workspace."""
    root = Path(path or os.environ.get(WORKSPACE_ENV) or "workspace")
    root.mkdir(parents=True, exist_ok=True)
    return root


def check_name(name: str) -> str:
    if not _NAME.match(name or "") or ".." in name:
        raise StoreError(f"Invalid name {name!r}: use letters, digits, space, '_', '-', '.'")
    return name


def workspace_secret(root: str | Path | None = None) -> bytes:
    """A per-workspace random key (for pseudonymising e-mails), created on first use."""
    path = workspace(root) / ".secret"
    if not path.exists():
        atomic_write_bytes(path, secrets.token_hex(32).encode())
        os.chmod(path, 0o600)
    return path.read_bytes().strip()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, default=str).encode())


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def atomic_dir(target: Path) -> Path:
    """A fresh temporary folder next to target; pass it to ``commit_dir`` when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))


def commit_dir(tmp: Path, target: Path) -> None:
    """Swap a completed temporary folder into place (replacing an older version)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old.{secrets.token_hex(4)}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- datasets
def save_dataset(data, name: str, root: str | Path | None = None,
                 kind: str = "datasets") -> Path:
    """Write an OrderData as Parquet tables plus meta.json (import and cleaning reports).
    ``kind='cache'`` keeps it out of the dataset list (generated data such as the demo)."""
    target = workspace(root) / kind / check_name(name)
    tmp = atomic_dir(target)
    try:
        data.interactions.to_parquet(tmp / "interactions.parquet", index=False)
        data.products.to_parquet(tmp / "products.parquet", index=False)
        data.customers.to_parquet(tmp / "customers.parquet", index=False)
        if data.signals is not None:
            data.signals.to_parquet(tmp / "signals.parquet", index=False)
        write_json(tmp / "meta.json", {"name": name, "report": data.report,
                                       "summary": data.summary()})
        commit_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_dataset(name: str, root: str | Path | None = None, kind: str = "datasets"):
    from recsys.data import OrderData

    folder = workspace(root) / kind / check_name(name)
    if not (folder / "meta.json").exists():
        raise StoreError(f"No dataset named {name!r} in {folder.parent}")
    meta = read_json(folder / "meta.json")
    signals = folder / "signals.parquet"
    return OrderData(
        interactions=pd.read_parquet(folder / "interactions.parquet"),
        products=pd.read_parquet(folder / "products.parquet"),
        customers=pd.read_parquet(folder / "customers.parquet"),
        report=meta.get("report", {}),
        signals=pd.read_parquet(signals) if signals.exists() else None,
    )


def _list(kind: str, root: str | Path | None) -> list[dict]:
    folder = workspace(root) / kind
    out = []
    for d in sorted(folder.iterdir()) if folder.exists() else []:
        meta = d / "meta.json"
        if d.is_dir() and not d.name.startswith(".") and meta.exists():
            out.append({"name": d.name, **read_json(meta)})
    return out


def list_datasets(root: str | Path | None = None) -> list[dict]:
    return _list("datasets", root)


def delete_entry(kind: str, name: str, root: str | Path | None = None) -> None:
    """Delete a dataset or model folder by name ('datasets' or 'models')."""
    folder = workspace(root) / kind / check_name(name)
    if not folder.exists():
        raise StoreError(f"No {kind[:-1]} named {name!r}")
    shutil.rmtree(folder)


# ---------------------------------------------------------------- models
def model_dir(name: str, root: str | Path | None = None) -> Path:
    return workspace(root) / "models" / check_name(name)


def save_model(model, name: str, metrics: dict | None = None,
               root: str | Path | None = None, dataset: str | None = None) -> Path:
    """Save a fitted model into the workspace with its metrics and the dataset name."""
    target = model_dir(name, root)
    tmp = atomic_dir(target)
    try:
        model.save(tmp)
        write_json(tmp / "meta.json", {"model": model.name, "dataset": dataset,
                                       "metrics": metrics or {}, "params": model.params()})
        commit_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_model(name: str, root: str | Path | None = None):
    from recsys.models import load_model as _load

    folder = model_dir(name, root)
    if not folder.exists():
        raise StoreError(f"No model named {name!r}")
    return _load(folder)


def list_models(root: str | Path | None = None) -> list[dict]:
    return _list("models", root)


def save_result(name: str, result: dict, root: str | Path | None = None) -> Path:
    path = workspace(root) / "results" / f"{check_name(name)}.json"
    write_json(path, result)
    return path

"""The workspace: every file the product keeps, and the only code that builds paths into it.

Layout under the root (``./workspace`` or ``$RECSYS_WORKSPACE``)::

    datasets/<name>/   imported shops: Parquet (order lines in monthly partitions, see
                       ``recsys.data.storage``) + meta.json (fingerprint, reports)
    cache/<tag>/       generated data kept between starts (the demo shop)
    models/<id>/       fitted models: the model's own folder + meta.json (what it was
                       trained on, how it scored, which job made it)
    results/<key>/     stored results of jobs (projections, segments, benchmarks)
    uploads/<digest>/  uploaded files waiting for (or kept after) their import job
    jobs.sqlite        the job records (``recsys.jobs``); logs/ the workers' logs
    ray/               Ray Train runs while they run (unless $RECSYS_RAY_STORAGE says)

Every write goes to a temporary sibling first and is renamed into place, so a crash never
leaves half a dataset or model behind. Nothing here uses pickle. A dataset's *fingerprint* is a
hash of its stored bytes: caches and results are keyed by it, never by a name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recsys import keys
from recsys.data import ImportReport, OrderData, storage
from recsys.data.readers import RawSource
from recsys.datasets import demo_tag, load_demo
from recsys.models import load_model
from recsys.records import ModelRecord, TrainedOn

WORKSPACE_ENV = "RECSYS_WORKSPACE"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{0,99}")
_UPLOAD = re.compile(r"\.?[A-Za-z0-9][A-Za-z0-9_.\-]{0,120}")
_TABLES = ("interactions", "products", "customers", "signals")


class StoreError(ValueError):
    """A name is invalid or an entry does not exist."""


def check_name(name: str) -> str:
    """A name that is safe as one folder name (no separators, no '..', no control chars)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise StoreError(f"Invalid name {name!r}: use up to 100 letters, digits, spaces, "
                         "'_', '-' or '.', starting with a letter or digit.")
    return name


def name_key(name: str) -> str:
    """What two names that people would confuse have in common: 'My Shop', 'my-shop' and
    'my_shop ' are one name."""
    return re.sub(r"[\s_.\-]+", "-", name.strip().lower()).strip("-")


MAX_LABEL = 100


def check_label(label: str) -> str:
    """A model's display name: printable, at most ``MAX_LABEL`` characters."""
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL \
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        shown = label[:40] + "…" if isinstance(label, str) and len(label) > 40 else label
        raise StoreError(f"Invalid model name {shown!r}: use 1 to {MAX_LABEL} printable "
                         "characters.")
    return label.strip()


def safe_name(text: str, fallback: str = "my-shop") -> str:
    """A valid name made from free text (a file's name): odd characters become '-'."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip(" .-_")[:60].strip(" .-_")
    return name if name and _NAME.fullmatch(name) and ".." not in name else fallback


@dataclass(frozen=True)
class DatasetRef:
    """Which dataset: the generated demo shop, or one saved in a workspace by name (``team``:
    in the team's shared workspace rather than the analyst's own)."""

    kind: str = "demo"
    name: str = ""
    team: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("demo", "saved"):
            raise ValueError(f"Unknown dataset kind {self.kind!r}")
        if self.kind == "saved":
            check_name(self.name)

    @classmethod
    def demo(cls) -> DatasetRef:
        return cls("demo")

    @classmethod
    def saved(cls, name: str, team: bool = False) -> DatasetRef:
        return cls("saved", name, team)

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"

    @property
    def label(self) -> str:
        if self.is_demo:
            return "Demo shop (generated)"
        return f"team · {self.name}" if self.team else self.name

    @property
    def address(self) -> str:
        """How the dataset is named in the page address (``?dataset=...``)."""
        return ("team:" if self.team else "") + self.name

    @classmethod
    def from_address(cls, text: str) -> DatasetRef:
        team = text.startswith("team:")
        return cls.saved(text.removeprefix("team:"), team)


# ---------------------------------------------------------------- atomic files
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


class _AtomicDir:
    """``with _AtomicDir(target) as tmp:`` fill tmp; on success it replaces target whole."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.target.parent, prefix=f".{self.target.name}."))
        return self.tmp

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old.{secrets.token_hex(4)}")
            os.replace(self.target, old)
        os.replace(self.tmp, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _meta(path: Path) -> dict[str, Any]:
    """A meta.json that is a JSON object, or a StoreError."""
    try:
        meta = read_json(path)
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path.parent.name}: meta.json is unreadable ({exc}).") from None
    if not isinstance(meta, dict):
        raise StoreError(f"{path.parent.name}: meta.json is not a description.")
    return meta


def file_digest(paths: list[Path]) -> str:
    """sha256 over the files' bytes, read in blocks (never a DataFrame)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:24]


# ---------------------------------------------------------------- the workspace
class Workspace:
    """One analyst's (or one server's) files. ``Workspace()`` is ``$RECSYS_WORKSPACE`` or
    ``./workspace``; the folder is created on first write."""

    def __init__(self, root: str | Path | None = None, create_key: bool = True) -> None:
        self.root = Path(root or os.environ.get(WORKSPACE_ENV) or "workspace")
        self.create_key = create_key

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def for_user(self, user: str) -> Workspace:
        """A signed-in analyst's private workspace inside this one (named by a hash of
        their identity, never the identity itself)."""
        uid = hashlib.sha256(user.encode()).hexdigest()[:16]
        return Workspace(self._dir("users", uid), create_key=self.create_key)

    def team(self) -> Workspace:
        """The workspace shared by everyone signed in to this server."""
        return Workspace(self._dir("team"), create_key=self.create_key)

    def share_dataset(self, name: str, to: Workspace) -> DatasetRef:
        """Copy a dataset and the models trained on it into another workspace (the team's),
        on purpose: nothing is shared otherwise."""
        src = self._dataset_dir(DatasetRef.saved(name))
        if not (src / "meta.json").exists():
            raise StoreError(f"No dataset named {name!r}")
        to.receive_dataset(src, name)
        fingerprint = self.fingerprint(DatasetRef.saved(name))
        for record in self.model_records(fingerprint=fingerprint):
            if record.trained_on in (TrainedOn.HOLDOUT, TrainedOn.ALL):
                to.receive_model(self._dir("models", record.name), record.name)
        return DatasetRef.saved(name, team=True)

    def receive_model(self, folder: Path, name: str) -> None:
        """A copy of another workspace's stored model folder, under ``name``."""
        with _AtomicDir(self._dir("models", check_name(name))) as tmp:
            shutil.copytree(folder, tmp, dirs_exist_ok=True, symlinks=True)

    def receive_dataset(self, folder: Path, name: str) -> None:
        """A copy of another workspace's stored dataset folder, under ``name``."""
        with _AtomicDir(self._dataset_dir(DatasetRef.saved(name))) as tmp:
            shutil.copytree(folder, tmp, dirs_exist_ok=True, symlinks=True)

    def _dir(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def _safe(self, folder: Path, only: str | None = None) -> Path:
        """A stored folder that is what it says: no links anywhere in it (or in the one file
        ``only`` that is about to be read: pages ask for a dataset's meta on every run, and
        its partitions are many files), and inside the workspace (a link to elsewhere would
        read files nobody meant to share)."""
        root = self.root.resolve()
        if folder.is_symlink() or not folder.resolve().is_relative_to(root):
            raise StoreError(f"{folder.name} points outside the workspace; refusing to read it.")
        if only is not None:
            if (folder / only).is_symlink():
                raise StoreError(f"{folder.name} holds links to files elsewhere; refusing to "
                                 "read it.")
            return folder
        if any(p.is_symlink() for p in folder.rglob("*")):
            raise StoreError(f"{folder.name} holds links to files elsewhere; refusing to read "
                             "it.")
        return folder

    # ------------------------------------------------------------ secrets
    def pii_key(self) -> bytes:
        """The key that pseudonymises customer identities: never stored in the workspace
        (see ``recsys.keys``); only a local workspace may create it on first use."""
        return keys.pii_key(create=self.create_key, legacy=self._dir(".secret"),
                            pin=self._dir(keys.PIN_FILE))

    def key_note(self) -> str:
        """Which key this workspace's pseudonyms use, in words (no path, no key)."""
        if self._dir(keys.PIN_FILE).exists():
            return ("this workspace's own key, kept from an earlier version so that its "
                    "datasets' pseudonyms stay valid")
        return "the server's key, kept outside every workspace"

    # ------------------------------------------------------------ datasets
    def _dataset_dir(self, ref: DatasetRef) -> Path:
        if ref.is_demo:

            return self._dir("cache", demo_tag())
        return self._dir("datasets", check_name(ref.name))

    def location(self, ref: DatasetRef) -> Path:
        """The folder a dataset is stored in (for messages; read it through this class)."""
        return self._dataset_dir(ref)

    def check_new_dataset(self, name: str, replace: bool = False) -> str:
        """A name a new dataset may take: valid, without spaces around it, not another
        dataset's (unless ``replace``), and not one easily confused with another's ('X',
        'x ' and 'x' would be three datasets)."""
        check_name(name)
        if name != name.strip():
            raise StoreError(f"Invalid name {name!r}: no spaces at the start or end.")
        folder = self._dir("datasets")
        for d in sorted(folder.iterdir()) if folder.is_dir() else []:
            if d.name.startswith(".") or not (d / "meta.json").exists():
                continue
            if d.name == name and not replace:
                raise StoreError(f"A dataset named {name!r} exists already: choose another "
                                 "name, or replace it (--replace; 'Replace' on the Data "
                                 "page).")
            if d.name != name and name_key(d.name) == name_key(name):
                raise StoreError(f"The name {name!r} is too like the dataset {d.name!r} "
                                 "already here (names that differ only in case, spaces or "
                                 f"punctuation get confused): use {d.name!r} to replace it, "
                                 "or another name.")
        return name

    def save_dataset(self, data, name: str) -> DatasetRef:
        """Store an OrderData under ``name`` (replacing any dataset of that name)."""
        ref = DatasetRef.saved(name)
        self._write_dataset(data, self._dataset_dir(ref), name)
        return ref

    def _write_dataset(self, data, target: Path, name: str) -> None:
        with _AtomicDir(target) as tmp:
            files = storage.write_tables({t: getattr(data, t) for t in _TABLES}, tmp)
            write_json(tmp / "meta.json", {"name": name, "fingerprint": file_digest(files),
                                           "report": data.report.to_dict(),
                                           "summary": data.summary(),
                                           "saved_at": time.strftime("%Y-%m-%d %H:%M:%S")})

    def dataset_meta(self, ref: DatasetRef) -> dict[str, Any]:
        """meta.json of a dataset (name, fingerprint, report, summary); the demo is built
        and stored on first use."""
        folder = self._dataset_dir(ref)
        if ref.is_demo and not (folder / "meta.json").exists():

            self._write_dataset(load_demo(), folder, "demo")
        if not (folder / "meta.json").exists():
            raise StoreError(f"No dataset named {ref.name!r} in this workspace.")
        return _meta(self._safe(folder, only="meta.json") / "meta.json")

    def set_currency(self, ref: DatasetRef, code: str | None) -> None:
        """The analyst's word on a dataset's currency (kept beside its data, not in it)."""
        folder = self._dataset_dir(ref)
        meta = self.dataset_meta(ref)
        meta["currency"] = (code or "").strip().upper()[:8] or None
        write_json(folder / "meta.json", meta)

    def has_dataset(self, ref: DatasetRef) -> bool:
        return (self._dataset_dir(ref) / "meta.json").exists()

    def fingerprint(self, ref: DatasetRef) -> str:
        return str(self.dataset_meta(ref)["fingerprint"])

    def load_dataset(self, ref: DatasetRef):
        """The stored OrderData (the demo shop is generated and stored on first use)."""
        meta = self.dataset_meta(ref)
        folder = self._safe(self._dataset_dir(ref))
        for attempt in range(3):
            try:
                tables = storage.read_tables(folder)
                break
            except FileNotFoundError:
                # Replaced while being read (another process stored it anew): read the new.
                if attempt == 2:
                    raise StoreError(f"{ref.label}: the stored dataset kept changing while "
                                     "it was read; try again.") from None
            except (OSError, ValueError, KeyError) as exc:  # pyarrow's errors among these
                raise StoreError(f"{ref.label}: the stored dataset is damaged ({exc}); "
                                 "import it again.") from None
        return OrderData(
            interactions=tables["interactions"], products=tables["products"],
            customers=tables["customers"], report=ImportReport.from_dict(meta.get("report")),
            signals=tables["signals"])

    def list_datasets(self) -> list[dict[str, Any]]:
        return self._list("datasets")

    def delete_dataset(self, name: str) -> None:
        self._delete("datasets", name)

    # ------------------------------------------------------------ models
    def save_model(self, model, record: ModelRecord | str) -> Path:
        """Store a fitted model under ``record.name`` with what it was trained on and how it
        scored (the record; the model's own name and settings are filled in). A bare name
        stores it as fitted on all of its data, with nothing more said."""
        if isinstance(record, str):
            record = ModelRecord(record, model.name, {}, TrainedOn.ALL)
        target = self._dir("models", check_name(record.name))
        if record.label is not None:
            record = record.but(label=check_label(record.label))
        record = record.but(model=model.name, params=model.params(),
                            created=record.created or time.time())
        with _AtomicDir(target) as tmp:
            model.save(tmp)
            write_json(tmp / "meta.json", record.to_meta())
        return target

    def load_model(self, name: str):
        folder = self._dir("models", check_name(name))
        if not folder.is_dir():
            raise StoreError(f"No model named {name!r}")
        self.model_record(name)  # a model the workspace cannot describe is not used either
        return load_model(self._safe(folder))

    def model_files(self, name: str) -> list[tuple[str, Path]]:
        """A stored model's files as (path inside its folder, path), for an export."""
        folder = self._dir("models", check_name(name))
        if not (folder / "meta.json").exists():
            raise StoreError(f"No model named {name!r}")
        folder = self._safe(folder)
        return [(p.relative_to(folder).as_posix(), p) for p in sorted(folder.rglob("*"))
                if p.is_file()]

    def model_stamp(self, name: str) -> str:
        """What a stored model's folder holds now (names, sizes, modification times): a
        server that keeps a model in memory serves it only while this is unchanged, so a
        folder damaged or replaced on disk is read again (and refused if damaged)."""
        folder = self._dir("models", check_name(name))
        if not folder.is_dir():
            raise StoreError(f"No model named {name!r}")
        h = hashlib.sha256()
        for path in sorted(folder.rglob("*")):
            try:
                st = path.lstat()
            except OSError:
                continue
            h.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]

    def has_model(self, name: str) -> bool:
        return (self._dir("models", check_name(name)) / "meta.json").exists()

    def model_record(self, name: str) -> ModelRecord:
        """What the workspace knows about a stored model."""
        path = self._dir("models", check_name(name), "meta.json")
        if not path.exists():
            raise StoreError(f"No model named {name!r}")
        return ModelRecord.from_meta(_meta(self._safe(path.parent) / "meta.json"), name)

    def update_model(self, name: str, **changes: Any) -> ModelRecord:
        """Change a stored model's description (its label, say); the model is untouched."""
        if changes.get("label") is not None:
            changes["label"] = check_label(changes["label"])
        record = self.model_record(name).but(**changes)
        write_json(self._dir("models", name, "meta.json"), record.to_meta())
        return record

    def model_records(self, **match: Any) -> list[ModelRecord]:
        """Stored models, newest first; ``match`` keeps those whose fields equal these
        (``fingerprint=...``, ``trained_on=TrainedOn.HOLDOUT``, ``group=...``)."""
        found = [ModelRecord.from_meta(m, m["name"]) for m in self._list("models")]
        found = [r for r in found if all(getattr(r, k) == v for k, v in match.items())]
        return sorted(found, key=lambda r: -float(r.created or 0))

    def delete_model(self, name: str) -> None:
        self._delete("models", name)

    def relabel_configuration(self, group: str, fingerprint: str, label: str) -> None:
        """Name a model configuration of a dataset (its holdout model and its refit) anew."""
        for r in self.model_records(group=group, fingerprint=fingerprint):
            self.update_model(r.name, label=label)

    def delete_configuration(self, group: str, fingerprint: str) -> None:
        """Delete a model configuration of a dataset (its holdout model and its refit)."""
        for r in self.model_records(group=group, fingerprint=fingerprint):
            self.delete_model(r.name)

    # ------------------------------------------------------------ results
    def save_result(self, key: str, summary: dict[str, Any],
                    frames: dict[str, pd.DataFrame] | None = None,
                    arrays: dict[str, Any] | None = None,
                    job: dict[str, Any] | None = None) -> None:
        """A job's result: a JSON summary, tables (Parquet) and arrays (.npz, no pickle);
        ``job``: the record of the job that made it (kept beside it, for a rebuilt table)."""
        import numpy as np

        with _AtomicDir(self._dir("results", check_name(key))) as tmp:
            for name, frame in (frames or {}).items():
                frame.to_parquet(tmp / f"{check_name(name)}.parquet", index=False)
            if arrays:
                np.savez(tmp / "arrays.npz", **arrays)
            if job is not None:
                write_json(tmp / "job.json", job)
            write_json(tmp / "result.json", summary)

    def list_results(self) -> list[tuple[str, dict[str, Any] | None]]:
        """(key, the job record kept beside it or None) of every stored result."""
        folder = self._dir("results")
        out = []
        for d in sorted(folder.iterdir()) if folder.is_dir() else []:
            if d.is_dir() and not d.is_symlink() and not d.name.startswith(".") \
                    and (d / "result.json").exists():
                try:
                    job = read_json(d / "job.json") if (d / "job.json").exists() else None
                except (OSError, ValueError):
                    job = None
                out.append((d.name, job if isinstance(job, dict) else None))
        return out

    def delete_result(self, key: str) -> None:
        shutil.rmtree(self._dir("results", check_name(key)), ignore_errors=True)

    def result_stamp(self, key: str) -> float:
        """When a stored result was written (a result is replaced whole, its summary last)."""
        try:
            return (self._dir("results", check_name(key)) / "result.json").stat().st_mtime
        except FileNotFoundError:
            raise StoreError(f"No stored result {key!r}") from None

    def has_result(self, key: str) -> bool:
        return (self._dir("results", check_name(key)) / "result.json").exists()

    def load_result(self, key: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame],
                                             dict[str, Any]]:
        """(summary, tables, arrays) of a stored result."""
        import numpy as np

        folder = self._dir("results", check_name(key))
        if not (folder / "result.json").exists():
            raise StoreError(f"No stored result {key!r}")
        frames = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
        arrays = {}
        if (folder / "arrays.npz").exists():
            with np.load(folder / "arrays.npz", allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        return read_json(folder / "result.json"), frames, arrays

    # ------------------------------------------------------------ uploads, jobs, logs
    def stash_upload(self, files: list[tuple[str, bytes]]) -> str:
        """Keep uploaded files for an import job; returns their digest (the folder's key)."""
        h = hashlib.sha256()
        for name, data in files:
            h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        digest = h.hexdigest()[:24]
        folder = self._dir("uploads", digest)
        if not folder.is_dir():
            with _AtomicDir(folder) as tmp:
                for i, (_name, data) in enumerate(files):
                    (tmp / f"{i:03d}").write_bytes(data)
                write_json(tmp / "names.json", [Path(n).name for n, _ in files])
        return digest

    def upload_sources(self, digest: str) -> list:
        """The stashed files as RawSources (read from disk, under their original names)."""
        folder = self._dir("uploads", check_name(digest))
        if not (folder / "names.json").exists():
            raise StoreError("The uploaded files are no longer in the workspace; upload again.")
        names = read_json(folder / "names.json")
        return [RawSource(name=n, path=folder / f"{i:03d}") for i, n in enumerate(names)]

    def drop_upload(self, digest: str) -> None:
        """Remove a stashed upload, or an import's scratch folder, or what a stash that was
        killed halfway left behind (a hidden temporary folder)."""
        if not _UPLOAD.fullmatch(digest) or ".." in digest:
            raise StoreError(f"Invalid upload name {digest!r}")
        shutil.rmtree(self._dir("uploads", digest), ignore_errors=True)

    def import_scratch(self, key: str) -> Path:
        """Where an import decompresses its input (``key``: its upload, or 'job-<id>' for
        files read from elsewhere): in the uploads area, so that a sweep removes it with
        the upload whatever way the import ends."""
        folder = self._dir("uploads", check_name(key), "scratch")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def list_uploads(self) -> list[tuple[str, float]]:
        """(digest, age in seconds) of every stashed upload (half-written ones included)."""
        folder = self._dir("uploads")
        out = []
        now = time.time()
        for d in folder.iterdir() if folder.is_dir() else []:
            if d.is_dir() and not d.is_symlink():
                try:
                    age = now - d.stat().st_mtime
                except OSError:
                    continue
                out.append((d.name, age))
        return out

    def ray_storage(self) -> Path:
        """Where Ray Train runs keep their checkpoints while they run (the workspace is the
        path every node of a cluster reads, so it is theirs too)."""
        return self._dir("ray")

    def jobs_db(self) -> Path:
        """The job table's file (``recsys.jobs.store`` makes it, and the folder, when it
        first writes)."""
        return self._dir("jobs.sqlite")

    def log_file(self, name: str) -> Path:
        path = self._dir("logs", check_name(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------ listing
    def _list(self, kind: str) -> list[dict[str, Any]]:
        folder = self._dir(kind)
        out = []
        for d in sorted(folder.iterdir()) if folder.is_dir() else []:
            meta = d / "meta.json"
            if d.is_dir() and not d.is_symlink() and not d.name.startswith(".") \
                    and meta.exists() and not meta.is_symlink():
                try:
                    out.append({**_meta(meta), "name": d.name})
                except StoreError:
                    continue  # a damaged entry is left out of lists (and refused if opened)
        return out

    def _delete(self, kind: str, name: str) -> None:
        folder = self._dir(kind, check_name(name))
        if not folder.is_dir():
            raise StoreError(f"No {kind[:-1]} named {name!r}")
        shutil.rmtree(folder)

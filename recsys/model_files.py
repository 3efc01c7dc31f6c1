"""A trained model as one file, to carry it between workspaces and machines.

The file is a zip archive: ``card.json`` (the model card: what the model is, what it was
trained on -- the dataset's fingerprint, period and size, its settings -- and its holdout
score) and ``model/`` (the model's own folder: JSON config, ``.npz`` arrays, a torch state
dict). Nothing in it is pickled, nothing in it is trusted: an upload is hostile input until
every entry passed the checks below and the model loaded through the same array-by-array
checks as a stored model (``recsys.models.stored``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recsys.models import ModelFileError, load_model, registry
from recsys.records import ModelRecord, ScoreRow, TrainedOn
from recsys.workspace import DatasetRef, Workspace

FORMAT = "recsys-model/1"
SUFFIX = ".recsys-model.zip"
MAX_FILE_BYTES = 1 << 30  # what an upload may weigh (the app's upload limit is lower)
MAX_UNPACKED_BYTES = 4 << 30  # what its entries may unpack to, all together
MAX_ENTRIES = 200
MAX_RATIO = 200  # unpacked / packed per entry: more is a zip bomb, not a model
MAX_CARD_BYTES = 1 << 20
_ENTRY = re.compile(r"model/[A-Za-z0-9_][A-Za-z0-9_.\-]{0,100}(/[A-Za-z0-9_][A-Za-z0-9_.\-]"
                    r"{0,100}){0,3}")


@dataclass(frozen=True)
class Imported:
    """A model taken in: its record in this workspace, its card, and how much of the
    dataset in view it knows (shares of customers and products)."""

    record: ModelRecord
    card: dict[str, Any]
    same_data: bool
    customers_known: float
    products_known: float

    def message(self) -> str:
        """What the analyst is told, in one paragraph."""
        what = f"{self.record.display} ({self.card.get('model')})"
        if self.same_data:
            return (f"{what} is in: trained on this very dataset, so it serves the pages and "
                    "keeps its holdout score.")
        return (f"{what} is in, trained on other data ({_period(self.card)}): it knows "
                f"{self.customers_known:.0%} of this dataset's customers and "
                f"{self.products_known:.0%} of its products. Its holdout score was measured "
                "there, so it is not ranked against this dataset's models.")


def key_id(ws: Workspace) -> str:
    """A public name of the pseudonymisation key (never the key): two workspaces with the
    same id give a customer the same pseudonym."""
    return hashlib.sha256(b"recsys key id\0" + ws.pii_key()).hexdigest()[:12]


def model_card(ws: Workspace, name: str) -> dict[str, Any]:
    """What a stored model is and was trained on, as plain JSON."""
    r = ws.model_record(name)
    card: dict[str, Any] = {
        "format": FORMAT, "model": r.model, "label": r.display, "settings": r.params,
        "trained_on": r.trained_on.value, "partial": r.partial, "cutoff": r.cutoff,
        "window_days": r.window_days, "fit_seconds": r.fit_seconds,
        "dataset": {"fingerprint": r.fingerprint, "key_id": key_id(ws)},
        "holdout": _holdout_score(ws, r), "exported": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    d = r.dataset if isinstance(r.dataset, dict) else {}
    ref = DatasetRef(d.get("kind", "demo"), d.get("name", "")) if d else None
    if ref is not None and ws.has_dataset(ref):
        summary = ws.dataset_meta(ref).get("summary") or {}
        card["dataset"].update(label=ref.label, **{k: summary.get(k) for k in
                               ("first", "last", "lines", "customers", "items")})
    return card


def _holdout_score(ws: Workspace, r: ModelRecord) -> dict[str, Any] | None:
    """The record's own holdout score, or (for a refit) its holdout model's."""
    if r.metrics is not None:
        return r.metrics.to_dict()
    for other in ws.model_records(group=r.group) if r.group else []:
        if other.trained_on is TrainedOn.HOLDOUT and other.metrics is not None:
            return other.metrics.to_dict()
    return None


def export_model(ws: Workspace, name: str) -> tuple[bytes, str]:
    """One stored model as a file's bytes, and a file name for it."""
    card = model_card(ws, name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("card.json", json.dumps(card, indent=2, default=str))
        for rel, path in ws.model_files(name):
            if rel != "meta.json":  # the card says it, in a form made for others
                z.write(path, "model/" + rel)
    return buf.getvalue(), file_name(card["label"], card["model"])


def file_name(label: str, model: str) -> str:
    """What a model's file is called: its name, in characters every system takes."""
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "-", label).strip("-.")[:60] or model
    return f"{stem}{SUFFIX}"


def read_card(data: bytes) -> dict[str, Any]:
    """The card of a model file, after the archive passed its checks."""
    with _archive(data) as z:
        return _card(z)


def import_model(ws: Workspace, data: bytes, ref: DatasetRef, view) -> Imported:
    """Take a model file into ``ws`` for the dataset ``ref`` (its data ``view``): refused
    with one ``ModelFileError`` line if the file is not a sound model or knows none of the
    dataset's products."""
    fingerprint = ws.fingerprint(ref)
    with _archive(data) as z, tempfile.TemporaryDirectory() as tmp:
        card = _card(z)
        folder = Path(tmp, "model")
        for info in z.infolist():
            if info.filename.startswith("model/") and not info.is_dir():
                target = folder / info.filename[len("model/"):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(_read(z, info))
        try:
            model = load_model(folder)
        except ModelFileError as exc:
            why = str(exc).replace(" Delete it and train the model again.", "")
            raise ModelFileError(f"Refused: the model in this file is damaged or tampered "
                                 f"with ({why})") from None
        if model.name != card["model"]:
            raise ModelFileError(f"Refused: the card says {card['model']}, the file holds "
                                 f"{model.name}.")
        same = card["dataset"].get("fingerprint") == fingerprint
        known_c, known_p = _known(view.customer_ids, model.customer_ids_), \
            _known(view.item_ids, model.item_ids_)
        if not same and known_p == 0:
            raise ModelFileError(_no_overlap(ws, card, ref))
        record = _record(card, fingerprint, ref, same, data)
        (folder / "meta.json").write_text(json.dumps(record.to_meta(), default=str))
        ws.receive_model(folder, record.name)
    return Imported(record, card, same, known_c, known_p)


def _record(card: dict[str, Any], fingerprint: str, ref: DatasetRef, same: bool,
            data: bytes) -> ModelRecord:
    name = "imported-" + hashlib.sha256(data).hexdigest()[:12]
    holdout = card.get("holdout")
    try:
        score = ScoreRow.from_dict(holdout) if same and isinstance(holdout, dict) and \
            holdout.get("ndcg") is not None else None
    except (TypeError, ValueError):
        raise ModelFileError("Refused: the model card's holdout score is not numbers.") \
            from None
    label = str(card.get("label") or card["model"])[:50] + " · imported"
    return ModelRecord(name, card["model"], dict(card.get("settings") or {}), TrainedOn.ALL,
                       created=time.time(), label=label, fingerprint=fingerprint,
                       dataset={"kind": ref.kind, "name": ref.name}, group=name,
                       partial=bool(card.get("partial")), metrics=score,
                       origin={k: card.get(k) for k in ("dataset", "exported", "holdout",
                                                         "trained_on", "cutoff")})


def _known(ids: np.ndarray, known: np.ndarray) -> float:
    """The share of ``ids`` (the dataset's) that the model knows."""
    return float(np.isin(ids, known).mean()) if len(ids) else 0.0


def _no_overlap(ws: Workspace, card: dict[str, Any], ref: DatasetRef) -> str:
    other_key = card["dataset"].get("key_id") not in (None, key_id(ws))
    return (f"Refused: this model knows none of {ref.label}'s products; it was trained on "
            f"another shop ({_period(card)})"
            + ("; its customers were also pseudonymised with another server's key." if other_key
               else "."))


def _period(card: dict[str, Any]) -> str:
    d = card.get("dataset") or {}
    first, last = str(d.get("first") or "?")[:10], str(d.get("last") or "?")[:10]
    return f"{d.get('label') or 'a dataset'}, {first} to {last}"


class _archive:
    """The zip archive of a model file, opened only after its size, entry names, kinds and
    packing ratios passed (a file made to exhaust memory or disk, or to write outside its
    folder, is refused before anything is unpacked)."""

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_FILE_BYTES:
            raise ModelFileError(f"Refused: the file is {len(data) / 2**20:,.0f} MB; a model "
                                 f"file may weigh {MAX_FILE_BYTES / 2**20:,.0f} MB at most.")
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise ModelFileError("Refused: this is not a model file (download one with "
                                 "'Download model' or `python -m recsys model export`).") \
                from None
        _check_entries(self.zip.infolist())

    def __enter__(self) -> zipfile.ZipFile:
        return self.zip

    def __exit__(self, *exc: object) -> None:
        self.zip.close()


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > MAX_ENTRIES:
        raise ModelFileError(f"Refused: the file holds {len(infos):,} entries; a model has "
                             f"at most {MAX_ENTRIES}.")
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise ModelFileError("Refused: the file would unpack to more than "
                             f"{MAX_UNPACKED_BYTES / 2**30:.0f} GB.")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise ModelFileError("Refused: the file names one entry twice.")
    for i in infos:
        mode = i.external_attr >> 16
        if i.is_dir():
            continue
        if i.filename != "card.json" and not _ENTRY.fullmatch(i.filename) \
                or ".." in i.filename:
            raise ModelFileError(f"Refused: the file holds an entry a model does not have "
                                 f"({i.filename[:80]!r}).")
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # 0: written without a file type
            raise ModelFileError(f"Refused: {i.filename[:80]!r} is a link or a device, not "
                                 "a file.")
        if i.file_size > MAX_RATIO * max(i.compress_size, 1024):
            raise ModelFileError(f"Refused: {i.filename[:80]!r} unpacks {i.file_size:,} "
                                 "bytes from a few (a zip bomb, not a model).")
    if "card.json" not in names or not any(n.startswith("model/") for n in names):
        raise ModelFileError("Refused: this is not a model file (no card.json and model "
                             "folder in it).")


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int | None = None) -> bytes:
    """An entry's bytes, never more than it declared (a forged header cannot unpack more)."""
    limit = info.file_size if limit is None else min(limit, info.file_size)
    try:
        with z.open(info) as f:
            out = f.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
        raise ModelFileError(f"Refused: {info.filename[:80]!r} cannot be read "
                             f"({type(exc).__name__}).") from None
    if len(out) > limit:
        raise ModelFileError(f"Refused: {info.filename[:80]!r} is larger than it says.")
    return out


def _card(z: zipfile.ZipFile) -> dict[str, Any]:
    info = z.getinfo("card.json")
    if info.file_size > MAX_CARD_BYTES:
        raise ModelFileError("Refused: the model card is larger than a card can be.")
    try:
        card = json.loads(_read(z, info))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError("Refused: the model card is not JSON.") from None
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ModelFileError(f"Refused: not a model card of this product (format "
                             f"{str(card.get('format') if isinstance(card, dict) else '?')[:40]!r}"
                             f", expected {FORMAT!r}).")
    if card.get("model") not in registry.names():
        raise ModelFileError(f"Refused: unknown model {str(card.get('model'))[:40]!r}.")
    if not isinstance(card.get("dataset"), dict) or not isinstance(card.get("settings", {}),
                                                                   dict):
        raise ModelFileError("Refused: the model card is incomplete (dataset, settings).")
    return card


__all__ = ["FORMAT", "SUFFIX", "Imported", "ModelFileError", "export_model",
           "file_name", "import_model", "key_id", "model_card", "read_card"]

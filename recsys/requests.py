"""What can be asked of the product: typed, frozen requests, the one contract between the
pages and the command line (that ask) and the job handlers and pipelines (that do).

Each request names its dataset by content (``DatasetKey``: name and fingerprint) and spells
every model setting out, so equal requests are one job: ``key()`` hashes the request's
identity. Fields marked as notes (``note()``: the label a refit inherits, the tune job that
asked for a fit) travel with a request but are not part of what it is. ``to_params()`` is
the JSON a job record keeps and ``from_params()`` reads it back; their shape is the job
table's, so workspaces written before keep their keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from recsys.models import model_settings, registry
from recsys.workspace import DatasetRef

NOTE = "note"  # metadata: not part of the request's identity
OPTIONAL = "optional"  # metadata: left out of the parameters while it has its default


def note(default: Any = None) -> Any:
    return field(default=default, metadata={NOTE: True})


def optional(default: Any) -> Any:
    return field(default=default, metadata={OPTIONAL: True})


@dataclass(frozen=True)
class DatasetKey:
    """A dataset by where it is and what it holds (its content fingerprint)."""

    ref: DatasetRef
    fingerprint: str

    @classmethod
    def of(cls, workspace: Any, ref: DatasetRef) -> DatasetKey:
        """The dataset ``ref`` of ``workspace`` as it is stored now."""
        return cls(ref, workspace.fingerprint(ref))

    def params(self) -> dict[str, Any]:
        return {"dataset": {"kind": self.ref.kind, "name": self.ref.name},
                "fingerprint": self.fingerprint}

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> DatasetKey:
        d = p["dataset"]
        return cls(DatasetRef(d.get("kind", "demo"), d.get("name", "")), str(p["fingerprint"]))


def key_of(kind: str, identity: dict[str, Any]) -> str:
    """What makes two jobs the same: their kind and identity, hashed."""
    blob = json.dumps({"kind": kind, "params": identity}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Request:
    """The common part: ``kind``, the parameters as a job keeps them, and the key."""

    kind: ClassVar[str] = ""

    def to_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get(OPTIONAL) and value == f.default:
                continue
            if f.metadata.get(NOTE):
                if value is not None:
                    out[f"_{f.name}"] = value
                continue
            if isinstance(value, DatasetKey):
                out.update(value.params())
            else:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_params().items() if not k.startswith("_")}

    def key(self) -> str:
        return key_of(self.kind, self.identity())

    @property
    def fingerprint(self) -> str | None:
        """The dataset's content fingerprint (None for an import: it makes one)."""
        data = getattr(self, "data", None)
        return data.fingerprint if isinstance(data, DatasetKey) else None

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> Self:
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            name = f"_{f.name}" if f.metadata.get(NOTE) else f.name
            if f.type == "DatasetKey":
                kw[f.name] = DatasetKey.from_params(p)
            elif name in p:
                value = p[name]  # JSON gives a list back where the request holds a tuple
                kw[f.name] = tuple(value) if str(f.type).startswith("tuple") else value
        return cls(**kw)


# ---------------------------------------------------------------- the requests
@dataclass(frozen=True)
class ImportRequest(Request):
    """An export into a dataset: uploaded files (``upload``: their digest in the workspace)
    or files on this machine (``paths``)."""

    kind: ClassVar[str] = "import"
    name: str
    upload: str | None = None
    paths: tuple[str, ...] = ()
    format: str = "auto"
    mapping: str | None = None
    cleaning: dict[str, Any] = field(default_factory=dict)
    replace: bool = False
    ids_anonymous: bool = optional(False)


@dataclass(frozen=True)
class FitRequest(Request):
    """Fit before ``cutoff``, score the holdout; the model is usable at once, and a refit on
    all the data (a ``ServeRequest``) follows unless ``refit`` is off."""

    kind: ClassVar[str] = "fit"
    data: DatasetKey
    model: str
    params: dict[str, Any]
    cutoff: str | None = None
    refit: bool = optional(True)
    k: int = optional(10)
    task: str = optional("novel")
    n_boot: int = optional(500)
    tuned: str | None = note()  # the key of the tune job that chose these settings
    val_ndcg: float | None = note()  # what they scored on its validation window

    @classmethod
    def of(cls, data: DatasetKey, model: str, params: dict[str, Any] | None,
           cutoff: str | None = None, **kw: Any) -> FitRequest:
        """With every setting spelled out (equal settings, however written, are one job)."""
        return cls(data, model, model_settings(model, params),
                   None if cutoff is None else str(cutoff), **kw)


@dataclass(frozen=True)
class ServeRequest(Request):
    """Fit on all the data: the version the pages use. ``group``: the settings it was asked
    with (a refit trains the chosen epoch count, ``params``); ``source``: the holdout
    model it refits; ``label``: that model's name."""

    kind: ClassVar[str] = "serve"
    data: DatasetKey
    model: str
    params: dict[str, Any]
    group: dict[str, Any] | None = note()
    source: str | None = note()
    label: str | None = note()

    @classmethod
    def of(cls, data: DatasetKey, model: str, params: dict[str, Any] | None) -> ServeRequest:
        return cls(data, model, model_settings(model, params))

    @classmethod
    def for_campaigns(cls, data: DatasetKey, model: str) -> ServeRequest:
        """The model with the settings that rank customers best (its spec's campaign
        settings), fitted on all the data: what target lists are drawn from."""
        return cls.of(data, model, dict(registry.spec(model).campaign_params))

    @property
    def asked(self) -> dict[str, Any]:
        """The settings as asked (what identifies the model's configuration)."""
        return self.group if self.group is not None else self.params


@dataclass(frozen=True)
class TuneRequest(Request):
    """Search the models' settings on the validation window before ``cutoff``, then fit the
    tuned models (and their blend) and score them on the holdout."""

    kind: ClassVar[str] = "tune"
    data: DatasetKey
    models: tuple[str, ...]
    cutoff: str | None
    minutes: float
    trials: int | None = None
    seed: int = 0
    total_minutes: float | None = None


@dataclass(frozen=True)
class SegmentsRequest(Request):
    """Clusters and a 2D projection of a stored model's embeddings; with ``holdout_id``
    (the same model fitted before the holdout) also how well the segments predict."""

    kind: ClassVar[str] = "segments"
    data: DatasetKey
    model_id: str
    what: str
    method: str
    holdout_id: str | None = None
    k: int | str = optional("auto")


@dataclass(frozen=True)
class CampaignRequest(Request):
    """Stage 1 of a campaign backtest: the model (campaign settings) fitted on the orders
    before ``cutoff``."""

    kind: ClassVar[str] = "campaign"
    data: DatasetKey
    model: str
    params: dict[str, Any]
    cutoff: str
    window_days: int

    @classmethod
    def of(cls, data: DatasetKey, model: str, cutoff: str, window_days: int,
           params: dict[str, Any] | None = None) -> CampaignRequest:
        given = registry.campaign_params(model, window_days) if params is None else params
        return cls(data, model, model_settings(model, given), str(cutoff), int(window_days))


@dataclass(frozen=True)
class Params(Request):
    """A job kind with no request type of its own (a plugin's): its parameters as given."""

    kind_name: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def to_params(self) -> dict[str, Any]:
        return dict(self.values)

    def key(self) -> str:
        return key_of(self.kind_name, self.identity())

    @property
    def fingerprint(self) -> str | None:
        fp = self.values.get("fingerprint")
        return None if fp is None else str(fp)


REQUESTS: dict[str, type[Request]] = {r.kind: r for r in (
    ImportRequest, FitRequest, ServeRequest, TuneRequest, SegmentsRequest, CampaignRequest)}


def kind_of(request: Request) -> str:
    return request.kind_name if isinstance(request, Params) else request.kind


def decode(kind: str, params: dict[str, Any]) -> Request:
    """A job's parameters as its request (a plugin kind's as ``Params``)."""
    cls = REQUESTS.get(kind)
    return cls.from_params(params) if cls else Params(kind, dict(params))

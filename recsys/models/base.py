"""The Recommender protocol and the base class that implements its bookkeeping.

A subclass provides ``_fit`` and ``_score_rows`` (scores for some training customers against all
items); the base class owns the ID maps, seen-item exclusion, top-N selection, the cold-start
fallback, similar items, embeddings and folder persistence (JSON + ``.npz``, never pickle).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import scipy.sparse as sp

import recsys
from recsys.data import OrderData
from recsys.models import registry
from recsys.models.stored import ModelFileError, StoredArrays

Callback = Callable[[int, dict[str, Any]], Any]
BATCH = 1024


class NotFittedError(RuntimeError):
    """A model was used before ``fit``."""


def read_config(path: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a saved model folder, or a ModelFileError."""
    file = Path(path) / "config.json"
    try:
        meta = json.loads(file.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{Path(path).name} is not a saved model (no config.json).") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{Path(path).name}: config.json is unreadable ({exc}).") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("config", {}), dict):
        raise ModelFileError(f"{Path(path).name}: config.json is not a model configuration.")
    return meta


@dataclass
class Embeddings:
    """Learned vectors: items always where the model has them, customers where it has them."""

    item_ids: np.ndarray
    items: np.ndarray | None
    customer_ids: np.ndarray
    customers: np.ndarray | None


@dataclass(frozen=True)
class NewProduct:
    """A product not in the training data, described by what a catalogue knows about it."""

    name: str
    category: str | None = None
    price: float | None = None


@runtime_checkable
class Recommender(Protocol):
    """What every model offers the pages, the CLI and the evaluation harness."""

    name: str

    def fit(self, train: OrderData, *, callback: Callback | None = None) -> Self: ...
    def knows_customer(self, customer_id: str) -> bool: ...
    def history_items(self, customer_id: str) -> np.ndarray: ...
    def recommend(self, customer_ids, n: int = 10, exclude_seen: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]: ...
    def score(self, customer_ids, item_ids) -> np.ndarray: ...
    def recommend_customers(self, item_id: str | NewProduct, n: int = 100,
                            exclude_buyers: bool = True) -> tuple[np.ndarray, np.ndarray]: ...
    def score_new_item(self, name: str, category: str | None = None,
                       price: float | None = None) -> np.ndarray: ...
    def recommend_history(self, item_ids, n: int = 10, country: str | None = None,
                          exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]: ...
    def similar_items(self, item_ids, n: int = 10) -> tuple[np.ndarray, np.ndarray]: ...
    def because(self, customer_id: str, item_ids, top: int = 2) -> list[list[str]]: ...
    def drivers(self, customer_ids, item_ids, top: int = 2) -> list[str]: ...
    def embeddings(self) -> Embeddings: ...
    def notes(self) -> list[str]: ...
    def save(self, path: str | Path) -> None: ...


def check_config(config: Any) -> None:
    """Every setting of the type its default has, within the config's ``BOUNDS`` and among
    its ``CHOICES``, or a ValueError saying which and what is allowed (before any library
    sees the value)."""
    bounds = getattr(type(config), "BOUNDS", {})
    choices = getattr(type(config), "CHOICES", {})
    for f in fields(config):
        value, default = getattr(config, f.name), f.default
        if isinstance(default, bool):
            kind, ok = "true or false", isinstance(value, bool)
        elif isinstance(default, int):
            kind, ok = "a whole number", isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            kind = "a number"
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
                  and bool(np.isfinite(value)))
        elif isinstance(default, str):
            kind, ok = "text", isinstance(value, str)
        else:
            continue
        if not ok:
            raise ValueError(f"{f.name} must be {kind}, not {value!r}")
        if f.name in choices and value not in choices[f.name]:
            raise ValueError(f"{f.name} must be {' or '.join(map(repr, choices[f.name]))}, "
                             f"not {value!r}")
        lo, hi = bounds.get(f.name, (None, None))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            span = (f"at least {lo}" if hi is None else f"at most {hi}" if lo is None
                    else f"between {lo} and {hi}")
            raise ValueError(f"{f.name} must be {span}, not {value!r}")


# From this many columns top-n goes through torch.topk: on 1,024 x 50,000 scores about 3x
# faster than numpy's partition on one thread, and threaded. Narrower rows stay in numpy (no
# torch import for the classical models on small catalogues).
TORCH_TOPN_COLUMNS = 20_000


def topn(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the n best scores per row, best first; NaN ranks last."""
    n = min(n, scores.shape[1])
    if n <= 0:
        return np.zeros((scores.shape[0], 0), int), np.zeros((scores.shape[0], 0), scores.dtype)
    if scores.shape[1] >= TORCH_TOPN_COLUMNS:
        return _torch_topn(scores, n)
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _torch_topn(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    import torch

    t = torch.from_numpy(np.require(scores, requirements=["C", "W"]))
    vals, idx = torch.topk(t, n, dim=1)
    if torch.isnan(vals).any():  # topk ranks NaN first: a row with one, once more without
        vals, idx = torch.topk(torch.nan_to_num(t, nan=-np.inf, posinf=np.inf,
                                                neginf=-np.inf), n, dim=1)
    return idx.numpy(), vals.numpy()


class BaseRecommender(ABC):
    """Shared machinery; see the module docstring. Learned state ends in ``_``."""

    name: ClassVar[str] = "base"
    Config: ClassVar[type]
    weighting: ClassVar[str] = "binary"

    def __init__(self, config: Any = None, **params: Any) -> None:
        if config is not None and params:
            raise TypeError("Pass either a config or keyword parameters, not both.")
        self.config = config if config is not None else self.Config(**params)
        check_config(self.config)

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        """Learn from the training interactions (X: customers x items)."""

    @abstractmethod
    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        """Scores [len(rows), n_items] for training-customer row indices."""

    def _item_vectors(self) -> np.ndarray | None:
        return None

    def _customer_vectors(self) -> np.ndarray | None:
        return None

    def _item_column(self, j: int) -> np.ndarray:
        """Scores of every training customer for item j (override when a column is cheap)."""
        out = np.empty(self.X_.shape[0], dtype=np.float32)
        for start in range(0, len(out), BATCH):
            rows = np.arange(start, min(start + BATCH, len(out)))
            out[rows] = self._score_rows(rows)[:, j]
        return out

    def _state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (besides the ID maps and the training matrix)."""
        return {}

    def _set_state(self, arrays: StoredArrays) -> None:  # noqa: B027 (optional hook)
        """Restore what ``_state`` returned (``arrays.get`` checks each array)."""

    # ------------------------------------------------------------------ fit
    def params(self) -> dict[str, Any]:
        return asdict(self.config)

    def notes(self) -> list[str]:
        """Plain sentences on limits this fit worked under (e.g. a product cap), for the
        leaderboard and the model's page; empty when there were none."""
        return list(getattr(self, "notes_", []))

    def progress_steps(self) -> int:
        """How many progress reports ``fit`` sends (models with epochs override this)."""
        return 1

    def refit_params(self) -> dict[str, Any]:
        """Parameters that repeat this fit on more data without choosing anything again
        (models that pick their epoch count on a validation window fix it here)."""
        self._check_fitted()
        return self.params()

    def fit(self, train: OrderData, *, callback: Callback | None = None) -> Self:
        """Learn from ``train``; returns self. ``callback(epoch, metrics)`` reports progress."""
        if train.n_lines == 0:
            raise ValueError("Cannot fit on an empty training set.")
        self.bind(train)
        self.partial_ = False
        self.notes_ = []
        self._fit(train, self.X_, callback)
        return self

    def bind(self, train: OrderData) -> None:
        """The bookkeeping half of ``fit``: ID maps and the training matrix."""
        self.customer_ids_ = train.customer_ids
        self.item_ids_ = train.item_ids
        self.X_ = train.matrix(self.weighting)
        self._index_maps()

    def _index_maps(self) -> None:
        self._cust_pos = {c: i for i, c in enumerate(self.customer_ids_)}
        self._item_pos = {c: i for i, c in enumerate(self.item_ids_)}
        buyers = np.diff(self.X_.tocsc().indptr).astype(np.float32)
        self.popularity_ = buyers / max(float(buyers.max()), 1.0)

    def _check_fitted(self) -> None:
        if not hasattr(self, "X_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit(train) "
                                 "or load a saved model first.")

    def customer_rows(self, customer_ids) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(customer_ids, dtype=str))
        return np.array([self._cust_pos.get(c, -1) for c in ids], dtype=np.int64)

    def _items(self, item_ids, strict: bool = True) -> np.ndarray:
        ids = np.atleast_1d(np.asarray(item_ids, dtype=str))
        idx = np.array([self._item_pos.get(i, -1) for i in ids], dtype=np.int64)
        if strict and (idx < 0).any():
            unknown = ids[idx < 0][:5].tolist()
            raise KeyError(f"Unknown product(s) {unknown}: not in this model's training data.")
        return idx

    # ------------------------------------------------------------------ what it knows
    def knows_customer(self, customer_id: str) -> bool:
        """Whether the customer was in the training data (others get a fallback)."""
        self._check_fitted()
        return bool(self.customer_rows([customer_id])[0] >= 0)

    def history_items(self, customer_id: str) -> np.ndarray:
        """The products this model saw the customer buy (empty when unknown)."""
        self._check_fitted()
        row = self.customer_rows([customer_id])[0]
        return self.item_ids_[self.X_[row].indices] if row >= 0 else self.item_ids_[:0]

    # ------------------------------------------------------------------ scoring
    def row_scores(self, rows: np.ndarray) -> np.ndarray:
        """Scores for row indices; unknown customers (-1) get the popularity fallback."""
        known = rows >= 0
        if known.all():  # the usual case: no second copy of a batch's scores...
            scores = np.asarray(self._score_rows(rows), dtype=np.float32)
            # ...unless they are not the caller's to change (a view into model state)
            return scores if scores.flags.owndata and scores.flags.writeable else scores.copy()
        out = np.empty((len(rows), len(self.item_ids_)), dtype=np.float32)
        if known.any():
            out[known] = self._score_rows(rows[known])
        if (~known).any():
            out[~known] = self.popularity_
        return out

    def score(self, customer_ids, item_ids) -> np.ndarray:
        """Scores [len(customer_ids), len(item_ids)]."""
        self._check_fitted()
        return self.row_scores(self.customer_rows(customer_ids))[:, self._items(item_ids)]

    def recommend(self, customer_ids, n: int = 10, exclude_seen: bool = True
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Top-n item IDs and scores per customer, best first. Customers unknown to the model
        get the most popular items. Rows run out of items pad with score -inf."""
        self._check_fitted()
        rows = self.customer_rows(customer_ids)
        n = min(n, len(self.item_ids_))
        idx = np.zeros((len(rows), n), dtype=np.int64)
        val = np.zeros((len(rows), n), dtype=np.float32)
        for s in range(0, len(rows), BATCH):
            r = rows[s:s + BATCH]
            scores = self.row_scores(r)
            if exclude_seen:
                self._mask_seen(scores, r)
            idx[s:s + BATCH], val[s:s + BATCH] = topn(scores, n)
        return self.item_ids_[idx], val

    def _mask_seen(self, scores: np.ndarray, rows: np.ndarray) -> None:
        known = np.flatnonzero(rows >= 0)
        if len(known):
            sub = self.X_[rows[known]].tocoo()
            scores[known[sub.row], sub.col] = -np.inf

    def recommend_customers(self, item_id: str | NewProduct, n: int = 100,
                            exclude_buyers: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The n training customers most likely to buy ``item_id`` (or a ``NewProduct``, for
        models with product features), best first."""
        self._check_fitted()
        if isinstance(item_id, NewProduct):
            col = self.score_new_item(item_id.name, item_id.category, item_id.price)
        else:
            j = int(self._items([item_id])[0])
            col = self._item_column(j).astype(np.float32)
            if exclude_buyers:
                col[self.X_[:, j].tocoo().row] = -np.inf
        idx, val = topn(col[None, :], n)
        return self.customer_ids_[idx[0]], val[0]

    def score_new_item(self, name: str, category: str | None = None,
                       price: float | None = None) -> np.ndarray:
        """Scores of every training customer for a product the model has never seen."""
        raise NotImplementedError(f"{self.name} cannot score new products: it knows products "
                                  "only by their purchase history. Use "
                                  f"{' or '.join(registry.names(new_items=True))}.")

    def recommend_history(self, item_ids, n: int = 10, country: str | None = None,
                          exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Recommendations for a customer the model has not seen, from the products they
        bought (cold start). Models that cannot do this raise NotImplementedError."""
        raise NotImplementedError(f"{self.name} cannot score customers outside its training "
                                  "data; use "
                                  f"{', '.join(registry.names(new_customers=True))}.")

    def drivers(self, customer_ids, item_ids, top: int = 2) -> list[str]:
        """The strongest reasons for each (customer, product) score, in words. Only models
        whose spec says ``drivers`` have them."""
        raise NotImplementedError(f"{self.name} does not explain its scores feature by "
                                  "feature.")

    def _history_top(self, scores: np.ndarray, codes: np.ndarray, n: int,
                     exclude_seen: bool) -> tuple[np.ndarray, np.ndarray]:
        """Top-n of one unseen customer's scores [1, n_items], minus what they bought."""
        if exclude_seen and len(codes):
            scores[0, codes] = -np.inf
        idx, val = topn(scores, n)
        return self.item_ids_[idx[0]], val[0]

    def similar_items(self, item_ids, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Per query item, the n most similar other items (cosine of the item vectors, or of
        co-purchase columns for models without vectors)."""
        self._check_fitted()
        q = self._items(item_ids)
        sims = self.item_similarity(q)
        sims[np.arange(len(q)), q] = -np.inf
        idx, val = topn(sims, n)
        return self.item_ids_[idx], val

    def because(self, customer_id: str, item_ids, top: int = 2) -> list[list[str]]:
        """For each product, up to ``top`` of the customer's own purchases most similar to it
        under this model (only those with a positive similarity): the "because you bought"."""
        self._check_fitted()
        row = self.customer_rows([customer_id])[0]
        bought = self.X_[row].indices if row >= 0 else np.zeros(0, dtype=np.int64)
        q = self._items(item_ids)
        if len(bought) == 0 or len(q) == 0:
            return [[] for _ in q]
        sims = self.item_similarity(q)[:, bought]
        out = []
        for r in range(len(q)):
            best = np.argsort(-sims[r])[:top]
            out.append([str(self.item_ids_[bought[b]]) for b in best if sims[r, b] > 0])
        return out

    def item_similarity(self, q: np.ndarray) -> np.ndarray:
        vec = self._item_vectors()
        if vec is None:
            vec = self.X_.T.tocsr()
            norms = np.sqrt(np.asarray(vec.multiply(vec).sum(axis=1)).ravel()) + 1e-9
            sims = np.asarray((vec[q] @ vec.T).todense()) / norms[q, None] / norms[None, :]
            return sims.astype(np.float32)
        unit = vec / (np.linalg.norm(vec, axis=1, keepdims=True) + 1e-9)
        return (unit[q] @ unit.T).astype(np.float32)

    def embeddings(self) -> Embeddings:
        self._check_fitted()
        return Embeddings(self.item_ids_, self._item_vectors(), self.customer_ids_,
                          self._customer_vectors())

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Write config.json, state.npz (learned arrays, ID maps, training matrix)."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"model": self.name, "config": asdict(self.config), "versions": _versions(),
                "partial": bool(getattr(self, "partial_", False)), "notes": self.notes()}
        (folder / "config.json").write_text(json.dumps(meta, indent=2))
        X = self.X_
        arrays = {"customer_ids": self.customer_ids_.astype(str),
                  "item_ids": self.item_ids_.astype(str),
                  "X_data": X.data, "X_indices": X.indices, "X_indptr": X.indptr,
                  "X_shape": np.asarray(X.shape)}
        arrays.update({f"state_{k}": v for k, v in self._state().items()})
        np.savez(folder / "state.npz", **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Restore a model saved with ``save`` (no pickle is read); every array is checked
        first, and a damaged folder is refused with a ``ModelFileError``."""
        folder = Path(path)
        meta = read_config(folder)
        known = {f.name for f in fields(cls.Config)}
        try:
            model = cls(cls.Config(**{k: v for k, v in meta["config"].items() if k in known}))
        except (TypeError, ValueError) as exc:
            raise ModelFileError(f"{folder.name}: config.json holds settings {cls.name} "
                                 f"refuses ({exc}).") from None
        model.partial_ = bool(meta.get("partial", False))
        notes = meta.get("notes", [])
        model.notes_ = ([str(n)[:500] for n in notes[:10]] if isinstance(notes, list) else [])
        stored = StoredArrays.read(folder)
        model.customer_ids_ = stored.ids("customer_ids")
        model.item_ids_ = stored.ids("item_ids")
        shape = (len(model.customer_ids_), len(model.item_ids_))
        if tuple(stored.get("X_shape", (2,), "i")) != shape:
            raise stored.fail("the training matrix does not match the ID maps")
        model.X_ = stored.csr("X", shape)
        model._index_maps()
        model._set_state(stored.prefixed("state_"))
        return model


def _versions() -> dict[str, str]:
    import sys

    import pandas
    import scipy


    return {"recsys": recsys.__version__, "python": sys.version.split()[0],
            "numpy": np.__version__, "scipy": scipy.__version__, "pandas": pandas.__version__}


def emit(callback: Callback | None, epoch: int, metrics: dict[str, float]) -> None:
    if callback is not None:
        callback(epoch, metrics)


class FactorScoring(BaseRecommender):
    """Scores are customer vectors times product vectors. Subclasses name the attributes
    that hold them: ``CUSTOMERS`` and ``ITEMS`` (the embeddings), and ``SCORING`` when the
    product side that scores is not the embedding (customer2vec's output layer)."""

    CUSTOMERS: str = "U_"
    ITEMS: str = "V_"
    SCORING: str | None = None

    def _scoring_items(self) -> np.ndarray:
        return getattr(self, self.SCORING or self.ITEMS)

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return getattr(self, self.CUSTOMERS)[rows] @ self._scoring_items().T

    def _item_column(self, j: int) -> np.ndarray:
        return getattr(self, self.CUSTOMERS) @ self._scoring_items()[j]

    def _item_vectors(self) -> np.ndarray | None:
        return getattr(self, self.ITEMS)

    def _customer_vectors(self) -> np.ndarray | None:
        return getattr(self, self.CUSTOMERS)

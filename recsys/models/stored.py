"""Checking a saved model's arrays before anything uses them.

A model folder may have been damaged or tampered with: an out-of-range index in a sparse
matrix would crash scipy (and the server with it), NaN vectors would make every score -inf,
truncated ID maps would quietly shift every customer. ``StoredArrays`` hands out each array
only after checking its shape, type, index range and finiteness, and refuses the whole model
with one clear ``ModelFileError`` otherwise.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class ModelFileError(ValueError):
    """A model folder is missing, damaged or not a model."""


class StoredArrays:
    """The arrays of one saved model (``state.npz``), checked on the way out."""

    def __init__(self, folder: Path, arrays: dict[str, np.ndarray]) -> None:
        self.folder, self.arrays = folder, arrays

    @classmethod
    def read(cls, folder: Path) -> StoredArrays:
        file = folder / "state.npz"
        try:
            with np.load(file, allow_pickle=False) as z:
                return cls(folder, {k: z[k] for k in z.files})
        except FileNotFoundError:
            raise ModelFileError(f"{folder.name}: state.npz is missing.") from None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ModelFileError(f"{folder.name}: state.npz is damaged or holds objects that "
                                 f"are not plain arrays ({exc}).") from None

    def fail(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.folder.name} is damaged: {what}. Delete it and train "
                              "the model again.")

    def prefixed(self, prefix: str) -> StoredArrays:
        """The arrays saved under ``prefix`` (a model's own state), prefix removed."""
        return StoredArrays(self.folder, {k[len(prefix):]: v for k, v in self.arrays.items()
                                          if k.startswith(prefix)})

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def get(self, name: str, shape: tuple[int | None, ...], kind: str = "f",
            finite: bool = True, low: float | None = None, high: float | None = None
            ) -> np.ndarray:
        """An array of this shape (None: any length) and kind ('f' float, 'i' integer,
        'U' text, 'M' date), every value finite and within [low, high) where given."""
        if name not in self.arrays:
            raise self.fail(f"the array {name!r} is missing")
        a = self.arrays[name]
        if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
            raise self.fail(f"{name!r} has shape {a.shape}, expected {shape}")
        ok_kind = {"f": "fiu", "i": "iu", "U": "U", "M": "M"}[kind]
        if a.dtype.kind not in ok_kind:
            raise self.fail(f"{name!r} holds {a.dtype}, expected {kind}")
        if kind == "f" and finite and a.size and not np.isfinite(a).all():
            raise self.fail(f"{name!r} has values that are not finite numbers")
        if a.size and low is not None and a.min() < low:
            raise self.fail(f"{name!r} has values below {low}")
        if a.size and high is not None and a.max() >= high:
            raise self.fail(f"{name!r} has values at or above {high}")
        return a

    def ids(self, name: str) -> np.ndarray:
        a = self.get(name, (None,), "U")
        if len(np.unique(a)) != len(a):
            raise self.fail(f"{name!r} lists the same ID twice")
        return a

    def csr(self, prefix: str, shape: tuple[int, int], data: str | None = None,
            pattern: str | None = None) -> sp.csr_matrix:
        """A CSR matrix from ``<prefix>_data/_indices/_indptr`` (or another data array over
        the index pattern of ``pattern``), with every index checked."""
        p = pattern or prefix
        n_rows, n_cols = shape
        indptr = self.get(f"{p}_indptr", (n_rows + 1,), "i", low=0)
        indices = self.get(f"{p}_indices", (None,), "i", low=0, high=max(n_cols, 1))
        values = self.get(data or f"{prefix}_data", (len(indices),), "f")
        if indptr[0] != 0 or indptr[-1] != len(indices) or (np.diff(indptr) < 0).any():
            raise self.fail(f"the row pointers of {p!r} do not match its entries")
        return sp.csr_matrix((values, indices, indptr), shape=shape)

"""Models: ``make_model(name, **params)``, ``load_model(folder)`` and the registry of specs.

Models are imported on first use, so ``import recsys.models`` stays cheap (no torch, no gensim).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from recsys.models import registry
from recsys.models.base import (
    BaseRecommender,
    Embeddings,
    NewProduct,
    NotFittedError,
    Recommender,
    check_config,
    read_config,
)
from recsys.models.registry import ModelSpec
from recsys.models.stored import ModelFileError


def model_class(name: str) -> type[BaseRecommender]:
    return registry.spec(name).cls


def model_settings(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every setting of a model spelled out (defaults filled in) and checked, as a model
    made with them would hold them -- without making one. Equal settings however written
    give equal dictionaries (and so equal job keys)."""
    config_cls = model_class(name).Config
    try:
        config = config_cls(**(params or {}))
    except TypeError as exc:
        raise ValueError(f"Bad parameters for {name}: {exc}") from exc
    check_config(config)
    return asdict(config)


def make_model(name: str, **params: Any) -> BaseRecommender:
    """A new, unfitted model by registry name, with hyper-parameters as keywords."""
    cls = model_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"Bad parameters for {name}: {exc}") from exc


def load_model(path: str | Path) -> BaseRecommender:
    """Load a model folder written by ``save`` (whichever model it holds)."""
    meta = read_config(path)
    try:
        cls = model_class(str(meta.get("model")))
    except KeyError as exc:
        raise ModelFileError(f"{Path(path).name}: {exc.args[0]}") from None
    return cls.load(path)


__all__ = ["BaseRecommender", "Embeddings", "ModelFileError", "ModelSpec", "NewProduct",
           "NotFittedError", "Recommender", "load_model", "make_model", "model_class",
           "model_settings", "registry"]

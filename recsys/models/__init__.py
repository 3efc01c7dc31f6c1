"""Model registry: ``make_model(name, **params)`` and ``load_model(folder)``.

Models are imported on first use, so ``import recsys.models`` stays cheap (no torch, no gensim).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from recsys.models.base import (
    BaseRecommender,
    Embeddings,
    NewProduct,
    NotFittedError,
    Recommender,
)

REGISTRY: dict[str, str] = {
    "popularity": "recsys.models.popularity:Popularity",
    "recent_popularity": "recsys.models.popularity:RecentPopularity",
    "itemknn": "recsys.models.itemknn:ItemKNN",
    "ease": "recsys.models.ease:EASE",
    "als": "recsys.models.als:ALS",
    "bpr": "recsys.models.als:BPR",
    "two_tower": "recsys.models.two_tower:TwoTower",
    "ncf": "recsys.models.ncf:NCF",
    "item2vec": "recsys.models.item2vec:Item2Vec",
    "customer2vec": "recsys.models.item2vec:Customer2Vec",
    "propensity": "recsys.models.propensity:Propensity",
}


def model_class(name: str) -> type[BaseRecommender]:
    if name not in REGISTRY:
        raise KeyError(f"Unknown model {name!r}; available: {', '.join(REGISTRY)}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_model(name: str, **params: Any) -> BaseRecommender:
    """A new, unfitted model by registry name, with hyper-parameters as keywords."""
    cls = model_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"Bad parameters for {name}: {exc}") from exc


def load_model(path: str | Path) -> BaseRecommender:
    """Load a model folder written by ``save`` (whichever model it holds)."""
    meta = json.loads((Path(path) / "config.json").read_text())
    return model_class(meta["model"]).load(path)


__all__ = ["REGISTRY", "BaseRecommender", "Embeddings", "NewProduct", "NotFittedError",
           "Recommender",
           "load_model", "make_model", "model_class"]

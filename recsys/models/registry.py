"""The one registry of models: what each is, what it can do, and settings for quick runs.

Pages, the command line and the tests read this registry; nothing else keeps a list of models.
Adding a model is its module plus one ``ModelSpec`` here (or ``register`` from a plugin).
Classes are imported on first use, so reading the registry loads no torch or gensim.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from recsys.models.search import Dim, ShopShape, choice, int_range, log_range, pow2


@dataclass(frozen=True)
class ModelSpec:
    """One model as the rest of the product sees it.

    Capabilities: ``customer_vectors`` / ``item_vectors`` (embeddings to plot and cluster),
    ``new_items`` (scores a product it has never seen, from its name, category and price),
    ``new_customers`` (scores someone from a purchase history alone), ``drivers`` (explains a
    score feature by feature), ``personalised`` (lists differ per customer), ``wraps_base``
    (a mix around another model, which tuning builds last from the best), ``slow`` (neural:
    minutes on a CPU), ``data_parallel`` (trains on several workers of a Ray cluster),
    ``odds`` (its customer scores are log-odds of buying within its config's
    ``window_days``: a campaign forecast adds them up as expected buyers).
    ``quick`` are small settings for tests and demos; ``campaign_rank``
    orders the models offered for campaigns (None: not offered), with ``campaign_params`` the
    settings that rank customers best; ``bench_default`` puts it in the CLI's default bench,
    ``train_default`` / ``tune_default`` among the models the Models page and the CLI
    suggest to train / tune;
    ``starter`` models are trained for every new dataset (as background jobs),, on
    catalogues of at most ``max_default_items`` products.
    ``search`` is what tuning searches (``recsys.tuning``), and ``start(shape)`` the settings
    scaled to a shop that the search starts from (defaults for the rest).
    """

    name: str
    target: str
    description: str
    personalised: bool = True
    customer_vectors: bool = False
    item_vectors: bool = False
    new_items: bool = False
    new_customers: bool = False
    drivers: bool = False
    wraps_base: bool = False
    slow: bool = False
    data_parallel: bool = False
    odds: bool = False
    bench_default: bool = False
    train_default: bool = False
    tune_default: bool = False
    starter: bool = False
    max_default_items: int | None = None
    quick: Mapping[str, Any] = field(default_factory=dict)
    campaign_rank: int | None = None
    campaign_params: Mapping[str, Any] = field(default_factory=dict)
    search: Mapping[str, Dim] = field(default_factory=dict)
    start: Callable[[ShopShape], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        for name in ("quick", "campaign_params", "search"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def tunable(self) -> bool:
        """Has settings worth searching (``recsys.tuning``)."""
        return bool(self.search)

    def starting_point(self, shape: ShopShape) -> dict[str, Any]:
        """The searched settings to try first on a shop of this shape (inside their ranges)."""
        given = self.start(shape) if self.start else {}
        return {k: self.search[k].clip(v) for k, v in given.items() if k in self.search}

    @property
    def cls(self) -> type:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)


_M = "recsys.models."
_SPECS: dict[str, ModelSpec] = {}


PLUGINS_ENV = "RECSYS_PLUGINS"


def load_plugins() -> None:
    """Import the modules named in $RECSYS_PLUGINS (comma-separated): they register extra
    models (or job kinds). The app, its workers and the command line all call this, so they
    know the same models."""
    for name in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        importlib.import_module(name)


def register(spec: ModelSpec) -> ModelSpec:
    """Add (or replace) a model; it then appears on every page, the CLI and the test suite."""
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _SPECS.pop(name, None)


def spec(name: str) -> ModelSpec:
    """The spec of a registered model, or a KeyError naming the ones there are."""
    if name not in _SPECS:
        raise KeyError(f"Unknown model {name!r}; available: {', '.join(_SPECS)}")
    return _SPECS[name]


def names(**wanted: bool) -> list[str]:
    """Registered model names, optionally only those whose capabilities match, e.g.
    ``names(customer_vectors=True)``, ``names(slow=False)`` or ``names(tunable=True)``."""
    unknown = set(wanted) - {f.name for f in fields(ModelSpec)} - {"tunable"}
    if unknown:
        raise TypeError(f"Unknown capability {sorted(unknown)}; see ModelSpec")
    return [s.name for s in _SPECS.values()
            if all(getattr(s, k) == v for k, v in wanted.items())]


def specs() -> list[ModelSpec]:
    return list(_SPECS.values())


def campaign_params(name: str, days: int | None = None) -> dict[str, Any]:
    """The settings that rank customers best for ``name`` (its spec's ``campaign_params``);
    a model whose scores are odds learns the campaign's window (``days``) unless they set
    one, so that its chances are for the window a plan counts."""
    params = dict(spec(name).campaign_params)
    if days is not None and spec(name).odds:
        params.setdefault("window_days", int(days))
    return params


def campaign_models() -> list[str]:
    """Models offered for campaigns, best first (validation backtests before the reported
    cutoff decided the order; see tools/campaign_validation.py)."""
    offered = [s for s in _SPECS.values() if s.campaign_rank is not None]
    return [s.name for s in sorted(offered, key=lambda s: s.campaign_rank)]


def describe(name: str) -> str:
    s = spec(name)
    can = [label for flag, label in (("customer_vectors", "customer embeddings"),
                                     ("item_vectors", "product embeddings"),
                                     ("new_items", "new products"),
                                     ("new_customers", "new customers"),
                                     ("drivers", "explanations")) if getattr(s, flag)]
    return s.description + (f" Can do: {', '.join(can)}." if can else "")


_FAST_TORCH = {"patience": 0, "batch_size": 128, "device": "cpu"}
_VEC_DIMS = choice(16, 32, 64, 128)


# Starting points, measured on the validation windows of Online Retail, the demo shop and two
# generated shops (a 167-product basket shop, an 18k-product long tail): EASE's best penalty
# grows with the products per customer, iALS's best factor count with the catalogue.
def _ease_start(s: ShopShape) -> dict[str, Any]:
    return {"l2": 9.0 * s.items_per_customer}


def _als_start(s: ShopShape) -> dict[str, Any]:
    return {"factors": pow2(s.items / 50, 8, 64)}


def _recent_start(s: ShopShape) -> dict[str, Any]:
    return {"days": max(7, min(30, round(s.days / 10)))}


def _vector_start(s: ShopShape) -> dict[str, Any]:
    return {"dim": pow2(2 * s.items ** 0.5, 16, 64)}


def _ncf_start(s: ShopShape) -> dict[str, Any]:
    return {"dim": pow2(s.items ** 0.5 / 2, 8, 32)}

for _spec in (
    ModelSpec("popularity", _M + "popularity:Popularity",
              "The same best sellers for everyone; every model must beat it.",
              personalised=False, bench_default=True, starter=True, train_default=True),
    ModelSpec("recent_popularity", _M + "popularity:RecentPopularity",
              "What sells in the last 30 days, for everyone.",
              personalised=False, bench_default=True, tune_default=True,
              search={"days": int_range(3, 180, log=True)}, start=_recent_start),
    ModelSpec("itemknn", _M + "itemknn:ItemKNN",
              "Products bought together with what the customer bought (cosine neighbours).",
              bench_default=True, campaign_rank=5, tune_default=True,
              search={"k": choice(0, 20, 50, 100, 200, 500, 1000), "shrinkage": Dim(0, 100)}),
    ModelSpec("ease", _M + "ease:EASE",
              "A closed-form model of which products go with which; strong and fast.",
              customer_vectors=True, item_vectors=True, bench_default=True, starter=True,
              max_default_items=20_000, campaign_rank=1, train_default=True, tune_default=True,
              campaign_params={"history": "count", "self_weight": 1.0},
              search={"l2": log_range(1, 1e5)}, start=_ease_start),
    ModelSpec("als", _M + "als:ALS",
              "Matrix factorisation (implicit ALS): customer and product taste vectors.",
              customer_vectors=True, item_vectors=True, bench_default=True, starter=True,
              quick={"iterations": 5, "factors": 16}, campaign_rank=3, tune_default=True,
              search={"factors": int_range(4, 256, log=True),
                      "regularization": log_range(1e-3, 30), "alpha": log_range(0.1, 100),
                      "iterations": int_range(5, 40),
                      "half_life": choice(0.0, 15.0, 30.0, 60.0, 90.0, 180.0, 365.0)},
              start=_als_start),
    ModelSpec("bpr", _M + "als:BPR",
              "Matrix factorisation trained to rank bought above not-bought products.",
              customer_vectors=True, item_vectors=True, bench_default=True,
              quick={"iterations": 20, "factors": 16},
              search={"factors": int_range(4, 256, log=True),
                      "learning_rate": log_range(1e-3, 0.3),
                      "regularization": log_range(1e-4, 1),
                      "iterations": int_range(20, 400, log=True)}, start=_als_start),
    ModelSpec("two_tower", _M + "two_tower:TwoTower",
              "Neural two-tower model with customer and product features; handles new "
              "customers and new products.",
              customer_vectors=True, item_vectors=True, new_items=True, new_customers=True,
              slow=True, data_parallel=True, campaign_rank=2,
              quick={"epochs": 8, "dim": 16, "hidden": 32, **_FAST_TORCH},
              search={"dim": _VEC_DIMS, "temperature": log_range(0.02, 0.5),
                      "id_dropout": Dim(0, 0.9), "lr": log_range(5e-4, 2e-2),
                      "history_decay": Dim(0, 1), "repeat": choice(True, False)},
              start=_vector_start),
    ModelSpec("ncf", _M + "ncf:NCF",
              "Neural collaborative filtering (NeuMF) with purchase-history features.",
              customer_vectors=True, item_vectors=True, new_customers=True, slow=True,
              data_parallel=True, campaign_rank=4,
              quick={"epochs": 6, "dim": 8, "layers": (16, 8), **_FAST_TORCH},
              search={"dim": choice(8, 16, 32, 64), "negatives": int_range(1, 16),
                      "dropout": Dim(0, 0.5), "lr": log_range(5e-4, 2e-2),
                      "l2": log_range(1e-6, 1e-2)}, start=_ncf_start),
    ModelSpec("item2vec", _M + "item2vec:Item2Vec",
              "Word2vec over baskets: products that share baskets sit close together.",
              customer_vectors=True, item_vectors=True, new_customers=True, slow=True,
              quick={"epochs": 20, "dim": 16, "alpha": 0.05, "sample": 0.0},
              search={"dim": _VEC_DIMS, "alpha": log_range(0.01, 0.3),
                      "epochs": int_range(3, 30), "sample": choice(0.0, 1e-4, 1e-3),
                      "negative": int_range(2, 20)}, start=_vector_start),
    ModelSpec("customer2vec", _M + "item2vec:Customer2Vec",
              "Doc2vec over each customer's purchases: customers with similar journeys "
              "sit close together.",
              customer_vectors=True, item_vectors=True, new_customers=True, slow=True,
              quick={"epochs": 10, "dim": 16, "infer_epochs": 5},
              search={"dim": _VEC_DIMS, "window": int_range(1, 10),
                      "epochs": int_range(5, 50)}, start=_vector_start),
    ModelSpec("blend", _M + "blend:Blend",
              "A model mixed with best sellers (all time and recent); tuning chooses the mix "
              "on the validation window, so it never ranks below its parts there.",
              wraps_base=True, quick={"base": "ease", "popularity": 0.3, "recent": 0.1}),
    ModelSpec("propensity", _M + "propensity:Propensity",
              "Who buys what in the next 30 days, learned by replaying past months; each "
              "score explained feature by feature.",
              drivers=True, starter=True, campaign_rank=0, odds=True,
              search={"C": log_range(0.05, 20), "bins": choice(8, 16, 32, 64),
                      "windows": int_range(1, 6)}),
    ModelSpec("ranker", _M + "ranker:Ranker",
              "A learned ranking stage: a gradient-boosted ranker (LightGBM) over each "
              "customer's candidates, with EASE's score and rank, the purchase-history "
              "features and what customers of the same taste buy; explained feature by "
              "feature.",
              drivers=True, quick={"windows": 1, "trees": 20, "train_items": 30,
                                   "min_rows": 5},
              search={"trees": int_range(50, 400), "learning_rate": log_range(0.02, 0.2),
                      "leaves": choice(15, 31, 63), "windows": int_range(1, 6),
                      "ease_items": int_range(50, 800), "segments": choice(0, 8, 16, 32, 64),
                      "objective": choice("rank_xendcg", "lambdarank")}),
):
    register(_spec)

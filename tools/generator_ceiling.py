"""How high can any recommender score on a generated shop? The generators know each
customer's chance of putting each product in a line; ranking by it is the best any model
can do on average (the Bayes ranking). This tool scores it on the same temporal split as
``python -m recsys bench``, beside the models asked, for two generators:

- the basket shop (recsys.synthetic, the default): a share of each customer's lines are
  their eight staples, the rest an aisle their taste cluster likes and a product by its
  popularity there. ``bayes`` knows every customer's staples, which no history shows
  until bought; ``cluster`` knows only their cluster (its tastes and the products'
  popularity exactly): the most a model can learn from many customers' orders. (Adding
  each product's chance of being a staple not bought yet, given how many lines the
  customer bought without it, scored 1.08x EASE against 1.09x on the basket shop.)
- the demo shop (``--demo``, recsys.datasets): a category from the customer's own taste,
  then a product by popularity, once on sale; ``bayes`` knows each customer's taste.

    python tools/generator_ceiling.py [--customers 3900 --products 167 --lines 40000
        --aisles 12 --clusters 8 --basket 2.5 --reorder 0.3 --seed 1] [--models ease,ranker]
    python tools/generator_ceiling.py --demo [--models ease,ranker]

The defaults are the basket shop of docs/tuning.md. Prints NDCG@10 (novel products) with
its 95% CI and share of the Bayes ranking's, and every ranking against EASE (the paired
difference over the same customers).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys import datasets as ds  # noqa: E402
from recsys import synthetic as syn  # noqa: E402
from recsys.data import OrderData  # noqa: E402
from recsys.evaluate import (  # noqa: E402
    build_truth,
    evaluate,
    paired_difference,
    temporal_split,
)
from recsys.models import make_model  # noqa: E402


def line_chances(shape: syn.Shape, staples: bool = True) -> np.ndarray:
    """customers x products: the chance that one of the customer's lines is the product
    (without ``staples``: their cluster's taste and the products' popularity alone, what
    many customers' orders can teach; a customer's own staples not bought yet no model can
    know)."""
    aisle, start, cum, _ = syn._catalogue(shape, np.random.default_rng(shape.seed))
    # the chance of each product within its aisle: its step in the aisle's cumulative share
    first = np.r_[True, aisle[1:] != aisle[:-1]]
    within = np.where(first, cum, np.diff(cum, prepend=0.0))
    cdf = syn._taste(shape)  # clusters x aisles, cumulative
    taste = np.diff(cdf, axis=1, prepend=0.0)
    cust = np.arange(shape.customers)
    cluster = cust % shape.clusters
    p = (1 - shape.reorder) * taste[cluster][:, aisle] * within[None, :]
    counts = np.diff(np.r_[start, len(aisle)])
    seed = syn._staple_seed(cust)
    for k in range(syn.STAPLES if staples else 0):
        staple = syn._staples(seed, np.full(len(cust), k), cluster_of=cluster, taste=cdf,
                              start=start, counts=counts)
        np.add.at(p, (cust, staple), shape.reorder / syn.STAPLES)
    return p


class Bayes:
    """Recommends by a chances table (customers x products as the generator numbers them;
    ``rows`` and ``cols`` map the data's ids to those numbers)."""

    def __init__(self, chances: np.ndarray, train, rows, cols) -> None:
        self.p, self.train, self.rows, self.cols = chances, train, rows, cols

    def recommend(self, customer_ids, n: int = 10, exclude_seen: bool = True):
        items = np.asarray(self.train.item_ids)
        scores = self.p[self.rows(customer_ids)][:, self.cols(items)].copy()
        if exclude_seen:
            seen = self.train.matrix("binary")[pd.Index(self.train.customer_ids)
                                               .get_indexer(customer_ids)]
            scores[seen.nonzero()] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        return items[top], np.take_along_axis(scores, top, axis=1)


def _numbers(ids, base: int) -> np.ndarray:
    return np.asarray(ids).astype(float).astype(np.int64) - base


def basket_rankings(shape: syn.Shape, train) -> dict[str, Bayes]:
    rows, cols = (lambda ids: _numbers(ids, 100_000)), (lambda ids: _numbers(ids, 1))
    return {"bayes": Bayes(line_chances(shape), train, rows, cols),
            "cluster": Bayes(line_chances(shape, staples=False), train, rows, cols)}


def demo_rankings(split, n_customers: int = 2000, n_products: int = 500, seed: int = 0
                  ) -> dict[str, Bayes]:
    """The demo shop (recsys.datasets): a new line is a category from the customer's own
    taste (a Dirichlet draw; a tenth of draws any category), then a product by popularity,
    once it is on sale; ``bayes`` knows each customer's taste. (Reading the taste from the
    customer's training lines, the Dirichlet's posterior mean over the categories they
    bought, scored 1.05x EASE: below the ranker, so not a ceiling, and not printed.)"""
    rng = np.random.default_rng(seed)
    cat = ds._catalogue(n_products, rng)
    k = len(ds.CATEGORIES)
    taste = rng.dirichlet(np.full(k, ds.TASTE), n_customers)
    c, pop = cat["cat"].to_numpy(), cat["pop"].to_numpy()
    day = (split.cutoff - ds.START) / pd.Timedelta(days=1)
    end = (split.test["timestamp"].max() - ds.START) / pd.Timedelta(days=1)
    on_sale = np.clip((end - np.maximum(cat["launch"].to_numpy(), day)) / (end - day), 0, 1)
    chances = ((ds.TASTE_PICK * taste[:, c] + (1 - ds.TASTE_PICK) / k)
               * pop / np.bincount(c, weights=pop)[c] * on_sale)
    code = pd.Index(cat["code"])
    return {"bayes": Bayes(chances, split.train, lambda ids: _numbers(ids, 12346),
                           code.get_indexer)}


def generated(shape: syn.Shape):
    """The generator's export as order data, its ids as written (the importer would
    pseudonymise the customers, and the truth is by their numbers)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shop.csv"
        syn.generate(path, shape)
        raw = pd.read_csv(path, dtype={"customer_id": str, "product_id": str,
                                       "order_id": str}, parse_dates=["order_time"])
    lines = pd.DataFrame({
        "customer_id": raw["customer_id"], "item_id": raw["product_id"],
        "order_id": raw["order_id"], "timestamp": raw["order_time"],
        "quantity": raw["quantity"], "price": raw["price"], "name": raw["product_name"],
        "category": raw["aisle"], "country": None, "region": None, "cancelled": False,
        "event": "purchase"})
    return OrderData.from_lines(lines, {"format": "generated"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", action="store_true", help="the demo shop (recsys.datasets)")
    for name, kind, default in (("customers", int, 3900), ("products", int, 167),
                                ("lines", int, 40_000), ("aisles", int, 12),
                                ("clusters", int, 8), ("basket", float, 2.5),
                                ("reorder", float, 0.3), ("seed", int, 1)):
        ap.add_argument(f"--{name}", type=kind, default=default)
    ap.add_argument("--models", default="ease,ranker")
    args = ap.parse_args()
    if args.demo:
        data = ds.load_demo()
        split = temporal_split(data)
        rankings = demo_rankings(split)
        print("the demo shop")
    else:
        shape = syn.Shape(**{k: getattr(args, k) for k in (
            "lines", "customers", "products", "aisles", "clusters", "basket", "reorder",
            "seed")})
        split = temporal_split(generated(shape))
        rankings = basket_rankings(shape, split.train)
        print(shape)
    report(split, rankings, filter(None, args.models.split(",")))


def report(split, rankings: dict[str, Bayes], models) -> None:
    """NDCG@10 of the rankings and the models, against the Bayes ranking and EASE."""
    truth = build_truth(split)
    print(f"cutoff {split.cutoff.date()}, {len(truth.customer_ids):,} test customers")
    results = {name: evaluate(r, split, truth=truth) for name, r in rankings.items()}
    for name in models:
        start = time.perf_counter()
        results[name] = evaluate(make_model(name).fit(split.train), split, truth=truth)
        print(f"{name} fitted and scored in {time.perf_counter() - start:.0f} s", flush=True)
    ceiling = results["bayes"]
    for name, res in results.items():
        lo, hi = res.ci["ndcg"]
        print(f"{name:8s} NDCG@10 {res.metrics['ndcg']:.4f} [{lo:.4f}, {hi:.4f}]  "
              f"{res.metrics['ndcg'] / ceiling.metrics['ndcg']:.1%} of bayes")
    ease = results.get("ease")
    for name, res in results.items() if ease else ():
        d = paired_difference(res.per_customer["ndcg"], ease.per_customer["ndcg"])
        print(f"{name:8s} {res.metrics['ndcg'] / ease.metrics['ndcg']:.3f}x EASE "
              f"({d['diff']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}])")


if __name__ == "__main__":
    main()

"""How high can any recommender score on a generated shop? The generator (recsys.synthetic)
knows each customer's chance of putting each product in a line: a share of their lines are
their eight staples, the rest an aisle their taste cluster likes and a product by its
popularity in that aisle, at any time of the year. This tool scores two rankings by those
chances on the same temporal split as ``python -m recsys bench``, beside the models asked:

- ``bayes``: every customer's own chances, staples included. No model can reach it: a
  staple the customer has not bought yet shows in no history.
- ``taste``: their cluster's taste and the products' popularity alone: what many
  customers' orders can teach, given each customer's cluster. (Adding each product's chance
  of being an unseen staple, given how many lines the customer bought without it, scored
  lower on the basket shop: 1.08x EASE against 1.09x.)

    python tools/generator_ceiling.py [--customers 3900 --products 167 --lines 40000
        --aisles 12 --clusters 8 --basket 2.5 --reorder 0.3 --seed 1] [--models ease,ranker]

The defaults are the basket shop of docs/tuning.md. Prints NDCG@10 (novel products) with
its 95% CI, each model's share of the Bayes ranking's, and every ranking against EASE (the
paired difference over the same customers).
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

from recsys import synthetic as syn  # noqa: E402
from recsys.evaluate import build_truth, evaluate, paired_difference, temporal_split  # noqa: E402

STAPLES = 8  # each customer's staples, drawn uniformly (synthetic._block)


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
    seed = (cust.astype(np.int64) * 2654435761) % (2**31)
    for k in range(STAPLES if staples else 0):
        staple = syn._staples(seed, np.full(len(cust), k), cluster_of=cluster, taste=cdf,
                              start=start, counts=counts)
        np.add.at(p, (cust, staple), shape.reorder / STAPLES)
    return p


class Bayes:
    """Recommends by the generator's own chances (the ids as the generator writes them)."""

    name = "bayes (the generator's truth)"

    def __init__(self, chances: np.ndarray, train) -> None:
        self.p, self.train = chances, train

    def recommend(self, customer_ids, n: int = 10, exclude_seen: bool = True):
        items = np.asarray(self.train.item_ids)
        cols = items.astype(np.int64) - 1
        rows = np.asarray(customer_ids).astype(np.int64) - 100_000
        scores = self.p[rows][:, cols].copy()
        if exclude_seen:
            seen = self.train.matrix("binary")[pd.Index(self.train.customer_ids)
                                               .get_indexer(customer_ids)]
            scores[seen.nonzero()] = -np.inf
        top = np.argsort(-scores, axis=1, kind="stable")[:, :n]
        return items[top], np.take_along_axis(scores, top, axis=1)


def generated(shape: syn.Shape):
    """The generator's export as order data, its ids as written (the importer would
    pseudonymise the customers, and the truth is by their numbers)."""
    from recsys.data import OrderData

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
    for name, kind, default in (("customers", int, 3900), ("products", int, 167),
                                ("lines", int, 40_000), ("aisles", int, 12),
                                ("clusters", int, 8), ("basket", float, 2.5),
                                ("reorder", float, 0.3), ("seed", int, 1)):
        ap.add_argument(f"--{name}", type=kind, default=default)
    ap.add_argument("--models", default="ease,ranker")
    args = ap.parse_args()
    from recsys.models import make_model

    shape = syn.Shape(**{k: getattr(args, k) for k in ("lines", "customers", "products",
                                                       "aisles", "clusters", "basket",
                                                       "reorder", "seed")})
    data = generated(shape)
    split = temporal_split(data)
    truth = build_truth(split)
    print(f"{shape}\ncutoff {split.cutoff.date()}, {len(truth.customer_ids):,} test customers")
    results = {"bayes": evaluate(Bayes(line_chances(shape), split.train), split, truth=truth),
               "taste": evaluate(Bayes(line_chances(shape, staples=False), split.train), split,
                                 truth=truth)}
    for name in filter(None, args.models.split(",")):
        start = time.perf_counter()
        results[name] = evaluate(make_model(name).fit(split.train), split, truth=truth)
        print(f"{name} fitted and scored in {time.perf_counter() - start:.0f} s", flush=True)
    ceiling = results["bayes"].metrics["ndcg"]
    for name, res in results.items():
        lo, hi = res.ci["ndcg"]
        line = f"{name:8s} NDCG@10 {res.metrics['ndcg']:.4f} [{lo:.4f}, {hi:.4f}]"
        if name != "bayes":
            d = paired_difference(res.per_customer["ndcg"], results["bayes"].per_customer["ndcg"])
            line += (f"  {res.metrics['ndcg'] / ceiling:.1%} of the ceiling "
                     f"({d['diff']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}])")
        print(line)
    if "ease" in results:
        ease = results["ease"]
        for name, res in results.items():
            d = paired_difference(res.per_customer["ndcg"], ease.per_customer["ndcg"])
            print(f"{name:8s} {res.metrics['ndcg'] / ease.metrics['ndcg']:.3f}x EASE "
                  f"({d['diff']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}])")


if __name__ == "__main__":
    main()

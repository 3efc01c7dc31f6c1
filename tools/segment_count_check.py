"""The customer segments a shop gets, as the Embeddings page makes them: the count chosen by
use (``segment_value.choose_k``), its usefulness beside RFM, category-mix and one list for
everyone at the same count, and the segments' names and sizes.

    python tools/segment_count_check.py [DATA|demo] [--models ease,als]

The holdout model (before the default cutoff) chooses the count and is measured; the model
fitted on all orders is clustered and named, as the page does. Figures, not tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys import segment_value as sv  # noqa: E402
from recsys import segments  # noqa: E402
from recsys.data import load_orders  # noqa: E402
from recsys.datasets import load_demo  # noqa: E402
from recsys.models import make_model  # noqa: E402
from recsys.workflow import default_cutoff  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data", nargs="?", default="../shared/data/online_retail.csv.gz")
    p.add_argument("--models", default="ease,als")
    args = p.parse_args()
    data = load_demo() if args.data == "demo" else load_orders(args.data)
    cutoff = str(default_cutoff(data))
    for name in args.models.split(","):
        t = time.perf_counter()
        holdout = make_model(name).fit(data.before(cutoff))
        ids, vec = segments.model_vectors(holdout, "customers")
        choice = sv.choose_k(data, cutoff, ids, vec)
        value = sv.usefulness(data, cutoff, ids, vec, choice["k"])
        serving = make_model(name).fit(data)
        s_ids, s_vec = segments.model_vectors(serving, "customers")
        res = segments.segment(data, s_vec, s_ids, "customers", choice["k"])
        print(f"\n## {name} (holdout from {cutoff}; {time.perf_counter() - t:.0f} s)")
        print(choice["why"])
        print("K: " + ", ".join(f"{k} {v['ndcg']:.4f}/{v['distinct']:.2f}"
                                for k, v in choice["curve"].items())
              + f" (NDCG@10 / separation; one list for everyone {choice['everyone']:.4f})")
        n = value["ndcg"]
        print(f"usefulness at K={value['k']}: " + ", ".join(f"{k} {v:.4f}" for k, v in n.items()))
        best_simple = max(v for k, v in n.items() if k != "embedding segments")
        print(f"embedding segments vs the best simple rule: "
              f"{n['embedding segments'] / best_simple - 1:+.1%}")
        for c in res["clusters"]:
            print(f"  {c['name']:<60} {c['size']:>6,} customers")


if __name__ == "__main__":
    main()

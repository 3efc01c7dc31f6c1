"""Ray Train workers against one process on the same temporal split: fit seconds, holdout
NDCG@10, epochs, and peak memory (the driver's, and the workers' sampled with ``ps``): the
figures behind the Ray section of docs/scaling.md. Starts a local Ray cluster of ``--cpus`` CPUs.

    python tools/ray_compare.py DATA|demo [--model two_tower] [--workers 2]
        [--params '{"epochs": 2, "patience": 0}'] [--no-single]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys import distributed  # noqa: E402
from recsys.data import load_orders  # noqa: E402
from recsys.datasets import load_demo  # noqa: E402
from recsys.evaluate import evaluate, temporal_split  # noqa: E402
from recsys.memory import PeakRSS  # noqa: E402
from recsys.models import make_model  # noqa: E402


def worker_rss() -> list[float]:
    """Resident GiB (as ``PeakRSS.peak_gb``) of each Ray Train worker process here."""
    ps = subprocess.run(["ps", "-eo", "rss,args"], capture_output=True, text=True).stdout
    return [int(line.split()[0]) * 1024 / 2**30 for line in ps.splitlines()[1:]
            if "ray::RayTrainWorker" in line]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--model", default="two_tower")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--params", default="{}")
    ap.add_argument("--no-single", action="store_true")
    args = ap.parse_args()
    params = json.loads(args.params)
    split = temporal_split(load_demo() if args.data == "demo" else load_orders([args.data]))
    print(f"{split.train.n_lines:,} training lines", flush=True)
    if not args.no_single:
        with PeakRSS() as mem:
            one = make_model(args.model, **params).fit(split.train)
        ndcg = evaluate(one, split, n_boot=0).metrics["ndcg"]
        print(f"one process: {mem.seconds:.1f}s, NDCG@10 {ndcg:.4f}, {one.best_epoch_} "
              f"epochs, peak {mem.peak_gb:.2f} GB", flush=True)
    distributed.connect("local", num_cpus=args.cpus)
    peak = {"each": 0.0, "all": 0.0}
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.5):
            rss = worker_rss()
            peak.update(each=max(peak["each"], max(rss, default=0.0)),
                        all=max(peak["all"], sum(rss)))

    threading.Thread(target=watch, daemon=True).start()
    with PeakRSS() as mem:
        many = distributed.fit_data_parallel(args.model, params, split.train,
                                             workers=args.workers)
    stop.set()
    ndcg = evaluate(many, split, n_boot=0).metrics["ndcg"]
    print(f"{args.workers} Ray Train workers: {mem.seconds:.1f}s, NDCG@10 {ndcg:.4f}, "
          f"{many.best_epoch_} epochs, driver peak {mem.peak_gb:.2f} GB, peak per worker "
          f"{peak['each']:.2f} GB ({peak['all']:.2f} GB together)", flush=True)


if __name__ == "__main__":
    main()

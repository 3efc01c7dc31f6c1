"""Seconds per training step of two_tower or NCF (random-line batches with dense and sparse
tables; whole-order batches) and, with --epoch, one real training epoch on an export (whole
orders by default; --batch-orders 0 for random lines): the figures behind docs/scaling.md's
Scaling section.

    python tools/neural_epoch.py DATA [--model two_tower|ncf] [--steps 100] [--epoch]
                                      [--batch-orders N]

Per-step figures time ``steps`` optimisation steps on random batches, as an epoch draws them;
the epoch figure is one full pass (features built first, timed apart) with the model's default
config (which trains a shop above ``whole_orders_above`` lines on whole orders) unless
--batch-orders is given.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import recsys.models.sequence as seq  # noqa: E402
from recsys.data import load_orders  # noqa: E402
from recsys.memory import PeakRSS  # noqa: E402
from recsys.models import make_model  # noqa: E402


def step_ms(data, name: str, sparse: bool, steps: int, orders: int = 0) -> tuple[float, int]:
    """Median milliseconds per step, and the steps in one epoch: batches of random lines, or
    of ``orders`` random whole orders."""
    import torch

    from recsys.models.sequence import concat_ranges

    _sparse_rows(name, 0 if sparse else 1 << 62)
    model = make_model(name, patience=0, epochs=1, device="cpu", batch_orders=orders)
    model.bind(data)
    torch.manual_seed(0)
    run = model.start_training(data, torch.device("cpu"), np.random.default_rng(0))
    rng, size = np.random.default_rng(0), model.config.batch_size
    starts = np.searchsorted(run.pair_order, np.arange(run.pair_order[-1] + 2))
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        if orders:
            b = rng.choice(len(starts) - 1, orders, replace=False)
            lines = concat_ranges(starts[b], starts[b + 1])
            run.order_step(b, np.repeat(np.arange(orders), np.diff(starts)[b]),
                           run.pair_item[lines])
        else:
            sel = rng.integers(0, len(run.pair_item), size)
            run.step(run.pair_order[sel], run.pair_item[sel])
        times.append(time.perf_counter() - t)
    per_epoch = (len(starts) - 1) // orders if orders else len(run.pair_item) // size
    return 1000 * float(np.median(times[5:])), per_epoch


def _sparse_rows(name: str, rows: int) -> None:
    """Force (or lift) the sparse-table threshold of the model's training run."""
    import recsys.models.ncf as ncf
    import recsys.models.two_tower_training as tt

    (ncf if name == "ncf" else tt).SPARSE_ROWS = rows


MODELS = ("two_tower", "ncf")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--model", choices=MODELS, default="two_tower")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--epoch", action="store_true", help="also train one full epoch")
    ap.add_argument("--batch-orders", type=int, default=None,
                    help="whole orders per step (0: random lines; per-step figures default "
                         "to 1024 for two_tower, 256 for ncf; the epoch to the model's "
                         "default config)")
    args = ap.parse_args()
    # The whole orders per step the model itself takes on a big shop.
    orders = make_model(args.model).AUTO_ORDERS if args.batch_orders is None \
        else args.batch_orders
    t = time.perf_counter()
    data = load_orders([Path(args.data)])
    print(f"loaded {len(data.interactions):,} lines, {data.n_customers:,} customers, "
          f"{data.n_items:,} products in {time.perf_counter() - t:.0f}s", flush=True)
    for label, sparse, per_step in (("random lines, dense tables", False, 0),
                                    ("random lines, sparse tables", True, 0),
                                    (f"{orders or 1024} whole orders, sparse tables", True,
                                     orders or 1024)):
        ms, per_epoch = step_ms(data, args.model, sparse, args.steps, per_step)
        print(f"{label}: {ms:.1f} ms/step x {per_epoch:,} steps = "
              f"{ms * per_epoch / 1000:.0f}s per epoch (estimate)", flush=True)
    if args.epoch:
        _sparse_rows(args.model, seq.SPARSE_ROWS)  # the library's threshold again
        epochs: list[float] = []
        asked = {} if args.batch_orders is None else {"batch_orders": args.batch_orders}
        model = make_model(args.model, patience=0, epochs=1, device="cpu", **asked)
        with PeakRSS() as mem:
            model.fit(data, callback=lambda e, m: "loss" in m and epochs.append(m["seconds"]))
        print(f"{args.model}, one epoch ({asked or 'default config'}): {epochs[0]:.0f}s "
              f"training, {mem.seconds - epochs[0]:.0f}s features and vectors; peak "
              f"{mem.peak_gb:.2f} GB; notes: {model.notes()}", flush=True)


if __name__ == "__main__":
    main()

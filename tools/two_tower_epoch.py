"""Seconds per two_tower training step (dense vs sparse tables) and, with --epoch, one real
training epoch on an export: the figures behind the README's Scaling section.

    python tools/two_tower_epoch.py DATA [--steps 100] [--epoch]

Per-step figures time ``steps`` optimisation steps on random batches of training lines, as
an epoch draws them; the epoch figure is one full pass (features built first, timed apart).
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


def step_ms(data, sparse: bool, steps: int) -> tuple[float, int]:
    """Median milliseconds per step, and the steps in one epoch."""
    import torch

    import recsys.models.two_tower as tt

    tt.SPARSE_ROWS = 0 if sparse else 1 << 62
    model = make_model("two_tower", patience=0, epochs=1, device="cpu")
    model._bind(data)
    torch.manual_seed(0)
    run = model._start(data, torch.device("cpu"), np.random.default_rng(0))
    rng, size = np.random.default_rng(0), model.config.batch_size
    times = []
    for _ in range(steps):
        sel = rng.integers(0, len(run.pair_item), size)
        t = time.perf_counter()
        run.step(run.pair_order[sel], run.pair_item[sel])
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times[5:])), len(run.pair_item) // size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--epoch", action="store_true", help="also train one full epoch")
    args = ap.parse_args()
    t = time.perf_counter()
    data = load_orders([Path(args.data)])
    print(f"loaded {len(data.interactions):,} lines, {data.n_customers:,} customers, "
          f"{data.n_items:,} products in {time.perf_counter() - t:.0f}s", flush=True)
    for sparse in (False, True):
        ms, per_epoch = step_ms(data, sparse, args.steps)
        print(f"{'sparse' if sparse else 'dense '} tables: {ms:.1f} ms/step x {per_epoch:,} "
              f"steps = {ms * per_epoch / 1000:.0f}s per epoch (estimate)", flush=True)
    if args.epoch:
        import recsys.models.two_tower as tt

        tt.SPARSE_ROWS = seq.SPARSE_ROWS  # the library's threshold again
        epochs: list[float] = []
        model = make_model("two_tower", patience=0, epochs=1, device="cpu")
        with PeakRSS() as mem:
            model.fit(data, callback=lambda e, m: "loss" in m and epochs.append(m["seconds"]))
        print(f"one epoch: {epochs[0]:.0f}s training, {mem.seconds - epochs[0]:.0f}s features "
              f"and vectors; peak {mem.peak_gb:.2f} GB", flush=True)


if __name__ == "__main__":
    main()

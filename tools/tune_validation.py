"""Tune hyper-parameters on the validation window inside the training period (the test window
is never touched). Prints validation NDCG@10 per epoch for torch models, once for others.

    python tools/tune_validation.py two_tower '[{"lr": 0.004}, {"lr": 0.002}]'
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.data import load_orders  # noqa: E402
from recsys.evaluate import build_truth, evaluate, temporal_split, validation_split  # noqa: E402
from recsys.models import make_model  # noqa: E402
from recsys.models.torch_base import TorchRecommender, Trainer  # noqa: E402

name, grid = sys.argv[1], json.loads(sys.argv[2])
path = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/online_retail.csv.gz"
train = temporal_split(load_orders(path), "2011-11-01").train
val = validation_split(train, 30)
truth = build_truth(val, "novel")
for params in grid:
    start, curve = time.perf_counter(), []
    model = make_model(name, **params)
    if isinstance(model, TorchRecommender):
        model = make_model(name, **{**params, "patience": 0})

        def watch(epoch: int, model=model, curve=curve) -> dict:
            curve.append(evaluate(model, val, n_boot=0, truth=truth).metrics["ndcg"])
            return {}

        Trainer().train(model, val.train, model.config.epochs, on_epoch=watch)
    else:
        model.fit(val.train)
        curve.append(evaluate(model, val, n_boot=0, truth=truth).metrics["ndcg"])
    print(params, "validation ndcg by epoch", [round(c, 4) for c in curve],
          f"({time.perf_counter() - start:.0f}s)", flush=True)

"""The benchmark behind ``python -m recsys bench``: split, fit each model, evaluate, compare."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from recsys.data import OrderData
from recsys.evaluate import build_truth, evaluate, paired_difference, temporal_split
from recsys.models import make_model


def run_bench(data: OrderData, models: list[str], params: dict[str, dict[str, Any]] | None = None,
              *, cutoff: str | None = None, test_days: float | None = None, task: str = "novel",
              k: int = 10, n_boot: int = 1000, seed: int = 0,
              log: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Fit and evaluate each model on one temporal split; returns the JSON-ready result."""
    params = params or {}
    split = temporal_split(data, cutoff=cutoff, test_days=test_days)
    truth = build_truth(split, task)
    results, out_models = {}, {}
    for name in models:
        model = make_model(name, **params.get(name, {}))
        start = time.perf_counter()
        model.fit(split.train)
        fit_s = time.perf_counter() - start
        res = evaluate(model, split, k=k, task=task, n_boot=n_boot, seed=seed, truth=truth)
        results[name] = res
        d = res.to_dict()
        out_models[name] = {**d, "fit_seconds": round(fit_s, 3), "params": model.params()}
        if log:
            log(f"{name:<18} ndcg@{k}={d['ndcg']:.4f}  fit {fit_s:.2f}s")
    best = max(results, key=lambda m: results[m].metrics["ndcg"]) if results else None
    for name, res in results.items():
        if name != best:
            diff = paired_difference(res.per_customer["ndcg"], results[best].per_customer["ndcg"],
                                     n_boot, seed)
            out_models[name]["ndcg_diff_vs_best"] = {k2: round(v, 5) for k2, v in diff.items()}
    summary = data.summary()
    return {
        "dataset": {"format": data.report.get("format"), "raw_rows": data.report.get("rows_read"),
                    "clean_rows": summary["lines"], "customers": summary["customers"],
                    "items": summary["items"], "orders": summary["orders"]},
        "split": {**split.summary(), "train_customers": split.train.n_customers,
                  "train_items": split.train.n_items,
                  "test_customers": int(len(truth.customer_ids))},
        "task": task, "k": k, "best": best, "models": out_models,
    }


def format_leaderboard(result: dict[str, Any]) -> str:
    """A plain-text table, best NDCG first."""
    k = result["k"]
    head = (f"{'model':<18}{'ndcg':>8}{'recall':>8}{'hr':>8}{'prec':>8}{'map':>8}{'cover':>8}"
            f"{'ndcg 95% CI':>18}{'fit s':>8}{'ms/cust':>9}")
    rows = sorted(result["models"].items(), key=lambda kv: -kv[1]["ndcg"])
    lines = [f"task={result['task']} k={k} cutoff={result['split']['cutoff']} "
             f"test customers={result['split']['test_customers']:,} "
             f"train: {result['split']['train_customers']:,} customers, "
             f"{result['split']['train_items']:,} items", head, "-" * len(head)]
    for name, m in rows:
        ci = f"[{m['ndcg_ci'][0]:.4f}, {m['ndcg_ci'][1]:.4f}]"
        lines.append(f"{name:<18}{m['ndcg']:>8.4f}{m['recall']:>8.4f}{m['hr']:>8.4f}"
                     f"{m['precision']:>8.4f}{m['map']:>8.4f}{m['coverage']:>8.3f}{ci:>18}"
                     f"{m['fit_seconds']:>8.2f}{m['recommend_ms_per_customer']:>9.3f}")
    return "\n".join(lines)

"""The benchmark behind ``python -m recsys bench``: split, fit each model, evaluate, compare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recsys.data import OrderData
from recsys.evaluate import build_truth, evaluate, paired_difference, temporal_split
from recsys.memory import PeakRSS, peak_bytes
from recsys.models import make_model
from recsys.models.blend import Blend


def run_bench(data: OrderData, models: list[str], params: dict[str, dict[str, Any]] | None = None,
              *, cutoff: str | None = None, test_days: float | None = None, task: str = "novel",
              k: int = 10, n_boot: int = 1000, seed: int = 0,
              tune_minutes: float | None = None, tune_trials: int | None = None,
              tune_total_minutes: float | None = None,
              log: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Fit and evaluate each model on one temporal split; returns the JSON-ready result.
    With ``tune_minutes`` each model's settings are first searched on the validation window
    at the end of the training period (``recsys.tuning``; ``params`` stay fixed), the blend
    of the best with best sellers joins, and the test window scores the chosen settings.
    The whole data is let go once split (30M lines: 0.9 GB less while the models fit); a
    caller that keeps no reference of its own to it frees it then."""
    params = params or {}
    with PeakRSS() as split_mem:
        split = temporal_split(data, cutoff=cutoff, test_days=test_days)
        truth = build_truth(split, task)
    summary, report = data.summary(), data.report
    del data
    steps = {"split": _step(split_mem)}
    tuned: dict[str, Any] = {}
    if tune_minutes is not None:
        with PeakRSS() as tune_mem:
            tuned = _tune(models, split.train, params, log, minutes=tune_minutes,
                          total_minutes=tune_total_minutes, trials=tune_trials, seed=seed,
                          task=task, k=k)
        steps["tune"] = _step(tune_mem)
        params = {name: r.params for name, r in tuned.items()}
        models = [*models, *(["blend"] if "blend" in tuned else [])]
    keep = tuned["blend"].params["base"] if "blend" in tuned else None
    results, out_models, kept = {}, {}, None
    for name in models:
        model = make_model(name, **params.get(name, {}))
        with PeakRSS() as fit_mem:
            if name == "blend" and kept is not None:  # around the base fitted above
                p = params[name]
                model = Blend.wrap(kept, split.train, popularity=p["popularity"],
                                   recent=p["recent"], recent_days=p["recent_days"])
            else:
                model.fit(split.train)
        if name == keep:
            kept = model
        with PeakRSS() as eval_mem:
            res = evaluate(model, split, k=k, task=task, n_boot=n_boot, seed=seed, truth=truth)
        results[name] = res
        d = res.to_dict()
        fit_s = fit_mem.seconds
        out_models[name] = {**d, "fit_seconds": round(fit_s, 3),
                            "fit_peak_gb": fit_mem.peak_gb,
                            "evaluate_seconds": round(eval_mem.seconds, 3),
                            "evaluate_peak_gb": eval_mem.peak_gb, "params": model.params()}
        if model.notes():
            out_models[name]["notes"] = model.notes()
        if name in tuned:
            r = tuned[name]
            out_models[name].update(
                validation_ndcg=round(r.score, 5), tuned={
                    "trials": len(r.trials), "seconds": round(r.seconds, 1),
                    "start_validation_ndcg": _round(r.start_score),
                    "default_validation_ndcg": _round(r.default_score),
                    "kept_start": r.kept_start})
        if log:
            log(f"{name:<18} ndcg@{k}={d['ndcg']:.4f}  fit {fit_s:.2f}s "
                f"(peak {fit_mem.peak_gb:.2f} GB)  evaluate {eval_mem.seconds:.2f}s")
        del model
    best = max(results, key=lambda m: results[m].metrics["ndcg"]) if results else None
    for name, res in results.items():
        if name != best:
            diff = paired_difference(res.per_customer["ndcg"], results[best].per_customer["ndcg"],
                                     n_boot, seed)
            out_models[name]["ndcg_diff_vs_best"] = {k2: round(v, 5) for k2, v in diff.items()}
    return {
        "dataset": {"format": report.get("format"), "raw_rows": report.get("rows_read"),
                    "clean_rows": summary["lines"], "customers": summary["customers"],
                    "items": summary["items"], "orders": summary["orders"]},
        "split": {**split.summary(), "train_customers": split.train.n_customers,
                  "train_items": split.train.n_items,
                  "test_customers": int(len(truth.customer_ids))},
        "task": task, "k": k, "best": best, "models": out_models,
        "steps": steps, "peak_gb": round(peak_bytes() / 2**30, 3),
    }


def _tune(models, train, params, log, **how: Any) -> dict[str, Any]:
    from recsys.tuning import tune_many
    from recsys.tuning_ray import searcher

    def show(n: int, e: dict[str, Any]) -> None:
        if log and e["model"] != "blend" and (n % 10 == 0 or e["val_ndcg"] == e["best"]):
            log(f"  tuning {e['model']}: trial {e['trial']} validation ndcg "
                f"{(e['val_ndcg'] or 0):.4f} (best {(e['best'] or 0):.4f}, {e['seconds']:.0f}s)")

    tuned = tune_many(models, train, fixed=params, callback=show, search=searcher(), **how)
    if log:
        for name, r in tuned.items():
            log(f"tuned {name:<18} validation ndcg@{how['k']}={r.score:.4f} after "
                f"{len(r.trials)} trials in {r.seconds:.0f}s")
    return tuned


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 5)


def _step(m: PeakRSS) -> dict[str, float]:
    return {"seconds": round(m.seconds, 3), "peak_gb": m.peak_gb}


def format_leaderboard(result: dict[str, Any]) -> str:
    """A plain-text table, best NDCG first."""
    k = result["k"]
    tuned = any("validation_ndcg" in m for m in result["models"].values())
    head = (f"{'model':<18}{'ndcg':>8}{'recall':>8}{'hr':>8}{'prec':>8}{'map':>8}{'cover':>8}"
            f"{'ndcg 95% CI':>18}{'fit s':>8}{'ms/cust':>9}{'eval s':>8}{'peak GB':>8}"
            + (f"{'val ndcg':>9}" if tuned else ""))
    rows = sorted(result["models"].items(), key=lambda kv: -kv[1]["ndcg"])
    lines = [f"task={result['task']} k={k} cutoff={result['split']['cutoff']} "
             f"test customers={result['split']['test_customers']:,} "
             f"train: {result['split']['train_customers']:,} customers, "
             f"{result['split']['train_items']:,} items", head, "-" * len(head)]
    for name, m in rows:
        ci = f"[{m['ndcg_ci'][0]:.4f}, {m['ndcg_ci'][1]:.4f}]"
        lines.append(f"{name:<18}{m['ndcg']:>8.4f}{m['recall']:>8.4f}{m['hr']:>8.4f}"
                     f"{m['precision']:>8.4f}{m['map']:>8.4f}{m['coverage']:>8.3f}{ci:>18}"
                     f"{m['fit_seconds']:>8.2f}{m['recommend_ms_per_customer']:>9.3f}"
                     f"{m.get('evaluate_seconds', 0):>8.2f}"
                     f"{max(m.get('fit_peak_gb', 0), m.get('evaluate_peak_gb', 0)):>8.2f}"
                     + (f"{m.get('validation_ndcg', float('nan')):>9.4f}" if tuned else ""))
    steps = result.get("steps", {})
    if steps:
        lines.append("steps: " + ", ".join(f"{k} {v['seconds']:.1f}s (peak {v['peak_gb']:.2f} GB)"
                                           for k, v in steps.items())
                     + f"; whole run peak {result.get('peak_gb', 0):.2f} GB")
    for name, m in rows:
        for note in m.get("notes", []):
            lines.append(f"note: {name}: {note}")
    return "\n".join(lines)

"""The benchmark behind ``python -m recsys bench``: split, fit each model, evaluate, compare."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from recsys.choice import choose
from recsys.data import OrderData
from recsys.evaluate import build_truth, default_test_days, paired_difference, temporal_split
from recsys.memory import PeakRSS, peak_bytes
from recsys.models import model_settings, registry
from recsys.pipelines import fit_and_score
from recsys.tuning import tune_many
from recsys.tuning_ray import searcher


def run_bench(data: OrderData, models: list[str], params: dict[str, dict[str, Any]] | None = None,
              *, cutoff: str | None = None, test_days: float | None = None, task: str = "novel",
              k: int = 10, n_boot: int = 1000, seed: int = 0,
              tune_minutes: float | None = None, tune_trials: int | None = None,
              tune_total_minutes: float | None = None, choose_windows: int = 0,
              log: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Fit and evaluate each model on one temporal split (``pipelines.fit_and_score``, as a
    fit job does); returns the JSON-ready result, each model's entry a ``ScoreRow`` with the
    bench's own figures (memory, evaluation time) beside it.
    With ``tune_minutes`` each model's settings are first searched on the validation window
    at the end of the training period (``recsys.tuning``; ``params`` stay fixed), the blend
    of the best with best sellers joins, and the test window scores the chosen settings.
    With ``choose_windows`` the models are also chosen between on that many validation
    windows at the end of the training period (``recsys.choice``), and the result says
    whether that choice, and one window's, is the model best on the test weeks.
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
        models = [*models, *(n for n in tuned if n not in models)]
    bases = _bases(models, params)  # fitted models a mix later in the list wraps
    fitted: dict[str, Any] = {}
    results, out_models = {}, {}
    for name in models:
        meters: dict[str, PeakRSS] = {}

        @contextmanager
        def step(what: str, meters=meters):
            with PeakRSS() as m:
                yield
            meters[what] = m

        r = tuned.get(name)
        scored = fit_and_score(name, params.get(name, {}), split, label=name, k=k, task=task,
                               n_boot=n_boot, seed=seed, truth=truth, step=step,
                               fit=_reuse_base(fitted), tuned=r is not None,
                               validation_ndcg=None if r is None else _round(r.score))
        if bases.get(name) == scored.model.params():
            fitted[name] = scored.model
        results[name] = scored.result
        out_models[name] = _entry(scored, meters, r)
        if log:
            fit, ev = meters["fit"], meters["evaluate"]
            log(f"{name:<18} ndcg@{k}={scored.row.metrics['ndcg']:.4f}  fit {fit.seconds:.2f}s "
                f"(peak {fit.peak_gb:.2f} GB)  evaluate {ev.seconds:.2f}s")
    best = max(results, key=lambda m: results[m].metrics["ndcg"]) if results else None
    for name, res in results.items():
        if name != best:
            diff = paired_difference(res.per_customer["ndcg"], results[best].per_customer["ndcg"],
                                     n_boot, seed)
            out_models[name]["ndcg_diff_vs_best"] = {k2: round(v, 5) for k2, v in diff.items()}
    choice = _choice(split.train, models, params, choose_windows, best, k=k, task=task,
                     seed=seed, log=log) if choose_windows and results else None
    return {
        "dataset": {"format": report.format, "raw_rows": report.rows_read,
                    "clean_rows": summary["lines"], "customers": summary["customers"],
                    "items": summary["items"], "orders": summary["orders"]},
        "split": {**split.summary(), "train_customers": split.train.n_customers,
                  "train_items": split.train.n_items,
                  "test_customers": int(len(truth.customer_ids))},
        "task": task, "k": k, "best": best, "models": out_models,
        "choice": choice, "steps": steps, "peak_gb": round(peak_bytes() / 2**30, 3),
    }


def _choice(train: OrderData, models: list[str], params: dict[str, dict[str, Any]],
            windows: int, test_best: str, **how: Any) -> dict[str, Any]:
    """The choice on ``windows`` validation windows (``recsys.choice``), and whether it and
    the last window alone picked the model best on the test weeks."""
    c = choose(train, models, params, windows=windows, days=default_test_days(train),
               **how).to_dict()
    return {**c, "test_best": test_best, "matched": c["chosen"] == test_best,
            "last_window_matched": c["last_window_choice"] == test_best}


def _bases(models: list[str], params: dict[str, dict[str, Any]]) -> dict[str, dict]:
    """The base models (name: settings) that mixes in the list wrap."""
    out = {}
    for name in models:
        if registry.spec(name).wraps_base:
            c = model_settings(name, params.get(name))
            out[c["base"]] = model_settings(c["base"], json.loads(c["base_params"]))
    return out


def _reuse_base(fitted: dict[str, Any]):
    """A mix around a base model (the blend) wraps the same base fitted before it in the
    list, rather than fitting it again."""
    def fit(model, train, callback):
        if registry.spec(model.name).wraps_base and model.config.base in fitted:
            c = model.config
            return type(model).wrap(fitted[c.base], train, popularity=c.popularity,
                                    recent=c.recent, recent_days=c.recent_days)
        return model.fit(train, callback=callback)
    return fit


def _entry(scored, meters: dict[str, PeakRSS], tuned) -> dict[str, Any]:
    """A model's bench entry: its score row, with the bench's own measurements."""
    fit, ev = meters["fit"], meters["evaluate"]
    out = {**scored.row.to_dict(), "fit_seconds": round(fit.seconds, 3),
           "fit_peak_gb": fit.peak_gb, "evaluate_seconds": round(ev.seconds, 3),
           "evaluate_peak_gb": ev.peak_gb, "params": scored.model.params()}
    if tuned is not None:
        out["tuning"] = {"trials": len(tuned.trials), "seconds": round(tuned.seconds, 1),
                         "start_validation_ndcg": _round(tuned.start_score),
                         "default_validation_ndcg": _round(tuned.default_score),
                         "kept_start": tuned.kept_start}
    return out


def _tune(models, train, params, log, **how: Any) -> dict[str, Any]:
    def show(n: int, e: dict[str, Any]) -> None:
        if log and not registry.spec(e["model"]).wraps_base \
                and (n % 10 == 0 or e["val_ndcg"] == e["best"]):
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
    tuned = any(m.get("validation_ndcg") is not None for m in result["models"].values())
    head = (f"{'model':<18}{'ndcg':>8}{'recall':>8}{'hr':>8}{'prec':>8}{'map':>8}{'cover':>8}"
            f"{'ndcg 95% CI':>18}{'fit s':>8}{'ms/cust':>9}{'eval s':>8}{'peak GB':>8}"
            + (f"{'val ndcg':>9}" if tuned else ""))
    rows = sorted(result["models"].items(), key=lambda kv: -kv[1]["ndcg"])
    lines = [f"task={result['task']} k={k} cutoff={result['split']['cutoff']} "
             f"test customers={result['split']['test_customers']:,} "
             f"train: {result['split']['train_customers']:,} customers, "
             f"{result['split']['train_items']:,} items", head, "-" * len(head)]
    for name, m in rows:
        ci = f"[{m['ndcg_lo']:.4f}, {m['ndcg_hi']:.4f}]"
        lines.append(f"{name:<18}{m['ndcg']:>8.4f}{m['recall']:>8.4f}{m['hr']:>8.4f}"
                     f"{m['precision']:>8.4f}{m['map']:>8.4f}{m['coverage']:>8.3f}{ci:>18}"
                     f"{m['fit_seconds']:>8.2f}{m['recommend_ms_per_customer']:>9.3f}"
                     f"{m.get('evaluate_seconds', 0):>8.2f}"
                     f"{max(m.get('fit_peak_gb', 0), m.get('evaluate_peak_gb', 0)):>8.2f}"
                     + (f"{m.get('validation_ndcg') or float('nan'):>9.4f}" if tuned else ""))
    steps = result.get("steps", {})
    if steps:
        lines.append("steps: " + ", ".join(f"{k} {v['seconds']:.1f}s (peak {v['peak_gb']:.2f} GB)"
                                           for k, v in steps.items())
                     + f"; whole run peak {result.get('peak_gb', 0):.2f} GB")
    for name, m in rows:
        for note in m.get("notes") or []:
            lines.append(f"note: {name}: {note}")
    c = result.get("choice")
    if c:
        d = c["margin"]
        sure = "" if d is None else (f", {d['diff']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}] "
                                     f"over {c['runner_up']}")
        lines.append(f"chosen on {len(c['cutoffs'])} validation windows: {c['chosen']}{sure}; "
                     f"the last window alone: {c['last_window_choice']}; best on the test "
                     f"weeks: {c['test_best']}")
    return "\n".join(lines)

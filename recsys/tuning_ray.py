"""Tuning on a Ray cluster: ``tuning.tune``'s search with its trials spread over the nodes.

Used when ``RECSYS_RAY_ADDRESS`` is set (``searcher()`` picks); Ray itself is imported only
then, so the embedded default never loads it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from recsys import distributed, tuning
from recsys.models import make_model
from recsys.models.search import ShopShape


def searcher():
    """The search to run: on the configured Ray cluster, else in this process."""
    return tune_on_ray if distributed.address() else tuning.tune


def tune_on_ray(name: str, val, *, minutes: float = 5.0, trials: int | None = None,
                seed: int = 0, fixed: dict[str, Any] | None = None, callback=None):
    """``tuning.tune``'s search with its trials spread over the cluster: Ray Tune with its
    Optuna searcher (seeded TPE over the same space, starting from the same points), ASHA
    stopping hopeless epoch-trained trials after their first epochs. Same scoring: each
    trial is fitted and scored on ``val`` (a ``tuning.Validation``) by ``tuning.run_trial``;
    trials send back each validation customer's NDCG, so the best is kept only if it beats
    the start by ``tuning.SE_RULE`` standard errors, as in ``tuning.tune``."""
    import optuna
    from ray import tune as rt
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch


    fixed = tuning.sized(name, val, fixed)
    if not tuning.space(name, fixed):  # nothing to spread out
        return tuning.tune(name, val, trials=1, seed=seed, fixed=fixed, callback=callback)
    distributed.connect()
    points = tuning.starts(name, ShopShape.of(val.train), fixed)
    searcher = OptunaSearch(space=tuning.space(name, fixed), metric="best_ndcg", mode="max",
                            points_to_evaluate=points,
                            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5))
    cap = int(make_model(name, **fixed).params().get("epochs", 1))
    log: list[dict[str, Any]] = []
    per: dict[int, np.ndarray] = {}  # trial number -> per-customer NDCG (finished trials)
    start = time.monotonic()
    with distributed.run_storage(prefix="tune") as (where, run):
        tuner = rt.Tuner(
            rt.with_parameters(_tune_trial, name=name, fixed=fixed, val=val),
            tune_config=rt.TuneConfig(
                metric="best_ndcg", mode="max", search_alg=searcher,
                scheduler=ASHAScheduler(time_attr="epoch", max_t=max(cap, 2), grace_period=2),
                num_samples=trials or 10_000, time_budget_s=max(minutes * 60, 1.0)),
            run_config=rt.RunConfig(storage_path=where, name=run, verbose=0,
                                    callbacks=[_Relay(name, log, per, start, callback)]))
        tuner.fit()
    done = [e for e in log if e["state"] == "complete"]
    if not done:
        raise ValueError(f"No setting of {name} could be fitted on this shop's validation "
                         "window on the cluster.")
    best = max(done, key=lambda e: e["val_ndcg"])
    key = [json.dumps(p, sort_keys=True) for p in points]
    by_point = {json.dumps(e["params"], sort_keys=True): e for e in done}
    best, kept = tuning.keep_start(best, [by_point[k] for k in key if k in by_point],
                                   lambda e: e["val_ndcg"], lambda e: per.get(e["trial"]))
    score_of = [by_point[k]["val_ndcg"] if k in by_point else None for k in key]
    return tuning.TuneResult(name, tuning.chosen(name, {**fixed, **best["params"]},
                                                  best["epochs"]), best["val_ndcg"],
                             start_score=score_of[0], default_score=score_of[-1], trials=log,
                             seconds=time.monotonic() - start, kept_start=kept)


def _tune_trial(config: dict[str, Any], name: str, fixed: dict[str, Any], val) -> None:
    """One trial on a cluster node: fit, score, and report (every epoch for torch models)."""
    from ray import tune as rt

    best = {"score": -1.0, "epoch": None, "last": 0}

    def report(score: float, epoch: int) -> bool:
        best["last"] = epoch + 1
        if score > best["score"]:
            best.update(score=score, epoch=epoch + 1)
        rt.report({"val_ndcg": score, "best_ndcg": best["score"], "epoch": epoch + 1,
                   "epochs": best["epoch"]})
        return False  # ASHA stops the trial itself; the time budget ends them all

    try:
        per, epochs = tuning.run_trial(name, {**fixed, **config}, val, report)
    except (ValueError, MemoryError) as exc:  # settings this shop cannot take
        rt.report({"best_ndcg": -1.0, "epoch": 1, "error": str(exc)[:200]})
        return
    score = float(per.mean())
    # The last report carries each validation customer's NDCG for the standard-error rule.
    rt.report({"val_ndcg": score, "best_ndcg": max(score, best["score"]),
               "epoch": best["last"] + 1, "epochs": epochs,
               "per_customer": per.astype(np.float32).tolist()})


def _relay_class():
    from ray import tune as rt

    class Relay(rt.Callback):
        """Finished trials, as ``tuning.tune`` logs them, passed to the caller's callback
        as they end (on the driver)."""

        def __init__(self, name, log, per, start, callback) -> None:
            self.name, self.log, self.per = name, log, per
            self.start, self.callback = start, callback

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self._add(trial, "complete")

        def on_trial_error(self, iteration, trials, trial, **info) -> None:
            self._add(trial, "failed")

        def _add(self, trial, state: str) -> None:
            r = trial.last_result or {}
            failed = state == "failed" or "error" in r or r.get("best_ndcg", -1.0) < 0
            value = None if failed else float(r["best_ndcg"])
            best = max([e["best"] for e in self.log if e["best"] is not None]
                       + ([value] if value is not None else []), default=None)
            entry = {"model": self.name, "trial": len(self.log) + 1, "val_ndcg": value,
                     "best": best, "state": "failed" if failed else "complete",
                     "params": dict(trial.config), "epochs": r.get("epochs"),
                     "error": r.get("error"), "repeat": False,
                     "seconds": round(time.monotonic() - self.start, 2), "share": None}
            self.log.append(entry)
            if not failed and r.get("per_customer") is not None:
                self.per[entry["trial"]] = np.asarray(r["per_customer"], dtype=np.float64)
            if self.callback is not None:
                self.callback(len(self.log), entry)

    return Relay


def _Relay(*args):  # noqa: N802 (a class made on first use: ray is imported only then)
    return _relay_class()(*args)

"""Ray, for shops that outgrow one machine: data-parallel training of the torch models, and
tuning searches whose trials run in parallel over the cluster (``tune_on_ray``).

Used only when configured (``RECSYS_RAY_ADDRESS``, or a ``workers`` count asked for
explicitly); nothing here is imported by the embedded default. ``fit_data_parallel`` trains
two_tower or NCF with Ray Train: ``num_workers`` processes in one torch process group (gloo
on CPUs, NCCL on GPUs), each building the same features from the shop's data (shipped once
through Ray's object store), training on its own share of every epoch's shuffled examples,
gradients averaged after every step (``recsys.models.trainer.Shard``). Rank 0 relays progress
to the caller and writes the fitted model; the caller loads it back.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recsys.data import OrderData
from recsys.models import make_model, registry
from recsys.models.base import Callback

ADDRESS_ENV = "RECSYS_RAY_ADDRESS"
WORKERS_ENV = "RECSYS_RAY_TRAIN_WORKERS"


def address() -> str | None:
    """The configured Ray cluster ('auto', 'ray://host:10001', 'local' for a cluster started
    in this process), or None: Ray is not used."""
    return os.environ.get(ADDRESS_ENV) or None


def train_workers() -> int:
    """How many Ray Train workers a fit uses when Ray is configured (default 2)."""
    return max(1, int(os.environ.get(WORKERS_ENV, "2")))


def connect(where: str | None = None, num_cpus: int | None = None) -> None:
    """Join the cluster (once per process). The ``recsys`` package travels with the job, so
    the cluster's nodes need only its requirements installed."""
    import ray

    if ray.is_initialized():
        return
    import recsys

    where = where or address()
    runtime = {"py_modules": [str(Path(recsys.__file__).parent)],
               "env_vars": {"PYTHONWARNINGS": "ignore"}}
    if where in (None, "local"):
        ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=runtime,
                 log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=where, runtime_env=runtime, log_to_driver=False,
                 configure_logging=False)


def supports(model: str) -> bool:
    """Whether a model trains data-parallel (its registry entry says so)."""
    return registry.spec(model).data_parallel


def delegates(kind: str, params: dict[str, Any]) -> bool:
    """Whether a job hands its work to Ray Train workers (a fit of a data-parallel model)."""
    return kind in ("fit", "serve") and "model" in params and supports(params["model"])


def fit_data_parallel(model: str, params: dict[str, Any], data: OrderData, *,
                      workers: int = 2, use_gpu: bool = False,
                      callback: Callback | None = None,
                      should_stop: Callable[[], bool] | None = None):
    """Fit ``model`` on ``data`` with ``workers`` Ray Train workers; returns the fitted model
    (loaded in this process). ``callback(epoch, metrics)`` gets rank 0's progress;
    ``should_stop()`` is asked at every epoch's end (all ranks stop together, keeping the
    best weights so far, as a single-process fit does)."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.util.queue import Queue

    if not supports(model):
        raise ValueError(f"{model} does not train data-parallel; "
                         f"{', '.join(registry.names(data_parallel=True))} do.")
    connect()
    relay = Queue()
    with tempfile.TemporaryDirectory(prefix="recsys-ray-") as tmp:
        config = {"model": model, "params": params, "data": ray.put(data),
                  "relay": relay, "device": "cuda" if use_gpu else "cpu"}
        trainer = TorchTrainer(_train_loop, train_loop_config=config,
                               scaling_config=ScalingConfig(num_workers=workers,
                                                            use_gpu=use_gpu),
                               run_config=RunConfig(storage_path=tmp, name="fit"))
        result: dict[str, Any] = {}
        stopped = [False]
        thread = threading.Thread(target=lambda: result.update(r=trainer.fit()), daemon=True)
        thread.start()
        while thread.is_alive() or not relay.empty():
            _drain(relay, callback, should_stop, stopped)
            thread.join(timeout=0.2)
        if "r" not in result or result["r"].error is not None:
            error = result["r"].error if "r" in result else "Ray Train did not finish"
            raise RuntimeError(f"data-parallel training failed: {error}")
        from recsys.models import load_model

        # Rank 0's model, as a Ray Train checkpoint in the run's storage.
        with result["r"].checkpoint.as_directory() as folder:
            return load_model(folder)


def _drain(relay, callback: Callback | None, should_stop, stopped: list[bool]) -> None:
    """Pass rank 0's progress on; answer its 'stop?' questions (yes once the caller's own
    callback raised StopTraining, or ``should_stop()`` says so)."""
    from ray.util.queue import Empty

    from recsys.models.trainer import StopTraining

    while True:
        try:
            kind, epoch, metrics = relay.get(timeout=0.1)
        except Empty:
            return
        if kind == "ask":
            metrics["answer"].put(stopped[0] or bool(should_stop and should_stop()))
        elif callback is not None and not stopped[0]:
            try:
                callback(epoch, metrics)
            except StopTraining:
                stopped[0] = True


def _train_loop(cfg: dict[str, Any]) -> None:
    """One Ray Train worker (runs on the cluster)."""
    import ray
    import ray.train

    from recsys.models.trainer import Shard, StopTraining

    ctx = ray.train.get_context()
    shard = Shard(ctx.get_world_rank(), ctx.get_world_size())
    data = cfg["data"]
    data = ray.get(data) if isinstance(data, ray.ObjectRef) else data
    params = {**cfg["params"], "device": cfg["device"]}
    model = make_model(cfg["model"], **params)
    relay = cfg["relay"]

    def progress(epoch: int, metrics: dict[str, Any]) -> None:
        if shard.rank == 0:
            relay.put(("progress", epoch, dict(metrics)))
        if "progress" in metrics:
            return
        stop = False
        if shard.rank == 0:
            from ray.util.queue import Queue

            answer = Queue()
            relay.put(("ask", epoch, {"answer": answer}))
            stop = bool(answer.get(timeout=60))
            answer.shutdown()
        if shard.agree(stop):
            raise StopTraining()

    model.fit(data, callback=progress, shard=shard)
    if shard.rank == 0:
        with tempfile.TemporaryDirectory() as folder:
            model.save(folder)
            ray.train.report({"epochs": int(model.best_epoch_)},
                             checkpoint=ray.train.Checkpoint.from_directory(folder))
    else:
        ray.train.report({})


# ---------------------------------------------------------------- tuning on the cluster
def tune_on_ray(name: str, val, *, minutes: float = 5.0, trials: int | None = None,
                seed: int = 0, fixed: dict[str, Any] | None = None, callback=None):
    """``tuning.tune``'s search with its trials spread over the cluster: Ray Tune with its
    Optuna searcher (seeded TPE over the same space, starting from the same points), ASHA
    stopping hopeless epoch-trained trials after their first epochs. Same scoring: each
    trial is fitted and scored on ``val`` (a ``tuning.Validation``) by ``tuning.run_trial``."""
    import optuna
    from ray import tune as rt
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from recsys import tuning
    from recsys.models.search import ShopShape

    fixed = dict(fixed or {})
    if not tuning.space(name, fixed):  # nothing to spread out
        return tuning.tune(name, val, trials=1, seed=seed, fixed=fixed, callback=callback)
    connect()
    points = tuning.starts(name, ShopShape.of(val.train), fixed)
    searcher = OptunaSearch(space=tuning.space(name, fixed), metric="best_ndcg", mode="max",
                            points_to_evaluate=points,
                            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5))
    cap = int(make_model(name, **fixed).params().get("epochs", 1))
    log: list[dict[str, Any]] = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="recsys-tune-") as tmp:
        tuner = rt.Tuner(
            rt.with_parameters(_tune_trial, name=name, fixed=fixed, val=val),
            tune_config=rt.TuneConfig(
                metric="best_ndcg", mode="max", search_alg=searcher,
                scheduler=ASHAScheduler(time_attr="epoch", max_t=max(cap, 2), grace_period=2),
                num_samples=trials or 10_000, time_budget_s=max(minutes * 60, 1.0)),
            run_config=rt.RunConfig(storage_path=tmp, name="tune", verbose=0,
                                    callbacks=[_Relay(name, log, start, callback)]))
        tuner.fit()
    done = [e for e in log if e["state"] == "complete"]
    if not done:
        raise ValueError(f"No setting of {name} could be fitted on this shop's validation "
                         "window on the cluster.")
    best = max(done, key=lambda e: e["val_ndcg"])
    by_point = {json.dumps(e["params"], sort_keys=True): e["val_ndcg"] for e in done}
    score_of = [by_point.get(json.dumps(p, sort_keys=True)) for p in points]
    return tuning.TuneResult(name, tuning.chosen(name, {**fixed, **best["params"]},
                                                  best["epochs"]), best["val_ndcg"],
                             start_score=score_of[0], default_score=score_of[-1], trials=log,
                             seconds=time.monotonic() - start)


def _tune_trial(config: dict[str, Any], name: str, fixed: dict[str, Any], val) -> None:
    """One trial on a cluster node: fit, score, and report (every epoch for torch models)."""
    from ray import tune as rt

    from recsys import tuning

    best = {"score": -1.0, "epoch": None}

    def report(score: float, epoch: int) -> bool:
        if score > best["score"]:
            best.update(score=score, epoch=epoch + 1)
        rt.report({"val_ndcg": score, "best_ndcg": best["score"], "epoch": epoch + 1,
                   "epochs": best["epoch"]})
        return False  # ASHA stops the trial itself; the time budget ends them all

    try:
        score, epochs = tuning.run_trial(name, {**fixed, **config}, val, report)
    except (ValueError, MemoryError) as exc:  # settings this shop cannot take
        rt.report({"best_ndcg": -1.0, "epoch": 1, "error": str(exc)[:200]})
        return
    if epochs is None:
        rt.report({"val_ndcg": score, "best_ndcg": score, "epoch": 1, "epochs": None})


def _relay_class():
    from ray import tune as rt

    class Relay(rt.Callback):
        """Finished trials, as ``tuning.tune`` logs them, passed to the caller's callback
        as they end (on the driver)."""

        def __init__(self, name, log, start, callback) -> None:
            self.name, self.log, self.start, self.callback = name, log, start, callback

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
            if self.callback is not None:
                self.callback(len(self.log), entry)

    return Relay


def _Relay(*args):  # noqa: N802 (a class made on first use: ray is imported only then)
    return _relay_class()(*args)

"""Ray, for shops that outgrow one machine: data-parallel training of the torch models (and,
in ``recsys.tuning_ray``, tuning searches whose trials run in parallel over the cluster).

Used only when configured (``RECSYS_RAY_ADDRESS``, or a ``workers`` count asked for
explicitly); nothing here is imported by the embedded default. ``fit_data_parallel`` trains
two_tower or NCF with Ray Train: ``num_workers`` processes in one torch process group (gloo
on CPUs, NCCL on GPUs), each building the same features from the shop's data (shipped once
through Ray's object store), training on its own share of every epoch's shuffled examples,
gradients averaged after every step (``recsys.models.trainer.Shard``). Rank 0 relays progress
to the caller and writes the fitted model; the caller loads it back.
"""

from __future__ import annotations

import os
import tempfile
import threading
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

"""Ray, for shops that outgrow one machine: data-parallel training of the torch models (and,
in ``recsys.tuning_ray``, tuning searches whose trials run in parallel over the cluster).

Used only when configured (``RECSYS_RAY_ADDRESS``, or a ``workers`` count asked for
explicitly); nothing here is imported by the embedded default. ``fit_data_parallel`` trains
two_tower or NCF with Ray Train: ``num_workers`` processes in one torch process group (gloo
on CPUs, NCCL on GPUs). The driver builds the training examples once per phase (the
validation window's, then the whole training set's; ``recsys.models.examples``): each
worker's share of the order rows becomes a Ray Dataset of its own, read by that worker
alone, and the rest travels once through the object store: per-product and per-customer
inputs and the customers x products matrix (the fitted model keeps it to leave bought
products out), never the shop's order table. Gradients are averaged after every step
(``recsys.models.trainer.Shard``). Rank 0 relays progress to the caller and writes the fitted
model; the caller loads it back.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import recsys
from recsys.data import OrderData
from recsys.models import load_model, make_model, registry
from recsys.models.base import Callback
from recsys.models.examples import prepare_fit
from recsys.models.trainer import Shard, StopTraining
from recsys.settings import env_int

ADDRESS_ENV = "RECSYS_RAY_ADDRESS"
WORKERS_ENV = "RECSYS_RAY_TRAIN_WORKERS"
STORAGE_ENV = "RECSYS_RAY_STORAGE"


def address() -> str | None:
    """The configured Ray cluster ('auto', 'ray://host:10001', 'local' for a cluster started
    in this process), or None: Ray is not used."""
    return os.environ.get(ADDRESS_ENV) or None


def train_workers() -> int:
    """How many Ray Train workers a fit uses when Ray is configured (default 2)."""
    return env_int(WORKERS_ENV)


def connect(where: str | None = None, num_cpus: int | None = None) -> None:
    """Join the cluster (once per process). The ``recsys`` package travels with the job, so
    the cluster's nodes need only its requirements installed."""
    import ray

    if ray.is_initialized():
        return

    where = where or address()
    runtime = {"py_modules": [str(Path(recsys.__file__).parent)],
               "env_vars": {"PYTHONWARNINGS": "ignore"}}
    if where in (None, "local"):
        ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=runtime,
                 log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=where, runtime_env=runtime, log_to_driver=False,
                 configure_logging=False)


@contextmanager
def run_storage(default: str | Path | None = None,
                prefix: str = "fit") -> Iterator[tuple[str, str]]:
    """``(storage_path, name)`` for one Ray Train / Tune run, removed afterwards. Every node
    writes there (rank 0 its checkpoint), so on a cluster it must be shared:
    ``$RECSYS_RAY_STORAGE`` (object storage such as ``s3://bucket/recsys`` or ``gs://...``,
    reached through pyarrow's filesystems, or a shared path), else ``default`` (the
    workspace's, a shared path on a cluster), else a temporary folder on this machine (one
    node only)."""
    where = os.environ.get(STORAGE_ENV) or (str(default) if default else None)
    name = f"{prefix}-{secrets.token_hex(6)}"
    if where is None:
        with tempfile.TemporaryDirectory(prefix=f"recsys-{prefix}-") as tmp:
            yield tmp, name
        return
    if "://" not in where:
        Path(where).mkdir(parents=True, exist_ok=True)
        where = str(Path(where).resolve())
    try:
        yield where, name
    finally:
        _remove_run(where, name)


def _remove_run(where: str, name: str) -> None:
    """Delete one run's folder under a storage path or URI (never the storage itself)."""
    if "://" not in where:
        shutil.rmtree(Path(where) / name, ignore_errors=True)
        return
    import pyarrow.fs as pafs

    try:
        fs, base = pafs.FileSystem.from_uri(where)
        fs.delete_dir(f"{base.rstrip('/')}/{name}")
    except (OSError, ValueError):  # already gone, or the store refuses: nothing to keep
        pass


def supports(model: str) -> bool:
    """Whether a model trains data-parallel (its registry entry says so)."""
    return registry.spec(model).data_parallel


def delegates(kind: str, params: dict[str, Any]) -> bool:
    """Whether a job hands its work to Ray Train workers (a fit of a data-parallel model)."""
    return kind in ("fit", "serve") and "model" in params and supports(params["model"])


def fit_data_parallel(model: str, params: dict[str, Any], data: OrderData, *,
                      workers: int = 2, use_gpu: bool = False,
                      callback: Callback | None = None,
                      should_stop: Callable[[], bool] | None = None,
                      storage: str | Path | None = None):
    """Fit ``model`` on ``data`` with ``workers`` Ray Train workers; returns the fitted model
    (loaded in this process). ``callback(epoch, metrics)`` gets rank 0's progress;
    ``should_stop()`` is asked at every epoch's end (all ranks stop together, keeping the
    best weights so far, as a single-process fit does). ``storage``: where the run's
    checkpoint goes when ``$RECSYS_RAY_STORAGE`` is not set (see ``run_storage``)."""
    import ray
    from ray.train import DataConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.util.queue import Queue

    if not supports(model):
        raise ValueError(f"{model} does not train data-parallel; "
                         f"{', '.join(registry.names(data_parallel=True))} do.")
    connect()
    relay = Queue()
    prepared, datasets = prepare(model, params, data, workers)
    with run_storage(storage) as (where, name):
        config = {"model": model, "params": params, "data": ray.put(prepared),
                  "relay": relay, "device": "cuda" if use_gpu else "cpu"}
        trainer = TorchTrainer(_train_loop, train_loop_config=config,
                               scaling_config=ScalingConfig(num_workers=workers,
                                                            use_gpu=use_gpu),
                               run_config=RunConfig(storage_path=where, name=name),
                               datasets=datasets,
                               dataset_config=DataConfig(datasets_to_split=[]))
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

        # Rank 0's model, as a Ray Train checkpoint in the run's storage.
        with result["r"].checkpoint.as_directory() as folder:
            return load_model(folder)


# Order rows per block of the examples' Ray Datasets.
BLOCK_ORDERS = 50_000


def prepare(model: str, params: dict[str, Any], data: OrderData, workers: int):
    """The examples of each training phase, built once here (``prepare_fit``), and each
    worker's share of their order rows as a Ray Dataset of its own: ``(phase, datasets)``.
    The shares are drawn here (a random equal share of the orders per worker, by the
    model's seed), not by Ray Train while streaming: the same seed gives the same model,
    and no Ray Data task has to wait for the CPUs the workers hold."""
    import numpy as np
    import ray


    m = make_model(model, **params)
    datasets: dict[str, Any] = {}

    def share(name: str, table):
        per = table.num_rows // workers
        if per == 0:
            raise ValueError(f"{table.num_rows} training orders cannot be shared between "
                             f"{workers} workers: train in one process")
        order = np.random.default_rng(m.config.seed).permutation(table.num_rows)
        for rank in range(workers):
            part = table.take(np.sort(order[rank * per:(rank + 1) * per]))
            datasets[f"{name}-{rank}"] = ray.data.from_arrow(
                [part.slice(s, BLOCK_ORDERS) for s in range(0, per, BLOCK_ORDERS)])
        return functools.partial(_read_share, name)

    return prepare_fit(m, data, share), datasets


def _read_share(name: str):
    """This worker's share of a phase's order rows (an Arrow table)."""
    import pyarrow as pa
    import ray.train

    rank = ray.train.get_context().get_world_rank()
    shard = ray.train.get_dataset_shard(f"{name}-{rank}")
    return pa.concat_tables(list(shard.iter_batches(batch_size=None, batch_format="pyarrow")))


def _drain(relay, callback: Callback | None, should_stop, stopped: list[bool]) -> None:
    """Pass rank 0's progress on; answer its 'stop?' questions (yes once the caller's own
    callback raised StopTraining, or ``should_stop()`` says so)."""
    from ray.util.queue import Empty


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

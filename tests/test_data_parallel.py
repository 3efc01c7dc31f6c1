"""Data-parallel steps in a real two-process torch group (gloo, as Ray Train uses on CPUs),
without Ray: averaged gradients, dense and sparse, and ranks that end with the same model."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytestmark = pytest.mark.full  # torch process groups: several processes

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as tmp  # noqa: E402

from recsys.models.trainer import Shard  # noqa: E402

# Each rank's batch: rows of the sparse table it touches (rank 1 misses the second table).
ROWS = {0: ([1, 2, 2, 7], [0, 3]), 1: ([2, 5], [])}


def _net() -> torch.nn.ModuleDict:
    torch.manual_seed(0)
    return torch.nn.ModuleDict({"a": torch.nn.Embedding(8, 3, sparse=True),
                                "b": torch.nn.Embedding(4, 2, sparse=True),
                                "lin": torch.nn.Linear(3, 1)})


def _backward(net, rank: int) -> None:
    a, b = (torch.tensor(r, dtype=torch.int64) for r in ROWS[rank])
    x = net["a"](a) * (rank + 1.5)
    loss = net["lin"](x).sum() + (net["b"](b) ** 2).sum() if len(b) else net["lin"](x).sum()
    loss.backward()


def _grads(net) -> dict[str, np.ndarray]:
    return {k: (p.grad.to_dense() if p.grad.is_sparse else p.grad).numpy()
            for k, p in net.named_parameters() if p.grad is not None}


def _init(rank: int, store: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)


def _leave() -> None:
    """Both ranks reach the end before either tears the group down, and the rank exits without
    interpreter finalisation: gloo's threads can abort a process torn down under them
    (pytorch#179291), after its results are already written."""
    dist.barrier()
    dist.destroy_process_group()
    os._exit(0)


def _average_rank(rank: int, store: str, out: str) -> None:
    _init(rank, store)
    net = _net()
    _backward(net, rank)
    Shard(rank, 2).average_gradients(net.parameters(), [net["a"].weight, net["b"].weight])
    assert net["a"].weight.grad.is_sparse and net["b"].weight.grad.is_sparse
    np.savez(f"{out}/{rank}.npz", **_grads(net))
    _leave()


def test_sparse_and_dense_gradients_average_over_ranks(tmp_path):
    """Each rank ends with the mean of all ranks' gradients; a sparse table's gradient stays
    sparse (only the rows some rank touched), also where this rank's batch missed it."""
    tmp.spawn(_average_rank, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2)
    want = {}
    for rank in (0, 1):
        net = _net()
        _backward(net, rank)
        for k, g in _grads(net).items():
            want[k] = want.get(k, 0) + g / 2
    for rank in (0, 1):
        got = np.load(tmp_path / f"{rank}.npz")
        assert set(got.files) == set(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6, atol=1e-7, err_msg=k)


def _fit_rank(rank: int, store: str, out: str, name: str) -> None:
    import recsys.models.ncf as ncf
    import recsys.models.two_tower_training as tt
    from recsys.models import make_model
    from tests.conftest import clustered_rows, make_data

    tt.SPARSE_ROWS = ncf.SPARSE_ROWS = 0  # the big-shop tables, on a small shop
    _init(rank, store)
    params = {"epochs": 3, "patience": 0, "dim": 8, "batch_size": 64, "device": "cpu"}
    model = make_model(name, **params).fit(make_data(clustered_rows()), shard=Shard(rank, 2))
    sparse = [m.sparse for m in model.net_.modules() if isinstance(m, torch.nn.Embedding)]
    np.savez(f"{out}/{name}-{rank}.npz", U=model.U_, V=model.V_, sparse=any(sparse))
    _leave()


@pytest.mark.parametrize("name", ["two_tower", "ncf"])
def test_ranks_with_sparse_tables_train_the_same_model(tmp_path, name):
    """Above SPARSE_ROWS the tables train with sparse gradients in data-parallel training
    too (a dense all-reduce would move every row each step); the ranks still hold the same
    weights at the end."""
    tmp.spawn(_fit_rank, args=(str(tmp_path / "store"), str(tmp_path), name), nprocs=2)
    a, b = (np.load(tmp_path / f"{name}-{r}.npz") for r in (0, 1))
    assert bool(a["sparse"]) and bool(b["sparse"])
    np.testing.assert_array_equal(a["U"], b["U"])
    np.testing.assert_array_equal(a["V"], b["V"])
    assert np.isfinite(a["U"]).all() and a["U"].std() > 0

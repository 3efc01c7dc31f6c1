"""Stored datasets: order lines in monthly Parquet partitions with int32 codes, read back
exactly as the one-file-per-table layout before it (which still loads)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pytest

from recsys.data import OrderData
from recsys.workspace import DatasetRef, Workspace


def _one_file_layout(data: OrderData, folder) -> dict[str, pd.DataFrame]:
    """What the workspace wrote before partitions, and what reading it gave."""
    folder.mkdir()
    out = {}
    for table in ("interactions", "products", "customers", "signals"):
        frame = getattr(data, table)
        if frame is not None:
            frame.to_parquet(folder / f"{table}.parquet", index=False)
            out[table] = pd.read_parquet(folder / f"{table}.parquet")
    return out


def _shop(months: int = 3, unsorted: bool = False) -> OrderData:
    rng = np.random.default_rng(0)
    n = 400
    t0 = np.datetime64("2024-01-05T10:00:00", "ns")
    lines = pd.DataFrame({
        "customer_id": rng.choice([f"c{i}" for i in range(30)], n),
        "item_id": rng.choice([f"sku-{i}" for i in range(25)], n),
        "order_id": [f"o{i // 3}" for i in range(n)],
        "timestamp": t0 + np.sort(rng.integers(0, months * 30 * 86400, n)).astype(
            "timedelta64[s]"),
        "quantity": rng.integers(1, 4, n).astype(float), "price": rng.random(n) * 10,
        "name": None, "category": "cat", "country": "UK", "region": None,
    })
    data = OrderData.from_lines(lines)
    data.signals = pd.DataFrame({
        "customer_id": data.interactions["customer_id"][:50],
        "item_id": data.interactions["item_id"][:50],
        "timestamp": data.interactions["timestamp"][:50], "event": "view"})
    if unsorted:  # a dataset whose lines are not in time order must keep its order
        data.interactions = data.interactions.iloc[::-1].reset_index(drop=True)
    return data


@pytest.mark.parametrize("unsorted", [False, True])
def test_partitioned_layout_reads_back_what_the_one_file_layout_did(tmp_path, unsorted):
    data = _shop(unsorted=unsorted)
    before = _one_file_layout(data, tmp_path / "old")
    ws = Workspace(tmp_path / "ws")
    back = ws.load_dataset(ws.save_dataset(data, "shop"))
    for table, frame in before.items():
        pd.testing.assert_frame_equal(getattr(back, table), frame, check_categorical=True)
    assert list(back.customer_ids) == list(data.customer_ids)
    assert (back.matrix() != data.matrix()).nnz == 0
    months = sorted(p.name for p in (ws.location(DatasetRef.saved("shop"))
                                      / "interactions").iterdir())
    assert months == (["month=mixed"] if unsorted else
                      ["month=2024-01", "month=2024-02", "month=2024-03", "month=2024-04"])


def test_partitions_are_a_hive_dataset_of_codes_with_their_ids_beside(tmp_path):
    data = _shop()
    ws = Workspace(tmp_path)
    folder = ws.location(ws.save_dataset(data, "shop"))
    lines = pads.dataset(folder / "interactions", partitioning="hive").to_table().to_pandas()
    assert len(lines) == len(data.interactions)
    assert lines["customer_id"].dtype == "int32"  # a code per line, not text
    month = pd.to_datetime(lines["timestamp"]).dt.strftime("%Y-%m")
    assert (month == lines["month"].astype(str)).all()  # each file holds its month only
    ids = pd.read_parquet(folder / "ids" / "interactions.customer_id.parquet")
    by_code = ids.set_index("code")["id"]
    np.testing.assert_array_equal(by_code[lines["customer_id"]].to_numpy(),
                                  data.interactions["customer_id"].astype(str).to_numpy())


def test_a_dataset_stored_in_the_one_file_layout_still_loads(tmp_path):
    data = _shop()
    ws = Workspace(tmp_path)
    ref = ws.save_dataset(data, "shop")
    folder = ws.location(ref)
    meta = (folder / "meta.json").read_text()
    for p in sorted(folder.iterdir()):
        if p.is_dir():
            import shutil

            shutil.rmtree(p)
    before = _one_file_layout(data, tmp_path / "old")
    for table in before:
        (tmp_path / "old" / f"{table}.parquet").rename(folder / f"{table}.parquet")
    assert (folder / "meta.json").read_text() == meta
    back = ws.load_dataset(ref)
    pd.testing.assert_frame_equal(back.interactions, before["interactions"])
    assert back.summary() == data.summary()


def test_fingerprint_follows_the_lines_not_only_the_side_tables(tmp_path):
    data = _shop()
    ws = Workspace(tmp_path)
    first = ws.fingerprint(ws.save_dataset(data, "a"))
    assert ws.fingerprint(ws.save_dataset(data, "b")) == first
    data.interactions.loc[5, "quantity"] += 1  # one line of one month changes
    assert ws.fingerprint(ws.save_dataset(data, "c")) != first


@pytest.mark.parametrize("damage", ["partition", "ids"])
def test_a_damaged_partition_or_id_map_is_a_clear_store_error(tmp_path, damage):
    from recsys.workspace import StoreError

    ws = Workspace(tmp_path)
    ref = ws.save_dataset(_shop(), "shop")
    folder = ws.location(ref)
    if damage == "partition":
        part = next((folder / "interactions").glob("month=*/*.parquet"))
        part.write_bytes(b"PAR1" + part.read_bytes()[10:-10] + b"PAR1")
    else:  # fewer IDs than the lines' codes need
        ids = folder / "ids" / "interactions.item_id.parquet"
        pd.read_parquet(ids).head(3).to_parquet(ids, index=False)
    with pytest.raises(StoreError, match="damaged"):
        ws.load_dataset(ref)


def test_a_dataset_replaced_while_it_is_read_is_read_again(tmp_path, monkeypatch):
    """Partitions are several files: when another process stores the dataset anew between
    two of them, the reader reads the new one instead of failing."""
    from recsys.data import storage

    ws = Workspace(tmp_path)
    data = _shop()
    ref = ws.save_dataset(data, "shop")
    real, calls = storage.read_tables, []

    def racing(folder):
        calls.append(folder)
        if len(calls) == 1:
            raise FileNotFoundError("interactions-2024-02.parquet")
        return real(folder)

    monkeypatch.setattr(storage, "read_tables", racing)
    assert ws.load_dataset(ref).summary() == data.summary() and len(calls) == 2

"""How a stored dataset lies on disk (the ``Workspace`` says where; this says how).

    interactions/month=YYYY-MM/interactions-YYYY-MM.parquet   one month's lines, in time order
    signals/month=YYYY-MM/...                                 events other than orders, alike
    ids/<table>.<column>.parquet       the codes' IDs: row ``code`` of a categorical column
    products.parquet, customers.parquet

Why this shape: a line stores int32 codes for its customer, product and order instead of
text (the 30M-line export: 782 MB and 25 s to load as one file of text categories; see
docs/scaling.md for the figures of this layout), so loading builds ``OrderData``'s
categoricals from the codes without a string per line; and months are files, so DuckDB,
Ray Data or Spark read the folder as a hive-partitioned dataset and a node can read the
months it needs. Rows come back in exactly the order they were written. Datasets stored
before this layout (one ``interactions.parquet``) still load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

LINE_TABLES = ("interactions", "signals")
SIDE_TABLES = ("products", "customers")
IDS = "ids"


def write_tables(tables: dict[str, pd.DataFrame | None], folder: Path) -> list[Path]:
    """Write a dataset's tables into ``folder`` (empty, new); returns the files written, in
    a fixed order (the fingerprint hashes them)."""
    files: list[Path] = []
    for name in (*LINE_TABLES, *SIDE_TABLES):
        frame = tables.get(name)
        if frame is None:
            continue
        if name in LINE_TABLES:
            files += _write_lines(frame, folder, name)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
            files.append(folder / f"{name}.parquet")
    return files


def read_tables(folder: Path) -> dict[str, pd.DataFrame | None]:
    """The tables ``write_tables`` wrote (or the one-file-per-table layout before it)."""
    out: dict[str, pd.DataFrame | None] = {}
    for name in (*LINE_TABLES, *SIDE_TABLES):
        if (folder / name).is_dir():
            out[name] = _read_lines(folder, name)
        elif (folder / f"{name}.parquet").exists():
            out[name] = pd.read_parquet(folder / f"{name}.parquet")
        else:
            out[name] = None
    return out


def _months(ts: pd.Series) -> list[tuple[str, int, int]]:
    """(label, start, stop) of each month's run of rows; one run when rows are not in time
    order (a month split would then reorder them)."""
    t = ts.to_numpy(dtype="datetime64[ns]")
    if not len(t):
        return []
    if np.isnat(t).any() or (np.diff(t.view("int64")) < 0).any():
        return [("mixed", 0, len(t))]
    month = t.astype("datetime64[M]")
    starts = np.flatnonzero(np.r_[True, month[1:] != month[:-1]])
    stops = np.r_[starts[1:], len(t)]
    return [(str(month[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _write_lines(frame: pd.DataFrame, folder: Path, name: str) -> list[Path]:
    columns: dict[str, np.ndarray] = {}
    files: list[Path] = []
    (folder / IDS).mkdir(exist_ok=True)
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            columns[col] = s.cat.codes.to_numpy().astype("int32")
            ids = folder / IDS / f"{name}.{col}.parquet"
            cats = s.cat.categories
            pd.DataFrame({"code": np.arange(len(cats), dtype="int32"),
                          "id": np.asarray(cats, dtype=object)}).to_parquet(ids, index=False)
            files.append(ids)
        else:
            columns[col] = s.to_numpy()
    schema = pa.Table.from_pandas(frame.iloc[:0].astype(
        {c: "int32" for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}),
        preserve_index=False).schema
    runs = _months(frame["timestamp"]) if "timestamp" in frame else [("mixed", 0, len(frame))]
    for label, a, b in runs or [("empty", 0, 0)]:
        part = folder / name / f"month={label}"
        part.mkdir(parents=True)
        table = pa.table({c: v[a:b] for c, v in columns.items()}, schema=schema)
        pq.write_table(table, part / f"{name}-{label}.parquet", compression="zstd")
        files.append(part / f"{name}-{label}.parquet")
    return files


def _read_lines(folder: Path, name: str) -> pd.DataFrame:
    parts = sorted((folder / name).glob("month=*/*.parquet"))
    if not parts:
        raise ValueError(f"{folder.name}: {name} has no stored lines.")
    frame = pa.concat_tables([pq.read_table(p) for p in parts]).to_pandas()
    for col in frame.columns:
        ids = folder / IDS / f"{name}.{col}.parquet"
        if ids.exists():
            cats = pd.read_parquet(ids)["id"].to_numpy()
            frame[col] = pd.Categorical.from_codes(frame[col].to_numpy(),
                                                   categories=pd.Index(cats))
    return frame

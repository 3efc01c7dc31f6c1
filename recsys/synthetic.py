"""Large synthetic order exports, for measuring the product at the size of big shops.

Instacart-like shape: customers belong to taste clusters (each prefers some aisles), products
sit in aisles with Zipf popularity, every customer has staples they reorder, activity is
heavy-tailed, and orders spread over a year. Written block by block (a few thousand customers
at a time, fully vectorised) as CSV and/or Parquet, so 30 million lines take minutes and
little memory.

    python -m recsys generate --lines 30000000 --customers 200000 --products 50000 \\
        --out big.parquet
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

START = np.datetime64("2023-01-01T06:00")
DAYS = 365
STAPLES = 8  # each customer's own products, one drawn uniformly for a staple line


@dataclass(frozen=True)
class Shape:
    lines: int = 30_000_000
    customers: int = 200_000
    products: int = 50_000
    aisles: int = 134
    clusters: int = 40
    basket: float = 10.0  # mean order lines
    reorder: float = 0.55  # share of lines that are a customer's staples
    seed: int = 0


def _catalogue(shape: Shape, rng: np.random.Generator):
    aisle = np.sort(rng.integers(0, shape.aisles, shape.products))  # products grouped by aisle
    pop = 1.0 / (1 + rng.permutation(shape.products)) ** 0.9
    start = np.searchsorted(aisle, np.arange(shape.aisles))
    cum = np.cumsum(pop)
    # Within-aisle cumulative popularity, for drawing a product given its aisle.
    base = np.concatenate([[0.0], cum])[start][aisle]
    totals = np.bincount(aisle, weights=pop, minlength=shape.aisles)
    within = (cum - base) / np.maximum(totals[aisle], 1e-12)
    price = np.round(rng.lognormal(1.2, 0.6, shape.products), 2)
    return aisle, start, within, price


def _block(shape: Shape, cust: np.ndarray, rng: np.random.Generator, cat) -> dict[str, np.ndarray]:
    """Orders and lines of a block of customers (all vectorised)."""
    aisle, start, within, price = cat
    taste = _taste(shape)
    # Scaled up for what is lost to repeated products within an order and to rounding.
    per_cust = 1.3 * shape.lines / shape.customers / shape.basket
    n_orders = np.maximum(1, rng.lognormal(np.log(per_cust) - 0.5, 1.0, len(cust)).astype(int))
    o_cust = np.repeat(cust, n_orders)
    n_lines = np.maximum(1, rng.poisson(shape.basket, len(o_cust)))
    day = rng.random(len(o_cust)) * DAYS
    l_order = np.repeat(np.arange(len(o_cust)), n_lines)
    l_cust = o_cust[l_order]
    n = len(l_order)
    # New products: an aisle from the cluster's taste, then a product by popularity within it.
    a = _draw(taste, l_cust % shape.clusters, rng.random(n))
    counts = np.diff(np.r_[start, len(aisle)])
    lo = start[a]
    item = lo + np.minimum(_within(within, lo, counts[a], rng.random(n)), counts[a] - 1)
    # Staples: a customer's own few products, reordered.
    k = (rng.random(n) * STAPLES).astype(np.int64)
    staple = _staples(_staple_seed(l_cust), k, cluster_of=l_cust % shape.clusters, taste=taste,
                      start=start, counts=counts)
    item = np.where(rng.random(n) < shape.reorder, staple, item)
    # One line per product per order, as shops export them.
    first = np.unique(l_order.astype(np.int64) * len(aisle) + item, return_index=True)[1]
    keep = np.sort(first)
    l_cust, l_order, item = l_cust[keep], l_order[keep], item[keep]
    return {"customer": l_cust, "order": l_order, "day": day[l_order], "item": item,
            "aisle": aisle[item], "price": price[item],
            "quantity": 1 + (rng.random(len(keep)) < 0.2).astype(np.int64)}


def _taste(shape: Shape) -> np.ndarray:
    rng = np.random.default_rng(shape.seed + 1)
    return np.cumsum(rng.dirichlet(np.full(shape.aisles, 0.15), shape.clusters), axis=1)


def _draw(cdf: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse CDF per draw, each under its own row of cumulative weights ``cdf[rows]``."""
    out = np.empty(len(u), dtype=np.int64)
    for r in np.unique(rows):
        m = rows == r
        out[m] = np.searchsorted(cdf[r], u[m])
    return np.minimum(out, cdf.shape[1] - 1)


def _within(within: np.ndarray, lo: np.ndarray, count: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Position inside each aisle whose within-aisle cumulative weight first exceeds u."""
    # Binary search over each row's own slice [lo, lo + count).
    left, right = np.zeros_like(lo), count.copy()
    for _ in range(int(np.ceil(np.log2(max(count.max(), 1)))) + 1):
        mid = (left + right) // 2
        go_right = within[np.minimum(lo + mid, len(within) - 1)] < u
        left = np.where(go_right & (mid < right), mid + 1, left)
        right = np.where(go_right, right, mid)
    return left


def _staple_seed(customer: np.ndarray) -> np.ndarray:
    """Each customer's seed for their staples (the same customer, the same staples)."""
    return (customer.astype(np.int64) * 2654435761) % (2**31)


def _staples(seed: np.ndarray, k: np.ndarray, cluster_of: np.ndarray, taste: np.ndarray,
             start: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The k-th staple of each customer: a fixed product from an aisle their cluster likes."""
    h = (seed * 40503 + k * 2246822519) % (2**32)
    u1 = (h % 100_003) / 100_003.0
    u2 = ((h // 100_003) % 99_991) / 99_991.0
    a = _draw(taste, cluster_of, u1)
    top = np.maximum(1, np.minimum(counts[a], 50))  # staples among an aisle's 50 first
    return start[a] + (u2 * top).astype(np.int64)


def generate(out: str | Path, shape: Shape | None = None, block: int = 5000,
             log: Callable[[str], None] | None = None) -> dict[str, float]:
    """Write the export to ``out`` (.csv, .csv.gz or .parquet); returns what was written."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    shape = shape or Shape()
    out = Path(out)
    rng = np.random.default_rng(shape.seed)
    cat = _catalogue(shape, rng)
    names = np.array([f"aisle {a:03d} product {i}" for i, a in enumerate(cat[0])], dtype=object)
    t0, written, order_base, writer = time.perf_counter(), 0, 0, None
    start = 0
    while written < shape.lines:  # a second pass over the customers if the first fell short
        cust = np.arange(start, min(start + block, shape.customers))
        start = 0 if cust[-1] + 1 >= shape.customers else cust[-1] + 1
        b = _block(shape, cust, rng, cat)
        seconds = (b["day"] * 86400).astype("timedelta64[s]")
        table = pa.table({
            "customer_id": pa.array(b["customer"] + 100_000),
            "product_id": pa.array(b["item"] + 1),
            "order_id": pa.array(b["order"] + order_base + 1),
            "order_time": pa.array((START + seconds).astype("datetime64[s]")),
            "product_name": pa.array(names[b["item"]]),
            "aisle": pa.array(np.char.add("aisle ", b["aisle"].astype(str))),
            "quantity": pa.array(b["quantity"]), "price": pa.array(b["price"])})
        table = table.slice(0, shape.lines - written)
        order_base += int(b["order"].max()) + 1
        if writer is None:
            writer = (pq.ParquetWriter(out, table.schema) if out.suffix == ".parquet"
                      else pacsv.CSVWriter(pa.CompressedOutputStream(str(out), "gzip")
                                           if out.suffix == ".gz" else str(out), table.schema))
        writer.write_table(table)
        written += table.num_rows
        if log:
            log(f"{written:,} lines ({time.perf_counter() - t0:.0f} s)")
    writer.close()
    return {"lines": written, "seconds": time.perf_counter() - t0,
            "bytes": out.stat().st_size}

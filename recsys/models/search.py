"""What a model declares for tuning: the settings worth searching (``Dim``) and the shape of
a shop that its data-aware starting point is scaled from (``ShopShape``).

Kept apart from ``recsys.tuning`` (which runs the search) so the registry can declare search
spaces without importing Optuna, and model modules can scale their starting points without
importing anything above them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dim:
    """One searchable setting: a range (``low``..``high``, on a log scale when ``log``; whole
    numbers when ``integer``) or a list of ``choices``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: tuple = ()

    def __post_init__(self) -> None:
        if not self.choices and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError("A Dim needs low <= high, or choices")

    def clip(self, value: Any) -> Any:
        """A starting value brought inside the range (or the first choice if not a choice)."""
        if self.choices:
            return value if value in self.choices else self.choices[0]
        v = min(max(float(value), float(self.low)), float(self.high))
        return int(round(v)) if self.integer else v


def log_range(low: float, high: float) -> Dim:
    return Dim(low, high, log=True)


def int_range(low: int, high: int, log: bool = False) -> Dim:
    return Dim(low, high, log=log, integer=True)


def choice(*values: Any) -> Dim:
    return Dim(choices=tuple(values))


@dataclass(frozen=True)
class ShopShape:
    """The few numbers of a shop's training data that good settings depend on."""

    customers: int
    items: int
    lines: int
    pairs: int  # distinct (customer, product) pairs
    days: float

    @classmethod
    def of(cls, data) -> ShopShape:
        """Measured on an ``OrderData`` (its binary customer x product matrix is cached)."""
        t = data.interactions["timestamp"]
        days = float((t.max() - t.min()) / np.timedelta64(1, "D")) if len(t) else 0.0
        return cls(customers=int(data.n_customers), items=int(data.n_items),
                   lines=int(len(data.interactions)), pairs=int(data.matrix("binary").nnz),
                   days=days)

    @property
    def items_per_customer(self) -> float:
        return self.pairs / max(self.customers, 1)


def pow2(value: float, low: int, high: int) -> int:
    """The power of two nearest ``value`` (on a log scale), within [low, high]."""
    p = 2 ** int(round(np.log2(max(value, 1.0))))
    return int(min(max(p, low), high))

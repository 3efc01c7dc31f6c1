"""What an import did, as one typed record: the format and column mapping it recognised, the
rows it read and kept, each cleaning rule's count, how dates and customer keys were read,
the currency and the warnings an analyst must see. ``OrderData.report`` holds it; the
workspace stores it as JSON beside the dataset."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImportReport:
    """The import's account of a dataset. ``cleaning`` has one entry per rule (``rule``,
    ``removed``, ``enabled``, ...); ``customer_key`` says how customers were keyed
    (``rule``, ``pseudonymised``, ``sources``: how many lines each column keyed)."""

    format: str = "unknown"
    mapping: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    signal_rows: int = 0
    cleaning: list[dict[str, Any]] = field(default_factory=list)
    cleaning_options: dict[str, Any] = field(default_factory=dict)
    time_style: str = "?"
    dates_out_of_range: int = 0
    pseudonymised: bool = False
    customer_key: dict[str, Any] = field(default_factory=dict)
    category_source: str = "export"
    currency: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ImportReport:
        """A report as stored (by this version or an earlier one: unknown keys are left out,
        missing ones take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})

    def copy(self) -> ImportReport:
        return ImportReport.from_dict(self.to_dict())

    def removed(self) -> dict[str, int]:
        """Rows removed per cleaning rule (rules that removed none included)."""
        return {str(r["rule"]): int(r.get("removed", 0)) for r in self.cleaning}

"""``load_orders``: read, detect, normalise, pseudonymise and clean an order export."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.data import formats as fmt
from recsys.data.clean import CleaningOptions, clean_lines
from recsys.data.dates import parse_times
from recsys.data.orderdata import OrderData
from recsys.data.readers import RawSource, collect_sources, read_any, sniff_csv

PII_KEY_ENV = "RECSYS_PII_KEY"
PII_COLUMN_HINTS = ("name", "phone", "address", "street", "zip", "postal", "company", "note")
SIGNAL_WEIGHTS = {"cart": 0.5, "view": 0.1, "remove_from_cart": 0.0}
PURCHASE_EVENTS = {"purchase", "order", "buy", "transaction"}


@dataclass(frozen=True)
class ImportOptions:
    """How to read and clean. ``pii_key`` pseudonymises e-mails (default $RECSYS_PII_KEY)."""

    cleaning: CleaningOptions = field(default_factory=CleaningOptions)
    sheet: int | str | None = None
    pseudonymise: bool = True
    pii_key: bytes | Callable[[], bytes] | None = None  # a callable is asked only if needed


def _pii_key(opts: ImportOptions) -> bytes:
    """The caller's key (the workspace passes its own), else $RECSYS_PII_KEY."""
    if opts.pii_key:
        return opts.pii_key() if callable(opts.pii_key) else opts.pii_key
    env = os.environ.get(PII_KEY_ENV)
    if env:
        return env.encode()
    raise ValueError("This export identifies customers by e-mail, which is pseudonymised with "
                     f"a secret key: set ${PII_KEY_ENV} or pass ImportOptions(pii_key=...).")


def pseudonymise(ids: pd.Series, key: bytes) -> pd.Series:
    """Keyed HMAC-SHA256 of each distinct e-mail (lower-cased): 'c_' + 16 hex digits."""
    codes, uniq = pd.factorize(ids.astype("string").str.strip().str.lower())
    hashed = np.array(["c_" + hmac.new(key, str(u).encode(), hashlib.sha256).hexdigest()[:16]
                       for u in uniq], dtype=object)
    out = np.where(codes >= 0, hashed[np.maximum(codes, 0)] if len(hashed) else None, None)
    return pd.Series(out, index=ids.index, dtype="string")


def _looks_like_email(s: pd.Series) -> bool:
    sample = s.dropna().head(2000).astype(str)
    return len(sample) > 0 and sample.str.contains("@", regex=False).mean() > 0.5


def _detect(header: list[str], name: str, format: str,
            mapping: fmt.ColumnMapping | None) -> fmt.Detection:
    if mapping is not None:
        if format not in ("auto", "generic") and format != "instacart":
            return fmt.Detection(format, mapping, 1.0)
        return fmt.Detection("generic", mapping, 1.0)
    found = fmt.detect_format(header)
    if format != "auto":
        found = [d for d in found if d.format == format]
        if not found:
            raise fmt.FormatError(
                f"{name} does not look like a {format} export. Columns seen: "
                f"{', '.join(header[:30])}.")
    if not found:
        err = fmt.missing_roles_error(header)
        err.candidates = [fmt.Detection("generic", None, 0.0)]
        raise err
    return found[0]


def _read_source(src: RawSource, format: str, mapping, opts: ImportOptions):
    """Detect the format from the header first so ID columns can be read as text."""
    pre: pd.DataFrame | None = None
    if src.kind() == "csv":
        header = sniff_csv(src).header
    else:
        pre, info = read_any(src, sheet=opts.sheet)
        header = list(pre.columns)
    det = _detect(header, src.name, format, mapping)
    if pre is None:
        pre, info = read_any(src, fmt.string_columns(det.mapping))
    used = set(det.mapping.as_dict().values()) if det.mapping else set()
    # Only mapped columns are carried on, so names, phones and addresses never leave the reader.
    info["pii_columns_dropped"] = [c for c in header if c not in used
                                   and any(h in c.lower() for h in PII_COLUMN_HINTS)]
    return det, pre, info


def _split_events(lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    event = lines["event"].astype("string").str.lower()
    is_purchase = event.isin(PURCHASE_EVENTS).to_numpy()
    if is_purchase.all():
        return lines, None
    other = lines.loc[~is_purchase, ["customer_id", "item_id", "timestamp", "event"]].copy()
    other["weight"] = other["event"].map(SIGNAL_WEIGHTS).astype("float32").fillna(0.1)
    other = other.dropna(subset=["customer_id", "item_id", "timestamp"]).reset_index(drop=True)
    return lines.loc[is_purchase], other


def load_orders(source: Any, format: str = "auto", mapping: fmt.ColumnMapping | None = None,
                options: ImportOptions | None = None) -> OrderData:
    """Read an order export (path, list, folder, zip or uploaded files) into clean OrderData.

    Raises ``ReadError`` for unreadable files and ``FormatError`` (with ``candidates``) when
    the columns cannot be mapped; every removed row is counted in ``report['cleaning']``.
    """
    t0 = time.perf_counter()
    opts = options or ImportOptions()
    if format not in ("auto", *fmt.FORMATS):
        raise fmt.FormatError(f"Unknown format {format!r}; choose from auto, "
                              + ", ".join(fmt.FORMATS))
    parts, infos, instacart, dets = [], [], {}, []
    for src in collect_sources(source):
        det, df, info = _read_source(src, format, mapping, opts)
        infos.append({**info, "rows": int(len(df)), "format": det.format, "table": det.table})
        dets.append(det)
        if det.format == "instacart":
            # order_products__prior and __train are one table in two files.
            prev = instacart.get(det.table)
            instacart[det.table] = df if prev is None else pd.concat([prev, df], ignore_index=True)
        else:
            parts.append(fmt.NORMALISERS[det.format](df, det.mapping))
    if instacart:
        parts.append(fmt.normalise_instacart(instacart))
    lines = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    rows_read = int(len(lines))
    lines["timestamp"], time_style = parse_times(lines["timestamp"])
    pseudo = opts.pseudonymise and _looks_like_email(lines["customer_id"])
    if pseudo:
        lines["customer_id"] = pseudonymise(lines["customer_id"], _pii_key(opts))
    lines, signals = _split_events(lines)
    kept, cleaning = clean_lines(lines, opts.cleaning)
    if not opts.cleaning.drop_missing_customer:
        guest = "guest:" + kept["order_id"].astype("string")
        kept = kept.assign(customer_id=kept["customer_id"].fillna(guest))
    if kept.empty:
        raise fmt.FormatError("No order lines are left after cleaning; check the cleaning "
                              "options and the column mapping. Removed: " + ", ".join(
                                  f"{r['rule']}={r['removed']}" for r in cleaning if r['removed']))
    main = dets[0]
    report = {
        "format": "instacart" if instacart else main.format,
        "mapping": main.mapping.as_dict() if main.mapping else {"tables": sorted(instacart)},
        "files": infos,
        "rows_read": rows_read,
        "signal_rows": 0 if signals is None else int(len(signals)),
        "rows_kept": int(len(kept)),
        "cleaning": cleaning,
        "cleaning_options": opts.cleaning.as_dict(),
        "time_style": time_style,
        "pseudonymised": bool(pseudo),
    }
    data = OrderData.from_lines(kept, report, signals)
    data.report["seconds"] = round(time.perf_counter() - t0, 3)
    return data

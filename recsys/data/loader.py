"""``load_orders``: read, detect, normalise, pseudonymise and clean an order export."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recsys import keys
from recsys.data import formats as fmt
from recsys.data.clean import CleaningOptions, clean_lines
from recsys.data.dates import parse_times
from recsys.data.orderdata import OrderData
from recsys.data.readers import Limits, RawSource, Scratch, collect_sources, read_any, read_header
from recsys.data.report import ImportReport

PII_COLUMN_HINTS = ("name", "phone", "address", "street", "zip", "postal", "company", "note")
SIGNAL_WEIGHTS = {"cart": 0.5, "view": 0.1, "remove_from_cart": 0.0}
PURCHASE_EVENTS = {"purchase", "order", "buy", "transaction"}


@dataclass(frozen=True)
class ImportOptions:
    """How to read and clean. ``pii_key`` pseudonymises customer keys (default
    $RECSYS_PII_KEY); ``pseudonymise=False`` says the IDs are already anonymous."""

    cleaning: CleaningOptions = field(default_factory=CleaningOptions)
    sheet: int | str | None = None
    pseudonymise: bool = True
    pii_key: bytes | Callable[[], bytes] | None = None  # a callable is asked only if needed
    limits: Limits | None = None  # default: Limits.from_env()
    scratch: Path | None = None  # where decompressed input goes (default: the system's tmp)


def _pii_key(opts: ImportOptions) -> bytes:
    """The caller's key (a workspace passes its own), else the local default key, which
    lives outside every workspace (see ``recsys.keys``)."""
    if opts.pii_key:
        return opts.pii_key() if callable(opts.pii_key) else opts.pii_key

    return keys.pii_key()


ANONYMOUS_ID_FORMATS = ("online_retail", "instacart", "rees46")


def pseudonymise(ids: pd.Series, key: bytes) -> pd.Series:
    """Keyed HMAC-SHA256 of each distinct key (e-mails lower-cased): 'c_' + 16 hex digits,
    as a Categorical (each distinct key hashed once)."""

    def digest(text: pd.Series) -> pd.Series:
        text = text.where(~text.str.contains("@", regex=False).fillna(False), text.str.lower())
        return text.map(lambda u: "c_" + hmac.new(key, str(u).encode(),
                                                  hashlib.sha256).hexdigest()[:16],
                        na_action="ignore").astype("string")

    return fmt.text_categories(ids, digest)


def distinct_text(s: pd.Series) -> pd.Series:
    """The distinct non-missing values of a column, as text (a Categorical's used categories)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return pd.Series(s.cat.categories[fmt.used_categories(s)], dtype="string")
    return pd.Series(s.dropna().unique(), dtype="string")


def customer_key_rule(ids: pd.Series, format: str, opts: ImportOptions) -> dict[str, Any]:
    """Whether customer keys are pseudonymised, and why. Every key is, whatever it looks
    like, unless the analyst says the IDs are already anonymous, or the export is a format
    whose customer numbers are anonymous by design and every key is such a number."""
    if not opts.pseudonymise:
        return {"pseudonymised": False, "why": "the IDs were declared already anonymous"}
    values = distinct_text(ids).str.strip()
    if format in ANONYMOUS_ID_FORMATS and len(values) and values.str.fullmatch(r"\d{1,12}").all():
        return {"pseudonymised": False,
                "why": "the shop's own customer numbers, anonymous by design"}
    return {"pseudonymised": True,
            "why": "every customer key is replaced by a keyed hash before anything is stored"}


def _detect(header: list[str], name: str, format: str,
            mapping: fmt.ColumnMapping | None) -> fmt.Detection:
    if mapping is not None:
        if any(c not in header for c in mapping.as_dict().values()):
            raise fmt.missing_roles_error(header, mapping)  # checked on every column
        if format not in ("auto", "generic") and format != "instacart":
            return fmt.Detection(format, mapping, 1.0)
        return fmt.Detection("generic", mapping, 1.0)
    found = fmt.detect_format(header)
    if format != "auto":
        found = [d for d in found if d.format == format]
        if not found:
            raise fmt.FormatError(
                f"{name} does not look like a {format} export. Columns seen: "
                f"{fmt.columns_seen(header)}.")
    if not found:
        err = fmt.missing_roles_error(header)
        err.candidates = [fmt.Detection("generic", None, 0.0)]
        raise err
    return found[0]


def _read_source(src: RawSource, format: str, mapping, opts: ImportOptions, limits: Limits,
                 scratch: Scratch):
    """Detect the format from the header first, so that only the columns it uses are read
    (IDs as text): names, phones and addresses are never even parsed."""
    header, pre, sniffed = read_header(src, opts.sheet, limits)
    det = _detect(header, src.name, format, mapping)
    _refuse_duplicates(det, sniffed.get("written", header), src.name, mapping is not None)
    if pre is None:
        pre, info = read_any(src, fmt.string_columns(det.mapping), limits=limits,
                             scratch=scratch, columns=fmt.needed_columns(det, header),
                             sniffed=sniffed)
    else:
        info = {"file": src.name, "kind": "xlsx", "sheets": sniffed["sheets"]}
    used = set(det.mapping.as_dict().values()) if det.mapping else set()
    info["pii_columns_dropped"] = [c for c in header if c not in used
                                   and any(h in c.lower() for h in PII_COLUMN_HINTS)]
    return det, pre, info


def _refuse_duplicates(det: fmt.Detection, written: list[str], name: str,
                       explicit: bool) -> None:
    """Two columns of one name that the import would use: which is meant cannot be guessed
    (taking the first stored one product 'ZZZ' for a whole shop). A mapping picks one."""
    counts = Counter(written)
    used = fmt.used_columns(det, written)
    if explicit and det.mapping is not None:  # the analyst named each role's column
        used -= set(det.mapping.as_dict().values())
    doubled = [c for c in dict.fromkeys(written) if counts[c] > 1 and c in used]
    if not doubled:
        return
    roles = {v: r for r, v in (det.mapping.as_dict().items() if det.mapping else [])}
    parts = []
    for col in doubled:
        where = [str(i + 1) for i, c in enumerate(written) if c == col]
        parts.append(f"{len(where)} columns named {col!r} (columns {', '.join(where)})")
    col = doubled[0]
    role = roles.get(col, "customer")
    raise fmt.FormatError(f"{name} has {'; '.join(parts)}, and the import needs that column: "
                          "rename the copies in the file, or pick one with a column mapping, "
                          f"e.g. {role}={col} (the first) or {role}={col}.2 (the second).")


def _split_events(lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    is_purchase = fmt.category_flags(lines["event"],
                                     lambda t: t.str.lower().isin(PURCHASE_EVENTS))
    if is_purchase.all():
        return lines, None
    other = lines.loc[~is_purchase, ["customer_id", "item_id", "timestamp", "event"]].copy()
    kind = other["event"].astype("string").str.lower()
    other["weight"] = kind.map(SIGNAL_WEIGHTS).astype("float32").fillna(0.1)
    other = other.dropna(subset=["customer_id", "item_id", "timestamp"]).reset_index(drop=True)
    return lines.loc[is_purchase], other


def load_orders(source: Any, format: str = "auto", mapping: fmt.ColumnMapping | None = None,
                options: ImportOptions | None = None) -> OrderData:
    """Read an order export (path, list, folder, zip or uploaded files) into clean OrderData.

    Raises ``ReadError`` for unreadable files and ``FormatError`` (with ``candidates``) when
    the columns cannot be mapped; every removed row is counted in ``report.cleaning``.
    """
    t0 = time.perf_counter()
    opts = options or ImportOptions()
    if format not in ("auto", *fmt.FORMATS):
        raise fmt.FormatError(f"Unknown format {format!r}; choose from auto, "
                              + ", ".join(fmt.FORMATS))
    parts, infos, instacart, dets = [], [], {}, []
    limits = opts.limits or Limits.from_env()
    with Scratch(opts.scratch) as scratch:
        for src in collect_sources(source, limits):
            det, df, info = _read_source(src, format, mapping, opts, limits, scratch)
            infos.append({**info, "rows": int(len(df)), "format": det.format, "table": det.table})
            dets.append(det)
            if det.format == "instacart":
                # order_products__prior and __train are one table in two files.
                prev = instacart.get(det.table)
                instacart[det.table] = (df if prev is None
                                        else pd.concat([prev, df], ignore_index=True))
            else:
                parts.append(fmt.NORMALISERS[det.format](df, det.mapping))
            del df  # the raw table is not needed once normalised
    if instacart:
        parts.append(fmt.normalise_instacart(instacart))
    lines = fmt.concat_lines(parts)
    tables = sorted(instacart)
    del parts, instacart
    rows_read = int(len(lines))
    lines["timestamp"], times = parse_times(lines["timestamp"])
    lines["date_out_of_range"] = times.pop("rows")
    main = dets[0]
    key_rule = customer_key_rule(lines["customer_id"], "instacart" if tables else main.format,
                                 opts)
    if key_rule["pseudonymised"]:
        lines["customer_id"] = pseudonymise(lines["customer_id"], _pii_key(opts))
    lines, signals = _split_events(lines)
    kept, cleaning = clean_lines(lines, opts.cleaning)
    del lines
    if not opts.cleaning.drop_missing_customer:
        guest = "guest:" + kept["order_id"].astype("string")
        kept = kept.assign(customer_id=kept["customer_id"].astype("string").fillna(guest))
    if kept.empty:
        removed = ", ".join(f"{r['rule']}={r['removed']}" for r in cleaning if r["removed"])
        raise fmt.FormatError("No order lines are left after cleaning; check the cleaning "
                              "options and the column mapping. " + (f"Removed: {removed}."
                              if removed else "The file has no order lines at all."))
    key_rule["sources"] = {
        str(k): int(v) for k, v in kept["key_source"].fillna("none").value_counts().items()}
    report = ImportReport(
        format="instacart" if tables else main.format,
        mapping=main.mapping.as_dict() if main.mapping else {"tables": tables},
        files=infos, rows_read=rows_read,
        signal_rows=0 if signals is None else int(len(signals)), rows_kept=int(len(kept)),
        cleaning=cleaning, cleaning_options=opts.cleaning.as_dict(),
        time_style=times["style"], dates_out_of_range=times["out_of_range"],
        pseudonymised=bool(key_rule["pseudonymised"]), customer_key=key_rule,
        currency=_currency(kept) or FORMAT_CURRENCY.get(main.format))
    data = OrderData.from_lines(kept, report, signals)
    data.report.warnings = _warnings(data)
    data.report.seconds = round(time.perf_counter() - t0, 3)
    return data


# The currency a format's own data is priced in, where its lines do not say: the UCI Online
# Retail export is a UK shop's, in pounds (the analyst can still set another on the Data page).
FORMAT_CURRENCY = {"online_retail": "GBP"}


def _currency(lines: pd.DataFrame) -> str | None:
    """The export's own currency (its most common value), if it says."""
    counts = lines["currency"].value_counts(dropna=True)
    counts = counts[counts > 0]
    return str(counts.index[0]) if len(counts) else None


def _warnings(data: OrderData) -> list[str]:
    """What an analyst must know before trusting any recommendation from this data."""
    out = []
    s = data.summary()
    if s["orders"] >= 20 and s["customers"] >= 0.9 * s["orders"]:
        out.append(f"Almost every order has its own customer ({s['customers']:,} customers for "
                   f"{s['orders']:,} orders): repeat buyers cannot be seen, so recommendations "
                   "will be little more than best-seller lists. Check that the export "
                   "identifies customers (e-mail, phone, or name and postcode), and that guest "
                   "orders are not counted as customers.")
    for f in data.report.files:
        if f.get("nul_bytes_removed"):
            out.append(f"{f['file']} held {f['nul_bytes_removed']:,} NUL bytes (a damaged or "
                       "oddly saved export); they were removed before reading. Check a few "
                       "rows of the imported data.")
    return out

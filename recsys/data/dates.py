"""Timestamp parsing for order exports: ISO, day-first vs month-first, offsets, unix epochs.

Each distinct value is read by the format it is written in, so one format never rewrites
another (an ISO date in a column of dd/mm dates stays as written). The day/month order of
slashed dates is decided from evidence in the column itself: a first number above 12 means
day-first, a second above 12 month-first, and when every value reads both ways, the reading
under which consecutive lines are closer in time (exports are in time order, either way up).
Values outside a plausible range (1990 to next year) become unreadable instead of wrapping
around to some other century, and are counted.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from recsys.data.formats import FormatError

_SLASH = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})(?!\d)")
_ISO = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}")
# A UTC offset after a clock time: "12:39:28 -0400", "...T12:39:28+02:00", "... UTC", "Z".
_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[+-]\d{2}:?\d{2}|Z|UTC)$")
EARLIEST = pd.Timestamp("1990-01-01")


def _latest() -> pd.Timestamp:
    return pd.Timestamp.now().normalize() + pd.Timedelta(days=366)


def _numeric_epoch(values: pd.Series) -> pd.Series | None:
    """Unix seconds or milliseconds, or None when the values are not plain numbers."""
    nums = pd.to_numeric(values, errors="coerce")
    if nums.notna().mean() < 0.99:
        return None
    med = float(nums.median())
    nums = nums.where(nums.abs() < 1e16)  # far outside any date: unreadable, not an overflow
    if 1e8 <= med < 1e11:
        return pd.to_datetime(nums, unit="s", errors="coerce")
    if 1e11 <= med < 1e14:
        return pd.to_datetime(nums, unit="ms", errors="coerce")
    return None


def _jumps(parsed: pd.Series) -> float:
    """How far apart consecutive values are in time, in total (smaller: the right reading)."""
    v = parsed.dropna().to_numpy().astype("datetime64[s]").astype(np.int64)
    return float(np.abs(np.diff(v)).sum()) if len(v) > 1 else 0.0


def detect_dayfirst(sample: pd.Series) -> bool | None:
    """True for day-first (21/07/2015), False for month-first, None when not a d/m/y shape."""
    pairs = [(int(m.group(1)), int(m.group(2))) for s in sample.dropna().astype(str)
             if (m := _SLASH.match(s))]
    if not pairs:
        return None
    day_first = any(a > 12 for a, _ in pairs)
    month_first = any(b > 12 for _, b in pairs)
    if day_first and month_first:
        raise FormatError("The date column mixes day-first (e.g. 21/07) and month-first "
                          "(e.g. 07/21) dates, so some would be read wrongly: re-export the "
                          "dates in one format (ISO, 2015-07-21, is safest).")
    if day_first or month_first:
        return day_first
    slashed = sample[sample.astype(str).str.match(_SLASH)]
    day = pd.to_datetime(slashed, dayfirst=True, errors="coerce", format="mixed")
    month = pd.to_datetime(slashed, dayfirst=False, errors="coerce", format="mixed")
    return _jumps(day) <= _jumps(month)


def _iso(text: pd.Series) -> tuple[pd.Series, str]:
    offset = text.str.contains(_OFFSET, regex=True)
    if offset.any():
        cleaned = text.str.replace(r"\s*UTC$", "+00:00", regex=True)
        cleaned = cleaned.str.replace(r"\s+([+-]\d{2}:?\d{2})$", r"\1", regex=True)
        # Mixed offsets (a shop's summer and winter time): all to UTC; none given is UTC.
        out = pd.to_datetime(cleaned, utc=True, errors="coerce", format="ISO8601")
        miss = out.isna() & cleaned.notna()
        if miss.any():
            out[miss] = pd.to_datetime(cleaned[miss], utc=True, errors="coerce", format="mixed")
        offsets = sorted(cleaned.str.extract(r"([+-]\d{2}):?(\d{2})$").dropna()
                         .agg(":".join, axis=1).unique())[:4]
        said = f" from the shop's local times, UTC{' / UTC'.join(offsets)}" if offsets else ""
        return out.dt.tz_convert(None), f"iso-with-offset (converted to UTC{said})"
    try:
        return pd.to_datetime(text, format="ISO8601", errors="raise"), "iso"
    except (ValueError, TypeError):
        return pd.to_datetime(text, errors="coerce", format="mixed"), "iso-mixed"


def _parse_unique(uniq: pd.Series) -> tuple[pd.Series, str]:
    """Each distinct value parsed by its own written format (no plausibility check yet);
    the styles met, in words."""
    epoch = _numeric_epoch(uniq)
    if epoch is not None:
        return epoch, "unix"
    text = uniq.astype(str).str.strip()
    iso = text.str.match(_ISO)
    slash = text.str.match(_SLASH) & ~iso
    rest = ~iso & ~slash
    parts, styles = [], []
    if iso.any():
        part, style = _iso(text[iso])
        parts.append(part)
        styles.append(style)
    dayfirst = detect_dayfirst(text[slash]) if slash.any() else None
    if slash.any():
        parts.append(pd.to_datetime(text[slash], dayfirst=bool(dayfirst), errors="coerce",
                                    format="mixed"))
        styles.append("day-first" if dayfirst else "month-first")
    if rest.any():
        parts.append(pd.to_datetime(text[rest], dayfirst=bool(dayfirst), errors="coerce",
                                    format="mixed"))
        if not styles:
            styles.append("day-first" if dayfirst else "month-first")
    merged = pd.concat([p.dt.tz_convert(None) if p.dt.tz is not None else p for p in parts])
    return merged.reindex(text.index), " + ".join(styles)


def _plausible(parsed: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """NaT outside EARLIEST..next year, checked before any change of resolution (so 9999
    never wraps round to 1816); also which values were dates but implausible."""
    if parsed.dt.tz is not None:
        parsed = parsed.dt.tz_convert(None)
    ok = (parsed >= EARLIEST) & (parsed <= _latest())
    return parsed.where(ok).astype("datetime64[ns]"), (parsed.notna() & ~ok).to_numpy()


def parse_times(values: pd.Series) -> tuple[pd.Series, dict[str, Any]]:
    """Parse a column of timestamps: (datetime64[ns] series, NaT for unreadable or
    implausible values; {'style': how they were read, 'out_of_range': how many lines had a
    date outside 1990..next year, 'rows': which}). Order exports repeat one timestamp per
    invoice line, so only the distinct values are parsed."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out, bad = _plausible(values)
        return out, {"style": "native", "out_of_range": int(bad.sum()), "rows": bad}
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    if len(uniq) == 0:
        return (pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"),
                {"style": "empty", "out_of_range": 0, "rows": np.zeros(len(values), bool)})
    parsed, style = _parse_unique(pd.Series(uniq))
    parsed, bad = _plausible(parsed)
    arr = parsed.to_numpy(dtype="datetime64[ns]")
    known = codes >= 0
    result = np.where(known, arr[np.maximum(codes, 0)], np.datetime64("NaT"))
    rows = bad[np.maximum(codes, 0)] & known
    return (pd.Series(result, index=values.index, dtype="datetime64[ns]"),
            {"style": style, "out_of_range": int(rows.sum()), "rows": rows})

"""Timestamp parsing for order exports: ISO, day-first vs month-first, offsets, unix epochs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_SEP_DATE = re.compile(r"^\s*(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})")
_ISO = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
# A UTC offset after a clock time: "12:39:28 -0400", "...T12:39:28+02:00", "... UTC".
_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[+-]\d{2}:?\d{2}|Z|UTC)$"


def _numeric_epoch(values: pd.Series) -> pd.Series | None:
    """Unix seconds or milliseconds, or None when the values are not plain numbers."""
    nums = pd.to_numeric(values, errors="coerce")
    if nums.notna().mean() < 0.99:
        return None
    med = float(nums.median())
    if 1e8 <= med < 1e11:
        return pd.to_datetime(nums, unit="s")
    if 1e11 <= med < 1e14:
        return pd.to_datetime(nums, unit="ms")
    return None


def _order_score(parsed: pd.Series) -> int:
    """How many consecutive pairs go backwards in time: exports are mostly chronological."""
    v = parsed.dropna().to_numpy()
    return int((np.diff(v.astype("int64")) < 0).sum()) if len(v) > 1 else 0


def detect_dayfirst(sample: pd.Series) -> bool | None:
    """True for day-first (21/07/2015), False for month-first, None when not a d/m/y shape."""
    firsts, seconds = [], []
    for s in sample.dropna().astype(str).head(2000):
        m = _SEP_DATE.match(s)
        if not m or len(m.group(1)) == 4:
            continue
        firsts.append(int(m.group(1)))
        seconds.append(int(m.group(2)))
    if not firsts:
        return None
    if max(firsts) > 12:
        return True
    if max(seconds) > 12:
        return False
    # Every value fits both ways: pick the reading under which the file is more chronological.
    day = pd.to_datetime(sample, dayfirst=True, errors="coerce", format="mixed")
    month = pd.to_datetime(sample, dayfirst=False, errors="coerce", format="mixed")
    return _order_score(day) < _order_score(month)


def _parse_unique(uniq: pd.Series) -> tuple[pd.Series, str]:
    epoch = _numeric_epoch(uniq)
    if epoch is not None:
        return epoch, "unix"
    text = uniq.astype(str).str.strip()
    sample = text.head(5000)
    has_offset = sample.str.contains(_OFFSET, regex=True).mean() > 0.5
    if has_offset:
        cleaned = text.str.replace(r"\s*UTC$", "+00:00", regex=True)
        cleaned = cleaned.str.replace(r"\s+([+-]\d{2}:?\d{2})$", r"\1", regex=True)
        try:
            out = pd.to_datetime(cleaned, utc=True, format="ISO8601")
        except (ValueError, TypeError):
            out = pd.to_datetime(cleaned, utc=True, errors="coerce", format="mixed")
        return out.dt.tz_convert(None), "iso-with-offset (converted to UTC)"
    if sample.str.match(_ISO).mean() > 0.9:
        try:
            return pd.to_datetime(text, format="ISO8601", errors="raise"), "iso"
        except (ValueError, TypeError):
            return pd.to_datetime(text, errors="coerce", format="mixed"), "iso-mixed"
    dayfirst = detect_dayfirst(sample)
    out = pd.to_datetime(text, dayfirst=bool(dayfirst), errors="coerce", format="mixed")
    return out, "day-first" if dayfirst else "month-first"


def parse_times(values: pd.Series) -> tuple[pd.Series, str]:
    """Parse a column of timestamps; returns (datetime64 series with NaT for bad values, style).

    Order exports repeat one timestamp per invoice line, so only the distinct values are parsed.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.dt.tz_convert(None) if values.dt.tz is not None else values
        return out.astype("datetime64[ns]"), "native"
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    uniq = pd.Series(uniq)
    if len(uniq) == 0:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]"), "empty"
    parsed, style = _parse_unique(uniq)
    arr = parsed.to_numpy(dtype="datetime64[ns]")
    result = np.where(codes >= 0, arr[np.maximum(codes, 0)], np.datetime64("NaT"))
    return pd.Series(result, index=values.index, dtype="datetime64[ns]"), style

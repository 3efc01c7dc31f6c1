"""Cleaning rules for order lines. Each rule is switchable and every removed row is counted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from recsys.data.formats import category_flags

# Postage, fees, manual adjustments, charity and samples in the UCI Online Retail catalogue.
DEFAULT_NON_PRODUCT_CODES = (
    "POST", "DOT", "M", "D", "C2", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B", "S",
    "ADJUST", "ADJUST2", "TEST001", "TEST002",
)
DEFAULT_NON_PRODUCT_PATTERNS = (
    r"^gift_\d", r"gift ?(?:card|voucher|certificate)", r"shipping protection",
    r"package protection", r"^tips?$", r"^tip\b", r"^postage$", r"^carriage$",
)

RULE_TEXT = {
    "invalid": "no product or an unreadable date",
    "implausible": "implausible numbers (a quantity above 1,000,000, a price above "
                   "10,000,000, or not a number) or a date outside 1990 to next year",
    "cancellations": "cancelled, refunded or voided orders ('C' invoices)",
    "returns": "zero or negative quantity (returns)",
    "nonpositive_price": "zero or negative unit price",
    "missing_customer": "no customer (guest checkout)",
    "non_products": "non-product lines (postage, fees, gift vouchers, tips, ...)",
    "duplicates": "exact duplicate lines",
}


@dataclass(frozen=True)
class CleaningOptions:
    """Which cleaning rules run; all on by default."""

    drop_implausible: bool = True
    drop_cancellations: bool = True
    drop_returns: bool = True
    drop_nonpositive_price: bool = True
    drop_missing_customer: bool = True
    drop_non_products: bool = True
    drop_duplicates: bool = True
    non_product_codes: tuple[str, ...] = DEFAULT_NON_PRODUCT_CODES
    non_product_patterns: tuple[str, ...] = DEFAULT_NON_PRODUCT_PATTERNS

    def as_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def switches() -> dict[str, str]:
        """Each switchable rule: its option name and what it removes (for forms)."""
        return {f.name: RULE_TEXT[f.name.removeprefix("drop_")] for f in fields(CleaningOptions)
                if f.name.startswith("drop_")}


def _non_product_mask(lines: pd.DataFrame, opts: CleaningOptions) -> np.ndarray:
    """Lines whose product code is a known fee code, or whose code or name matches a
    non-product pattern -- judged once per distinct code and name, not per line."""
    codes = {c.upper() for c in opts.non_product_codes}
    pattern = "|".join(f"(?:{p})" for p in opts.non_product_patterns)

    def bad_code(t: pd.Series) -> pd.Series:
        hit = t.str.upper().isin(codes)
        return hit | t.str.contains(pattern, case=False, regex=True) if pattern else hit

    bad = category_flags(lines["item_id"], bad_code)
    if pattern:
        bad |= category_flags(lines["name"], lambda t: t.str.contains(pattern, case=False,
                                                                       regex=True))
    return bad


MAX_QUANTITY = 1e6
MAX_PRICE = 1e7


def _implausible(lines: pd.DataFrame) -> pd.Series:
    """Numbers no order line has (1e39 units would make every spend infinite), and dates the
    parser found out of range (marked in ``date_out_of_range``)."""
    q = pd.to_numeric(lines["quantity"], errors="coerce").astype("float64")
    p = pd.to_numeric(lines["price"], errors="coerce").astype("float64")
    bad = (q.abs() > MAX_QUANTITY) | np.isinf(q) | (p.abs() > MAX_PRICE) | np.isinf(p)
    if "date_out_of_range" in lines:
        bad |= lines["date_out_of_range"].astype(bool)
    return bad.fillna(False)


def duplicate_rows(frame: pd.DataFrame) -> np.ndarray:
    """``frame.duplicated(keep='first')``, fast on tens of millions of rows: rows are hashed
    column by column (Categoricals by their codes), and only rows whose hash repeats are
    compared exactly."""
    h = np.zeros(len(frame), dtype=np.uint64)
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            values = s.cat.codes.to_numpy()
        else:
            values = s.to_numpy()
            if values.dtype.kind == "f":
                values = np.where(np.isnan(values), np.inf, values)  # one NaN, one hash
        with np.errstate(over="ignore"):
            h = h * np.uint64(0x100000001B3) ^ pd.util.hash_array(values)
    candidates = pd.Series(h).duplicated(keep=False).to_numpy()
    out = np.zeros(len(frame), dtype=bool)
    if candidates.any():
        out[candidates] = frame.iloc[np.flatnonzero(candidates)].duplicated(keep="first")
    return out


def clean_lines(lines: pd.DataFrame, opts: CleaningOptions) -> tuple[pd.DataFrame, list[dict]]:
    """Apply the rules in order; each removed row is counted under the first rule that hit it."""
    report: list[dict] = []
    keep = pd.Series(True, index=lines.index)

    def apply(rule: str, mask, enabled: bool = True) -> None:
        if isinstance(mask, pd.Series):
            mask = mask.fillna(False).to_numpy(dtype=bool)
        hit = np.asarray(mask, dtype=bool) & keep.to_numpy()
        n = int(hit.sum()) if enabled else 0
        if enabled:
            keep[hit] = False
        report.append({"rule": rule, "removed": n, "enabled": enabled,
                       "description": RULE_TEXT[rule]})

    apply("implausible", _implausible(lines), opts.drop_implausible)
    apply("invalid", lines["item_id"].isna() | lines["timestamp"].isna())
    apply("cancellations", lines["cancelled"].astype(bool), opts.drop_cancellations)
    apply("returns", lines["quantity"] <= 0, opts.drop_returns)
    apply("nonpositive_price", lines["price"] <= 0, opts.drop_nonpositive_price)
    apply("missing_customer", lines["customer_id"].isna(), opts.drop_missing_customer)
    apply("non_products", _non_product_mask(lines, opts) if opts.drop_non_products
          else pd.Series(False, index=lines.index), opts.drop_non_products)
    if opts.drop_duplicates:
        cols = [c for c in lines.columns if c != "cancelled"]
        dup = np.zeros(len(lines), dtype=bool)
        at = np.flatnonzero(keep.to_numpy())
        dup[at] = duplicate_rows(lines.iloc[at][cols])
        apply("duplicates", dup)
    else:
        apply("duplicates", pd.Series(False, index=lines.index), False)
    return lines.loc[keep.to_numpy()], report

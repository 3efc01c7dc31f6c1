"""Export formats: detection from the header and normalisation to canonical order lines.

Canonical lines (before cleaning) have the columns of ``LINE_COLUMNS``; every format is turned
into that shape by a ``ColumnMapping`` plus a few format-specific fixes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd

FORMATS = ("online_retail", "shopify", "instacart", "rees46", "generic")
LINE_COLUMNS = [
    "customer_id", "item_id", "order_id", "timestamp", "quantity", "price", "name",
    "category", "country", "region", "cancelled", "event", "currency", "key_source",
]


class FormatError(ValueError):
    """The columns needed for a format are missing, or no format fits the header."""

    def __init__(self, message: str, candidates: list[Detection] | None = None):
        super().__init__(message)
        self.candidates = candidates or []


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column plays which role. customer, item and time are required."""

    customer: str
    item: str
    time: str
    order: str | None = None
    quantity: str | None = None
    price: str | None = None
    name: str | None = None
    category: str | None = None
    country: str | None = None
    region: str | None = None
    event: str | None = None
    status: str | None = None
    currency: str | None = None

    @classmethod
    def from_string(cls, text: str) -> ColumnMapping:
        """Parse ``customer=COL,item=COL,time=COL[,order=COL,...]`` (the CLI's --map)."""
        pairs = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in part:
                raise FormatError(f"--map entry {part!r} is not ROLE=COLUMN")
            role, col = (s.strip() for s in part.split("=", 1))
            if role not in {f.name for f in fields(cls)}:
                raise FormatError(f"Unknown role {role!r} in --map; roles: "
                                  + ", ".join(f.name for f in fields(cls)))
            pairs[role] = col
        missing = [r for r in ("customer", "item", "time") if r not in pairs]
        if missing:
            raise FormatError(f"--map is missing the required roles: {', '.join(missing)}")
        return cls(**pairs)

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Detection:
    """A format that fits a header, with the mapping it would use."""

    format: str
    mapping: ColumnMapping | None
    score: float
    table: str = "lines"  # Instacart tables: orders, order_products, products, aisles, departments


def _pick(header: list[str], *names: str) -> str | None:
    lower = {h.lower().strip(): h for h in header}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def _detect_online_retail(header: list[str]) -> Detection | None:
    order = _pick(header, "InvoiceNo", "Invoice")
    item = _pick(header, "StockCode")
    cust = _pick(header, "CustomerID", "Customer ID")
    time = _pick(header, "InvoiceDate")
    if not (order and item and cust and time):
        return None
    m = ColumnMapping(
        customer=cust, item=item, time=time, order=order,
        quantity=_pick(header, "Quantity"), price=_pick(header, "UnitPrice", "Price"),
        name=_pick(header, "Description"), country=_pick(header, "Country"),
        category=_pick(header, "Category"),
    )
    return Detection("online_retail", m, 1.0)


def _detect_shopify(header: list[str]) -> Detection | None:
    need = ["Name", "Created at", "Lineitem quantity", "Lineitem name"]
    if not all(_pick(header, n) for n in need):
        return None
    m = ColumnMapping(
        customer=_pick(header, "Email", "Phone", "Billing Name") or "Email",
        item=_pick(header, "Lineitem sku") or "Lineitem name", time="Created at", order="Name",
        quantity="Lineitem quantity", price=_pick(header, "Lineitem price"),
        name="Lineitem name",
        category=_pick(header, "Lineitem product type", "Product Type", "Product type", "Type"),
        country=_pick(header, "Shipping Country", "Billing Country"),
        region=_pick(header, "Shipping Province"), status=_pick(header, "Financial Status"),
        currency=_pick(header, "Currency"),
    )
    return Detection("shopify", m, 1.0)


def _detect_rees46(header: list[str]) -> Detection | None:
    if not all(_pick(header, n) for n in ("event_time", "event_type", "product_id", "user_id")):
        return None
    m = ColumnMapping(
        customer="user_id", item="product_id", time="event_time",
        order=_pick(header, "user_session"), price=_pick(header, "price"),
        category=_pick(header, "category_code"), event="event_type",
        name=_pick(header, "brand"),
    )
    return Detection("rees46", m, 1.0)


INSTACART_TABLES = {
    "orders": {"order_id", "user_id", "order_number"},
    "order_products": {"order_id", "product_id", "add_to_cart_order"},
    "products": {"product_id", "product_name"},
    "aisles": {"aisle_id", "aisle"},
    "departments": {"department_id", "department"},
}


def _detect_instacart(header: list[str]) -> Detection | None:
    cols = {h.lower() for h in header}
    for table, need in INSTACART_TABLES.items():
        if need <= cols:
            return Detection("instacart", None, 1.0, table=table)
    return None


# Generic: role guesses by column name, most specific first.
_ROLE_PATTERNS = {
    "customer": r"customer|user|client|member|buyer|e-?mail|account|shopper|visitor",
    "item": r"sku|product|item|article|stock.?code|asin|ean|upc|material",
    "time": r"date|time|timestamp|^ts$|epoch|created|ordered|purchased|_at$|^at$|when",
    "order": r"order|invoice|transaction|basket|receipt|ticket|session",
    "quantity": r"qty|quantity|units|count|amount_items",
    "price": r"price|amount|revenue|value|cost|total",
    "name": r"name|description|title|label",
    "category": r"categor|department|aisle|group|family|segment|type|class",
    "country": r"country|nation",
    "region": r"region|state|province|city",
}


def _guess_generic(header: list[str]) -> tuple[dict[str, str], list[str]]:
    used: set[str] = set()
    roles: dict[str, str] = {}
    for role, pattern in _ROLE_PATTERNS.items():
        for h in header:
            if h in used:
                continue
            if role == "item" and re.search(r"name|description|title", h, re.I):
                continue
            if role in ("customer", "item", "order") and not re.search(r"id|code|sku|no|num|"
                                                                        r"e-?mail|key|#", h, re.I):
                if not re.fullmatch(_ROLE_PATTERNS[role], h.strip(), re.I):
                    continue
            if re.search(pattern, h, re.I):
                roles[role] = h
                used.add(h)
                break
    missing = [r for r in ("customer", "item", "time") if r not in roles]
    return roles, missing


def detect_format(header: list[str]) -> list[Detection]:
    """Formats that fit this header, best first. A table that holds a customer, a product and
    a time on its own is read as generic before it is taken for one of Instacart's tables
    (which have no dates, and need each other)."""
    found = [d for f in (_detect_online_retail, _detect_shopify, _detect_rees46)
             if (d := f(header))]
    roles, missing = _guess_generic(header)
    if not missing:
        found.append(Detection("generic", ColumnMapping(**roles), 0.5))
    if (d := _detect_instacart(header)):
        found.append(d)
    return found


def missing_roles_error(header: list[str], mapping: ColumnMapping | None = None) -> FormatError:
    roles, missing = _guess_generic(header)
    if mapping is not None:
        missing = [r for r, c in mapping.as_dict().items() if c not in header]
        msg = (f"The mapped columns {', '.join(repr(mapping.as_dict()[r]) for r in missing)} "
               f"(roles {', '.join(missing)}) are not in the file. ")
    else:
        msg = (f"Could not recognise the format: no column found for "
               f"{', '.join(missing)}. ")
    msg += f"Columns seen: {columns_seen(header)}. Pass a column mapping " \
           "(customer=COL,item=COL,time=COL)."
    return FormatError(msg)


def columns_seen(header: list[str], most: int = 200) -> str:
    """Every column of the file, for a message (the first ``most`` of a very wide one)."""
    shown = ", ".join(str(h) for h in header[:most])
    return shown + (f", and {len(header) - most:,} more" if len(header) > most else "")


# ---------------------------------------------------------------- normalisation
_SCIENTIFIC = r"[+-]?\d(?:\.\d+)?[eE][+-]?\d+"


def text_categories(s: pd.Series, fn=None) -> pd.Series:
    """A text column as a Categorical, each distinct value cleaned once (stripped, then
    ``fn``; empty is missing): work proportional to distinct values, not to lines, and no
    Python string per line -- what lets tens of millions of lines import in memory."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes, uniq = s.cat.codes.to_numpy(), pd.Series(s.cat.categories)
    else:
        codes, uniq = pd.factorize(s, use_na_sentinel=True)
        uniq = pd.Series(uniq)
    text = uniq.astype("string").str.strip()
    if fn is not None:
        text = fn(text)
    text = text.mask(text == "", pd.NA)
    new_codes, new_uniq = pd.factorize(text, use_na_sentinel=True)
    new_codes = np.asarray(new_codes, dtype=np.int64)
    mapped = np.where(codes >= 0, new_codes[np.maximum(codes, 0)] if len(new_codes) else -1, -1)
    cats = pd.Index(np.asarray(new_uniq, dtype=object), dtype="string")
    return pd.Series(pd.Categorical.from_codes(mapped, categories=cats), index=s.index)


def constant(value: str | None, index: pd.Index) -> pd.Series:
    """The same text on every line (all missing for None), as a Categorical: one category,
    no string per line."""
    cats = [] if value is None else [value]
    codes = np.full(len(index), 0 if cats else -1, np.int8)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype="string")),
                     index=index)


def used_categories(s: pd.Series) -> np.ndarray:
    """Positions of a Categorical's categories that some line uses (a count over the codes;
    ``remove_unused_categories`` takes seconds on millions of categories)."""
    codes = s.cat.codes.to_numpy()
    return np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)))


def _strip_float_ids(s: pd.Series, column: str | None = None) -> pd.Series:
    """IDs as a Categorical: '17850.0' -> '17850' when the whole column is integers written
    as floats. IDs a spreadsheet turned into scientific notation (1.7e+04) are refused: many
    customers would collapse into one without a word."""
    ids = text_categories(s)
    cats = pd.Series(ids.cat.categories, dtype="string")
    sci = cats.str.fullmatch(_SCIENTIFIC).fillna(False)
    if sci.any():
        hit = np.isin(ids.cat.codes.to_numpy(), np.flatnonzero(sci.to_numpy()))
        # Where, never what: an ID may be a customer's identity.
        raise FormatError(f"{int(hit.sum()):,} IDs in column {column or s.name!r} are in "
                          "scientific notation (like 1.2E+05; the first on data line "
                          f"{int(np.argmax(hit)) + 1:,}): a spreadsheet rounded them, so "
                          "different customers or products would look the same. Re-export "
                          "that column as text.")
    if len(cats) and cats.str.fullmatch(r"\d+\.0").mean() > 0.99:
        ids = text_categories(ids, lambda t: t.str.replace(r"\.0$", "", regex=True))
    return ids


def _col(df: pd.DataFrame, name: str | None, default=pd.NA) -> pd.Series:
    if name is None or name not in df.columns:
        return pd.Series(default, index=df.index)
    return df[name]


def _text(df: pd.DataFrame, name: str | None, fn=None) -> pd.Series:
    """A mapped text column as a Categorical (all missing when the column is not mapped)."""
    if name is None or name not in df.columns:
        return constant(None, df.index)
    return text_categories(df[name], fn)


def to_lines(df: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """Apply a mapping: the canonical line columns, as raw (unparsed) values; IDs and text
    as Categoricals."""
    absent = [c for c in mapping.as_dict().values() if c not in df.columns]
    if absent:
        raise missing_roles_error(list(df.columns), mapping)
    out = pd.DataFrame(index=df.index)
    out["customer_id"] = _strip_float_ids(df[mapping.customer], mapping.customer)
    out["item_id"] = _strip_float_ids(df[mapping.item], mapping.item)
    out["order_id"] = (_strip_float_ids(df[mapping.order], mapping.order) if mapping.order
                       else constant(None, df.index))
    out["timestamp"] = df[mapping.time]
    out["quantity"] = pd.to_numeric(_col(df, mapping.quantity, 1), errors="coerce")
    out["price"] = pd.to_numeric(_col(df, mapping.price, np.nan), errors="coerce")
    for role in ("name", "category", "country", "region"):
        out[role] = _text(df, getattr(mapping, role))
    out["cancelled"] = False
    out["event"] = (_text(df, mapping.event, lambda t: t.str.lower()) if mapping.event
                    else constant("purchase", df.index))
    out["currency"] = _text(df, mapping.currency, lambda t: t.str.upper())
    out["key_source"] = constant("customer id", df.index)
    return out


def as_categories(s: pd.Series) -> pd.Series:
    """A column as a Categorical of stripped text (unchanged when it already is one)."""
    return s if isinstance(s.dtype, pd.CategoricalDtype) else text_categories(s)


def concat_lines(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack normalised parts; text columns stay Categoricals (their categories united)."""
    if len(parts) == 1:
        return parts[0]
    out = pd.concat(parts, ignore_index=True)
    for col in parts[0].columns:
        if any(isinstance(p[col].dtype, pd.CategoricalDtype) for p in parts):
            united = pd.api.types.union_categoricals(
                [as_categories(p[col]).array for p in parts])
            out[col] = pd.Series(united, index=out.index)
    return out


def category_flags(s: pd.Series, test) -> np.ndarray:
    """``test`` (a function of a string Series) evaluated on a Categorical's distinct values
    only, spread back to every line (missing: False)."""
    s = as_categories(s)
    cats = pd.Series(s.cat.categories, dtype="string")
    hit = np.r_[test(cats).fillna(False).to_numpy(dtype=bool), False]
    return hit[s.cat.codes.to_numpy()]  # code -1 reads the final False


def normalise_online_retail(df: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    lines = to_lines(df, mapping)
    lines["cancelled"] = category_flags(lines["order_id"], lambda t: t.str.upper()
                                        .str.startswith("C"))
    return lines


SHOPIFY_ORDER_LEVEL = [
    "Email", "Financial Status", "Created at", "Cancelled at", "Shipping Country",
    "Shipping Province", "Fulfillment Status", "Currency", "Billing Country",
]
# Who bought, best key first; each is pseudonymised before anything is stored.
SHOPIFY_KEYS = {"email": ["Email"], "phone": ["Phone", "Billing Phone", "Shipping Phone"],
                "name+postcode": [("Billing Name", "Billing Zip"),
                                  ("Shipping Name", "Shipping Zip")]}
SHOPIFY_CANCELLED_STATUS = {"refunded", "voided", "cancelled", "canceled"}


def _shopify_key_columns() -> list[str]:
    cols: list[str] = []
    for options in SHOPIFY_KEYS.values():
        for opt in options:
            cols.extend(opt if isinstance(opt, tuple) else [opt])
    return cols


def shopify_customer_key(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The best key each order has -- e-mail, else phone, else billing (or shipping) name and
    postcode -- and which one it was. Orders with none are guests."""
    key = pd.Series(pd.NA, index=df.index, dtype="string")
    source = pd.Series(pd.NA, index=df.index, dtype="string")
    for kind, options in SHOPIFY_KEYS.items():
        for opt in options:
            cols = opt if isinstance(opt, tuple) else (opt,)
            if not all(c in df.columns for c in cols):
                continue
            parts = [df[c].astype("string").str.strip().replace("", pd.NA) for c in cols]
            if kind == "email":  # whatever the shop wrote there identifies the buyer
                value = parts[0].where(~parts[0].str.contains("@", regex=False).fillna(False),
                                       parts[0].str.lower())
                other = value.notna() & ~value.str.contains("@", regex=False).fillna(False)
                take = key.isna() & value.notna()
                key[take] = value[take]
                source[take] = np.where(other[take], "e-mail column (no e-mail)", "email")
                continue
            elif kind == "phone":
                digits = parts[0].str.replace(r"[^\d+]", "", regex=True)
                value = ("phone:" + digits).where(digits.str.len() >= 6)
            else:
                # Words re-joined with single spaces; an empty column stays text (missing).
                name = parts[0].str.lower().str.split().str.join(" ").astype("string")
                value = "name:" + name + "|" + parts[1].str.upper().str.replace(" ", "",
                                                                               regex=False)
            take = key.isna() & value.notna()
            key[take], source[take] = value[take], kind
    return key, source


def normalise_shopify(df: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    df = df.copy()
    # Order-level fields are only on an order's first line: carry them to its other lines.
    present = [c for c in SHOPIFY_ORDER_LEVEL + _shopify_key_columns() if c in df.columns]
    present = list(dict.fromkeys(present))
    for c in present:
        df[c] = df[c].astype("string").str.strip().replace("", pd.NA)
    df[present] = df.groupby("Name", sort=False)[present].ffill()
    df["__customer"], df["__key_source"] = shopify_customer_key(df)
    sku = mapping.item
    if sku != "Lineitem name" and sku in df.columns:
        df[sku] = df[sku].astype("string").str.strip().replace("", pd.NA)
        df[sku] = df[sku].fillna(df["Lineitem name"].astype("string"))
    lines = to_lines(df, replace(mapping, customer="__customer"))
    status = _col(df, mapping.status).astype("string").str.lower().str.strip()
    cancelled = status.isin(SHOPIFY_CANCELLED_STATUS).fillna(False)
    if "Cancelled at" in df.columns:
        cancelled |= df["Cancelled at"].notna()
    lines["cancelled"] = cancelled.to_numpy(dtype=bool)
    lines["key_source"] = df["__key_source"].to_numpy()
    return lines


def normalise_rees46(df: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """Event logs: a product's category is its category_code, else its category_id; its
    name is brand, category and ID (worked out once per product, not per event)."""
    lines = to_lines(df, mapping)
    per_item = pd.DataFrame({"item": lines["item_id"].cat.codes.to_numpy(),
                             "category": _col(df, "category_code").to_numpy(),
                             "category_id": _col(df, "category_id").to_numpy(),
                             "brand": _col(df, "brand").to_numpy()}).drop_duplicates("item")
    per_item = per_item[per_item["item"] >= 0].set_index("item")
    cat = per_item["category"].astype("string").fillna(per_item["category_id"]
                                                       .astype("string"))
    ids = pd.Series(lines["item_id"].cat.categories, dtype="string").iloc[per_item.index]
    name = ((per_item["brand"].astype("string").fillna("") + " " + cat.fillna("")).str.strip()
            + " #" + ids.to_numpy())
    codes = lines["item_id"].cat.codes.to_numpy()
    for role, values in (("category", cat), ("name", name)):
        table = np.full(len(lines["item_id"].cat.categories) + 1, None, dtype=object)
        table[per_item.index.to_numpy()] = values.to_numpy(dtype=object)
        lines[role] = text_categories(pd.Series(table[codes], index=lines.index))
    return lines


INSTACART_END = pd.Timestamp("2017-06-30")


def normalise_instacart(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Join Instacart tables into lines. It has no dates, only order numbers and day gaps:
    each customer's orders are laid back from a common end date by their cumulative gaps,
    so a temporal holdout holds out everyone's latest orders (as Instacart's own split does)."""
    if "orders" not in tables or "order_products" not in tables:
        raise FormatError("Instacart needs the orders table and an order_products table "
                          f"(got: {', '.join(sorted(tables)) or 'none'}).")
    orders = tables["orders"].copy()
    orders = orders.sort_values(["user_id", "order_number"])
    gap = pd.to_numeric(orders["days_since_prior_order"], errors="coerce").fillna(0)
    day = gap.groupby(orders["user_id"]).cumsum()
    last = day.groupby(orders["user_id"]).transform("max")
    hour = pd.to_numeric(orders.get("order_hour_of_day", 12), errors="coerce").fillna(12)
    orders["timestamp"] = (INSTACART_END - pd.to_timedelta(last - day, unit="D")
                           + pd.to_timedelta(hour, unit="h"))
    lines = tables["order_products"].merge(
        orders[["order_id", "user_id", "timestamp"]], on="order_id", how="inner")
    products = tables.get("products")
    if products is not None:
        products = products.copy()
        cat = pd.Series(pd.NA, index=products.index, dtype="string")
        for key, name in (("aisles", "aisle"), ("departments", "department")):
            ref = tables.get(key)
            if ref is not None and f"{name}_id" in products.columns:
                label = products[f"{name}_id"].map(ref.set_index(f"{name}_id")[name])
                cat = label.astype("string") if name == "aisle" else cat.fillna(label)
        products["category"] = cat
        lines = lines.merge(products[["product_id", "product_name", "category"]],
                            on="product_id", how="left")
    idx = lines.index
    out = pd.DataFrame({
        "customer_id": text_categories(lines["user_id"]),
        "item_id": text_categories(lines["product_id"]),
        "order_id": text_categories(lines["order_id"]),
        "timestamp": lines["timestamp"], "quantity": 1.0, "price": np.nan,
        "name": _text(lines, "product_name"), "category": _text(lines, "category"),
        "country": constant(None, idx), "region": constant(None, idx), "cancelled": False,
        "event": constant("purchase", idx), "currency": constant(None, idx),
        "key_source": constant("customer id", idx),
    })
    return out


NORMALISERS = {
    "online_retail": normalise_online_retail,
    "shopify": normalise_shopify,
    "rees46": normalise_rees46,
    "generic": to_lines,
}

# Columns a format's normaliser reads besides its mapping.
_FORMAT_EXTRAS = {"shopify": SHOPIFY_ORDER_LEVEL + ["Name", "Lineitem name"]
                  + _shopify_key_columns(),
                  "rees46": ["category_id", "brand"]}


def needed_columns(det: Detection, header: list[str]) -> list[str] | None:
    """The columns to read for this detection (None: all, for tables without a mapping)."""
    if det.mapping is None:
        return None
    return [c for c in header if c in used_columns(det, header)]


def used_columns(det: Detection, header: list[str]) -> set[str]:
    """The header's columns this detection reads (an Instacart table: the ones it joins on)."""
    if det.mapping is None:
        return set(INSTACART_TABLES.get(det.table, set())) & set(header)
    wanted = set(det.mapping.as_dict().values()) | set(_FORMAT_EXTRAS.get(det.format, []))
    return wanted & set(header)


# Columns we must read as text so IDs keep their exact spelling (leading zeros, "17850.0").
def string_columns(mapping: ColumnMapping | None) -> list[str]:
    if mapping is None:
        return ["order_id", "user_id", "product_id", "aisle_id", "department_id"]
    cols = [mapping.customer, mapping.item, mapping.time, mapping.order, mapping.status,
            mapping.category, mapping.name, mapping.country, mapping.region, mapping.event]
    return ([c for c in cols if c] + SHOPIFY_ORDER_LEVEL + _shopify_key_columns()
            + ["Lineitem name", "category_id", "brand"])

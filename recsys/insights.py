"""Tables the app shows: dataset summaries, customer and product profiles, recommendation
lists with "because you bought" explanations. Plain pandas, no streamlit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys.data import ImportReport, OrderData
from recsys.data.loader import pseudonymise
from recsys.models import registry

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "INR": "₹", "AUD": "A$",
           "CAD": "C$", "NZD": "NZ$", "CHF": "CHF ", "BDT": "৳"}


def currency_prefix(code: str | None) -> str:
    """What goes before an amount: '£' for GBP, 'BDT ' for a code without a symbol, nothing
    when the currency is unknown (never a guess)."""
    if not code:
        return ""
    code = code.strip().upper()
    return SYMBOLS.get(code, f"{code} ")


def money(value: float, code: str | None, decimals: int = 2) -> str:
    return f"{currency_prefix(code)}{value:,.{decimals}f}"


def summary_frames(data: OrderData, top: int = 15) -> dict[str, pd.DataFrame]:
    """Orders per week, top products, orders-per-customer distribution, countries."""
    inter = data.interactions
    orders = inter.drop_duplicates("order_id")
    weekly = _complete_weeks(orders.set_index("timestamp").resample("W")["order_id"].count()
                             .rename("orders").reset_index(), inter["timestamp"].max())
    top_items = (inter.groupby("item_id", observed=True)["customer_id"].nunique()
                 .nlargest(top).rename("customers").reset_index())
    top_items["item_id"] = top_items["item_id"].astype(str)
    top_items = top_items.merge(data.products[["item_id", "name"]], on="item_id", how="left")
    per_cust = data.customers["orders"].clip(upper=30).value_counts().sort_index()
    per_cust = per_cust.rename_axis("orders").rename("customers").reset_index()
    countries = (data.customers["country"].fillna("unknown").value_counts().head(top)
                 .rename_axis("country").rename("customers").reset_index())
    return {"weekly": weekly, "top_items": top_items, "per_customer": per_cust,
            "countries": countries}


KEY_WORDS = {"email": "e-mail", "phone": "phone number", "name+postcode": "name and postcode",
             "e-mail column (no e-mail)": "what the e-mail column held (a phone or a name)",
             "customer id": "customer ID", "none": "no identity (guests)"}


FORMAT_WORDS = {"online_retail": "UCI Online Retail", "shopify": "Shopify orders export",
                "instacart": "Instacart tables", "rees46": "REES46 event log",
                "generic": "order table", "test": "test data"}
FIELD_WORDS = {"customer": "Customer", "item": "Product", "time": "Order time",
               "order": "Order number", "quantity": "Quantity", "price": "Unit price",
               "name": "Product name", "category": "Category", "country": "Country",
               "region": "Region", "status": "Payment status", "currency": "Currency",
               "event": "Event type", "tables": "Tables"}


def time_words(style: str) -> str:
    """How the dates were read, in words ('iso' -> 'year-month-day')."""
    words = {"iso": "year-month-day", "day-first": "day before month",
             "month-first": "month before day", "unix": "Unix timestamps",
             "native": "dates stored as dates", "empty": "no dates"}
    if style.startswith("iso-with-offset"):
        return "year-month-day with time zones" + style.removeprefix("iso-with-offset")
    return " + ".join(words.get(s, s) for s in style.split(" + "))


def mapping_table(report: ImportReport) -> pd.DataFrame:
    """Which column of the file gave each field, in words; the customer row says which
    identities keyed the customers (e-mail, else phone, else name and postcode)."""
    sources = report.customer_key.get("sources") or {}
    rows = []
    for field, column in report.mapping.items():
        text = ", ".join(map(str, column)) if isinstance(column, list | tuple) else str(column)
        if field == "customer" and len(sources) > 1:
            text = "; ".join(f"{KEY_WORDS.get(k, k)} ({v:,} lines)" for k, v in sources.items())
        rows.append({"field": FIELD_WORDS.get(field, field), "from the file": text})
    return pd.DataFrame(rows, columns=["field", "from the file"])


def dataset_facts(report: ImportReport, currency: str | None) -> str:
    """What the import found out, in a sentence an analyst can check: format, dates,
    categories, how customers were identified, and the currency."""
    key = report.customer_key
    sources = key.get("sources") or {}
    by = ", ".join(f"{KEY_WORDS.get(k, k)} ({v:,} lines)" for k, v in sources.items())
    parts = [f"Format **{FORMAT_WORDS.get(report.format, report.format)}**",
             f"dates read as {time_words(report.time_style)}"
             + (f" ({report.dates_out_of_range:,} out of range, dropped)"
                if report.dates_out_of_range else ""),
             "categories " + ("from the export" if report.category_source == "export"
                              else report.category_source),
             f"customers identified by {by or 'their ID'}"
             + ("; keys pseudonymised" if report.pseudonymised else "; IDs kept as "
                "exported: " + key.get("why", "")),
             f"currency {currency}" if currency else "currency not stated in the export"]
    return " · ".join(parts)


def _complete_weeks(weekly: pd.DataFrame, last: pd.Timestamp) -> pd.DataFrame:
    """Without the export's last week when it is cut short (it would look like a crash)."""
    if len(weekly) > 1 and weekly["timestamp"].iloc[-1].normalize() > last.normalize():
        return weekly.iloc[:-1]
    return weekly


def segment_value_sentence(value: dict[str, Any]) -> str:
    """The segments' usefulness in words, with the yardsticks beside it."""
    n = value["ndcg"]
    emb, best_other = n["embedding segments"], max(v for k, v in n.items()
                                                   if k != "embedding segments")
    d = value.get("distinctness", {})
    return (f"Recommending each customer their segment's best sellers ranks what they bought "
            f"after {value['cutoff']} with NDCG@10 {emb:.3f} ({value['test_customers']:,} "
            f"customers), against {n['RFM segments']:.3f} for {value['k']} RFM segments, "
            f"{n['category-mix segments']:.3f} for category-mix segments and "
            f"{n['everyone alike']:.3f} for one list for everyone: "
            + (f"{emb / best_other - 1:+.0%} on the best of them. " if best_other > 0 else ". ")
            + (f"Distinctness of the segments' baskets (0 = alike, 1 = nothing shared): "
               f"{d.get('embedding segments', 0):.2f} (RFM {d.get('RFM segments', 0):.2f}, "
               f"category mix {d.get('category-mix segments', 0):.2f})." if d else ""))


def promote_table(promote: pd.DataFrame, segment: int) -> pd.DataFrame:
    """One segment's products to promote, with the shares in words."""
    rows = promote[promote["segment"] == segment]
    return pd.DataFrame({
        "product": rows["product"],
        "bought by the segment": (rows["bought by (segment)"] * 100).round(0).astype(int)
        .astype(str) + "%",
        "bought by everyone": (rows["bought by (everyone)"] * 100).round(1).astype(str) + "%",
        "× as likely": rows["times more likely"].round(1)})


def cleaning_table(data: OrderData) -> pd.DataFrame:
    rep = pd.DataFrame(data.report.cleaning)
    if rep.empty:
        return rep
    return rep[["rule", "description", "removed", "enabled"]]


def customer_choices(data: OrderData, limit: int = 500) -> list[str]:
    """The most active customers first (what a demo would pick)."""
    c = data.customers.sort_values(["orders", "spend"], ascending=False)
    return c["customer_id"].head(limit).astype(str).tolist()


def product_choices(data: OrderData, limit: int = 1000) -> dict[str, str]:
    """item_id -> 'name (id)', best sellers first."""
    p = data.products.sort_values("lines", ascending=False).head(limit)
    return dict(zip(p["item_id"].astype(str), p["name"].astype(str) + " (" + p["item_id"] + ")"))


def find_customer(data: OrderData, typed: str, key) -> str | None:
    """The customer an analyst typed: their ID as stored, or the e-mail, phone or customer
    number they know, pseudonymised with the workspace's key (``key()``) as at import."""
    typed = typed.strip()
    known = set(data.customer_ids)
    if typed in known:
        return typed
    candidates = [typed]
    digits = "".join(ch for ch in typed if ch.isdigit() or ch == "+")
    if len(digits) >= 6 and "@" not in typed:
        candidates.append("phone:" + digits)
    for text in candidates:
        hashed = pseudonymise(pd.Series([text]), key()).iloc[0]
        if hashed in known:
            return str(hashed)
    return None


def customer_profile(data: OrderData, customer_id: str) -> dict[str, Any]:
    row = data.customers.set_index("customer_id").loc[customer_id]
    last = data.interactions["timestamp"].max()
    return {"orders": int(row["orders"]), "spend": float(row["spend"]),
            "recency_days": int((last - row["last_order"]) / pd.Timedelta(days=1)),
            "first_order": row["first_order"].date().isoformat(),
            "country": None if pd.isna(row["country"]) else str(row["country"])}


def customer_history(data: OrderData, customer_id: str) -> pd.DataFrame:
    """The customer's lines, newest first, with product names."""
    inter = data.interactions
    h = inter[inter["customer_id"] == customer_id].copy()
    h["item_id"] = h["item_id"].astype(str)
    h = h.merge(data.products[["item_id", "name", "category"]], on="item_id", how="left")
    return h.sort_values("timestamp", ascending=False)[
        ["timestamp", "order_id", "item_id", "name", "category", "quantity", "price"]]


def recommendation_table(model, data: OrderData, customer_id: str, n: int = 10,
                         exclude_seen: bool = True) -> pd.DataFrame:
    """Top-n for one customer with a 'because you bought' for each recommended product: the
    customer's own purchases most similar to it under the same model."""
    items, scores = model.recommend([customer_id], n=n, exclude_seen=exclude_seen)
    keep = np.isfinite(scores[0])
    items, scores = items[0][keep], scores[0][keep]
    names = data.products.set_index("item_id")["name"]
    # The product and why first: with several models side by side, IDs and raw scores are
    # what may run off the edge.
    out = pd.DataFrame({"rank": np.arange(1, len(items) + 1),
                        "name": names.reindex(items).fillna("").to_numpy(),
                        "because you bought": because_text(model, customer_id, items, names)})
    if registry.spec(model.name).drivers and model.knows_customer(customer_id):
        out["drivers"] = model.drivers([customer_id], items)
    out["item_id"] = items
    out["score"] = np.round(scores.astype(float), 4)
    return out


def because_text(model, customer_id: str, items: np.ndarray, names: pd.Series) -> list[str]:
    """For each recommended item, up to two of the customer's purchases closest to it."""
    if len(items) == 0:
        return []
    if len(model.history_items(customer_id)) == 0:
        return ["(popular with everyone)"] * len(items)
    return [", ".join(str(names.get(b, b)) for b in best) or "(overall trend)"
            for best in model.because(customer_id, items)]


def product_profile(data: OrderData, item_id: str) -> dict[str, Any]:
    p = data.products.set_index("item_id").loc[item_id]
    inter = data.interactions[data.interactions["item_id"] == item_id]
    return {"name": str(p["name"]), "category": None if pd.isna(p["category"])
            else str(p["category"]), "price": float(p["price"]),
            "buyers": int(inter["customer_id"].nunique()), "orders": int(inter["order_id"]
                                                                         .nunique()),
            "first_seen": p["first_seen"].date().isoformat()}


def product_sales(data: OrderData, item_id: str) -> pd.DataFrame:
    inter = data.interactions[data.interactions["item_id"] == item_id]
    return _complete_weeks(inter.set_index("timestamp").resample("W")["quantity"].sum()
                           .rename("units").reset_index(), data.interactions["timestamp"].max())


def product_buyers(data: OrderData, item_id: str, top: int = 50) -> pd.DataFrame:
    inter = data.interactions[data.interactions["item_id"] == item_id]
    g = inter.groupby("customer_id", observed=True).agg(
        orders=("order_id", "nunique"), units=("quantity", "sum"), last=("timestamp", "max"))
    return g.sort_values("units", ascending=False).head(top).reset_index()


def similar_table(model, data: OrderData, item_id: str, n: int = 10) -> pd.DataFrame:
    items, scores = model.similar_items([item_id], n=n)
    names = data.products.set_index("item_id")["name"]
    return pd.DataFrame({"item_id": items[0], "name": names.reindex(items[0]).to_numpy(),
                         "similarity": np.round(scores[0].astype(float), 4)})


BANDS = ((1, "top 1%"), (5, "top 5%"), (10, "top 10%"), (25, "top quarter"),
         (50, "top half"), (100, "lower half"))


def likelihood_band(rank: np.ndarray, customers: int) -> np.ndarray:
    """Where a rank stands among all the model's customers, in words ('top 5%'): a model's
    raw scores (log-odds, dot products) mean nothing to a reader."""
    pct = 100.0 * np.asarray(rank, dtype=float) / max(customers, 1)
    edges = np.array([b for b, _ in BANDS], dtype=float)
    return np.array([w for _, w in BANDS], dtype=object)[
        np.minimum(np.searchsorted(edges, pct), len(BANDS) - 1)]


def target_table(model, data: OrderData, item_id, n: int = 50) -> pd.DataFrame:
    """The customers most likely to buy ``item_id`` next: rank, how likely in words
    (``likely``: their band among all the model's customers), orders, country; ``score``
    (the model's raw score) for the download."""
    cust, scores = model.recommend_customers(item_id, n=n)
    c = data.customers.set_index("customer_id").reindex(cust)
    rank = np.arange(1, len(cust) + 1)
    return pd.DataFrame({"rank": rank, "customer_id": cust,
                         "likely": likelihood_band(rank, len(model.customer_ids_)),
                         "orders": c["orders"].to_numpy(), "country": c["country"].to_numpy(),
                         "score": np.round(scores.astype(float), 4)})


def safe_csv(df: pd.DataFrame) -> bytes:
    """CSV that spreadsheets will not execute: cells starting with = + - @ tab or CR are
    prefixed with a quote."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            s = out[col].astype("string")
            risky = s.str.match(r"^[=+\-@\t\r]").fillna(False)
            out[col] = s.where(~risky, "'" + s)
    return out.to_csv(index=False).encode("utf-8")

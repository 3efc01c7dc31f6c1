"""Customer and product segments from embeddings: 2D projections, clustering with K chosen by
silhouette, cluster profiles a person can name, and a hand-crafted baseline to compare with.

Clusters are found on the full-dimensional vectors (cosine geometry: unit vectors and
k-means), never on the 2D picture, which is only for looking.
"""

from __future__ import annotations

import textwrap
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recsys.data import OrderData
from recsys.models import registry

PROJECTIONS = ("umap", "tsne", "pca")
MAX_POINTS = 50_000
SILHOUETTE_SAMPLE = 4000


def unit(X: np.ndarray) -> np.ndarray:
    return (X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-12)).astype(np.float32)


def distinct_rows(X: np.ndarray) -> int:
    """How many different rows ``X`` holds (k-means asked for more clusters than that warns
    and splits duplicates)."""
    return len(np.unique(np.round(X, 9), axis=0)) if len(X) else 0


# ---------------------------------------------------------------- baseline features
def customer_baseline(data: OrderData, top_n: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(customer_ids, share of spend per category); per top-N product without categories."""
    inter = data.interactions
    spend = (inter["quantity"] * inter["price"].fillna(1.0)).to_numpy(dtype=float)
    cats = data.products.set_index("item_id")["category"]
    key = inter["item_id"].astype(str).map(cats) if cats.notna().any() else None
    if key is None or key.nunique() < 2:
        top = data.top_items(top_n)
        key = inter["item_id"].astype(str).where(inter["item_id"].astype(str).isin(top), "other")
    table = pd.crosstab(inter["customer_id"].astype(str), key.fillna("other").to_numpy(),
                        values=spend, aggfunc="sum").fillna(0.0)
    shares = table.to_numpy() / np.maximum(table.to_numpy().sum(1, keepdims=True), 1e-9)
    return table.index.to_numpy(dtype=str), shares.astype(np.float32)


def item_baseline(data: OrderData, top_countries: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """(item_ids, buyer-country shares and log price)."""
    inter = data.interactions
    country = inter["customer_id"].astype(str).map(
        data.customers.set_index("customer_id")["country"]).fillna("unknown")
    top = country.value_counts().index[:top_countries]
    country = country.where(country.isin(top), "other")
    table = pd.crosstab(inter["item_id"].astype(str), country.to_numpy())
    shares = table.to_numpy() / np.maximum(table.to_numpy().sum(1, keepdims=True), 1)
    price = data.products.set_index("item_id")["price"].reindex(table.index).fillna(0)
    feats = np.column_stack([shares, np.log1p(price.to_numpy(dtype=float))])
    return table.index.to_numpy(dtype=str), feats.astype(np.float32)


# ---------------------------------------------------------------- projection
@dataclass
class Projection:
    """2D coordinates for the rows ``index`` of the input (all rows unless sampled)."""

    index: np.ndarray
    coords: np.ndarray
    method: str
    sampled: bool
    seconds: float


def stratified_sample(n: int, strata: np.ndarray | None, size: int, seed: int) -> np.ndarray:
    """Row indices, the same share from every stratum (e.g. cluster)."""
    rng = np.random.default_rng(seed)
    if strata is None:
        return np.sort(rng.choice(n, size, replace=False))
    out = []
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        k = max(1, int(round(size * len(rows) / n)))
        out.append(rng.choice(rows, min(k, len(rows)), replace=False))
    return np.sort(np.concatenate(out))


def project(X: np.ndarray, method: str = "umap", seed: int = 0, max_points: int = MAX_POINTS,
            strata: np.ndarray | None = None) -> Projection:
    """UMAP (cosine), t-SNE (cosine) or PCA to 2D; above max_points a stratified sample."""
    if method not in PROJECTIONS:
        raise ValueError(f"Unknown projection {method!r}; choose from {', '.join(PROJECTIONS)}")
    start = time.perf_counter()
    index = np.arange(len(X))
    sampled = len(X) > max_points
    if sampled:
        index = stratified_sample(len(X), strata, max_points, seed)
    Z = unit(X[index])
    if method == "pca" or len(Z) < 5:
        from sklearn.decomposition import PCA

        coords = PCA(n_components=2, random_state=seed).fit_transform(Z)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        coords = TSNE(n_components=2, metric="cosine", init="pca", random_state=seed,
                      perplexity=min(30.0, max(2.0, (len(Z) - 1) / 3))).fit_transform(Z)
    else:
        import umap

        coords = umap.UMAP(n_components=2, metric="cosine", random_state=seed,
                           n_neighbors=min(15, len(Z) - 1), n_jobs=1).fit_transform(Z)
    return Projection(index, np.asarray(coords, dtype=np.float32), method, sampled,
                      time.perf_counter() - start)


# ---------------------------------------------------------------- clustering
@dataclass
class Clustering:
    labels: np.ndarray
    k: int
    silhouette: dict[int, float] = field(default_factory=dict)
    method: str = "kmeans"


def silhouette(Z: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    size = min(SILHOUETTE_SAMPLE, len(Z))
    return float(silhouette_score(Z, labels, metric="cosine", sample_size=size,
                                  random_state=seed))


def cluster(X: np.ndarray, k: int | str = "auto", k_range: range = range(2, 13),
            method: str = "kmeans", seed: int = 0) -> Clustering:
    """k-means on unit vectors (K by silhouette when 'auto'), or HDBSCAN."""
    from sklearn.cluster import HDBSCAN, KMeans

    Z = unit(X)
    if method == "hdbscan":
        labels = HDBSCAN(min_cluster_size=max(5, len(Z) // 100)).fit_predict(Z)
        return Clustering(labels, int(labels.max()) + 1, {}, "hdbscan")
    distinct = distinct_rows(Z)
    ks = ([min(int(k), distinct)] if k != "auto"
          else [c for c in k_range if c <= distinct and c < len(Z)])
    ks = [c for c in ks if c >= 1] or [1]
    curve, fits = {}, {}
    for c in ks:
        fits[c] = KMeans(n_clusters=int(c), n_init=4, random_state=seed).fit_predict(Z)
        curve[int(c)] = silhouette(Z, fits[c], seed)
    best = max(curve, key=lambda c: -1 if np.isnan(curve[c]) else curve[c])
    return Clustering(fits[best], best, curve)


# ---------------------------------------------------------------- profiles
def customer_profiles(data: OrderData, customer_ids: np.ndarray, labels: np.ndarray,
                      top: int = 5) -> list[dict[str, Any]]:
    """Size, share, mean orders/spend/recency, top categories and products, and the most
    distinctive products (in-cluster buyer rate over the overall rate) per cluster."""
    inter = data.interactions
    seg = pd.Series(labels, index=pd.Index(customer_ids, dtype=str))
    cust = data.customers.set_index("customer_id").reindex(seg.index)
    last = inter["timestamp"].max()
    lines = pd.DataFrame({"c": inter["customer_id"].astype(str), "i": inter["item_id"]
                          .astype(str)}).drop_duplicates()
    lines["seg"] = lines["c"].map(seg)
    lines = lines.dropna(subset=["seg"])
    names = data.products.set_index("item_id")["name"]
    cats = data.products.set_index("item_id")["category"]
    overall = lines.groupby("i")["c"].nunique() / len(seg)
    cat_all = lines["i"].map(cats).value_counts(normalize=True)
    out = []
    for s in sorted(seg.unique()):
        members = seg.index[seg == s]
        sub = lines[lines["seg"] == s]
        rate = sub.groupby("i")["c"].nunique() / len(members)
        lift = (rate / overall.reindex(rate.index))[rate * len(members) >= 3]
        c = cust.loc[members]
        out.append({
            "cluster": int(s), "size": int(len(members)), "share": len(members) / len(seg),
            "mean_orders": float(c["orders"].mean()), "mean_spend": float(c["spend"].mean()),
            "mean_recency_days": float(((last - c["last_order"]) / pd.Timedelta(days=1))
                                       .mean()),
            "top_categories": sub["i"].map(cats).value_counts().head(top).index.tolist(),
            "distinctive_categories": _distinctive(sub["i"].map(cats), cat_all, top),
            "top_items": [names.get(i, i) for i in rate.nlargest(top).index],
            "distinctive_items": [names.get(i, i) for i in lift.nlargest(top).index],
        })
    return out


def _distinctive(cats: pd.Series, overall: pd.Series, top: int) -> list[str]:
    """The categories a segment buys most *over* everyone's share (among those that are at
    least 5% of its lines): what sets it apart, not what everyone buys."""
    share = cats.value_counts(normalize=True)
    lift = (share / overall.reindex(share.index))[share >= 0.05]
    return [str(c) for c in lift[lift > 1.0].nlargest(top).index]


def item_profiles(data: OrderData, item_ids: np.ndarray, labels: np.ndarray,
                  vectors: np.ndarray, top: int = 5) -> list[dict[str, Any]]:
    """Size, top categories, price range, best sellers, and the most typical products
    (closest to the cluster's centre) per product cluster."""
    p = data.products.set_index("item_id").reindex(item_ids)
    p["seg"] = labels
    Z = unit(vectors)
    out = []
    for s, g in p.groupby("seg"):
        rows = np.flatnonzero(labels == s)
        typical = rows[np.argsort(-(Z[rows] @ unit(Z[rows].mean(0, keepdims=True))[0]))[:top]]
        out.append({
            "cluster": int(s), "size": int(len(g)), "share": len(g) / len(p),
            "top_categories": g["category"].value_counts().head(top).index.tolist(),
            "price_range": [float(g["price"].quantile(0.1)), float(g["price"].quantile(0.9))],
            "top_items": g.sort_values("lines", ascending=False)["name"].head(top).tolist(),
            "distinctive_items": p["name"].iloc[typical].tolist(),
        })
    return out


def segment(data: OrderData, vectors: np.ndarray, ids: np.ndarray, what: str = "customers",
            k: int | str = "auto", projection: str = "umap", seed: int = 0) -> dict[str, Any]:
    """Cluster embeddings, profile the clusters and compare with the baseline features."""
    found = cluster(vectors, k, seed=seed)
    base_ids, base = customer_baseline(data) if what == "customers" else item_baseline(data)
    base = pd.DataFrame(base, index=base_ids).reindex(ids).fillna(0.0).to_numpy()
    base_cl = cluster(base, found.k, seed=seed)
    prof = (customer_profiles(data, ids, found.labels) if what == "customers"
            else item_profiles(data, ids, found.labels, vectors))
    for c, name in zip(prof, name_segments(prof, what), strict=True):
        c["name"] = name
    return {"what": what, "k": found.k, "silhouette": found.silhouette,
            "chosen_silhouette": found.silhouette.get(found.k),
            "baseline_silhouette": silhouette(unit(base), base_cl.labels, seed),
            "clusters": prof, "labels": found.labels, "projection": projection}


def name_segments(profiles: list[dict[str, Any]], what: str = "customers") -> list[str]:
    """A name per segment from its profile, so an analyst can say which one they mean:
    what its members buy most against the others ('Christmas buyers'), and for customers
    how recently and often they order against the other segments ('lapsing', 'frequent')."""
    def anchor(p: dict[str, Any]) -> str:
        cats = [str(c) for c in p.get("distinctive_categories") or p.get("top_categories", [])
                if str(c) not in ("", "nan", "None")]
        items = [str(i) for i in p.get("distinctive_items", [])]
        text = cats[0] if cats else (items[0] if items else f"segment {p['cluster']}")
        return text[:40].strip().capitalize()

    names = [anchor(p) + (" buyers" if what == "customers" else " products") for p in profiles]
    if what == "customers" and profiles:
        recency = np.mean([p["mean_recency_days"] for p in profiles])
        orders = np.mean([p["mean_orders"] for p in profiles])
        for i, p in enumerate(profiles):
            status = ("lapsing" if p["mean_recency_days"] > 1.3 * recency else "active"
                      if p["mean_recency_days"] < 0.7 * recency else "steady")
            names[i] += f" · {status}" + (" · frequent" if p["mean_orders"] > 1.5 * orders
                                          else "")
    seen: dict[str, int] = {}
    for name in names:  # the same name twice: say what else sets them apart
        seen[name] = seen.get(name, 0) + 1
    for i, p in enumerate(profiles):
        items = [str(x) for x in p.get("distinctive_items", [])]
        if seen[names[i]] > 1 and items:
            item = textwrap.shorten(" ".join(items[0].lower().split()), 32, placeholder="…")
            names[i] += f" ({item})"
    return names


def segment_names(clusters: list[dict[str, Any]]) -> dict[int, str]:
    """cluster number -> its name (results stored before segments had names: 'segment N')."""
    return {int(c["cluster"]): c.get("name") or f"segment {c['cluster']}" for c in clusters}


def model_vectors(model, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of a fitted model's customer or product embeddings, or a clear error."""
    emb = model.embeddings()
    vec, ids = (emb.customers, emb.customer_ids) if what == "customers" else (emb.items,
                                                                             emb.item_ids)
    if vec is None:

        able = registry.names(**{f"{what[:-1]}_vectors": True})
        raise ValueError(f"{model.name} has no {what[:-1]} embeddings; use {', '.join(able)}"
                         + (" (or look at products)" if what == "customers" else ""))
    return np.asarray(ids, dtype=str), np.asarray(vec, dtype=np.float32)


def scatter_frame(data: OrderData, ids: np.ndarray, what: str, proj: Projection,
                  labels: np.ndarray) -> pd.DataFrame:
    """Points to plot with what the hover and the colour options need."""
    df = pd.DataFrame({"id": ids[proj.index], "x": proj.coords[:, 0], "y": proj.coords[:, 1],
                       "cluster": labels[proj.index].astype(str)})
    if what == "customers":
        c = data.customers.set_index("customer_id").reindex(df["id"])
        df["country"] = c["country"].fillna("unknown").to_numpy()
        df["orders"] = c["orders"].to_numpy()
        df["spend"] = c["spend"].round(2).to_numpy()
        rec = (data.interactions["timestamp"].max() - c["last_order"]) / pd.Timedelta(days=1)
        df["rfm segment"] = pd.cut(rec.to_numpy(), [-1, 30, 90, 180, 1e9],
                                   labels=["active", "warm", "cooling", "lapsed"]).astype(str)
        df["label"] = df["id"]
    else:
        p = data.products.set_index("item_id").reindex(df["id"])
        df["category"] = p["category"].fillna("unknown").to_numpy()
        df["price"] = p["price"].to_numpy()
        df["purchases"] = p["lines"].to_numpy()
        df["label"] = p["name"].fillna(df["id"]).to_numpy()
    return df


def neighbours(vectors: np.ndarray, row: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Rows nearest (cosine) to ``row`` in the full embedding, and their similarities."""
    Z = unit(vectors)
    sims = Z @ Z[row]
    sims[row] = -np.inf
    top = np.argsort(-sims)[:n]
    return top, sims[top]


def neighbour_table(ids: np.ndarray, vectors: np.ndarray, focus_id: str,
                    n: int = 10) -> pd.DataFrame:
    rows, sims = neighbours(vectors, int(np.flatnonzero(ids == focus_id)[0]), n)
    return pd.DataFrame({"id": ids[rows], "similarity": np.round(sims, 4)})


def profile_table(clusters: list[dict[str, Any]], currency: str = "") -> pd.DataFrame:
    """Cluster profiles as a table for people: shares as percentages, money as money, lists
    as text. ``currency`` goes before amounts ('£'), nothing when unknown."""
    df = pd.DataFrame(clusters)
    if df.empty:
        return df
    names = segment_names(clusters)
    out = pd.DataFrame({"segment": df["cluster"].map(names), "size": df["size"],
                        "share": (df["share"] * 100).round(1).astype(str) + "%"})
    if "mean_orders" in df:
        out["orders (mean)"] = df["mean_orders"].round(1)
        out["spend (mean)"] = df["mean_spend"].map(lambda v: f"{currency}{v:,.0f}")
        out["days since last order"] = df["mean_recency_days"].round(0).astype(int)
    if "price_range" in df:
        out["price range"] = df["price_range"].map(
            lambda r: f"{currency}{r[0]:,.2f} to {currency}{r[1]:,.2f}")
    for col, label in (("top_categories", "top categories"), ("top_items", "best sellers"),
                       ("distinctive_items", "typical of the segment")):
        out[label] = df[col].map(lambda v: ", ".join(map(str, list(v)[:3])))
    return out


def vectors_table(ids: np.ndarray, vectors: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(vectors, columns=[f"d{i}" for i in range(vectors.shape[1])])
    df.insert(0, "id", ids)
    return df


def assignments_table(ids: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "cluster": labels})

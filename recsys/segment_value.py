"""What customer segments are worth, measured the way an analyst uses them.

A segment is useful when it says what its members will buy next: ``segment_ndcg`` ranks each
holdout customer's products by their segment's best sellers in the training period (minus what
they bought already) and scores the ranking on what they bought after the cutoff. It is
compared at the same number of segments with hand-crafted ones (RFM, category mix) and with
one segment for everyone (plain best sellers). ``distinctness`` says how different the
segments' baskets are. Embedding segments for this measurement come from the *holdout* model,
which never saw the test weeks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsys.data import OrderData
from recsys.evaluate import Split, build_truth, hit_matrix, metrics_from_hits, temporal_split
from recsys.models.base import topn
from recsys.segments import customer_baseline, distinct_rows, unit

RFM_STATUS = ("active", "warm", "cooling", "lapsed")
RFM_DAYS = (30, 90, 180)


def segment_ndcg(split: Split, ids: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """NDCG@k on the holdout of recommending each customer their segment's best sellers."""
    train = split.train
    truth = build_truth(split, "novel")
    X = train.matrix("binary").tocsr()
    rows = pd.Index(train.customer_ids).get_indexer(np.asarray(ids, dtype=str))
    seg = np.full(train.n_customers, -1, dtype=np.int64)
    seg[rows[rows >= 0]] = np.asarray(labels)[rows >= 0]
    n_seg = int(seg.max()) + 1
    everyone = np.asarray(X.sum(0)).ravel()
    counts = np.zeros((n_seg + 1, train.n_items))
    for s in range(n_seg):
        counts[s] = np.asarray(X[seg == s].sum(0)).ravel()
    counts[n_seg] = everyone
    counts += everyone / (everyone.max() + 1.0) * 1e-3  # ties: the overall best sellers first
    test_rows = pd.Index(train.customer_ids).get_indexer(truth.customer_ids)
    scores = counts[np.where(seg[test_rows] >= 0, seg[test_rows], n_seg)]
    seen = X[test_rows].tocoo()
    scores[seen.row, seen.col] = -np.inf
    idx, _ = topn(scores, k)
    per = metrics_from_hits(hit_matrix(truth.matrix, idx), np.diff(truth.matrix.indptr))
    return float(per["ndcg"].mean())


def rfm_features(data: OrderData) -> tuple[np.ndarray, np.ndarray]:
    """(customer_ids, standardised log recency, frequency and spend)."""
    c = data.customers
    now = data.interactions["timestamp"].max()
    rec = (now - c["last_order"]) / pd.Timedelta(days=1)
    X = np.log1p(np.column_stack([rec.to_numpy(dtype=float), c["orders"].to_numpy(float),
                                  np.maximum(c["spend"].to_numpy(float), 0)]))
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    return c["customer_id"].to_numpy(dtype=str), X.astype(np.float32)


def _kmeans(X: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    k = max(1, min(k, distinct_rows(X)))
    return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(X)


def _basket_table(data: OrderData, ids: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Lines per (segment, category) -- or per best seller where categories are few."""
    inter = data.interactions
    cats = data.products.set_index("item_id")["category"]
    key = inter["item_id"].astype(str).map(cats).fillna("other").astype(str)
    if key.nunique() < 3:
        top = set(data.top_items(50))
        key = inter["item_id"].astype(str).where(inter["item_id"].astype(str).isin(top), "other")
    seg = pd.Series(labels, index=pd.Index(ids, dtype=str))
    member = inter["customer_id"].astype(str).map(seg)
    return pd.crosstab(member.dropna(), key[member.notna()])


def distinctness(data: OrderData, ids: np.ndarray, labels: np.ndarray) -> float:
    """How different the segments' baskets are: the size-weighted mean Jensen-Shannon
    distance (0 = alike, 1 = nothing in common) between each segment's category mix and
    everyone's."""
    from scipy.spatial.distance import jensenshannon

    table = _basket_table(data, ids, labels)
    overall = table.sum(0).to_numpy(float)
    sizes = table.sum(1).to_numpy(float)
    d = [jensenshannon(row, overall, base=2) for row in table.to_numpy(float)]
    return float(np.average(np.nan_to_num(d), weights=sizes))


def separation(data: OrderData, ids: np.ndarray, labels: np.ndarray) -> float:
    """How far each segment's basket is from the *nearest other* segment's (size-weighted
    mean Jensen-Shannon distance): a segment cut in two leaves two near twins, so this
    falls when segments stop being different from one another."""
    from scipy.spatial.distance import jensenshannon

    table = _basket_table(data, ids, labels).to_numpy(float)
    if len(table) < 2:
        return 0.0
    d = np.array([[jensenshannon(a, b, base=2) for b in table] for a in table])
    np.fill_diagonal(d, np.inf)
    return float(np.average(np.nan_to_num(d.min(1), posinf=0.0), weights=table.sum(1)))


def usefulness(data: OrderData, cutoff: str, ids: np.ndarray, vectors: np.ndarray, k: int,
               seed: int = 0) -> dict[str, Any]:
    """Holdout NDCG@10 and distinctness of k embedding segments (from ``vectors``: a model
    fitted before ``cutoff``) beside k RFM segments, k category-mix segments and one segment."""
    split = temporal_split(data, cutoff=cutoff)
    train = split.train
    rfm_ids, rfm = rfm_features(train)
    cat_ids, cat = customer_baseline(train)
    groups = {"embedding segments": (ids, _kmeans(unit(vectors), k, seed)),
              "RFM segments": (rfm_ids, _kmeans(rfm, k, seed)),
              "category-mix segments": (cat_ids, _kmeans(cat, k, seed)),
              "everyone alike": (train.customer_ids, np.zeros(train.n_customers, int))}
    return {"k": int(k), "cutoff": str(split.cutoff.date()),
            "test_customers": int(len(build_truth(split, "novel").customer_ids)),
            "ndcg": {name: segment_ndcg(split, i, lab) for name, (i, lab) in groups.items()},
            "distinctness": {name: distinctness(train, i, lab)
                             for name, (i, lab) in groups.items() if name != "everyone alike"}}


K_RANGE = range(3, 13)  # a handful to a dozen: what a campaign calendar can serve
GAIN_KEPT = 0.9  # of the best count's gain over one list for everyone


def choose_k(data: OrderData, cutoff: str, ids: np.ndarray, vectors: np.ndarray,
             k_range: range = K_RANGE, seed: int = 0) -> dict[str, Any]:
    """The number of customer segments, chosen by use: for each K, k-means on ``vectors``
    (a model fitted before ``cutoff``) and how well the segments' best sellers rank what
    customers bought after it (NDCG@10), and how distinct their baskets are from one another
    (``separation``). Counts that keep ``GAIN_KEPT`` of the best gain over one list for
    everyone are equally useful; of those the most distinct is chosen (segments that differ
    are easier to name and to serve; a segment cut in two is not). Returns the chosen ``k``,
    the per-K ``curve`` and the reason in words."""
    split = temporal_split(data, cutoff=cutoff)
    Z = unit(vectors)
    ks = [k for k in k_range if k < len(Z)] or [min(2, len(Z))]
    curve = {}
    for k in ks:
        labels = _kmeans(Z, k, seed)
        curve[k] = {"ndcg": segment_ndcg(split, ids, labels),
                    "distinct": separation(split.train, ids, labels)}
    everyone = segment_ndcg(split, split.train.customer_ids,
                            np.zeros(split.train.n_customers, int))
    best = max(curve, key=lambda k: curve[k]["ndcg"])
    gain = curve[best]["ndcg"] - everyone
    # No count beating one list for everyone: none is more useful, separation decides.
    useful = [k for k in ks if curve[k]["ndcg"] >= everyone + GAIN_KEPT * gain] \
        if gain > 0 else ks
    k = max(useful, key=lambda k: (curve[k]["distinct"], -k))
    apart = (f"{k} gives the segments most different from one another (each one's basket "
             f"{curve[k]['distinct']:.2f} from the nearest other's; 0 = alike, 1 = nothing "
             "shared).")
    why = (f"{k} segments: of {ks[0]} to {ks[-1]}, the counts whose segments rank next "
           f"purchases within {1 - GAIN_KEPT:.0%} of the best gain over one list for everyone "
           f"(NDCG@10 {curve[best]['ndcg']:.3f} at {best}, against {everyone:.3f}) are "
           f"{', '.join(map(str, useful))}; of these, " + apart) if gain > 0 else (
           f"{k} segments: no count from {ks[0]} to {ks[-1]} ranks next purchases better than "
           f"one list for everyone (NDCG@10 {curve[best]['ndcg']:.3f} at best, against "
           f"{everyone:.3f}): these vectors do not say what customers buy next. Of the "
           "counts, " + apart)
    return {"k": int(k), "curve": {str(c): v for c, v in curve.items()},
            "everyone": everyone, "why": why, "cutoff": str(split.cutoff.date())}


def promote(data: OrderData, ids: np.ndarray, labels: np.ndarray, top: int = 5
            ) -> pd.DataFrame:
    """What to promote to each segment: products its members buy far more than others do,
    among those a good share of the segment has not bought yet."""
    inter = data.interactions
    seg = pd.Series(labels, index=pd.Index(ids, dtype=str))
    pairs = pd.DataFrame({"c": inter["customer_id"].astype(str),
                          "i": inter["item_id"].astype(str)}).drop_duplicates()
    pairs["seg"] = pairs["c"].map(seg)
    sizes = seg.value_counts()
    overall = pairs.groupby("i")["c"].nunique() / max(len(seg), 1)
    names = data.products.set_index("item_id")["name"]
    rows = []
    for s, members in pairs.dropna(subset=["seg"]).groupby("seg"):
        rate = members.groupby("i")["c"].nunique() / sizes[s]
        lift = rate / overall.reindex(rate.index)
        # only what the segment buys more than everyone does (lift above 1)
        score = (rate * np.log1p(lift))[(rate < 0.8) & (rate * sizes[s] >= 3) & (lift > 1.0)]
        for item in score.nlargest(top).index:
            rows.append({"segment": int(s), "product": str(names.get(item, item)),
                         "bought by (segment)": float(rate[item]),
                         "bought by (everyone)": float(overall[item]),
                         "times more likely": float(lift[item])})
    return pd.DataFrame(rows)


def rfm_mix(data: OrderData, ids: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Share of each segment by how recently its members ordered (an RFM overlay)."""
    c = data.customers.set_index("customer_id").reindex(pd.Index(ids, dtype=str))
    days = (data.interactions["timestamp"].max() - c["last_order"]) / pd.Timedelta(days=1)
    status = pd.cut(days.to_numpy(), [-1, *RFM_DAYS, 1e9], labels=list(RFM_STATUS))
    table = pd.crosstab(pd.Series(labels, name="segment"), pd.Series(status, name="status"),
                        normalize="index")
    return table.reindex(columns=list(RFM_STATUS), fill_value=0.0).reset_index()

"""Taste segments: customers grouped by where their lines fall among the categories, and what
each group buys -- a product's share of its segment's lines, the category's share, the
product's share of its category.

A customer with a dozen lines says little about their taste on their own; the few hundred
customers who shop the same categories say more (on a generated long tail, ranking by the
true taste cluster's chances scores 1.40x EASE). The ranker reads these as features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recsys.models.pair_features import PairFeatures

TASTE_FEATURES = ("seg_item", "seg_cat", "within_i")
SAMPLE = 20_000  # customers k-means learns from
PRIOR = 20.0  # lines of the whole shop's mix added to each segment's, so small ones are sane


@dataclass
class Segments:
    """``label``: each customer's segment; ``item`` [segments, items] and ``cat`` [segments,
    categories]: shares of the segment's lines; ``within`` [items]: each product's share of
    its category's lines (the pair features' own counts: derived, never stored)."""

    label: np.ndarray
    item: np.ndarray
    cat: np.ndarray
    within: np.ndarray

    @classmethod
    def fit(cls, pf: PairFeatures, k: int, seed: int) -> Segments:
        """``k`` segments by k-means on the customers' category shares (square roots:
        the Hellinger distance between their mixes); with one category, or ``k`` < 2, one
        segment: the whole shop."""
        count, cat = pf.count, pf.cat_lines
        n = count.shape[0]
        label = (_labels(cat, k, seed) if k >= 2 and cat.shape[1] >= 2
                 else np.zeros(n, np.int64))
        k = int(label.max()) + 1
        member = sp.csr_matrix((np.ones(n, np.float32), (label, np.arange(n))), shape=(k, n))
        item = _shares(np.asarray((member @ count).todense(), np.float64))
        seg_cat = _shares(np.asarray((member @ cat).todense(), np.float64))
        return cls(label, item.astype(np.float32), seg_cat.astype(np.float32), _within(pf))

    def pairs(self, customers: np.ndarray, items: np.ndarray, item_cat: np.ndarray
              ) -> np.ndarray:
        """[len(customers), len(TASTE_FEATURES)] for the pairs (customers[j], items[j])."""
        s = self.label[customers]
        return np.stack([self.item[s, items], self.cat[s, item_cat[items]],
                         self.within[items]], axis=1).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"label": self.label, "item": self.item, "cat": self.cat}

    @classmethod
    def from_arrays(cls, a, pf: PairFeatures) -> Segments:
        """Restore from ``arrays()`` as saved (``a``: checked ``StoredArrays``) beside the
        pair features ``pf`` they were fitted with."""
        n_customers, n_items = pf.count.shape
        label = a.get("label", (n_customers,), "i", low=0)
        k = int(label.max()) + 1 if len(label) else 1
        return cls(label, a.get("item", (k, n_items)),
                   a.get("cat", (k, pf.cat_lines.shape[1])), _within(pf))


def _labels(cat: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    """k-means segments of the rows' category mixes (square roots of shares, sparse: a
    shop of thousands of categories is never made dense), learned on a sample of a large
    shop's customers (seconds, not minutes) and at most as many as there are distinct mixes."""
    from sklearn.cluster import KMeans

    n = cat.shape[0]
    lines = np.asarray(cat.sum(axis=1)).ravel()
    X = sp.csr_matrix(cat.multiply(1.0 / np.maximum(lines, 1)[:, None])).sqrt()
    fit_on = X[np.sort(np.random.default_rng(seed).permutation(n)[:SAMPLE])]
    k = min(k, _distinct(fit_on))
    if k < 2:
        return np.zeros(n, np.int64)
    km = KMeans(k, n_init=3, random_state=seed).fit(fit_on)
    return km.predict(X).astype(np.int64)


def _distinct(X: sp.csr_matrix) -> int:
    """How many different rows ``X`` holds."""
    X = sp.csr_matrix(X)
    X.sort_indices()
    rows = {(X.indices[a:b].tobytes(), X.data[a:b].tobytes())
            for a, b in zip(X.indptr[:-1], X.indptr[1:], strict=True)}
    return len(rows)


def _within(pf: PairFeatures) -> np.ndarray:
    """Each product's share of its category's lines."""
    lines = pf.item[:, 0].astype(np.float64)  # the product's order lines
    cat_total = np.bincount(pf.item_cat, weights=lines, minlength=pf.cat_lines.shape[1])
    return (lines / np.maximum(cat_total[pf.item_cat], 1)).astype(np.float32)


def _shares(counts: np.ndarray) -> np.ndarray:
    """Each row's counts as shares, shrunk towards the whole table's mix by ``PRIOR`` lines."""
    mix = counts.sum(axis=0) / max(counts.sum(), 1.0)
    return (counts + PRIOR * mix) / (counts.sum(axis=1, keepdims=True) + PRIOR)

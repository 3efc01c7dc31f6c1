"""Embedding models through gensim: item2vec (word2vec over baskets) and customer2vec
(doc2vec PV-DBOW over each customer's purchase sequence).

item2vec (Barkan & Koenigstein 2016; Caselles-Dupre et al. 2018): each order is a sentence;
with the window as wide as the basket and no window shrinking, every item of a basket is
context for every other, so the order inside a basket does not matter. A customer is the
(optionally recency-weighted) mean of the unit vectors of the products they bought.

customer2vec: each customer is a document of their products in time order; PV-DBOW learns a
vector per customer that predicts their products (with word training, so products get vectors
in the same space). Customers unseen in training get a vector inferred from their history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.data import OrderData
from recsys.models.base import Callback, FactorScoring, emit, topn
from recsys.models.features import crc32


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector by hashing it; Python's hash() is salted per
    process, so models would differ between runs. crc32 is not."""
    return crc32(text)


@dataclass(frozen=True)
class Item2VecConfig:
    """Skip-gram with negative sampling over baskets. ``window`` 0 means 'the whole basket'
    (baskets are cut into random chunks of ``max_window`` on every pass); ``recency_days``
    > 0 weights a customer's items by exp(-age / recency_days) when averaging them."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"dim": (1, 1024), "window": (0, 1000), "max_window": (1, 10000),
                               "negative": (1, 100), "ns_exponent": (-5, 5), "sample": (0, 1),
                               "epochs": (1, 1000), "min_count": (1, None),
                               "recency_days": (0, None), "alpha": (1e-6, 10),
                               "workers": (1, 64)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "dim": "Vector size",
        "window": "Context — products of the same basket (0 = all of it)",
        "max_window": "Basket chunk — long baskets are cut into chunks this long",
        "negative": "Negative samples",
        "ns_exponent": "Sampling exponent",
        "sample": "Down-sampling of very frequent products",
        "epochs": "Passes",
        "min_count": "Min purchases for a product to get a vector",
        "recency_days": "Recency (days) — recent purchases weigh more in a customer's vector",
        "alpha": "Learning rate",
        "workers": "Threads"}

    dim: int = 64
    window: int = 0
    max_window: int = 20
    negative: int = 5
    ns_exponent: float = 0.75
    sample: float = 1e-3
    epochs: int = 8
    min_count: int = 1
    recency_days: float = 60.0
    alpha: float = 0.1  # high, so that 8 passes converge: tuned on the validation window
    workers: int = 1
    seed: int = 0


class _GensimCallback:
    """Forwards gensim's epoch ends to our (epoch, metrics) callback."""

    def __init__(self, callback: Callback | None):
        from gensim.models.callbacks import CallbackAny2Vec

        class _Cb(CallbackAny2Vec):
            def __init__(self) -> None:
                self.epoch = 0
                self.prev = 0.0

            def on_epoch_end(self, model) -> None:
                self.epoch += 1
                loss = model.get_latest_training_loss()
                emit(callback, self.epoch, {"loss": float(loss - self.prev)})
                self.prev = loss

        self.cb = _Cb()


class Baskets:
    """The orders as sentences of item codes, reshuffled on every pass: each pass cuts
    every order into random chunks of at most ``max_len`` items. With a window as wide as the
    chunk every item is context for every other item of its chunk, and across passes for the
    whole order, at a cost linear in the number of lines (wholesale orders have hundreds)."""

    def __init__(self, train: OrderData, max_len: int, seed: int) -> None:
        inter = train.interactions
        order = pd.factorize(inter["order_id"])[0]
        idx = np.argsort(order, kind="stable")
        words = inter["item_id"].cat.codes.to_numpy().astype(str)[idx]
        splits = np.flatnonzero(np.diff(order[idx])) + 1
        self.orders = np.split(words, splits)
        self.max_len = max_len
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        for b in self.orders:
            b = self.rng.permutation(b)
            for s in range(0, len(b), self.max_len):
                yield b[s:s + self.max_len].tolist()


def customer_sequences(train: OrderData) -> list[np.ndarray]:
    """Each customer's item codes in time order (index = customer code)."""
    inter = train.interactions
    cust = inter["customer_id"].cat.codes.to_numpy()
    idx = np.lexsort((inter["timestamp"].to_numpy(), cust))
    splits = np.flatnonzero(np.diff(cust[idx])) + 1
    return np.split(inter["item_id"].cat.codes.to_numpy()[idx], splits)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


class Item2Vec(FactorScoring):
    """Recommends the products closest to the customer's mean product vector."""

    name = "item2vec"
    Config = Item2VecConfig

    def progress_steps(self) -> int:
        return int(self.config.epochs)

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        from gensim.models import Word2Vec

        c = self.config
        window = c.window or c.max_window
        w2v = Word2Vec(Baskets(train, window, c.seed), vector_size=c.dim, window=window, sg=1,
                       negative=c.negative, ns_exponent=c.ns_exponent, sample=c.sample,
                       epochs=c.epochs, min_count=c.min_count, workers=c.workers,
                       seed=c.seed, alpha=c.alpha, shrink_windows=False,
                       hashfxn=stable_hash, compute_loss=True,
                       callbacks=[_GensimCallback(callback).cb])
        vecs = np.zeros((X.shape[1], c.dim), dtype=np.float32)
        known = [int(k) for k in w2v.wv.index_to_key]
        vecs[known] = w2v.wv.vectors
        self.V_ = _unit(vecs)
        self.U_ = self._customer_means(train)

    def _customer_means(self, train: OrderData) -> np.ndarray:
        inter = train.interactions
        w = np.ones(len(inter), dtype=np.float64)
        if self.config.recency_days > 0:
            age = (inter["timestamp"].max() - inter["timestamp"]) / pd.Timedelta(days=1)
            w = np.exp(-age.to_numpy() / self.config.recency_days)
        W = sp.csr_matrix((w, (inter["customer_id"].cat.codes, inter["item_id"].cat.codes)),
                          shape=(train.n_customers, train.n_items))
        return _unit(np.asarray(W @ self.V_))

    def recommend_history(self, item_ids, n: int = 10, country: str | None = None,
                          exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """A new customer: the mean of the vectors of the products they bought."""
        self._check_fitted()
        codes = self._items(item_ids, strict=False)
        codes = codes[codes >= 0]
        u = _unit(self.V_[codes].sum(0, keepdims=True)) if len(codes) else None
        scores = (u @ self.V_.T if u is not None else self.popularity_[None, :]).copy()
        return self._history_top(scores, codes, n, exclude_seen)

    def _state(self) -> dict[str, np.ndarray]:
        return {"U": self.U_, "V": self.V_}

    def _set_state(self, arrays) -> None:
        self.U_ = arrays.get("U", (len(self.customer_ids_), None))
        self.V_ = arrays.get("V", (len(self.item_ids_), self.U_.shape[1]))


@dataclass(frozen=True)
class Customer2VecConfig:
    """PV-DBOW with word training. ``window`` is the skip-gram window for the product
    vectors; ``infer_epochs`` is used for customers unseen in training."""

    # Allowed ranges (None: open), checked when the model is made.
    BOUNDS: ClassVar[dict] = {"dim": (1, 1024), "window": (1, 1000), "negative": (1, 100),
                               "ns_exponent": (-5, 5), "sample": (0, 1), "epochs": (1, 1000),
                               "min_count": (1, None), "infer_epochs": (1, 10000),
                               "workers": (1, 64)}
    # Plain names and one-line help for forms ('Name — help').
    HELP: ClassVar[dict] = {
        "dim": "Vector size",
        "window": "Context window",
        "negative": "Negative samples",
        "ns_exponent": "Sampling exponent",
        "sample": "Down-sampling of very frequent products",
        "epochs": "Passes",
        "min_count": "Min purchases for a product to get a vector",
        "infer_epochs": "Passes for a new customer's vector",
        "workers": "Threads"}

    dim: int = 64
    window: int = 3
    negative: int = 5
    ns_exponent: float = 0.0  # uniform negatives: tuned on the validation window
    sample: float = 0.0
    epochs: int = 25
    min_count: int = 1
    infer_epochs: int = 30
    workers: int = 1
    seed: int = 0


class Customer2Vec(FactorScoring):
    """Scores a product by how strongly the customer's vector predicts it (the PV-DBOW
    output layer), so recommendations are the products the customer vector points to."""

    name = "customer2vec"
    Config = Customer2VecConfig
    SCORING = "W_out_"  # the PV-DBOW output layer scores; V_ (its input side) is the embedding

    def progress_steps(self) -> int:
        return int(self.config.epochs)

    def _fit(self, train: OrderData, X: sp.csr_matrix, callback: Callback | None) -> None:
        from gensim.models.doc2vec import Doc2Vec, TaggedDocument

        c = self.config
        docs = [TaggedDocument(list(map(str, seq)), [i])
                for i, seq in enumerate(customer_sequences(train))]
        d2v = Doc2Vec(docs, dm=0, dbow_words=1, vector_size=c.dim, window=c.window,
                      negative=c.negative, ns_exponent=c.ns_exponent, sample=c.sample,
                      epochs=c.epochs, min_count=c.min_count, workers=c.workers, seed=c.seed,
                      hashfxn=stable_hash, callbacks=[_GensimCallback(callback).cb])
        self.U_ = np.asarray(d2v.dv.vectors, dtype=np.float32)
        out = np.zeros((X.shape[1], c.dim), dtype=np.float32)
        inp = np.zeros((X.shape[1], c.dim), dtype=np.float32)
        known = [int(k) for k in d2v.wv.index_to_key]
        out[known] = d2v.syn1neg
        inp[known] = d2v.wv.vectors
        self.W_out_, self.V_ = out, inp

    def similar_customers(self, customer_id: str, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Customers whose vectors are closest (cosine) to this one's."""
        self._check_fitted()
        row = self.customer_rows([customer_id])
        if row[0] < 0:
            raise KeyError(f"Unknown customer {customer_id!r}")
        unit = _unit(self.U_)
        sims = unit[row] @ unit.T
        sims[0, row[0]] = -np.inf
        idx, val = topn(sims, n)
        return self.customer_ids_[idx[0]], val[0]

    def infer_vector(self, item_ids) -> np.ndarray:
        """A customer vector for a purchase history, by PV-DBOW inference (frozen products)."""
        self._check_fitted()
        codes = self._items(item_ids, strict=False)
        return _infer(self, codes[codes >= 0])

    def recommend_history(self, item_ids, n: int = 10, country: str | None = None,
                          exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        codes = self._items(item_ids, strict=False)
        codes = codes[codes >= 0]
        scores = (self.infer_vector(item_ids) @ self.W_out_.T)[None, :]
        return self._history_top(scores, codes, n, exclude_seen)

    def _state(self) -> dict[str, np.ndarray]:
        return {"U": self.U_, "V": self.V_, "W_out": self.W_out_}

    def _set_state(self, arrays) -> None:
        self.U_ = arrays.get("U", (len(self.customer_ids_), None))
        self.V_ = arrays.get("V", (len(self.item_ids_), self.U_.shape[1]))
        self.W_out_ = arrays.get("W_out", self.V_.shape)


def _infer(model: Customer2Vec, codes: np.ndarray) -> np.ndarray:
    """PV-DBOW inference with numpy: SGD on a fresh vector against the frozen output layer,
    with negatives drawn by the unigram^ns_exponent rule (works on loaded models too)."""
    c = model.config
    rng = np.random.default_rng(c.seed)
    v = ((rng.random(c.dim) - 0.5) / c.dim).astype(np.float32)
    if len(codes) == 0:
        return v
    freq = np.asarray(model.X_.sum(0)).ravel() ** c.ns_exponent
    cdf = np.cumsum(freq / freq.sum())
    W = model.W_out_
    for epoch in range(c.infer_epochs):
        lr = 0.025 - (0.025 - 0.0001) * epoch / c.infer_epochs
        for j in rng.permutation(codes):
            neg = np.minimum(np.searchsorted(cdf, rng.random(c.negative)), len(cdf) - 1)
            targets = np.r_[j, neg]
            labels = np.r_[1.0, np.zeros(c.negative)]
            g = (labels - 1 / (1 + np.exp(-(W[targets] @ v)))) * lr
            v += (g[:, None] * W[targets]).sum(0)
    return v

"""Caching: datasets by key (a hash of the bytes plus options, or a workspace name and its
modification time), never by hashing a DataFrame; models in a bounded process-wide registry."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

import streamlit as st

from recsys import store
from recsys.data import ColumnMapping, ImportOptions, OrderData, load_orders
from recsys.data.clean import CleaningOptions
from recsys.data.readers import RawSource
from recsys.datasets import load_demo
from recsys.workflow import default_model, fit_serving, model_key
from ui import state as S

MAX_MODELS = 16


@st.cache_data(show_spinner="Generating the demo shop…", max_entries=1)
def demo_data() -> OrderData:
    return load_demo(cache_root=store.workspace())


@st.cache_data(show_spinner="Reading the export…", max_entries=4)
def imported_data(key: str, _files: list[tuple[str, bytes]], format: str,
                  mapping: str | None, cleaning: str) -> OrderData:
    """``key`` hashes the bytes and options; the files themselves are not hashed again."""
    sources = [RawSource(name=n, data=b) for n, b in _files]
    opts = ImportOptions(cleaning=CleaningOptions(**json.loads(cleaning)))
    m = ColumnMapping.from_string(mapping) if mapping else None
    return load_orders(sources, format=format, mapping=m, options=opts)


def import_key(files: list[tuple[str, bytes]], *options: str | None) -> str:
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update(json.dumps(options).encode())
    return h.hexdigest()[:20]


@st.cache_data(show_spinner="Opening the dataset…", max_entries=4)
def saved_data(name: str, mtime: float) -> OrderData:
    return store.load_dataset(name)


def dataset_key() -> str:
    return st.session_state.get(S.DATASET, S.DEMO)


def current_data() -> OrderData:
    """The dataset chosen in this session; the demo shop when none (or it is gone)."""
    key = dataset_key()
    if key.startswith("saved:"):
        name = key[6:]
        meta = store.workspace() / "datasets" / name / "meta.json"
        if meta.exists():
            return saved_data(name, meta.stat().st_mtime)
        st.session_state[S.DATASET] = S.DEMO
        st.warning(f"The dataset {name!r} is no longer in the workspace; showing the demo.")
    return demo_data()


@st.cache_resource
def _registry() -> OrderedDict:
    """Fitted models by key, newest last; shared read-only between sessions."""
    return OrderedDict()


def put_model(key: str, model) -> None:
    reg = _registry()
    reg[key] = model
    reg.move_to_end(key)
    while len(reg) > MAX_MODELS:
        reg.popitem(last=False)


def get_model(key: str):
    return _registry().get(key)


def trained_models() -> dict[str, object]:
    """label -> fitted model for the current dataset (a default model when none yet)."""
    trained = st.session_state[S.TRAINED].setdefault(dataset_key(), {})
    out = {label: m for label, k in trained.items() if (m := get_model(k)) is not None}
    if not out:
        data = current_data()
        name = default_model(data)
        key = model_key(dataset_key(), name, {})
        model = get_model(key)
        if model is None:
            with st.spinner(f"Training a first {name} model…"):
                model = fit_serving(data, name)
            put_model(key, model)
        trained[name] = key
        out[name] = model
    return out


@st.cache_data(show_spinner="Clustering and projecting…", max_entries=16)
def segments_for(key: str, what: str, method: str, _model, _data) -> dict:
    """Clusters, profiles and a 2D projection, cached per model key and settings."""
    from recsys import segments

    ids, vectors = segments.model_vectors(_model, what)
    res = segments.segment(_data, vectors, ids, what, "auto", method)
    proj = segments.project(vectors, method, strata=res["labels"])
    return {**res, "ids": ids, "vectors": vectors,
            "points": segments.scatter_frame(_data, ids, what, proj, res["labels"]),
            "sampled": proj.sampled, "seconds": proj.seconds}


def model_keys() -> dict[str, str]:
    """label -> registry key of the models trained for the current dataset."""
    trained_models()
    return dict(st.session_state[S.TRAINED].get(dataset_key(), {}))


@st.cache_data(show_spinner="Backtesting the campaign…", max_entries=16)
def campaign_backtest(key: str, item: str, model_name: str, cutoff: str, window: int,
                      econ_json: str, _data) -> dict:
    """Backtest curves for one product and model, cached by dataset key and settings."""
    from recsys import campaign as cp

    econ = cp.Economics(**json.loads(econ_json))
    bt = cp.backtest(_data, [item], model_name, None, cutoff, window, econ)[0]
    return {"curves": bt.curves, "base_rate": bt.base_rate, "positives": bt.positives,
            "calibration": bt.calibration, "margin": bt.margin}


def campaign_model(name: str):
    """The model that ranks customers now: fitted on all data with the campaign settings."""
    from recsys.campaign import CAMPAIGN_PARAMS

    params = CAMPAIGN_PARAMS.get(name, {})
    key = model_key(dataset_key(), name, {"campaign": params})
    model = get_model(key)
    if model is None:
        with st.spinner(f"Fitting {name} on all the data…"):
            model = fit_serving(current_data(), name, params)
        put_model(key, model)
    return model

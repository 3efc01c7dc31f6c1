"""Caching: everything keyed by a dataset's fingerprint (a hash of its stored bytes) or of
uploaded bytes, plus the settings; never by a name and never by hashing a DataFrame."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

import streamlit as st

from recsys.data import ColumnMapping, ImportOptions, OrderData, load_orders
from recsys.data.clean import CleaningOptions
from recsys.data.readers import RawSource
from recsys.workflow import default_model, fit_serving, model_key
from recsys.workspace import DatasetRef, StoreError, Workspace
from ui import state as S

MAX_MODELS = 16


def workspace() -> Workspace:
    return Workspace()


@st.cache_data(show_spinner="Reading the export…", max_entries=4)
def imported_data(key: str, _files: list[tuple[str, bytes]], format: str,
                  mapping: str | None, cleaning: str) -> OrderData:
    """``key`` hashes the bytes and options; the files themselves are not hashed again."""
    sources = [RawSource(name=n, data=b) for n, b in _files]
    opts = ImportOptions(cleaning=CleaningOptions(**json.loads(cleaning)),
                         pii_key=workspace().pii_key)
    m = ColumnMapping.from_string(mapping) if mapping else None
    return load_orders(sources, format=format, mapping=m, options=opts)


def import_key(files: list[tuple[str, bytes]], *options: str | None) -> str:
    h = hashlib.sha256()
    for name, data in files:
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update(json.dumps(options).encode())
    return h.hexdigest()[:20]


@st.cache_data(show_spinner="Opening the dataset…", max_entries=4)
def _stored_data(root: str, kind: str, name: str, fingerprint: str) -> OrderData:
    return Workspace(root).load_dataset(DatasetRef(kind, name))


def current_ref() -> DatasetRef:
    return st.session_state.get(S.DATASET, DatasetRef.demo())


def current_fingerprint() -> str:
    """The content hash of this session's dataset (the demo when it is gone)."""
    ws, ref = workspace(), current_ref()
    if not ref.is_demo and not ws.has_dataset(ref):
        st.session_state[S.DATASET] = ref = DatasetRef.demo()
        st.warning("The dataset you had open is no longer in the workspace; showing the demo.")
    if ref.is_demo and not ws.has_dataset(ref):
        with st.spinner("Generating the demo shop…"):
            return ws.fingerprint(ref)
    try:
        return ws.fingerprint(ref)
    except StoreError:
        st.session_state[S.DATASET] = DatasetRef.demo()
        return ws.fingerprint(DatasetRef.demo())


def current_data() -> OrderData:
    """The dataset chosen in this session; the demo shop when none (or it is gone)."""
    fp = current_fingerprint()
    ref = current_ref()
    return _stored_data(str(workspace().root), ref.kind, ref.name, fp)


@st.cache_resource
def _registry() -> OrderedDict:
    """Fitted models by key (dataset fingerprint + model + params), newest last."""
    return OrderedDict()


def put_model(key: str, model) -> None:
    reg = _registry()
    reg[key] = model
    reg.move_to_end(key)
    while len(reg) > MAX_MODELS:
        reg.popitem(last=False)


def get_model(key: str):
    return _registry().get(key)


def trained_labels() -> dict[str, str]:
    """label -> model key of the models trained on this session's dataset."""
    return st.session_state[S.TRAINED].setdefault(current_fingerprint(), {})


def trained_models() -> dict[str, object]:
    """label -> fitted model for the current dataset (a default model when none yet)."""
    trained = trained_labels()
    out = {label: m for label, k in trained.items() if (m := get_model(k)) is not None}
    if not out:
        data = current_data()
        name = default_model(data)
        key = model_key(current_fingerprint(), name, {})
        model = get_model(key)
        if model is None:
            with st.spinner(f"Training a first {name} model…"):
                model = fit_serving(data, name)
            put_model(key, model)
        trained[name] = key
        out[name] = model
    return out


def model_keys() -> dict[str, str]:
    """label -> registry key of the models trained for the current dataset."""
    trained_models()
    return dict(trained_labels())


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


# ---------------------------------------------------------------- campaigns, in stages
@st.cache_resource(show_spinner="Fitting the model before the cutoff…", max_entries=8)
def campaign_window_model(fingerprint: str, model_name: str, cutoff: str, window: int,
                          _data: OrderData):
    """Stage 1, keyed by (dataset, model, cutoff, window): the window and its model."""
    from recsys import campaign as cp

    win = cp.CampaignWindow.of(_data, cutoff, window)
    return win, cp.fit_window_model(win, model_name)


@st.cache_resource(show_spinner="Backtesting the product…", max_entries=64)
def campaign_product(fingerprint: str, model_name: str, cutoff: str, window: int, item: str,
                     _data: OrderData):
    """Stage 2, + the product: gains curves and calibration (no money: that is stage 3)."""
    from recsys import campaign as cp

    win, model = campaign_window_model(fingerprint, model_name, cutoff, window, _data)
    return cp.product_backtest(win, model, item, model_name)


def campaign_model(name: str):
    """The model that ranks customers now: fitted on all data with the campaign settings."""
    from recsys.campaign import campaign_params

    params = campaign_params(name)
    key = model_key(current_fingerprint(), name, {"campaign": params})
    model = get_model(key)
    if model is None:
        with st.spinner(f"Fitting {name} on all the data…"):
            model = fit_serving(current_data(), name, params)
        put_model(key, model)
    return model

"""Caching: datasets by their fingerprint (a hash of the stored bytes), models by their id in
the workspace (a stored model never changes), campaign plans by model ids and inputs;
never by a name and never by hashing a DataFrame. Everything here is read from the
workspace, which the background jobs write to, so a reload loses nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

from recsys import plan as pl
from recsys.campaign import CampaignWindow
from recsys.data import OrderData
from recsys.evaluate import as_cutoff
from recsys.models import ModelFileError
from recsys.requests import DatasetKey
from recsys.workspace import DatasetRef, StoreError, Workspace
from ui import access
from ui import state as S

MAX_MODELS = 8  # fitted models kept in memory per server process (they are on disk anyway)


def workspace() -> Workspace:
    """The workspace of the dataset in view: the analyst's own, or the team's."""
    if current_ref().team:
        return access.team() or access.home()
    return access.home()


@st.cache_resource(show_spinner="Opening the dataset…", max_entries=4)
def _stored_data(root: str, kind: str, name: str, fingerprint: str) -> OrderData:
    # One shared, read-only copy: st.cache_data would unpickle a fresh copy of every table
    # on each call, several times per page run (most of a page's time under load).
    return Workspace(root).load_dataset(DatasetRef(kind, name))


def current_ref() -> DatasetRef:
    return st.session_state.get(S.DATASET, DatasetRef.demo())


def current_fingerprint() -> str:
    """The content hash of this session's dataset (the demo when it is gone)."""
    ws, ref = workspace(), current_ref()
    if not ref.is_demo and not ws.has_dataset(ref):
        S.set_dataset(ref := DatasetRef.demo())
        st.warning("The dataset you had open is no longer in the workspace; showing the demo.")
    if ref.is_demo and not ws.has_dataset(ref):
        with st.spinner("Generating the demo shop…"):
            return ws.fingerprint(ref)
    try:
        return ws.fingerprint(ref)
    except StoreError:
        S.set_dataset(DatasetRef.demo())
        return ws.fingerprint(DatasetRef.demo())


@st.cache_resource(max_entries=512, show_spinner=False)
def _figure(kind: str, key: tuple, _build: Callable[[], Any]):
    return _build()


@st.cache_resource(max_entries=32, show_spinner=False)
def download_bytes(name: str, key: tuple, _build: Callable[[], bytes]) -> bytes:
    """A download's bytes, built once per (file name, key): a big file is not rebuilt on
    every re-run of its page."""
    data = _build()
    return data.encode() if isinstance(data, str) else data


def figure(kind: str, key: tuple, build: Callable[[], Any]):
    """A figure of the dataset in view, drawn once per (kind, key) -- the key names what it
    shows: a customer, a product -- and shared by every session. Building plotly figures
    was most of a page's server time, and a page reruns on every click and switch."""
    return _figure(kind, (current_fingerprint(), *key), build)


def data_key() -> DatasetKey:
    """The dataset in view, as requests name it (where it is and what it holds)."""
    return DatasetKey(current_ref(), current_fingerprint())


def currency() -> str | None:
    """The dataset's currency code: the analyst's word, else the export's, else unknown."""
    ref = current_ref()
    meta = workspace().dataset_meta(ref)
    return meta.get("currency") or current_data().report.currency


def current_data() -> OrderData:
    """The dataset chosen in this session; the demo shop when none (or it is gone)."""
    fp = current_fingerprint()
    ref = current_ref()
    return _stored_data(str(workspace().root), ref.kind, ref.name, fp)


@st.cache_resource(show_spinner="Loading the model…", max_entries=MAX_MODELS)
def _stored_model(root: str, model_id: str, stamp: str):
    return Workspace(root).load_model(model_id)


def _model(root: str, model_id: str):
    """The model as its folder is now: the stamp (file names, sizes, times) is part of the
    cache key, so a folder damaged or replaced on disk is never served from memory."""
    return _stored_model(root, model_id, Workspace(root).model_stamp(model_id))


def model(model_id: str):
    """A fitted model from the workspace (kept in memory while it is used). A damaged one
    stops the page with a message, never the server."""
    try:
        return _model(str(workspace().root), model_id)
    except (ModelFileError, StoreError) as exc:
        st.error(f"A stored model cannot be used: {exc}  \nDelete it on the Models page and "
                 "train it again.")
        st.stop()


@st.cache_resource(max_entries=32, show_spinner=False)
def _stored_result(root: str, key: str, stamp: float):
    return Workspace(root).load_result(key)


def result(key: str):
    """A stored job result (summary, tables, arrays), read once while its files are
    unchanged; a damaged one stops the page."""
    ws = workspace()
    try:
        return _stored_result(str(ws.root), key, ws.result_stamp(key))
    except (StoreError, OSError, ValueError) as exc:
        workspace().delete_result(key)  # so that the next visit computes it again
        st.error(f"A stored result could not be read ({exc}); reload to compute it again.")
        st.stop()


# ---------------------------------------------------------------- campaigns, stages 2-3
@st.cache_resource(show_spinner="Preparing the backtest window…", max_entries=4)
def _campaign_window(root: str, fingerprint: str, cutoff: str, window: int, _data: OrderData):
    return CampaignWindow.of(_data, cutoff, window)


@st.cache_resource(show_spinner="Planning the campaign…", max_entries=16)
def _campaign_plan(root: str, fingerprint: str, models: tuple, asked: str, model_name: str,
                   cutoff: str, _inputs: pl.PlanInputs, _data: OrderData) -> pl.CampaignPlan:
    """``models``: (cutoff or 'live', model id, stamp) of every fitted model the plan uses."""
    fitted = {c: _stored_model(root, mid, stamp) for c, mid, stamp in models}
    window = _campaign_window(root, fingerprint, cutoff, _inputs.days, _data)
    now = window.cutoff + pd.Timedelta(days=_inputs.days)
    fits = {now if c == "live" else as_cutoff(c): m for c, m in fitted.items()}
    return pl.plan_with_record(_data, window, fits, _inputs, model_name)


def campaign_plan(models: dict[str, str], model_name: str, cutoff: str,
                  inputs: pl.PlanInputs) -> pl.CampaignPlan:
    """The plan from the stored models (``models``: cutoff date or 'live' -> model id), cached
    by their ids, the dataset's fingerprint and the inputs."""
    ws = workspace()
    ids = tuple((c, mid, ws.model_stamp(mid)) for c, mid in sorted(models.items()))
    asked = json.dumps(asdict(inputs), sort_keys=True, default=str)
    return _campaign_plan(str(ws.root), current_fingerprint(), ids, asked, model_name, cutoff,
                          inputs, current_data())

"""Session-state keys the app owns (widget keys are dropped on page switch; these are not).
Everything else -- models, scores, results, jobs -- lives in the workspace. The dataset in
view is also in the page address (``?dataset=NAME``), so a reload or a shared link opens it;
so are the analyst's choices on a page (``kept``: the model, the projection), so neither a
page switch, a reload, a shared link nor another user's new model changes them."""

import streamlit as st

from recsys.workspace import DatasetRef, StoreError

DATASET = "dataset"  # the DatasetRef this session looks at
IMPORT = "import_job"  # the id of the import this session is waiting for
NOTICE = "notice"  # a message to show once on the next run
DEFERRED = "deferred_start"  # starter jobs queued this run, started once the page is drawn
WELCOMED = "welcomed"  # the first-visit steps were dismissed
PAGE_SHOWN = "page_shown"  # the script hash of the page this session's last full run drew


def init(state) -> None:
    if DATASET not in state:
        try:
            name = st.query_params.get("dataset")
            state[DATASET] = DatasetRef.from_address(name) if name else DatasetRef.demo()
        except StoreError:
            state[DATASET] = DatasetRef.demo()


def set_dataset(ref: DatasetRef) -> None:
    """Look at another dataset from now on (and say so in the address)."""
    st.session_state[DATASET] = ref
    sync_address()


def sync_address() -> None:
    """Put the dataset in the address again (page switches clear query parameters)."""
    ref = st.session_state.get(DATASET, DatasetRef.demo())
    if ref.is_demo:
        st.query_params.pop("dataset", None)
    elif st.query_params.get("dataset") != ref.address:
        st.query_params["dataset"] = ref.address


CHOICE = "choice_{}"  # the analyst's choice called NAME, kept across pages and reloads


def kept(name: str, options: list[str], default, multi: bool = False):
    """The analyst's choice ``name`` if they made one and it is still offered (from this
    session, else from the page address), else ``default``."""
    key = CHOICE.format(name)
    if key not in st.session_state:
        asked = st.query_params.get_all(name)
        if asked:
            st.session_state[key] = asked if multi else asked[0]
    chosen = st.session_state.get(key)
    if multi and chosen is not None:
        still = [c for c in chosen if c in options]
        return still if still or not chosen else default
    return chosen if chosen in options else default


def kept_number(name: str, low: float, high: float, default: float) -> float:
    """The analyst's number ``name`` (this session's, else the page address's) within
    [low, high], else ``default``."""
    key = CHOICE.format(name)
    if key not in st.session_state and name in st.query_params:
        try:
            st.session_state[key] = float(st.query_params[name])
        except ValueError:
            pass
    value = st.session_state.get(key)
    if isinstance(value, int | float) and low <= value <= high:
        return value
    return default


def keep(name: str, value) -> None:
    """Remember the analyst's choice ``name`` (and show it in the address)."""
    st.session_state[CHOICE.format(name)] = value
    show_choice(name)


def show_choice(name: str) -> None:
    """Put a kept choice in the address again (page switches clear query parameters)."""
    value = st.session_state.get(CHOICE.format(name))
    if value is not None and st.query_params.get_all(name) != [
            str(v) for v in (value if isinstance(value, list) else [value])]:
        st.query_params[name] = value

"""Session-state keys the app owns (widget keys are dropped on page switch; these are not).
Everything else -- models, scores, results, jobs -- lives in the workspace. The dataset in
view is also in the page address (``?dataset=NAME``), so a reload or a shared link opens it."""

import streamlit as st

from recsys.workspace import DatasetRef, StoreError

DATASET = "dataset"  # the DatasetRef this session looks at
IMPORT = "import_job"  # the id of the import this session is waiting for
NOTICE = "notice"  # a message to show once on the next run
WELCOMED = "welcomed"  # the first-visit steps were dismissed


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

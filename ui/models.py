"""The Models page's list of the dataset's models: rename, delete, download one as a file,
and take in a model file trained elsewhere (``recsys.model_files``)."""

from __future__ import annotations

import streamlit as st

from recsys.errors import safe_message
from recsys.model_files import export_model, file_name, import_model
from recsys.models import ModelFileError
from recsys.presentation import served_table
from recsys.workspace import StoreError
from ui import state as S
from ui.cache import current_data, current_fingerprint, current_ref, workspace
from ui.jobs import served
from ui.widgets import download


def models_panel() -> None:
    """The expander at the foot of the Models page."""
    fp = current_fingerprint()
    with st.expander("Models of this dataset: rename, delete, download, upload"):
        models = served()
        st.dataframe(served_table(models.values()), hide_index=True, width="stretch")
        c1, c2, c3 = st.columns([2, 2, 1])
        pick = c1.selectbox("Pick a model", [""] + list(models))
        new_name = c2.text_input("New name", value=models[pick].title if pick else "")
        if pick and c3.button("Rename") and new_name.strip():
            workspace().relabel_configuration(models[pick].group, fp, new_name.strip()[:60])
            st.rerun()
        if pick and c3.button("Delete"):
            workspace().delete_configuration(models[pick].group, fp)
            st.rerun()
        if pick:
            _download(models[pick].serving_id)
        _upload()


def _download(model_id: str) -> None:
    ws = workspace()
    record = ws.model_record(model_id)
    download("Download model", lambda: export_model(ws, model_id)[0],
             file_name=file_name(record.display, record.model), mime="application/zip",
             key=("model file", model_id, ws.model_stamp(model_id)))
    st.caption("One file: the model, what it was trained on (dataset fingerprint, period, "
               "settings) and its holdout score. Upload it into another workspace, or use "
               "`python -m recsys model import FILE`.")


def _upload() -> None:
    file = st.file_uploader("Upload a model (a file from Download model or `python -m recsys "
                            "model export`)", type=["zip"], key="model_upload")
    if file is None or not st.button("Take this model in", key="model_import"):
        return
    try:  # the file's size, entries and arrays are checked by import_model
        with st.spinner("Checking the model file…"):
            done = import_model(workspace(), file.getvalue(), current_ref(), current_data())
    except (ModelFileError, StoreError, ValueError) as exc:
        st.error(safe_message(exc))
    else:
        st.session_state[S.NOTICE] = done.message()  # shown at the top, with the new list
        st.rerun()

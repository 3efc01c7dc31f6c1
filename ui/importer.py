"""The Data page's upload panel: the form, the import job, and what happens when it ends."""

from __future__ import annotations

import streamlit as st

from recsys.data import FORMATS
from recsys.requests import ImportRequest
from recsys.workspace import DatasetRef, StoreError, safe_name
from ui import access
from ui import state as S
from ui.cache import workspace
from ui.jobs import jobs, submit, watch
from ui.widgets import cleaning_form


def upload_panel() -> None:
    """Upload one export (or several that belong together) and import it as a job."""
    with st.expander("Upload an order export", expanded=False):
        if not access.sign_in_required():
            st.warning("No sign-in is configured, so everything saved here is visible to "
                       "anyone using this server (docs/privacy.md says how to set sign-in "
                       "up).")
        several = st.toggle("These files belong together (Instacart's tables, monthly "
                            "exports of one shop)", value=False)
        files = st.file_uploader("CSV, XLSX, Parquet or zip",
                                 type=["csv", "txt", "tsv", "gz", "zip", "xlsx", "parquet"],
                                 accept_multiple_files=several)
        files = [f for f in (files if several else [files]) if f]
        c1, c2 = st.columns(2)
        fmt = c1.selectbox("Format", ["auto", *FORMATS])
        name = c2.text_input("Save in the workspace as", key=f"name-{_file_key(files)}",
                             value=safe_name(files[0].name.split(".")[0]) if files
                             else "my-shop")
        mapping = st.text_input("Column mapping (only when detection fails, or to name the "
                                "category column)",
                                placeholder="customer=COLUMN,item=COLUMN,time=COLUMN,"
                                            "category=COLUMN")
        cleaning = cleaning_form()
        o1, o2 = st.columns(2)
        replace = o1.checkbox("Replace a dataset of the same name", value=False)
        anonymous = o2.checkbox("Customer IDs are already anonymous (keep them as they are)",
                                value=False, help="Otherwise every customer key is replaced "
                                "by a keyed hash before anything is stored.")
        if st.button("Import", type="primary", disabled=not files):
            try:  # the job checks again; this says it before anything is uploaded
                workspace().check_new_dataset(name.strip(), replace=replace)
                digest = workspace().stash_upload([(f.name, f.getvalue()) for f in files])
            except StoreError as exc:
                st.error(f"Could not import: {exc}")
            else:
                st.session_state[S.IMPORT] = submit(ImportRequest(
                    name.strip(), upload=digest, format=fmt, mapping=mapping.strip() or None,
                    cleaning=cleaning, replace=replace, ids_anonymous=anonymous),
                    reuse=False).id
    _follow()


def _file_key(files) -> str:
    """The save-name box starts afresh for each new choice of files."""
    return str(abs(hash(tuple((f.name, f.size) for f in files))) % 10**8)


def _follow() -> None:
    waiting = st.session_state.get(S.IMPORT)
    if not waiting:
        return
    job = jobs().get(waiting)
    if job.active:
        watch([job])
        return
    del st.session_state[S.IMPORT]
    if job.result:
        S.set_dataset(DatasetRef.saved(job.result["dataset"]))
        st.session_state[S.NOTICE] = (f"Imported {job.result['rows_read']:,} lines as "
                                      f"{job.result['format']}; {job.result['rows_kept']:,} "
                                      "kept after cleaning.")
        st.rerun()
    st.error(f"Could not import: {job.error}  \nThe dataset already loaded is unchanged.")

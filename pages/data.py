"""Data: upload an export (imported by a background job), the cleaning report, a summary."""

import streamlit as st

from recsys import insights, viz
from recsys.data import FORMATS
from recsys.keys import key_location
from recsys.workspace import DatasetRef, StoreError, check_name
from ui import access
from ui import state as S
from ui.cache import current_data, current_ref, workspace
from ui.jobs import jobs, submit, watch
from ui.widgets import cleaning_form, show_notice

st.header("Data")
show_notice()

with st.expander("Upload an order export", expanded=current_ref().is_demo):
    files = st.file_uploader(
        "CSV, XLSX, Parquet or zip (Instacart: all its tables, or one zip)",
        type=["csv", "txt", "tsv", "gz", "zip", "xlsx", "parquet"], accept_multiple_files=True)
    c1, c2 = st.columns(2)
    fmt = c1.selectbox("Format", ["auto", *FORMATS])
    default_name = files[0].name.split(".")[0][:40] if files else "my-shop"
    name = c2.text_input("Save in the workspace as", value=default_name)
    mapping = st.text_input("Column mapping (only when detection fails)",
                            placeholder="customer=COLUMN,item=COLUMN,time=COLUMN")
    cleaning = cleaning_form()
    o1, o2 = st.columns(2)
    replace = o1.checkbox("Replace a dataset of the same name", value=False)
    anonymous = o2.checkbox("Customer IDs are already anonymous (keep them as they are)",
                            value=False, help="Otherwise every customer key is replaced by a "
                            "keyed hash before anything is stored.")
    if st.button("Import", type="primary", disabled=not files):
        try:
            check_name(name.strip())
            digest = workspace().stash_upload([(f.name, f.getvalue()) for f in files])
        except StoreError as exc:
            st.error(f"Could not import: {exc}")
        else:
            st.session_state[S.IMPORT] = submit(("import", {
                "upload": digest, "format": fmt, "mapping": mapping.strip() or None,
                "cleaning": cleaning, "name": name.strip(), "replace": replace,
                "ids_anonymous": anonymous}), reuse=False).id

waiting = st.session_state.get(S.IMPORT)
if waiting:
    job = jobs().get(waiting)
    if job.active:
        watch([job])
    else:
        del st.session_state[S.IMPORT]
        if job.result:
            S.set_dataset(DatasetRef.saved(job.result["dataset"]))
            st.session_state[S.NOTICE] = (f"Imported {job.result['rows_read']:,} lines as "
                                          f"{job.result['format']}; "
                                          f"{job.result['rows_kept']:,} kept after cleaning.")
            st.rerun()
        st.error(f"Could not import: {job.error}  \nThe dataset already loaded is unchanged.")

data = current_data()
s = data.summary()
rep = data.report
cols = st.columns(5)
for col, (label, value) in zip(cols, [("Customers", s["customers"]), ("Products", s["items"]),
                                      ("Orders", s["orders"]), ("Lines kept", s["lines"]),
                                      ("Lines read", rep.get("rows_read", s["lines"]))]):
    col.metric(label, f"{value:,}")
key = rep.get("customer_key", {})
st.caption(f"Format: **{rep.get('format', '?')}** · dates read as {rep.get('time_style', '?')}"
           f" · categories: {rep.get('category_source', 'export')} · customer keys "
           f"{'pseudonymised' if rep.get('pseudonymised') else 'kept'}: "
           f"{key.get('why', 'as exported')} (key: {key_location()})")

frames = insights.summary_frames(data)
left, right = st.columns(2)
left.plotly_chart(viz.orders_over_time(frames["weekly"]), width="stretch")
right.plotly_chart(viz.per_customer(frames["per_customer"]), width="stretch")
left.plotly_chart(viz.top_products(frames["top_items"]), width="stretch")
right.plotly_chart(viz.countries(frames["countries"]), width="stretch")

with st.expander("Column mapping and cleaning report", expanded=False):
    st.json(rep.get("mapping", {}))
    st.dataframe(insights.cleaning_table(data), hide_index=True, width="stretch")

if access.sign_in_required():
    ref = current_ref()
    st.caption("Your datasets and models are yours; the team sees what you share.")
    if not ref.is_demo and not ref.team and st.button("Share this dataset and its models with "
                                                      "the team"):
        S.set_dataset(access.home().share_dataset(ref.name, access.team()))
        st.rerun()
else:
    st.caption(":warning: No sign-in is configured, so everything saved here is visible to "
               "anyone using this server (see the README to set sign-in up).")

saved = workspace().list_datasets()
if saved:
    with st.expander(f"Workspace datasets ({len(saved)})"):
        st.dataframe([{"name": d["name"], **d.get("summary", {})} for d in saved],
                     hide_index=True)
        gone = st.selectbox("Delete a dataset", [""] + [d["name"] for d in saved])
        if gone and st.button(f"Delete {gone}"):
            workspace().delete_dataset(gone)
            if current_ref() == DatasetRef.saved(gone):
                S.set_dataset(DatasetRef.demo())
            st.rerun()

"""Data: upload an export, confirm the detected format, cleaning report and a summary."""

import json
from pathlib import Path

import streamlit as st

from recsys import insights, viz
from recsys.data import FORMATS, FormatError, ReadError
from recsys.workspace import DatasetRef, StoreError, check_name
from ui import state as S
from ui.cache import current_data, current_ref, import_key, imported_data, workspace
from ui.widgets import cleaning_form, show_notice

st.header("Data")
show_notice()

with st.expander("Upload an order export", expanded=current_ref().is_demo):
    files = st.file_uploader(
        "CSV, XLSX, Parquet or zip (Instacart: all its tables, or one zip)",
        type=["csv", "txt", "tsv", "gz", "zip", "xlsx", "parquet"], accept_multiple_files=True)
    c1, c2 = st.columns(2)
    fmt = c1.selectbox("Format", ["auto", *FORMATS])
    default_name = Path(files[0].name).stem.split(".")[0][:40] if files else "my-shop"
    name = c2.text_input("Save in the workspace as", value=default_name)
    mapping = st.text_input("Column mapping (only when detection fails)",
                            placeholder="customer=COLUMN,item=COLUMN,time=COLUMN")
    cleaning = cleaning_form()
    if st.button("Import", type="primary", disabled=not files):
        raw = [(f.name, f.getvalue()) for f in files]
        opts = (fmt, mapping.strip() or None, json.dumps(cleaning, sort_keys=True))
        try:
            check_name(name.strip())
            new = imported_data(import_key(raw, *opts), raw, *opts)
            ref = workspace().save_dataset(new, name.strip())
        except (FormatError, ReadError, StoreError, ValueError) as exc:
            st.error(f"Could not import: {exc}  \nThe dataset already loaded is unchanged.")
        else:
            st.session_state[S.DATASET] = ref
            st.session_state[S.NOTICE] = (f"Imported {new.report['rows_read']:,} lines as "
                                          f"{new.report['format']}; {new.report['rows_kept']:,}"
                                          " kept after cleaning.")
            st.rerun()

data = current_data()
s = data.summary()
rep = data.report
cols = st.columns(5)
for col, (label, value) in zip(cols, [("Customers", s["customers"]), ("Products", s["items"]),
                                      ("Orders", s["orders"]), ("Lines kept", s["lines"]),
                                      ("Lines read", rep.get("rows_read", s["lines"]))]):
    col.metric(label, f"{value:,}")
st.caption(f"Format: **{rep.get('format', '?')}** · dates read as {rep.get('time_style', '?')}"
           f" · categories: {rep.get('category_source', 'export')} · "
           f"{'e-mails pseudonymised' if rep.get('pseudonymised') else 'no e-mails found'}")

frames = insights.summary_frames(data)
left, right = st.columns(2)
left.plotly_chart(viz.orders_over_time(frames["weekly"]), width="stretch")
right.plotly_chart(viz.per_customer(frames["per_customer"]), width="stretch")
left.plotly_chart(viz.top_products(frames["top_items"]), width="stretch")
right.plotly_chart(viz.countries(frames["countries"]), width="stretch")

with st.expander("Column mapping and cleaning report", expanded=False):
    st.json(rep.get("mapping", {}))
    st.dataframe(insights.cleaning_table(data), hide_index=True, width="stretch")

saved = workspace().list_datasets()
if saved:
    with st.expander(f"Workspace datasets ({len(saved)})"):
        st.dataframe([{"name": d["name"], **d.get("summary", {})} for d in saved],
                     hide_index=True)
        gone = st.selectbox("Delete a dataset", [""] + [d["name"] for d in saved])
        if gone and st.button(f"Delete {gone}"):
            workspace().delete_dataset(gone)
            if current_ref() == DatasetRef.saved(gone):
                st.session_state[S.DATASET] = DatasetRef.demo()
            st.rerun()

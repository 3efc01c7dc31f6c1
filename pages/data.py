"""Data: upload an export (imported by a background job), the cleaning report, a summary."""

import streamlit as st

from recsys import insights, viz
from recsys.workspace import DatasetRef
from ui import access
from ui import state as S
from ui.cache import currency, current_data, current_ref, figure, workspace
from ui.importer import upload_panel
from ui.routing import routed
from ui.widgets import currency_setter, intro, show_notice, welcome

routed()  # a deep link as a fresh server's first request skips the router
st.header("Data")
intro("data")
welcome()
show_notice()

data = current_data()
s = data.summary()
rep = data.report
cols = st.columns(5)
for col, (label, value) in zip(cols, [("Customers", s["customers"]), ("Products", s["items"]),
                                      ("Orders", s["orders"]), ("Lines kept", s["lines"]),
                                      ("Lines read", rep.rows_read or s["lines"])]):
    col.metric(label, f"{value:,}")
for warning in rep.warnings:
    st.warning(warning)
st.caption(insights.dataset_facts(rep, currency())
           + f" Pseudonyms are keyed with {workspace().key_note()}.")
currency_setter(currency())

left, right = st.columns(2)
charts = figure("summary", (), lambda: viz.summary_charts(insights.summary_frames(data)))
for col, chart in zip((left, right, left, right), charts, strict=True):
    col.plotly_chart(chart, width="stretch")

upload_panel()  # below the insights: a stakeholder sees the shop first, an analyst one click on

with st.expander("Column mapping and cleaning report", expanded=False):
    st.dataframe(insights.mapping_table(rep), hide_index=True, width="stretch")
    st.dataframe(insights.cleaning_table(data), hide_index=True, width="stretch")

if access.sign_in_required():  # (without sign-in, the upload panel says who sees what)
    ref = current_ref()
    st.caption("Your datasets and models are yours; the team sees what you share.")
    if not ref.is_demo and not ref.team and st.button("Share this dataset and its models with "
                                                      "the team"):
        S.set_dataset(access.home().share_dataset(ref.name, access.team()))
        st.rerun()

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

"""Models: train with live progress, compare on the temporal holdout, save and load."""

import streamlit as st

from recsys import viz
from recsys.models import registry
from recsys.workflow import default_cutoff, leaderboard_frame, model_key, param_fields
from recsys.workspace import check_name
from ui import state as S
from ui.cache import (
    current_data,
    current_fingerprint,
    current_ref,
    get_model,
    put_model,
    trained_labels,
    workspace,
)
from ui.training import train
from ui.widgets import show_notice

st.header("Models")
show_notice()
data = current_data()

names = st.multiselect("Models to train", registry.names(), default=["popularity", "ease"],
                       format_func=lambda n: n + (" (slow)" if registry.spec(n).slow else ""),
                       help="Neural models (" + ", ".join(registry.names(slow=True))
                       + ") take minutes on a CPU.")
with st.form("train"):
    cutoff = st.date_input("Holdout starts on", value=default_cutoff(data),
                           help="Models learn from orders before this day and are scored on "
                                "the orders after it (full ranking, novel products, K=10).")
    params: dict[str, dict] = {}
    for name in names:
        with st.expander(f"{name} hyper-parameters"):
            params[name] = {}
            for f in param_fields(name):
                key = f"p_{name}_{f['name']}"
                if f["type"] == "bool":
                    params[name][f["name"]] = st.checkbox(f["name"], f["default"], key=key)
                elif f["type"] == "str":
                    params[name][f["name"]] = st.text_input(f["name"], f["default"], key=key)
                else:
                    fmt = "%g" if f["type"] == "float" else "%d"
                    params[name][f["name"]] = st.number_input(f["name"], value=f["default"],
                                                              key=key, format=fmt)
    go = st.form_submit_button("Train and evaluate", type="primary", disabled=not names)
if go:
    st.button("Stop training", help="Stops the current run; finished models are kept.")
    for name in names:
        try:
            train(data, name, params[name], str(cutoff), name)
        except (ValueError, RuntimeError, KeyError) as exc:
            st.error(f"{name} could not be trained: {exc}")

results = st.session_state[S.RESULTS].get(current_fingerprint(), {})
if results:
    board = leaderboard_frame(results)
    st.plotly_chart(viz.leaderboard(board), width="stretch")
    st.dataframe(board, hide_index=True, width="stretch")
else:
    st.info("No model evaluated yet on this dataset: pick models above and press "
            "**Train and evaluate**. The other pages already use a default EASE model.")

with st.expander("Workspace models"):
    ws, trained = workspace(), trained_labels()
    c1, c2 = st.columns(2)
    pick = c1.selectbox("Save a trained model", [""] + list(trained))
    as_name = c2.text_input("as", value=f"{pick}-{current_ref().name or 'demo'}"[:60])
    if pick and st.button("Save model"):
        ws.save_model(get_model(trained[pick]), check_name(as_name),
                      metrics=results.get(pick, {}), dataset=current_ref().label,
                      fingerprint=current_fingerprint())
        st.success(f"Saved {as_name}")
    saved = ws.list_models()
    st.dataframe([{"name": m["name"], "model": m["model"], "dataset": m.get("dataset"),
                   "ndcg": m.get("metrics", {}).get("ndcg")} for m in saved], hide_index=True)
    c3, c4 = st.columns(2)
    load = c3.selectbox("Load or delete", [""] + [m["name"] for m in saved])
    if load and c3.button("Load for this dataset"):
        key = model_key(current_fingerprint(), "saved", {"name": load})
        put_model(key, ws.load_model(load))
        trained[load] = key
        origin = next(m for m in saved if m["name"] == load)
        if origin.get("fingerprint") != current_fingerprint():
            st.session_state[S.NOTICE] = (f"{load} was trained on {origin.get('dataset')}: "
                                          "customers and products it does not know get "
                                          "popular products.")
        st.rerun()
    if load and c4.button("Delete from workspace"):
        ws.delete_model(load)
        st.rerun()

"""Models: train as background jobs, follow them live, compare them on the holdout."""

import streamlit as st

from recsys import viz
from recsys.errors import safe_message
from recsys.models import registry
from recsys.presentation import COLUMN_HELP, leaderboard_frame, tuning_table
from recsys.requests import FitRequest, TuneRequest
from recsys.tuning import too_little_history
from recsys.workflow import default_cutoff, leaderboard_rows, tuning_summaries
from ui.cache import current_data, current_fingerprint, data_key, workspace
from ui.jobs import active, job_line, jobs, submit, watch
from ui.models import models_panel
from ui.routing import routed
from ui.widgets import intro, param_inputs, show_notice

routed()  # a deep link as a fresh server's first request skips the router
st.header("Models")
intro("models")
show_notice()
data, fp = current_data(), current_fingerprint()

names = st.multiselect("Models to train", registry.names(),
                       default=registry.names(train_default=True),
                       format_func=lambda n: n + (" (slow)" if registry.spec(n).slow else ""),
                       help="Neural models (" + ", ".join(registry.names(slow=True))
                       + ") take minutes on a CPU. Training runs in the background: the other "
                       "pages stay usable, and a reload loses nothing.")
with st.form("train"):
    cutoff = st.date_input("Holdout starts on", value=default_cutoff(data),
                           help="Models learn from orders before this day and are scored on "
                                "the orders after it (full ranking, novel products, K=10).")
    params = {name: param_inputs(name) for name in names}
    go = st.form_submit_button("Train and evaluate", type="primary", disabled=not names)
if go:
    for name in names:
        try:
            job = submit(FitRequest.of(data_key(), name, params[name], str(cutoff)))
        except ValueError as exc:
            st.error(f"{name} could not be trained: {safe_message(exc)}")
        else:
            if not job.active:
                st.info(f"{job.label} was already trained with these settings: shown below.")

with st.expander("Tune settings automatically"):
    st.caption("Searches each model's settings on the last weeks before the holdout (never "
               "the holdout itself), then trains the tuned models and a blend of the best "
               "one with best sellers, and scores them on the holdout like any other.")
    tune_names = st.multiselect("Models to tune", registry.names(tunable=True),
                                default=registry.names(tune_default=True, starter=True),
                                key="tune_models")
    minutes = st.slider("Minutes per model", 1, 30, 5, key="tune_minutes")
    if st.button("Tune", disabled=not tune_names):
        if why := too_little_history(data, str(cutoff)):
            st.error(why)  # at once: no job waits its turn only to say so
        else:
            submit(TuneRequest(data_key(), tuple(tune_names), str(cutoff), float(minutes)))
    recent = jobs().list(dataset=fp, limit=30)
    last = next((j for j in recent if j.kind == "tune"), None)
    if last is not None and not last.active and last.state != "done":
        job_line(last)  # why the last search ended without a result
    for found in tuning_summaries(workspace(), recent, str(cutoff))[:1]:
        st.markdown(f"**{found['label']}** · validation NDCG@10 on the orders of "
                    f"{found['validation']['from']} to {found['validation']['to']}")
        st.plotly_chart(viz.tuning_curve(found["history"]), width="stretch")
        st.dataframe(tuning_table(found), hide_index=True, width="stretch")

running = active()
if running:
    st.subheader(f"Running ({len(running)})")
    watch(running, stop=True, curve=True)

rows = leaderboard_rows(workspace(), fp, str(cutoff))
if rows:
    st.subheader(f"Leaderboard · holdout from {cutoff}")
    board = leaderboard_frame(rows)
    st.plotly_chart(viz.leaderboard(board), width="stretch")
    st.dataframe(board, hide_index=True, width="stretch", column_config={
        col: st.column_config.Column(label, help=help_)
        for col, (label, help_) in COLUMN_HELP.items()})
elif not running:
    st.info("No model scored yet on this holdout: pick models above and press **Train and "
            "evaluate**.")

ended = [j for j in jobs().list(dataset=fp, limit=30) if not j.active]
if ended:
    with st.expander(f"Recent jobs ({len(ended)})"):
        for job in ended:
            job_line(job)

models_panel()

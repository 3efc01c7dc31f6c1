"""Campaigns: plan one (scope, audience, forecast with its interval, money, control group),
hand it over as a self-contained plan, and read it back afterwards."""

import streamlit as st

from recsys import campaign as cp
from recsys import insights
from recsys.errors import safe_message
from recsys.plan_report import plan_figures, plan_html, plan_lines, plan_metrics
from recsys.workflow import CAMPAIGN_WINDOW_DAYS
from ui import campaign as ui_campaign
from ui.cache import campaign_plan, currency, current_data, data_key
from ui.jobs import job_line, watch
from ui.routing import routed
from ui.widgets import download, intro

routed()  # a deep link as a fresh server's first request skips the router
st.header("Campaigns")
intro("campaigns")
data = current_data()
money = insights.currency_prefix(currency())
days = CAMPAIGN_WINDOW_DAYS
model, inputs = ui_campaign.inputs(data, money, days)
cutoff = cp.default_cutoff(data, days)

# The fits are jobs (the backtest's model, the audience's, the track record's); the plan
# itself is pure and cached by their ids and the inputs.
model, jobs, note = ui_campaign.usable_jobs(data_key(), model, cutoff, days)
if note:
    st.info(note)
needed = [jobs[str(cutoff)], jobs["live"]]
if any(j.active for j in needed):
    st.info("Fitting the campaign model in the background: on the orders before "
            f"{cutoff} (the backtest) and on all of them (the audience)…")
    watch([j for j in needed if j.active])
    st.stop()
for job in needed:
    if not job.result:
        job_line(job)
        st.stop()
done = {c: j.model_id for c, j in jobs.items() if j.result and j.model_id}
try:
    plan = campaign_plan(done, model, str(cutoff), inputs)
except ValueError as exc:
    st.error(f"Could not plan this campaign: {safe_message(exc)}")
    st.stop()

lines = plan_lines(plan)
for key in [k for k in lines if k.startswith("warning")]:
    st.warning(lines.pop(key))
if not plan.evidence.buyers:
    st.stop()
for col, (label, value, under) in zip(st.columns(4), plan_metrics(plan)):
    col.metric(label, value, under, delta_color="off", delta_arrow="off")
for key in ("headline", "offers", "money", "size", "control", "evidence", "track"):
    if key in lines:
        st.write(lines[key])
figs = plan_figures(plan)
cols = st.columns(2)
for i, fig in enumerate(figs.values()):
    cols[i % 2].plotly_chart(fig, width="stretch")
if len(plan.track) < ui_campaign.TRACK_WINDOWS:
    st.caption("The track record (the same plan on the last windows) appears when its "
               "models are fitted in the background.")

st.subheader("Target list")
st.dataframe(plan.targets.head(200), hide_index=True, width="stretch")
name = "_".join(plan.inputs.scope.items[:1]) or "campaign"
d1, d2 = st.columns(2)
with d1:
    download("Download the plan (HTML, opens offline)", lambda: plan_html(plan),
             f"campaign_plan_{name}.html", mime="text/html", key=(plan.fingerprint(),))
with d2:
    download("Download the target list (CSV)", lambda: insights.safe_csv(plan.targets),
             f"targets_{name}.csv", key=(plan.fingerprint(),))

with st.expander("Read a campaign back"):
    ui_campaign.read_back_panel(data, money, list(plan.inputs.scope.items), plan.plan_time)
with st.expander("A product that has not sold yet (cold start)"):
    ui_campaign.new_product_panel(data)

"""Campaigns: who to target for a product, how many, and what it should return."""

import streamlit as st

from recsys import campaign as cp
from recsys import insights, viz
from recsys.errors import safe_message
from recsys.models import NewProduct, registry
from recsys.requests import CampaignRequest, ServeRequest
from recsys.workflow import CAMPAIGN_WINDOW_DAYS
from ui.cache import (
    currency,
    current_data,
    data_key,
    model,
    product_backtest,
)
from ui.jobs import ensure, job_line, served, watch
from ui.routing import routed
from ui.widgets import download, intro

routed()  # a deep link as a fresh server's first request skips the router
st.header("Campaigns")
intro("campaigns")
data = current_data()

choices = insights.product_choices(data)
c1, c2 = st.columns([2, 1])
item = c1.selectbox("Product to promote", list(choices), format_func=choices.get, key="product")
offered = registry.campaign_models()
compare = c2.multiselect("Models (up to two)", offered, default=offered[:2], max_selections=2,
                         help=" ".join(f"{m}: {registry.spec(m).description}"
                                       for m in offered[:2]))
e1, e2, e3, e4, e5 = st.columns(5)
cutoff = e1.date_input("Backtest cutoff", value=cp.default_cutoff(data, CAMPAIGN_WINDOW_DAYS))
window = e2.number_input("Window (days)", 7, 120, CAMPAIGN_WINDOW_DAYS, key="window")
cost = e3.number_input("Cost per contact", 0.0, 100.0, 0.35, step=0.05, key="cost")
fixed = e4.number_input("Fixed cost", 0.0, 1e6, 0.0, step=50.0, key="fixed")
margin_pct = e5.number_input("Margin % of price", 1.0, 100.0, 30.0, key="margin")
econ = cp.Economics(cost_per_contact=cost, fixed_cost=fixed, margin_pct=margin_pct / 100,
                    currency=insights.currency_prefix(currency()))
if not compare:
    st.info("Pick a model to backtest.")
    st.stop()

# Stage 1 (the model before the cutoff) is a job; stage 2 is cached per product; pricing is
# recomputed on every change, in milliseconds.
fits = {m: ensure(CampaignRequest.of(data_key(), m, str(cutoff), int(window)))
        for m in compare}
if any(j.active for j in fits.values()):
    st.info("Fitting the models on the orders before the cutoff (in the background)…")
    watch([j for j in fits.values() if j.active])
    st.stop()
for job in fits.values():
    if not job.result:
        job_line(job)
        st.stop()
try:
    backtests = {m: product_backtest(j.model_id, str(cutoff), int(window), item)
                 for m, j in fits.items()}
except ValueError as exc:
    st.error(f"Could not backtest: {safe_message(exc)}")
    st.stop()
first = backtests[compare[0]]
priced = {m: bt.priced(econ) for m, bt in backtests.items()}
curves = {m: p[m] for m, p in priced.items()}
curves.update({h: priced[compare[0]][h] for h in cp.HEURISTICS})
best, even = cp.best_sizes(curves[compare[0]])
size = st.slider("Audience size", 1, int(curves[compare[0]]["n"].max()), best)
st.success(cp.summary_sentence(curves[compare[0]], size, first.base_rate, econ))
st.caption(f"{first.positives} of the candidates bought it in the {window} days after "
           f"the cutoff. Best expected profit at {best:,}; breaks even up to {even:,}.")
figs = viz.campaign_curves(curves, size, econ.currency)
cols = st.columns(3)
for col, key in zip(cols, ("recall", "lift", "expected_profit")):
    col.plotly_chart(figs[key], width="stretch")

st.subheader("Target list (models fitted on all data)")
live = ensure(ServeRequest.for_campaigns(data_key(), compare[0]))
if live.active:
    watch([live])
elif live.result:
    targets = cp.target_list(model(live.model_id), data, item, first.calibration,
                             n=size)
    st.dataframe(targets.head(200), hide_index=True, width="stretch")
    download("Download target list", lambda: insights.safe_csv(targets), f"targets_{item}.csv")
else:
    job_line(live)

with st.expander("A product that has not sold yet (cold start)"):
    n1, n2, n3 = st.columns(3)
    name = n1.text_input("Name", "RED SPOTTY CAKE STAND")
    cat = n2.text_input("Category", "")
    price = n3.number_input("Price", 0.0, 1e4, 4.95)
    if not served("new_items"):
        st.caption(f"Train {' or '.join(registry.names(new_items=True))} on the Models page "
                   "to score new products.")
    elif st.toggle("Score this new product"):
        cold = model(next(iter(served("new_items").values())).serving_id)
        st.dataframe(cp.target_list(cold, data, NewProduct(name, cat or None, price), None,
                                    n=50), hide_index=True)

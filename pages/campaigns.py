"""Campaigns: who to target for a product, how many, and what it should return."""

import streamlit as st

from recsys import campaign as cp
from recsys import insights, viz
from recsys.models import NewProduct, registry
from recsys.workflow import default_cutoff
from ui.cache import (
    campaign_model,
    campaign_product,
    current_data,
    current_fingerprint,
    trained_models,
)
from ui.widgets import download

st.header("Campaigns")
data = current_data()
models = trained_models()

choices = insights.product_choices(data)
c1, c2 = st.columns([2, 1])
item = c1.selectbox("Product to promote", list(choices), format_func=choices.get, key="product")
offered = registry.campaign_models()
compare = c2.multiselect("Models (up to two)", offered, default=offered[:2], max_selections=2,
                         help=" ".join(f"{m}: {registry.spec(m).description}"
                                       for m in offered[:2]))
e1, e2, e3, e4, e5 = st.columns(5)
cutoff = e1.date_input("Backtest cutoff", value=default_cutoff(data))
window = e2.number_input("Window (days)", 7, 120, 30, key="window")
cost = e3.number_input("Cost per contact", 0.0, 100.0, 0.35, step=0.05, key="cost")
fixed = e4.number_input("Fixed cost", 0.0, 1e6, 0.0, step=50.0, key="fixed")
margin_pct = e5.number_input("Margin % of price", 1.0, 100.0, 30.0, key="margin")
econ = cp.Economics(cost_per_contact=cost, fixed_cost=fixed, margin_pct=margin_pct / 100)

if not compare:
    st.info("Pick a model to backtest.")
    st.stop()
try:  # stages 1-2 are cached by dataset, model, cutoff, window and product; money is not
    backtests = {m: campaign_product(current_fingerprint(), m, str(cutoff), int(window), item,
                                     data) for m in compare}
except ValueError as exc:
    st.error(f"Could not backtest: {exc}")
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
live = campaign_model(compare[0])
targets = cp.target_list(live, data, item, first.calibration, n=size)
st.dataframe(targets.head(200), hide_index=True, width="stretch")
download("Download target list", lambda: insights.safe_csv(targets), f"targets_{item}.csv")

cold = {label: m for label, m in models.items() if registry.spec(m.name).new_items}
with st.expander("A product that has not sold yet (cold start)"):
    n1, n2, n3 = st.columns(3)
    name = n1.text_input("Name", "RED SPOTTY CAKE STAND")
    cat = n2.text_input("Category", "")
    price = n3.number_input("Price", 0.0, 1e4, 4.95)
    if cold and st.button("Score new product"):
        new = NewProduct(name, cat or None, price)
        st.dataframe(cp.target_list(next(iter(cold.values())), data, new, None, n=50),
                     hide_index=True)
    elif not cold:
        st.caption(f"Train {' or '.join(registry.names(new_items=True))} on the Models page "
                   "to score new products.")

"""Customer: profile, purchase history, and each model's recommendations with reasons."""

import streamlit as st

from recsys import insights, viz
from ui.cache import currency, current_data, figure, model, workspace
from ui.jobs import available, default_labels
from ui.routing import routed
from ui.widgets import choice, download, intro

routed()  # a deep link as a fresh server's first request skips the router
st.header("Customer")
intro("customer")
data = current_data()

choices = insights.customer_choices(data)
c1, c2 = st.columns([2, 1])
typed = c2.text_input("…or type a customer ID, e-mail or phone",
                      help="E-mails and phones are looked up by their pseudonym: the raw "
                           "value is never stored.")
cid = (insights.find_customer(data, typed, workspace().pii_key) if typed.strip()
       else c1.selectbox("Customer (most active first)", choices))
if cid is None:
    st.error(f"No customer {typed.strip()!r} in this dataset. Pick one from the list.")
    st.stop()

profile = insights.customer_profile(data, cid)
cols = st.columns(4)
cols[0].metric("Orders", profile["orders"])
cols[1].metric("Spend", insights.money(profile["spend"], currency()))
cols[2].metric("Days since last order", profile["recency_days"])
cols[3].metric("Customer since", profile["first_order"])
st.caption(f"Country: {profile['country'] or 'not given'} · customer {cid}")

history = insights.customer_history(data, cid)
st.plotly_chart(figure("timeline", (cid,), lambda: viz.purchase_timeline(history)),
                width="stretch")
with st.expander(f"Purchase history ({len(history):,} lines)"):
    st.dataframe(history, hide_index=True, width="stretch")

st.subheader("Recommendations")
models = available()
if not models:
    st.stop()
o1, o2, o3 = st.columns(3)
n = o1.slider("How many", 5, 50, 10)
exclude = o2.toggle("Exclude products already bought", value=True)
shown = choice(o3, "Models", list(models), default_labels(models, 3), name="models", multi=True,
               help="Best first by holdout NDCG; stopped and below-best-sellers models are "
                    "labelled and never chosen for you.")
for col, label in zip(st.columns(max(len(shown), 1)), shown):
    table = insights.recommendation_table(model(models[label].serving_id), data, cid, n=n,
                                          exclude_seen=exclude)
    col.markdown(f"**{label}**")
    col.caption(models[label].note)
    col.dataframe(table, hide_index=True, width="stretch")
    with col:
        download(f"Download {label} list", lambda t=table: insights.safe_csv(t),
                 f"recommendations_{cid}_{label}.csv")

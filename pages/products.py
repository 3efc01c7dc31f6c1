"""Products: details, similar products per model, likely buyers, past buyers, sales."""

import streamlit as st

from recsys import insights, viz
from ui.cache import currency, current_data, figure
from ui.cache import model as stored_model
from ui.jobs import available, default_labels
from ui.routing import routed
from ui.widgets import choice, download, intro

routed()  # a deep link as a fresh server's first request skips the router
st.header("Products")
intro("products")
data = current_data()

choices = insights.product_choices(data)
item = st.selectbox("Product (best sellers first; type to search)", list(choices),
                    format_func=choices.get)
p = insights.product_profile(data, item)
cols = st.columns(4)
cols[0].metric("Price", insights.money(p["price"], currency()))
cols[1].metric("Buyers", f"{p['buyers']:,}")
cols[2].metric("Orders", f"{p['orders']:,}")
cols[3].metric("First sold", p["first_seen"])
st.caption(f"Category: {p['category'] or 'none'} · product {item}")
st.plotly_chart(figure("sales", (item,), lambda: viz.sales_over_time(
    insights.product_sales(data, item))), width="stretch")
with st.expander("Who bought it"):
    st.dataframe(insights.product_buyers(data, item), hide_index=True, width="stretch")

models = available()
if not models:
    st.stop()
label = choice(st, "Model", list(models), default_labels(models)[0], name="model",
               help="Best first by holdout NDCG; the version serving the pages is fitted on "
                    "all orders once its refit is done.")
model = stored_model(models[label].serving_id)
left, right = st.columns(2)
with left:
    st.subheader("Similar products")
    st.dataframe(insights.similar_table(model, data, item, n=10), hide_index=True,
                 width="stretch")
with right:
    st.subheader("Most likely next buyers")
    n = st.slider("Audience size", 10, 500, 50, step=10)
    targets = insights.target_table(model, data, item, n=n)
    st.dataframe(targets, hide_index=True, width="stretch", height=300,
                 column_order=["rank", "customer_id", "likely", "orders", "country"],
                 column_config={"likely": st.column_config.Column(
                     "How likely", help="Where the customer stands among all the model's "
                                        "customers for this product (the download keeps the "
                                        "model's raw score).")})
    download("Download target list", lambda: insights.safe_csv(targets),
             f"targets_{item}_{label}.csv")

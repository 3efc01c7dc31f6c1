"""Embeddings: customers or products in 2D, clusters, their profiles, and neighbours."""

import streamlit as st

from recsys import insights, segments, viz
from recsys.models import registry
from ui.cache import current_data, get_model, model_keys, segments_for
from ui.widgets import download

st.header("Embeddings and segments")
data = current_data()
keys = {label: k for label, k in model_keys().items()
        if registry.spec(get_model(k).name).item_vectors}
if not keys:
    st.info("None of the models trained on this dataset has embeddings: train one of "
            f"{', '.join(registry.names(item_vectors=True))} on the Models page.")
    st.stop()

c1, c2, c3 = st.columns(3)
label = c1.selectbox("Model", list(keys))
model = get_model(keys[label])
has_customers = registry.spec(model.name).customer_vectors
what = c2.radio("Show", ["customers", "items"] if has_customers else ["items"],
                horizontal=True, format_func={"customers": "Customers", "items": "Products"}.get)
method = c3.selectbox("Projection", ["pca", "umap", "tsne"],
                      help="PCA is instant. UMAP (cosine) shows local structure best; its "
                           "first run in a fresh server compiles for about a minute.")
if not has_customers:
    st.caption(f"{label} has no customer embeddings; train "
               f"{', '.join(registry.names(customer_vectors=True))} on the Models page to see "
               "customers.")

res = segments_for(keys[label] + what + method, what, method, model, data)
points = res["points"]
options = ["cluster", "country", "rfm segment", "orders"] if what == "customers" \
    else ["cluster", "category", "price", "purchases"]
colour = st.selectbox("Colour by", options)
title = f"{len(points):,} {what} · {method.upper()}" + (" (stratified sample)" if res["sampled"]
                                                         else "")
event = st.plotly_chart(viz.embedding_scatter(points, colour, title), on_select="rerun",
                        selection_mode="points", key="scatter")
picked = event.selection.points if event and event.selection else []
if picked:
    row = int(picked[0]["point_index"]) if "point_index" in picked[0] else 0
    focus = points.iloc[row]
    st.markdown(f"**Nearest to {focus['label']}** (full {res['vectors'].shape[1]}-d embedding)")
    st.dataframe(segments.neighbour_table(res["ids"], res["vectors"], focus["id"]),
                 hide_index=True)
else:
    st.caption("Select a point to see its nearest neighbours in the full embedding.")

left, right = st.columns([1, 2])
left.plotly_chart(viz.silhouette_curve(res["silhouette"], res["k"]), width="stretch")
gap = res["chosen_silhouette"] - res["baseline_silhouette"]
left.metric("Silhouette: embedding (vs hand-crafted features)",
            f"{res['chosen_silhouette']:.3f}", f"{gap:+.3f} vs baseline")
right.dataframe(segments.profile_table(res["clusters"]), hide_index=True, width="stretch")
d1, d2 = st.columns(2)
with d1:
    download("Download embeddings", lambda: insights.safe_csv(
        segments.vectors_table(res["ids"], res["vectors"])), f"{label}_{what}_embeddings.csv")
with d2:
    download("Download cluster assignments", lambda: insights.safe_csv(
        segments.assignments_table(res["ids"], res["labels"])), f"{label}_{what}_clusters.csv")

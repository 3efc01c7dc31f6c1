"""Embeddings: customers or products in 2D, clusters, their profiles, and neighbours. The
clustering and projection run as background jobs; their results are kept."""

import streamlit as st

from recsys import insights, segments, viz
from recsys.models import registry
from recsys.workflow import segments_request
from ui.cache import current_fingerprint, current_ref, result
from ui.cache import model as stored_model
from ui.jobs import available, ensure, job_line, watch
from ui.widgets import download, intro

st.header("Embeddings and segments")
intro("embeddings")
models = available("item_vectors")
if not models:
    st.caption(f"Models with embeddings: {', '.join(registry.names(item_vectors=True))}.")
    st.stop()

c1, c2, c3 = st.columns(3)
label = c1.selectbox("Model", list(models))
model = stored_model(models[label].serving_id)
has_customers = registry.spec(model.name).customer_vectors
what = c2.radio("Show", ["customers", "items"] if has_customers else ["items"],
                horizontal=True, format_func={"customers": "Customers", "items": "Products"}.get)
method = c3.selectbox("Projection", ["pca", "umap", "tsne"],
                      help="PCA is ready as soon as a model is trained. UMAP (cosine) shows "
                           "local structure best; it and t-SNE run as background jobs.")
if not has_customers:
    st.caption(f"{label} has no customer embeddings; train "
               f"{', '.join(registry.names(customer_vectors=True))} on the Models page to see "
               "customers.")

job = ensure(segments_request(current_ref(), current_fingerprint(), models[label].serving_id,
                              what, method))
if job.active:
    watch([job])
    st.stop()
if not job.result:
    job_line(job)
    st.stop()
res, frames, arrays = result(job.result["result"])
points, ids, vectors = frames["points"], arrays["ids"], arrays["vectors"]
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
    st.markdown(f"**Nearest to {focus['label']}** (full {vectors.shape[1]}-d embedding)")
    st.dataframe(segments.neighbour_table(ids, vectors, focus["id"]), hide_index=True)
else:
    st.caption("Select a point to see its nearest neighbours in the full embedding.")

left, right = st.columns([1, 2])
curve = {int(k): v for k, v in res["silhouette"].items()}
left.plotly_chart(viz.silhouette_curve(curve, res["k"]), width="stretch")
gap = res["chosen_silhouette"] - res["baseline_silhouette"]
left.metric("Silhouette: embedding (vs hand-crafted features)",
            f"{res['chosen_silhouette']:.3f}", f"{gap:+.3f} vs baseline")
right.dataframe(segments.profile_table(res["clusters"]), hide_index=True, width="stretch")
d1, d2 = st.columns(2)
with d1:
    download("Download embeddings", lambda: insights.safe_csv(
        segments.vectors_table(ids, vectors)), f"{label}_{what}_embeddings.csv")
with d2:
    download("Download cluster assignments", lambda: insights.safe_csv(
        segments.assignments_table(ids, arrays["labels"])), f"{label}_{what}_clusters.csv")

"""Embeddings: customers or products in 2D, segments, what they are worth and what to promote
to each. Clustering and projection run as background jobs; their results are kept."""

import streamlit as st

from recsys import insights, segments, viz
from recsys.models import registry
from recsys.requests import SegmentsRequest
from ui.cache import currency, data_key, figure, result
from ui.cache import model as stored_model
from ui.jobs import available, default_labels, ensure, job_line, watch
from ui.routing import routed
from ui.widgets import choice, download, intro

routed()  # a deep link as a fresh server's first request skips the router
st.header("Embeddings and segments")
intro("embeddings")
models = available("item_vectors")
if not models:
    st.caption(f"Models with embeddings: {', '.join(registry.names(item_vectors=True))}.")
    st.stop()

c1, c2, c3 = st.columns(3)
label = choice(c1, "Model", list(models), default_labels(models)[0], name="vectors")
model = stored_model(models[label].serving_id)
has_customers = registry.spec(model.name).customer_vectors
what = c2.radio("Show", ["customers", "items"] if has_customers else ["items"],
                horizontal=True, format_func={"customers": "Customers", "items": "Products"}.get)
method = choice(c3, "Projection", ["pca", "umap", "tsne"], "pca", name="projection",
                help="PCA is ready as soon as a model is trained. UMAP (cosine) shows local "
                     "structure best; it and t-SNE run as background jobs.")
job = ensure(SegmentsRequest(data_key(), models[label].serving_id, what, method,
                             models[label].holdout_id))
if job.active:
    watch([job])
    st.stop()
if not job.result:
    job_line(job)
    st.stop()
res, frames, arrays = result(job.result_key)
points, ids, vectors = frames["points"], arrays["ids"], arrays["vectors"]
options = ["cluster", "rfm segment", "country", "orders"] if what == "customers" \
    else ["cluster", "category", "price", "purchases"]
colour = st.selectbox("Colour by", options)
title = f"{len(points):,} {what} · {method.upper()}" + (" (stratified sample)" if res["sampled"]
                                                         else "")
event = st.plotly_chart(figure("scatter", (job.result_key, colour),
                               lambda: viz.embedding_scatter(points, colour, title)),
                        on_select="rerun", selection_mode="points", key="scatter")
picked = event.selection.points if event and event.selection else []
if picked:
    focus = points.iloc[int(picked[0].get("point_index", 0))]
    st.markdown(f"**Nearest to {focus['label']}** (full {vectors.shape[1]}-d embedding)")
    st.dataframe(segments.neighbour_table(ids, vectors, focus["id"]), hide_index=True)
else:
    st.caption("Select a point to see its nearest neighbours in the full embedding.")

if res.get("value"):
    value = res["value"]
    left, right = st.columns([3, 2])
    left.plotly_chart(viz.segment_usefulness(value), width="stretch")
    right.caption(insights.segment_value_sentence(value))
st.dataframe(segments.profile_table(res["clusters"], insights.currency_prefix(currency())),
             hide_index=True, width="stretch")
if "promote" in frames and len(frames["promote"]):
    left, right = st.columns([3, 2])
    seg = left.selectbox("What to promote to segment", sorted(frames["promote"]["segment"]
                                                              .unique()),
                         format_func=segments.segment_names(res["clusters"]).get)
    left.dataframe(insights.promote_table(frames["promote"], seg), hide_index=True,
                   width="stretch")
    right.plotly_chart(viz.rfm_mix(frames["rfm"]), width="stretch")
with st.expander("How the number of segments was chosen"):
    if res.get("choice"):
        st.caption(res["choice"]["why"])
        st.plotly_chart(viz.segment_count_curve(res["choice"]), width="stretch")
    else:
        st.plotly_chart(viz.silhouette_curve({int(k): v for k, v in res["silhouette"].items()},
                                             res["k"]), width="stretch")
d1, d2 = st.columns(2)
with d1:
    download("Download embeddings", lambda: insights.safe_csv(
        segments.vectors_table(ids, vectors)), f"{label}_{what}_embeddings.csv",
        key=(job.result_key,))
with d2:
    download("Download segment of each", lambda: insights.safe_csv(
        segments.assignments_table(ids, arrays["labels"])), f"{label}_{what}_segments.csv",
        key=(job.result_key,))

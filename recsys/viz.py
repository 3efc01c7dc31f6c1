"""Plotly figures for the app, as plain functions of data frames (no streamlit here)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def orders_over_time(weekly: pd.DataFrame) -> go.Figure:
    fig = px.line(weekly, x="timestamp", y="orders",
                  title="Orders per week (complete weeks; weeks end on Sunday)")
    return fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))


def top_products(top: pd.DataFrame) -> go.Figure:
    fig = px.bar(top.iloc[::-1], x="customers", y="name", orientation="h",
                 title="Top products (distinct buyers)")
    return fig.update_layout(height=420, margin=dict(l=10, r=10, t=40, b=10), yaxis_title="")


def per_customer(dist: pd.DataFrame) -> go.Figure:
    fig = px.bar(dist, x="orders", y="customers", title="Orders per customer (30 = 30+)")
    return fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))


def countries(df: pd.DataFrame) -> go.Figure:
    fig = px.bar(df, x="country", y="customers", title="Customers by country")
    return fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))


def summary_charts(frames: dict[str, pd.DataFrame]) -> list[go.Figure]:
    """The Data page's four charts, in reading order, from ``insights.summary_frames``."""
    return [orders_over_time(frames["weekly"]), per_customer(frames["per_customer"]),
            top_products(frames["top_items"]), countries(frames["countries"])]


def leaderboard(board: pd.DataFrame, metric: str = "ndcg") -> go.Figure:
    """Bars with 95% bootstrap CIs, best first."""
    b = board.sort_values(metric, ascending=True)
    err = dict(type="data", symmetric=False, array=b[f"{metric}_hi"] - b[metric],
               arrayminus=b[metric] - b[f"{metric}_lo"]) if f"{metric}_lo" in b else None
    fig = go.Figure(go.Bar(x=b[metric], y=b["model"], orientation="h", error_x=err))
    return fig.update_layout(title=f"Ranking quality ({metric.upper()}@K) on the holdout, "
                                   "with 95% intervals", height=320,
                             margin=dict(l=10, r=10, t=40, b=10))


def training_curve(history: list[dict]) -> go.Figure:
    """Loss (top) and validation NDCG (below, when there is one) by whole epoch, each on its
    own numeric scale, across training phases (validation, then the refit)."""
    df = pd.DataFrame(history)
    if "step" not in df:
        df["step"] = range(1, len(df) + 1)
    shown = [c for c in ("loss", "val_ndcg") if c in df and
             pd.to_numeric(df[c], errors="coerce").notna().any()]
    names = {"loss": "training loss", "val_ndcg": "validation NDCG@10"}
    fig = make_subplots(rows=max(len(shown), 1), cols=1, shared_xaxes=True,
                        vertical_spacing=0.08)
    for row, col in enumerate(shown, start=1):
        d = df.assign(**{col: pd.to_numeric(df[col], errors="coerce")}).dropna(subset=[col])
        fig.add_trace(go.Scatter(x=d["step"], y=d[col], name=names[col], mode="lines+markers"),
                      row=row, col=1)
        fig.update_yaxes(title_text=names[col], row=row, col=1)
    fig.update_xaxes(dtick=1, tickformat="d", title_text="epoch (validation, then refit)",
                     row=max(len(shown), 1), col=1)
    return fig.update_layout(height=160 + 110 * len(shown), showlegend=False,
                             margin=dict(l=10, r=10, t=30, b=10))


def tuning_curve(history: list[dict]) -> go.Figure:
    """Validation NDCG of every tuning trial (dots, one colour per model) and the best so far
    (a line per model)."""
    df = pd.DataFrame([h for h in history if "trial" in h])
    fig = go.Figure()
    if df.empty:
        return fig
    for i, (model, d) in enumerate(df.groupby("model", sort=False)):
        colour = px.colors.qualitative.Plotly[i % 10]
        done = d.dropna(subset=["val_ndcg"])
        fig.add_trace(go.Scatter(x=done["trial"], y=done["val_ndcg"], mode="markers",
                                 name=f"{model} trials", marker=dict(color=colour, size=6),
                                 text=done["state"], hovertemplate="trial %{x}: %{y:.4f} "
                                 "(%{text})<extra></extra>"))
        fig.add_trace(go.Scatter(x=d["trial"], y=d["best"], mode="lines", line_shape="hv",
                                 name=f"{model} best so far", line=dict(color=colour)))
    return fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                             xaxis=dict(title="trial"),
                             yaxis=dict(title="validation NDCG@10"))


def purchase_timeline(history: pd.DataFrame) -> go.Figure:
    fig = px.scatter(history, x="timestamp", y="category", hover_name="name",
                     size="quantity", size_max=14, title="Purchase history")
    return fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10))


def sales_over_time(sales: pd.DataFrame) -> go.Figure:
    fig = px.bar(sales, x="timestamp", y="units", title="Units sold per week")
    return fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10))


def embedding_scatter(points: pd.DataFrame, colour: str, title: str) -> go.Figure:
    hover = [c for c in points.columns if c not in ("x", "y", "label")]
    order = {"cluster": sorted(points["cluster"].unique(), key=lambda v: int(v)),
             "rfm segment": ["active", "warm", "cooling", "lapsed"]}
    fig = px.scatter(points, x="x", y="y", color=colour, hover_name="label",
                     hover_data=hover, title=title, opacity=0.75, category_orders=order)
    fig.update_traces(marker=dict(size=5))
    return fig.update_layout(height=560, margin=dict(l=10, r=10, t=40, b=10),
                             xaxis=dict(showticklabels=False, title=""),
                             yaxis=dict(showticklabels=False, title=""))


def segment_usefulness(value: dict) -> go.Figure:
    """Holdout NDCG@10 of each way of segmenting customers, the embedding's highlighted."""
    names = list(value["ndcg"])[::-1]
    vals = [value["ndcg"][n] for n in names]
    colours = ["#d62728" if n == "embedding segments" else "#9aa5b1" for n in names]
    fig = go.Figure(go.Bar(x=vals, y=names, orientation="h", marker_color=colours,
                           text=[f"{v:.3f}" for v in vals], textposition="auto"))
    return fig.update_layout(
        title=f"How well {value['k']} segments predict next purchases (holdout NDCG@10)",
        height=260, margin=dict(l=10, r=10, t=40, b=10), xaxis_title="NDCG@10 of the "
        "segment's best sellers, on orders from " + value["cutoff"])


def rfm_mix(table: pd.DataFrame) -> go.Figure:
    """Each segment's members by how recently they ordered (stacked shares)."""
    fig = go.Figure()
    colours = {"active": "#2ca02c", "warm": "#98df8a", "cooling": "#ffbb78", "lapsed": "#d62728"}
    for status, colour in colours.items():
        if status in table:
            fig.add_trace(go.Bar(x=table["segment"].astype(str), y=table[status], name=status,
                                 marker_color=colour))
    return fig.update_layout(barmode="stack", title="Segments by last order (RFM recency)",
                             height=300, yaxis_tickformat=".0%", xaxis_title="segment",
                             margin=dict(l=10, r=10, t=40, b=10))


def segment_count_curve(choice: dict) -> go.Figure:
    """How well K segments predict next purchases (NDCG@10 of their best sellers on the
    holdout) and how distinct their baskets are, by K; the chosen K marked."""
    ks = [int(k) for k in choice["curve"]]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=ks, y=[v["ndcg"] for v in choice["curve"].values()],
                             mode="lines+markers", name="predicts next purchases (NDCG@10)"))
    fig.add_trace(go.Scatter(x=ks, y=[v["distinct"] for v in choice["curve"].values()],
                             mode="lines+markers", name="distinct from the nearest other segment",
                             line_dash="dot"),
                  secondary_y=True)
    fig.add_hline(y=choice["everyone"], line_dash="dash", line_color="grey",
                  annotation_text="one list for everyone")
    fig.add_vline(x=choice["k"], line_dash="dot", annotation_text=f"chosen: {choice['k']}")
    fig.update_yaxes(title_text="NDCG@10", secondary_y=False)
    fig.update_yaxes(title_text="distinctness", secondary_y=True)
    return fig.update_layout(height=300, xaxis_title="number of segments", xaxis_dtick=1,
                             margin=dict(l=10, r=10, t=30, b=10),
                             legend=dict(orientation="h", y=-0.3))


def silhouette_curve(curve: dict[int, float], chosen: int) -> go.Figure:
    fig = px.line(x=list(curve), y=list(curve.values()), markers=True,
                  labels={"x": "K (clusters)", "y": "silhouette (cosine)"},
                  title="Silhouette by number of clusters")
    fig.add_vline(x=chosen, line_dash="dot")
    return fig.update_layout(height=280, margin=dict(l=10, r=10, t=40, b=10))

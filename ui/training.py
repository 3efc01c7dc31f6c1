"""Training with live progress: a status box, a progress bar and a loss/validation curve."""

from __future__ import annotations

import time

import streamlit as st

from recsys import viz
from recsys.models import make_model
from recsys.workflow import fit_evaluate, fit_serving, model_key
from ui import state as S
from ui.cache import current_fingerprint, put_model, trained_labels


class Progress:
    """The callback given to ``fit``: redraws at most a few times per second."""

    def __init__(self, box, cap: int) -> None:
        self.bar = box.progress(0.0, text="starting…")
        self.chart = box.empty()
        self.history: list[dict] = []
        self.cap = max(cap, 1)
        self.last = 0.0

    def __call__(self, epoch: int, metrics: dict) -> None:
        if set(metrics) == {"progress"}:  # a heartbeat inside an epoch
            frac = (epoch - 1 + metrics["progress"]) / self.cap
            self.bar.progress(min(frac, 1.0), text=f"epoch {epoch}: "
                              f"{metrics['progress']:.0%} of the training lines")
            return
        self.history.append({"step": len(self.history) + 1, **metrics})
        text = f"epoch {epoch} · " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()
                                               if isinstance(v, float) and k != "stop")
        self.bar.progress(min(len(self.history) / self.cap, 1.0), text=text)
        if time.perf_counter() - self.last > 0.3 and any("loss" in h for h in self.history):
            self.chart.plotly_chart(viz.training_curve(self.history), width="stretch",
                                    key=f"curve-{id(self)}-{len(self.history)}")
            self.last = time.perf_counter()


def train(data, name: str, params: dict, cutoff: str | None, label: str) -> None:
    """Fit on the holdout split and evaluate, then fit on all data for the other pages."""
    cap = make_model(name, **params).progress_steps()
    with st.status(f"Training {label}…", expanded=True) as box:
        box.write("1/2 · fit before the cutoff and score the holdout")
        row = fit_evaluate(data, name, params, cutoff=cutoff, callback=Progress(box, cap))
        box.write(f"NDCG@10 {row['ndcg']:.4f} on {row['customers']:,} customers; "
                  "2/2 · refit on all data for recommendations")
        model = fit_serving(data, name, params, callback=Progress(box, cap))
        fp = current_fingerprint()
        key = model_key(fp, name, params)
        put_model(key, model)
        trained_labels()[label] = key
        st.session_state[S.RESULTS].setdefault(fp, {})[label] = {**row, "model": label}
        box.update(label=f"{label}: NDCG@10 {row['ndcg']:.4f}", state="complete",
                   expanded=False)

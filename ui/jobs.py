"""The app's side of the job layer: submitting requests, showing what runs (refreshed every
second while anything does), and the models a dataset has. Pages submit and poll; the work
happens in worker processes, and its results land in the workspace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from recsys import viz
from recsys.jobs import FAILED, Job, Jobs, JobTableDamaged, ReadOnlyWorkspace
from recsys.models import registry
from recsys.presentation import job_details
from recsys.requests import Request
from recsys.workflow import Served, default_models, served_models, starter_requests
from recsys.workspace import Workspace
from ui import state as S
from ui.cache import current_data, current_fingerprint, data_key, workspace
from ui.routing import on_shown_page


@st.cache_resource
def _jobs(root: str) -> Jobs:
    jobs = Jobs(Workspace(root))
    # A (re)started server: jobs whose worker is gone end as failed, and raw uploads no
    # running import needs are deleted.
    jobs.reap()
    return jobs


def jobs() -> Jobs:
    return _jobs(str(workspace().root))


@contextmanager
def job_table_guard() -> Iterator[None]:
    """A damaged job table or a read-only workspace stops the page with what to do (and a
    button that rebuilds the table), never with a traceback."""
    try:
        yield
    except JobTableDamaged as exc:
        st.error(str(exc))
        st.button("Rebuild the job table", type="primary", on_click=_rebuild)
        st.stop()
    except ReadOnlyWorkspace as exc:
        st.error(str(exc))
        st.stop()


def _rebuild() -> None:
    aside, n = Jobs.rebuild(workspace())
    _jobs.clear()
    st.session_state[S.NOTICE] = (f"The job table was made again: {n} finished jobs listed "
                                  "from the models, results and datasets on disk"
                                  + ("; the damaged file was kept beside it." if aside else "."))


def read_only() -> bool:
    return jobs().store.readonly


def submit(request: Request, priority: int = 0, reuse: bool = True) -> Job:
    """Ask for this work (an identical finished or running job is reused)."""
    return jobs().submit(request, priority=priority, reuse=reuse)


def ensure(request: Request, priority: int = 0) -> Job:
    """The job for this request, asked for only if there is none (a failed one is shown,
    not retried on every rerun)."""
    return jobs().ensure(request, priority=priority)


def warm_up() -> None:
    """A dataset seen for the first time gets its starter models and campaign backtests as
    background jobs, so every page fills without anyone pressing Train. They are queued
    now (the page shows them) and started by ``start_deferred`` once the page is drawn:
    worker processes starting up would take the cores the first page needs."""
    if read_only() or jobs().list(dataset=current_fingerprint(), limit=1):
        return
    for request in starter_requests(data_key(), current_data()):
        jobs().submit(request, priority=1, start=False)
    st.session_state[S.DEFERRED] = True


def start_deferred() -> None:
    """Start the jobs ``warm_up`` queued during this run (after the page is drawn)."""
    if st.session_state.pop(S.DEFERRED, False):
        with job_table_guard():
            jobs().start_queued()


def served(capability: str | None = None) -> dict[str, Served]:
    """label -> the model configurations of this dataset (with a capability, if asked), best
    first (``recsys.workflow.served_models``)."""
    return {s.label: s for s in served_models(workspace(), current_fingerprint())
            if capability is None or getattr(registry.spec(s.model), capability)}


def default_labels(models: dict[str, Served], n: int = 1) -> list[str]:
    """What a page shows before the analyst chooses: the ``n`` best eligible models (never a
    stopped one or one below best sellers), or the best there is when none is."""
    return [s.label for s in default_models(list(models.values()), n)]


def active() -> list[Job]:
    """This dataset's queued and running jobs."""
    return jobs().list(dataset=current_fingerprint(), states=("queued", "running"))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _queued(job: Job) -> str:
    """Where a waiting job stands: 'queued · next for a free worker', '… · 3rd in line'."""
    place = jobs().store.queue_position(job.id)
    if place is None or place == 1:
        return "queued · next for a free worker"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(place % 10 if place % 100 not in (11, 12, 13)
                                             else 0, "th")
    return f"queued · {place}{suffix} in line for a free worker"


def job_line(job: Job, stop: bool = False, curve: bool = False, details: bool = True) -> None:
    """One job: a progress bar with its step, elapsed time and ETA (or how it ended), with
    ``curve`` its loss / validation NDCG by epoch so far, with ``details`` its settings in
    a details view (the name only says what the job is for)."""
    name = job.label or job.kind
    if job.active:
        wait = _queued(job) if job.state == "queued" else job.step or "starting"
        text = (f"**{name}** · {wait} · {_duration(job.elapsed)} elapsed"
                + (f" · about {_duration(job.eta)} left" if job.eta and job.eta >= 1
                   else " · finishing" if job.eta is not None and job.progress > 0.5 else ""))
        cols = st.columns([6, 1]) if stop else [st]
        cols[0].progress(min(max(job.progress, 0.0), 1.0), text=text)
        if stop and not job.cancel:
            cols[1].button("Stop", key=f"stop-{job.id}", on_click=jobs().cancel,
                           args=(job.id,), help="Ends the job; a model that trains in epochs "
                           "is kept at its best epoch so far (marked partial).")
        elif stop:
            cols[1].caption("stopping…")
        if curve and any("trial" in h for h in job.history):
            st.plotly_chart(viz.tuning_curve(job.history), width="stretch",
                            key=f"trials-{job.id}-{len(job.history)}")
        elif curve and any("loss" in h for h in job.history):
            st.plotly_chart(viz.training_curve(job.history), width="stretch",
                            key=f"curve-{job.id}-{len(job.history)}")
    elif job.state == FAILED:
        st.error(f"**{name}** failed: {job.error}")
    else:
        st.caption(f"**{name}** · {job.state} after {_duration(job.elapsed)}"
                   + (f" · {job.error}" if job.error else ""))
    if details:
        with st.popover("Settings", help="What this job was asked to do"):
            st.markdown("\n".join(f"- **{what}**: {value}"
                                   for what, value in job_details(job.kind, job.params)))


def _watch(ids: tuple[str, ...], stop: bool, curve: bool) -> None:
    if not on_shown_page():
        return  # a late timed rerun from a page the analyst has left
    with job_table_guard():
        jobs().reap()  # a worker that died ends its job as failed; queued jobs get a worker
        now = []
        for job_id in ids:
            job = jobs().get(job_id)
            now.append(job)
            job_line(job, stop, curve)
    if any(not j.active for j in now):
        time.sleep(0.2)  # let the worker's last write land before the page reads results
        _rerun_unless_asked()


def _rerun_unless_asked() -> None:
    """Rerun the page to show what a finished job left, unless the analyst has already
    asked for a run (a page switch, a click): Streamlit folds two pending runs into one on
    the newer one's page, so a rerun asked here would replace their page switch with this
    page, and the page they chose would never open (seen under load, on the Models page
    while jobs ended)."""
    from streamlit.runtime.scriptrunner_utils.script_requests import ScriptRequestType
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    requests = getattr(get_script_run_ctx(), "script_requests", None)
    if getattr(requests, "_state", None) == ScriptRequestType.RERUN:
        return  # theirs runs next, and shows the finished job too
    st.rerun()


_watch_live = st.fragment(run_every=1.0)(_watch)


def watch(running: list[Job], stop: bool = False, curve: bool = False) -> None:
    """Show these jobs, refreshed every second; the page reruns when one of them ends."""
    if running:
        _watch_live(tuple(j.id for j in running), stop, curve)


def available(capability: str | None = None) -> dict[str, Served]:
    """label -> the models this dataset has (with a capability, if asked); load the ones a
    page shows with ``ui.cache.model(served.serving_id)``. When there is none yet, says what
    is training and shows its progress."""
    out = served(capability)
    if not out:
        running = [j for j in active() if j.kind in ("fit", "serve")]
        if running:
            st.info("The first models for this dataset are training in the background; "
                    "this part of the page fills in when they are ready.")
            watch(running)
        else:
            st.info("No model is trained on this dataset yet: train one on the Models page.")
    return out

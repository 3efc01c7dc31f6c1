"""The first page is drawn before the starter jobs take the cores: they are queued while
the page runs (so it can show them) and their workers are started once it is drawn."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from recsys.jobs import Jobs
from recsys.workspace import Workspace
from tests.conftest import APP, no_errors


def test_starters_are_queued_during_the_first_run_and_started_after_it(fake_jobs,
                                                                       monkeypatch):
    events = []
    real_start = type(fake_jobs).start

    def start(self, jobs, job):
        queued = len(jobs.store.list(states=("queued",)))
        events.append(("start", None if job is None else job.id, queued))
        return real_start(self, jobs, job)

    monkeypatch.setattr(type(fake_jobs), "start", start)
    import contextlib

    import ui.timing

    real_run = ui.timing.page_run

    @contextlib.contextmanager
    def page_run(page):
        with real_run(page):
            yield
        events.append(("page drawn",))

    monkeypatch.setattr(ui.timing, "page_run", page_run)
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    no_errors(at)
    starts = [e for e in events if e[0] == "start"]
    assert len(starts) == 1 and starts[0][1] is None  # one start of all that was queued
    assert starts[0][2] >= 3  # the starters were all queued by then
    assert events.index(("page drawn",)) < events.index(starts[0])
    assert len(Jobs(Workspace()).list(states=("queued",))) >= 3  # held: still queued
    at.run()  # a rerun asks for nothing new and starts nothing
    assert len([e for e in events if e[0] == "start"]) == 1

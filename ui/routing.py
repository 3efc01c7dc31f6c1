"""Every page runs inside the router (``app.py``): sign-in gate, settings check, the job
table's guard, the sidebar.

Streamlit still honours its legacy ``pages/`` discovery until some session of a server has
run ``st.navigation``: a deep link (``/models``) as the first request after a start ran the
page file alone, skipping the router and its sign-in gate. Each page therefore calls
``routed()`` first; outside the router it runs the router instead (which shows the page)
and stops."""

from __future__ import annotations

import contextvars
import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from ui import state as S

APP = Path(__file__).resolve().parents[1] / "app.py"
_INSIDE = contextvars.ContextVar("recsys_inside_router", default=False)


@contextmanager
def router() -> Iterator[None]:
    """The router's run of the chosen page (app.py wraps ``nav.run()`` in it); notes which
    page this session now shows (``on_shown_page``)."""
    ctx = get_script_run_ctx()
    st.session_state[S.PAGE_SHOWN] = ctx.page_script_hash if ctx else ""
    token = _INSIDE.set(True)
    try:
        yield
    finally:
        _INSIDE.reset(token)


def on_shown_page() -> bool:
    """Whether this run (a fragment's rerun, say) belongs to the page the session shows.
    The browser can still send a timed rerun of the last page's fragment after a page switch
    (its timer is set again by the last page's late messages); that run must not draw, nor
    rerun the app on its page, which would take the analyst back there."""
    ctx = get_script_run_ctx()
    shown = st.session_state.get(S.PAGE_SHOWN)
    return ctx is None or shown is None or ctx.page_script_hash == shown


def routed() -> None:
    """Called first by every page: outside the router, run the router and stop here."""
    if _INSIDE.get():
        return
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()

"""Shared widgets: the sidebar and small display helpers."""

from __future__ import annotations

import streamlit as st

from recsys.data import CleaningOptions
from recsys.workspace import DatasetRef
from ui import access
from ui import state as S
from ui.cache import current_data, current_ref
from ui.jobs import active, served


def sidebar() -> None:
    """Dataset switcher (demo or any saved dataset) and what is loaded."""
    shared = access.team()
    options = ([DatasetRef.demo()]
               + [DatasetRef.saved(d["name"]) for d in access.home().list_datasets()]
               + [DatasetRef.saved(d["name"], team=True)
                  for d in (shared.list_datasets() if shared else [])])
    current = current_ref()
    if current not in options:
        current = DatasetRef.demo()
    choice = st.sidebar.selectbox("Dataset", options, index=options.index(current),
                                  format_func=lambda r: r.label)
    if choice != current:
        S.set_dataset(choice)
    data = current_data()
    s = data.summary()
    st.sidebar.caption(f"{s['customers']:,} customers · {s['items']:,} products · "
                       f"{s['orders']:,} orders · {s['first'][:10]} to {s['last'][:10]}")
    models, running = served(), active()
    st.sidebar.caption(f"Models: {', '.join(models) or 'none yet'}"
                       + (f" · {len(running)} job(s) running" if running else ""))


def download(label: str, build, file_name: str) -> None:
    """A CSV download built only when clicked (``build`` is a no-argument callable), without
    rerunning the app."""
    st.download_button(label, build, file_name=file_name, mime="text/csv", on_click="ignore")


def cleaning_form() -> dict[str, bool]:
    """One checkbox per cleaning rule (all on by default), labelled by the rule itself."""
    cols = st.columns(2)
    return {k: cols[i % 2].checkbox(f"Drop {text}", value=True, key=f"clean_{k}")
            for i, (k, text) in enumerate(CleaningOptions.switches().items())}


def show_notice() -> None:
    msg = st.session_state.pop(S.NOTICE, None)
    if msg:
        st.success(msg)

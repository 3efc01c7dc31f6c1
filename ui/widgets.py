"""Shared widgets: the sidebar and small display helpers."""

from __future__ import annotations

import streamlit as st

from recsys import store
from ui import state as S
from ui.cache import current_data, dataset_key


def sidebar() -> None:
    """Dataset switcher (demo or any saved dataset) and what is loaded."""
    names = [d["name"] for d in store.list_datasets()]
    options = [S.DEMO] + [f"saved:{n}" for n in names]
    current = dataset_key()
    if current not in options:
        current = S.DEMO
    choice = st.sidebar.selectbox(
        "Dataset", options, index=options.index(current),
        format_func=lambda k: "Demo shop (generated)" if k == S.DEMO else k[6:])
    if choice != current:
        st.session_state[S.DATASET] = choice
    data = current_data()
    s = data.summary()
    st.sidebar.caption(f"{s['customers']:,} customers · {s['items']:,} products · "
                       f"{s['orders']:,} orders · {s['first'][:10]} to {s['last'][:10]}")
    trained = st.session_state[S.TRAINED].get(dataset_key(), {})
    st.sidebar.caption(f"Models trained: {', '.join(trained) or 'none yet'}")


def download(label: str, build, file_name: str) -> None:
    """A CSV download built only when clicked (``build`` is a no-argument callable), without
    rerunning the app."""
    st.download_button(label, build, file_name=file_name, mime="text/csv", on_click="ignore")


def cleaning_form() -> dict[str, bool]:
    """One checkbox per cleaning rule (all on by default)."""
    labels = {
        "drop_cancellations": "Drop cancelled / refunded orders",
        "drop_returns": "Drop returns (zero or negative quantity)",
        "drop_nonpositive_price": "Drop zero or negative prices",
        "drop_missing_customer": "Drop lines without a customer (guests)",
        "drop_non_products": "Drop postage, fees, vouchers, tips",
        "drop_duplicates": "Drop exact duplicate lines",
    }
    cols = st.columns(2)
    return {k: cols[i % 2].checkbox(v, value=True, key=f"clean_{k}")
            for i, (k, v) in enumerate(labels.items())}


def show_notice() -> None:
    msg = st.session_state.pop(S.NOTICE, None)
    if msg:
        st.success(msg)

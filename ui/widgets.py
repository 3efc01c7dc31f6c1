"""Shared widgets: the sidebar and small display helpers."""

from __future__ import annotations

import streamlit as st

from recsys.data import CleaningOptions
from recsys.presentation import param_fields
from recsys.workspace import DatasetRef
from ui import access
from ui import state as S
from ui.cache import current_data, current_ref, download_bytes, workspace
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


def download(label: str, build, file_name: str, mime: str = "text/csv",
             key: tuple | None = None) -> None:
    """A download button whose file always arrives: built now (``build`` is a no-argument
    callable; with ``key``, built once per key and kept), not when clicked. A file built
    on click is dropped when the page re-runs, so a click during a re-run got nothing
    (Streamlit's "Deferred file not found"); a built file outlives the next run."""
    data = download_bytes(file_name, key, build) if key is not None else build()
    st.download_button(label, data, file_name=file_name, mime=mime, on_click="ignore")


def cleaning_form() -> dict[str, bool]:
    """One checkbox per cleaning rule (all on by default), labelled by the rule itself."""
    cols = st.columns(2)
    return {k: cols[i % 2].checkbox(f"Drop {text}", value=True, key=f"clean_{k}")
            for i, (k, text) in enumerate(CleaningOptions.switches().items())}


def param_inputs(name: str) -> dict:
    """A model's settings as form inputs (inside an expander), by their plain names."""
    out = {}
    with st.expander(f"{name} hyper-parameters"):
        for f in param_fields(name):
            key, label, help_ = f"p_{name}_{f['name']}", f["label"], f["help"]
            if f["type"] == "bool":
                out[f["name"]] = st.checkbox(label, f["default"], key=key, help=help_)
            elif f["choices"]:
                out[f["name"]] = st.selectbox(label, f["choices"], key=key, help=help_,
                                              index=f["choices"].index(f["default"]))
            elif f["type"] == "str":
                out[f["name"]] = st.text_input(label, f["default"], key=key, help=help_)
            else:
                fmt = "%g" if f["type"] == "float" else "%d"
                out[f["name"]] = st.number_input(label, value=f["default"], key=key,
                                                 format=fmt, help=help_)
    return out


def show_notice() -> None:
    msg = st.session_state.pop(S.NOTICE, None)
    if msg:
        st.success(msg)


INTRO = {
    "data": "Your shop's orders as the app reads them: what was imported, what cleaning "
            "removed, and who buys what when.",
    "models": "Recommendation models trained on your orders and scored honestly on the weeks "
              "they never saw: the higher the NDCG, the more of what customers bought next "
              "was near the top of their list.",
    "customer": "One customer: what they bought, and what each model would recommend them "
                "next, with the reasons.",
    "products": "One product: how it sells, the products bought with it, and the customers "
                "most likely to buy it next.",
    "embeddings": "Customers (or products) placed by a model's view of their tastes: close "
                  "points buy alike. Segments are groups of them you can target.",
    "campaigns": "Size a campaign for one product: how many buyers each audience size would "
                 "reach, checked on a past month, and what it would cost and earn.",
}


def intro(page: str) -> None:
    """The one line under a page's title: what am I looking at."""
    st.caption(INTRO[page])


def welcome() -> None:
    """A first visit's three steps (shown until dismissed in this session)."""
    if st.session_state.get(S.WELCOMED):
        return
    left, right = st.columns([8, 1])
    left.info("**Welcome.** This is a generated demo shop, so every page already shows "
              "something; upload your own order export under the charts (Shopify, UCI Online "
              "Retail, Instacart, REES46, or any table with a customer, a product and a date).")
    right.button("Got it", on_click=lambda: st.session_state.__setitem__(S.WELCOMED, True))


def currency_setter(code: str | None) -> None:
    """Say which currency the amounts are in, when the export does not (or says wrongly)."""
    ref = current_ref()
    if ref.is_demo:
        return
    with st.popover(f"Currency: {code or 'not set'}"):
        new = st.text_input("Currency code (e.g. GBP, EUR, USD, BDT)", value=code or "")
        if st.button("Save currency"):
            workspace().set_currency(ref, new)
            st.rerun()


def choice(where, label: str, options: list[str], default, *, name: str,
           multi: bool = False, **kw):
    """A selectbox (``multi``: a multiselect) whose choice stays the analyst's: kept in the
    session and the page address as ``name``; ``default`` until they choose."""
    key = f"w_{name}"
    value = S.kept(name, options, default, multi)

    def remember() -> None:
        S.keep(name, st.session_state[key])

    S.show_choice(name)
    if multi:
        return where.multiselect(label, options, default=value, key=key, on_change=remember,
                                 **kw)
    return where.selectbox(label, options, index=options.index(value) if value in options
                           else 0, key=key, on_change=remember, **kw)


def number(where, label: str, low: float, high: float, default: float, *, name: str,
           step: float | None = None, **kw) -> float:
    """A number input whose value stays the analyst's (kept in the session and the page
    address as ``name``, so a shared link opens the same figures)."""
    key = f"w_{name}"
    whole = all(float(v).is_integer() for v in (low, high, default)) and (
        step is None or float(step).is_integer())
    cast = int if whole else float
    value = cast(S.kept_number(name, low, high, default))

    def remember() -> None:
        S.keep(name, st.session_state[key])

    S.show_choice(name)
    return where.number_input(label, cast(low), cast(high), value,
                              step=None if step is None else cast(step), key=key,
                              on_change=remember, **kw)

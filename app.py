"""Streamlit router: page config, shared sidebar, navigation. Start: streamlit run app.py"""

import streamlit as st

from recsys.models import registry
from recsys.settings import problems
from ui import access, state
from ui.jobs import job_table_guard, read_only, start_deferred, warm_up
from ui.routing import router
from ui.timing import page_run
from ui.widgets import sidebar

st.set_page_config(page_title="recsys · recommendation analyst", layout="wide")
for problem in problems():  # a mistyped limit or worker count: said, never ignored
    st.error(f"This server is misconfigured: {problem}")
    st.stop()
registry.load_plugins()  # extra models named in $RECSYS_PLUGINS (the workers load them too)
access.gate()  # behind sign-in, nobody sees anything before signing in
state.init(st.session_state)
state.sync_address()  # the dataset in view survives a reload (and can be linked to)
with job_table_guard():
    warm_up()  # a dataset seen for the first time gets its starter models, in the background
    if read_only():
        st.warning("This workspace is read-only: what is stored can be viewed, but nothing "
                   "can be imported, trained or saved.")

pages = [
    st.Page("pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("pages/models.py", title="Models", icon=":material/leaderboard:"),
    st.Page("pages/customer.py", title="Customer", icon=":material/person:"),
    st.Page("pages/products.py", title="Products", icon=":material/sell:"),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
    st.Page("pages/campaigns.py", title="Campaigns", icon=":material/campaign:"),
]
nav = st.navigation(pages)
try:
    with page_run(getattr(nav, "title", "?")), job_table_guard():
        sidebar()
        with router():
            nav.run()
finally:
    start_deferred()  # the starter jobs, once the first page is drawn

"""Streamlit entry point: page config, shared sidebar, navigation."""

import streamlit as st

from recsys.datasets import load_demo

st.set_page_config(page_title="recsys", layout="wide")
st.title("Recommendation analyst dashboard")
data = st.cache_data(load_demo)()
st.write(data.summary())

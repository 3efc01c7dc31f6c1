"""Streamlit glue: cache wrappers, session-state keys and shared widgets."""

"""Who is using the app, and so which workspace they see.

Without sign-in configured (the local single-analyst default) everyone using this server
shares one workspace, and the Data page says so. Behind sign-in (``st.login`` with an OIDC
provider; see the README for ``.streamlit/secrets.toml``) each analyst has a private
workspace, and a team workspace holds what they share on purpose.
"""

from __future__ import annotations

import streamlit as st

from recsys.workspace import Workspace


def user_id() -> str | None:
    """The signed-in analyst (their provider's subject, else e-mail); None without sign-in."""
    if not st.user.get("is_logged_in"):
        return None
    return str(st.user.get("sub") or st.user.get("email"))


def sign_in_required() -> bool:
    return st.user.get("is_logged_in") is not None


def gate() -> None:
    """With sign-in configured, nobody gets past this without signing in."""
    if sign_in_required() and not st.user.get("is_logged_in"):
        st.title("recsys · recommendation analyst")
        st.write("Sign in to see your shop's data and models; nothing is shared with other "
                 "analysts unless you share it.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()


def home() -> Workspace:
    """This analyst's own workspace (the server's one without sign-in)."""
    root = Workspace()
    uid = user_id()
    if uid is None:
        return root
    return Workspace(root.root, create_key=False).for_user(uid)


def team() -> Workspace | None:
    """The team's shared workspace (only behind sign-in)."""
    if user_id() is None:
        return None
    return Workspace(Workspace().root, create_key=False).team()

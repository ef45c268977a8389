"""The sign-in form: an API key, checked against `GET /auth/me`."""

from __future__ import annotations

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError


def render_sign_in() -> None:
    st.title("Bulk Customer Upload")
    st.write("Sign in with your API key. It is kept for this browser session only.")
    form_column, _ = st.columns([2, 3])
    with form_column, st.form("sign_in"):
        api_key = st.text_input("API key", type="password", key="sign_in_key")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if not api_key.strip():
        st.error("Enter your API key to sign in.")
        return
    try:
        me = ApiClient(session.api_url(), api_key.strip()).me()
    except ApiError as error:
        if error.status_code == 401:
            st.error("That API key was not recognised. Check it and try again.")
        else:
            st.error(f"Signing in failed: {error}")
        return
    session.sign_in(me["name"], me["role"], api_key.strip())
    st.rerun()

"""API keys page (admins): every key with its role, when it was created and last used; a new
key shown once with a copy button; revoking one after a confirmation (it and the sessions
opened with it stop working at once). Names are shown as plain text."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.html_table import text_table
from ui.job_text import when
from ui.markdown import plain

ROLES = ["viewer", "importer", "admin"]
NEW_KEY = "api_key_new"
CONFIRM_KEY = "api_key_revoking"


def render_create(api: ApiClient) -> None:
    with st.form("new_key", clear_on_submit=True):
        st.subheader("Create a key")
        name = st.text_input("Name", max_chars=100, placeholder="CRM sync script")
        role = st.selectbox("Role", ROLES)
        if st.form_submit_button("Create key", type="primary"):
            try:
                created = api.create_key(name.strip(), role)
            except ApiError as error:
                st.error(f"The key was not created: {plain(error)}", icon=":material/error:")
                return
            st.session_state[NEW_KEY] = created["key"]
            st.rerun()


def render_new_key() -> None:
    key = st.session_state.get(NEW_KEY)
    if not key:
        return
    st.success(
        "Key created. Copy it now (the button at the right of the key): it is not shown again.",
        icon=":material/key:",
    )
    st.code(key, language=None)
    if st.button("I have copied it", key="key_copied"):
        st.session_state.pop(NEW_KEY, None)
        st.rerun()


def render_keys(api: ApiClient, keys: list[dict[str, Any]]) -> None:
    text_table(
        [
            {
                "Name": k["name"],
                "Role": k["role"],
                "Created": when(k["createdAt"]) or "set by ADMIN_API_KEY",
                "Last used": when(k["lastUsedAt"]) or "never",
                "Revoked": when(k["revokedAt"]),
            }
            for k in keys
        ],
        "api-keys",
    )
    active = [k for k in keys if k["revokedAt"] is None and k["id"] != "ADMIN_API_KEY"]
    if not active:
        return
    st.subheader("Revoke a key")
    names = {k["id"]: f"{k['name']} ({k['role']}, created {when(k['createdAt'])})" for k in active}
    chosen = st.selectbox("Key to revoke", list(names), format_func=names.__getitem__)
    if st.button("Revoke", icon=":material/block:"):
        st.session_state[CONFIRM_KEY] = chosen
    if st.session_state.get(CONFIRM_KEY) == chosen:
        st.warning(
            "Revoking cannot be undone: scripts and people using this key are refused from "
            "their next request.",
            icon=":material/warning:",
        )
        confirm, cancel = st.columns(2)
        if confirm.button("Yes, revoke it", type="primary"):
            api.revoke_key(chosen)
            st.session_state.pop(CONFIRM_KEY, None)
            session.flash("Key revoked.")
            st.rerun()
        if cancel.button("Keep it"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()


def render() -> None:
    api = session.client()
    st.title("API keys")
    session.show_flash()
    st.caption(
        "Keys for scripts and for signing in. The ADMIN_API_KEY key is governed by its "
        "setting and cannot be revoked here."
    )
    render_new_key()
    render_create(api)
    render_keys(api, api.list_keys())


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

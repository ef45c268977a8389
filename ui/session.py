"""Who is signed in (kept in Streamlit's session state only) and the API client for them."""

from __future__ import annotations

from typing import TypedDict

import streamlit as st

from config import Settings
from ui.api_client import ApiClient

PRINCIPAL_KEY = "principal"
FLASH_KEY = "flash"
FOCUS_JOB_KEY = "focus_job"
ROLE_RANK = {"viewer": 0, "importer": 1, "admin": 2}


class Principal(TypedDict):
    name: str
    role: str
    api_key: str


def api_url() -> str:
    # Read on every call (not the cached get_settings) so API_URL set by a test takes effect.
    return Settings().effective_api_url


def principal() -> Principal | None:
    signed_in: Principal | None = st.session_state.get(PRINCIPAL_KEY)
    return signed_in


def sign_in(name: str, role: str, api_key: str) -> None:
    st.session_state[PRINCIPAL_KEY] = Principal(name=name, role=role, api_key=api_key)


def sign_out() -> None:
    st.session_state.clear()


def client() -> ApiClient:
    signed_in = principal()
    if signed_in is None:
        raise RuntimeError("client() needs a signed-in user; app.py signs in first")
    return ApiClient(api_url(), signed_in["api_key"])


def can_import() -> bool:
    signed_in = principal()
    return signed_in is not None and ROLE_RANK.get(signed_in["role"], -1) >= ROLE_RANK["importer"]


def flash(message: str) -> None:
    """A confirmation to show once, on the next page rendered."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> None:
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(message, icon=":material/check_circle:")

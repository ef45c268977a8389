"""Who is signed in, and the API client for them. The browser holds a sign-in session's token
in an HttpOnly cookie (ui/server.py sets it); the first run of a Streamlit session checks it
with the API and keeps who it names in the session state."""

from __future__ import annotations

from typing import Any, NoReturn, TypedDict

import streamlit as st

from config import Settings
from ui.api_client import ApiClient, SignedOut
from ui.markdown import plain

SESSION_COOKIE = "bcu_session"
PRINCIPAL_KEY = "principal"
FLASH_KEY = "flash"
FOCUS_JOB_KEY = "focus_job"
ROLE_RANK = {"viewer": 0, "importer": 1, "admin": 2}


class Principal(TypedDict):
    name: str
    role: str
    api_key: str  # the credential the UI presents: the sign-in session's token
    key_id: str  # names the API key signed in with (GET /auth/me)


def api_url() -> str:
    # Read on every call (not the cached get_settings) so API_URL set by a test takes effect.
    return Settings().effective_api_url


def principal() -> Principal | None:
    """Who is signed in; None when the browser has no session or it has ended. Raises
    ApiError when the API cannot tell (unreachable)."""
    signed_in: Principal | None = st.session_state.get(PRINCIPAL_KEY)
    if signed_in is not None:
        return signed_in
    token = st.context.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        me = ApiClient(api_url(), token).me()
    except SignedOut:
        return None
    signed_in = Principal(name=me["name"], role=me["role"], api_key=token, key_id=me["keyId"])
    st.session_state[PRINCIPAL_KEY] = signed_in
    return signed_in


def sign_out_here() -> NoReturn:
    """Forget who was signed in (their session ended, or their key was revoked) and run the
    app again: it asks to sign in."""
    st.session_state.pop(PRINCIPAL_KEY, None)
    st.rerun()


def is_admin() -> bool:
    signed_in = principal()
    return signed_in is not None and signed_in["role"] == "admin"


def client() -> ApiClient:
    signed_in = principal()
    if signed_in is None:
        raise RuntimeError("client() needs a signed-in user; app.py signs in first")
    return ApiClient(api_url(), signed_in["api_key"])


def can_import() -> bool:
    signed_in = principal()
    return signed_in is not None and ROLE_RANK.get(signed_in["role"], -1) >= ROLE_RANK["importer"]


def may_act_on(job: dict[str, Any]) -> bool:
    """The API's one rule for cancelling, resuming, retrying and undoing an import: an admin,
    or an importer whose key created it. Others are not offered what would be refused."""
    signed_in = principal()
    if signed_in is None or not can_import():
        return False
    return signed_in["role"] == "admin" or signed_in.get("key_id") == job.get("createdByKeyId")


def flash(message: str) -> None:
    """A confirmation to show once, on the next page rendered (as plain text: it may name
    the user's file)."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> str | None:
    """Show the pending confirmation, once; returns it (to flash again if this run is cut
    short by a rerun)."""
    message: str | None = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.success(plain(message), icon=":material/check_circle:")
    return message

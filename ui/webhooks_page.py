"""Webhooks page (admins): register a receiver of import events (its signing secret shown
once, with a copy button), send it a test message, see its deliveries, delete it. Every
string from a user (URL, description, errors) is shown as plain text."""

from __future__ import annotations

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.html_table import text_table
from ui.job_text import when
from ui.markdown import plain

EVENTS = ["import.completed", "import.failed", "import.cancelled", "import.reverted"]
NEW_SECRET_KEY = "webhook_new_secret"


def render_create(api: ApiClient) -> None:
    with st.form("new_webhook", clear_on_submit=True):
        st.subheader("Add a webhook")
        url = st.text_input("Receiver URL", placeholder="https://crm.example.com/hooks/imports")
        events = st.multiselect("Events", EVENTS, default=EVENTS[:2])
        description = st.text_input("Description", max_chars=500)
        if st.form_submit_button("Add webhook", type="primary"):
            try:
                created = api.create_webhook(url.strip(), events, description)
            except ApiError as error:
                st.error(f"The webhook was not added: {plain(error)}", icon=":material/error:")
                return
            st.session_state[NEW_SECRET_KEY] = created["secret"]
            st.rerun()


def render_secret() -> None:
    secret = st.session_state.get(NEW_SECRET_KEY)
    if not secret:
        return
    st.success(
        "Webhook added. Copy its signing secret now: it is not shown again.",
        icon=":material/key:",
    )
    st.code(secret, language=None)
    if st.button("I have copied it", key="secret_copied"):
        st.session_state.pop(NEW_SECRET_KEY, None)
        st.rerun()


def render_webhook(api: ApiClient, hook: dict[str, str | list[str]]) -> None:
    hook_id = str(hook["id"])
    with st.container(border=True):
        st.text(f"{hook['url']}")
        st.text(
            f"Events: {', '.join(hook['events'])}"
            + (f" · {hook['description']}" if hook["description"] else "")
        )
        test, remove = st.columns([1, 1])
        if test.button("Send test", key=f"test:{hook_id}", icon=":material/send:"):
            try:
                api.test_webhook(hook_id)
                session.flash("Test message sent; its delivery is below in a moment.")
            except ApiError as error:
                st.error(plain(error), icon=":material/error:")
            st.rerun()
        if remove.button("Delete", key=f"delete:{hook_id}", icon=":material/delete:"):
            api.delete_webhook(hook_id)
            st.rerun()
        deliveries = api.webhook_deliveries(hook_id)
        if not deliveries:
            st.caption("No deliveries yet.")
            return
        text_table(
            [
                {
                    "Event": d["event"],
                    "Status": d["status"],
                    "Attempts": str(d["attempts"]),
                    "Last answer": str(d["lastStatusCode"] or ""),
                    "Last error": d["lastError"] or "",
                    "Next attempt": when(d["nextAttemptAt"]),
                    "Delivered": when(d["deliveredAt"]),
                    "Import": d["importId"] or "",
                }
                for d in deliveries
            ],
            "webhook-deliveries",
        )


def render() -> None:
    api = session.client()
    st.title("Webhooks")
    session.show_flash()
    st.caption(
        "Receivers told when an import ends, each message signed (Standard Webhooks) and "
        "sent again until it is answered, for a day or more."
    )
    render_secret()
    render_create(api)
    if st.button("Refresh", icon=":material/refresh:"):
        st.rerun()
    for hook in api.list_webhooks():
        render_webhook(api, hook)


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

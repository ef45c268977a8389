"""Audit page (admins): who did what, newest first, filtered by action, actor and dates.
Every value is shown as plain text (ui.html_table)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiError
from ui.html_table import text_table
from ui.job_text import when
from ui.markdown import plain

PAGE_SIZE = 100
EVERY_ACTION = "Every action"
ACTIONS_KEY = "audit_actions"


def _moment(day: date | None, end_of_day: bool) -> str | None:
    if day is None:
        return None
    return datetime.combine(day, time.max if end_of_day else time.min, UTC).isoformat()


def filters(actions: list[str]) -> dict[str, str]:
    action, actor, since, until = st.columns([2, 2, 1, 1])
    chosen = {
        "action": action.selectbox("Action", [EVERY_ACTION, *actions]),
        "actorKeyId": actor.text_input("Actor key id", placeholder="e.g. 3f9a…").strip(),
        "from": _moment(since.date_input("From", value=None), end_of_day=False),
        "to": _moment(until.date_input("To", value=None), end_of_day=True),
    }
    return {k: v for k, v in chosen.items() if v and v != EVERY_ACTION}


def row(event: dict[str, Any]) -> dict[str, str]:
    actor, target = event["actor"], event["target"]
    return {
        "When": when(event["at"]),
        "Action": event["action"],
        "Actor": f"{actor['name']} ({actor['role'] or 'schedule'}) · key {actor['keyId']}",
        "Target": f"{target['type']} {target['id']}",
        "Details": json.dumps(event["details"], ensure_ascii=False),
    }


def render() -> None:
    st.title("Audit")
    st.caption(
        "Imports created, retried, cancelled and reverted; keys, sign-ins, schema, mappings, "
        "webhooks and schedules. Events cannot be changed; they are kept AUDIT_RETENTION_DAYS."
    )
    if ACTIONS_KEY not in st.session_state:  # asked once a session: they change with a release
        st.session_state[ACTIONS_KEY] = session.client().audit_actions()
    chosen = filters(st.session_state[ACTIONS_KEY])
    page = st.number_input("Page", min_value=1, value=1, step=1)
    offset = (int(page) - 1) * PAGE_SIZE
    events, total = session.client().audit_events(PAGE_SIZE, offset, **chosen)
    if not total:
        st.info("No event matches these filters.")
        return
    st.caption(f"Events {offset + 1}–{offset + len(events)} of {total}, newest first.")
    text_table([row(e) for e in events], "audit-events")


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

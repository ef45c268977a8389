"""Remembered mappings page (admins): each header set a person imported, the mapping it
was imported with and who saved it; delete one so that the next file with those headers gets
a fresh suggestion. Headers are shown as plain text."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.html_table import text_table
from ui.job_text import when
from ui.markdown import plain


def render_mapping(api: ApiClient, remembered: dict[str, Any]) -> None:
    with st.container(border=True):
        st.text(
            f"Saved by {remembered['createdBy'] or 'unknown'} · last used "
            f"{when(remembered['updatedAt'])} · {len(remembered['headers'])} columns"
        )
        text_table(
            [
                {"Column": column, "Imported as": field or "— not imported —"}
                for column, field in remembered["mapping"].items()
            ],
            f"mapping-{remembered['id']}",
        )
        if st.button("Delete", key=f"delete:{remembered['id']}", icon=":material/delete:"):
            api.delete_mapping(remembered["id"])
            session.flash("Remembered mapping deleted.")
            st.rerun()


def render() -> None:
    api = session.client()
    st.title("Remembered mappings")
    session.show_flash()
    st.caption(
        "The mapping last imported with each set of column headers: a file with the same "
        "headers gets it as its suggestion."
    )
    mappings = api.list_mappings()
    if not mappings:
        st.info("No mapping remembered yet: one is kept with every import.")
    for remembered in mappings:
        render_mapping(api, remembered)


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

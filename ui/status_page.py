"""Upload status page: every upload, found by filters and pages, refreshing by itself while
any shown is running; the chosen one (a row clicked, or `?import=<id>` in a link) in detail."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError, SignedOut
from ui.job_text import settling
from ui.markdown import plain
from ui.upload_detail import render_detail
from ui.upload_list import filters, page_of_uploads, pager, table

REFRESH_SECONDS = 2
LINK_PARAMETER = "import"
REFRESHING_KEY = "uploads_refreshing"


def chosen_job(api: ApiClient, jobs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The upload the link names, else the newest shown. A link to an unknown upload says so."""
    linked = st.query_params.get(LINK_PARAMETER)
    if linked:
        shown = next((job for job in jobs if job["id"] == linked), None)
        if shown is not None:
            return shown
        try:
            return api.get_import(linked)
        except ApiError as error:
            if error.status_code != 404:
                raise
            st.warning("The linked upload does not exist (any more); showing the newest.")
    return jobs[0] if jobs else None


def render_uploads(api: ApiClient, refreshing: bool, flashed: str | None) -> None:
    chosen = filters()
    jobs, total = page_of_uploads(api, chosen)
    if not total:
        st.info(
            "No uploads match these filters."
            if chosen
            else "No uploads yet. Imports you start appear here."
        )
        return
    clicked = table(jobs)
    if clicked and clicked != st.query_params.get(LINK_PARAMETER):
        st.query_params[LINK_PARAMETER] = clicked
    pager(total)
    job = chosen_job(api, jobs)
    now = datetime.now(UTC)
    unfinished = any(settling(j, now) for j in [*jobs, *([job] if job else [])])
    if unfinished != refreshing:
        # Start or stop the timed refresh, which is fixed when the fragment is declared.
        st.session_state[REFRESHING_KEY] = unfinished
        if flashed:  # this run's output is dropped: show the confirmation in the next one
            session.flash(flashed)
        st.rerun()
    if refreshing:
        st.caption(f"Updating by itself every {REFRESH_SECONDS} seconds while uploads run.")
    if job is not None:
        st.divider()
        render_detail(api, job)


def render() -> None:
    api = session.client()
    st.title("Upload status")
    flashed = session.show_flash()
    focus = st.session_state.pop(session.FOCUS_JOB_KEY, None)
    if focus:
        st.query_params[LINK_PARAMETER] = focus
    refreshing = st.session_state.get(REFRESHING_KEY, False)

    @st.fragment(run_every=REFRESH_SECONDS if refreshing else None)
    def uploads() -> None:
        try:
            render_uploads(api, refreshing, flashed)
        except ApiError as error:
            st.error(plain(error), icon=":material/error:")
        except SignedOut:  # a fragment's own run: ui/app.py does not see it
            session.sign_out_here()

    uploads()


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

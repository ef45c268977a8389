"""Upload status page: every upload, found by filters and pages (kept in the URL), refreshing
by itself while any shown is running; the chosen one (`?import=<id>`, which each file name in
the list links to) in detail."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError, SignedOut
from ui.job_text import UNFINISHED, settling
from ui.markdown import plain
from ui.upload_detail import render_detail, report_ready
from ui.upload_list import (
    LINK_PARAMETER,
    filters,
    identifier_labels,
    page_of_uploads,
    pager,
    table,
)

REFRESH_SECONDS = 2
REFRESHING_KEY = "uploads_refreshing"
NOTICE_KEY = "status_notice"  # a confirmation of what the person did, and the upload it is about


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


def still_changing(jobs: list[dict[str, Any]], job: dict[str, Any] | None) -> bool:
    """Any upload listed is running, or the one shown is; or it was cancelled and its report
    is still coming."""
    if any(j["status"] in UNFINISHED for j in jobs):
        return True
    return job is not None and settling(job) and not report_ready(job)


def show_notice(job: dict[str, Any] | None) -> bool:
    """The confirmation of what the person just did; whether it stays for the next run (while
    the upload it is about settles; else it is shown once)."""
    notice = st.session_state.get(NOTICE_KEY)
    if notice is None:
        return False
    st.success(plain(notice["message"]), icon=":material/check_circle:")  # names a file
    return job is not None and notice["job"] == job["id"] and settling(job)


def render_uploads(api: ApiClient, refreshing: bool) -> None:
    chosen = filters()
    jobs, total = page_of_uploads(api, chosen)
    job = chosen_job(api, jobs)
    keep_notice = show_notice(job)
    if not total:
        st.info(
            "No uploads match these filters."
            if len(chosen) > 1 or "dryRun" not in chosen
            else "No uploads yet. Imports you start appear here."
        )
    else:
        table(jobs, job["id"] if job else None, identifier_labels(api))
        pager(total)
    if refreshing:
        running = any(j["status"] in UNFINISHED for j in [*jobs, *([job] if job else [])])
        st.caption(
            f"Updating by itself every {REFRESH_SECONDS} seconds while uploads run."
            if running
            else "Updating by itself until the cancelled import's report is ready."
        )
    if job is not None:
        st.divider()
        render_detail(api, job)
    # Last, so that a button clicked in this run has done its work (and its report is known).
    if still_changing(jobs, job) != refreshing:
        # Start or stop the timed refresh, which is fixed when the fragment is declared.
        st.session_state[REFRESHING_KEY] = not refreshing
        st.rerun()
    if not keep_notice:
        st.session_state.pop(NOTICE_KEY, None)


def render() -> None:
    api = session.client()
    st.title("Upload status")
    message = st.session_state.pop(session.FLASH_KEY, None)
    focus = st.session_state.pop(session.FOCUS_JOB_KEY, None)
    if focus:
        st.query_params[LINK_PARAMETER] = focus
    if message:
        st.session_state[NOTICE_KEY] = {"message": message, "job": focus}
    refreshing = st.session_state.get(REFRESHING_KEY, False)

    @st.fragment(run_every=REFRESH_SECONDS if refreshing else None)
    def uploads() -> None:
        try:
            render_uploads(api, refreshing)
        except ApiError as error:
            st.error(plain(error), icon=":material/error:")
        except SignedOut:  # a fragment's own run: ui/app.py does not see it
            session.sign_out_here()

    uploads()


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

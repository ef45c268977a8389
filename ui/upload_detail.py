"""One upload on the status page: its state in words, live progress with speed and time left,
outcome counts, the failed rows, downloads, cancelling with a confirmation, and (ui.job_actions)
undoing it and fixing its failed rows to import them again. An undo shows its own counts."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from openpyxl import load_workbook

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.job_actions import render_fix_and_retry, render_undo
from ui.job_text import (
    UNFINISHED,
    is_revert,
    progress_of,
    speed_and_time_left,
    status_badge,
    title_of,
    when,
)
from ui.markdown import plain

ISSUE_ROWS_SHOWN = 20
WITH_REPORT = {"completed", "failed", "cancelled"}
DOWNLOADS_KEY = "status_downloads"
CONFIRM_CANCEL_KEY = "status_confirm_cancel"
# Each outcome its own colour, failures the one that stands out.
OUTCOME_COLOURS = {
    "Imported": "#2e9e5b",
    "Updated": "#3b7dd8",
    "Ignored": "#9aa0a6",
    "Failed": "#d93025",
}
OUTCOMES = {"imported": "Imported", "updated": "Updated", "ignored": "Ignored", "failed": "Failed"}
REVERT_OUTCOMES = {"deleted": "Deleted", "restored": "Restored", "conflicts": "Conflicts"}


def downloaded(api: ApiClient, kind: str, job_id: str) -> tuple[bytes | None, str | None]:
    """A finished job's report or failed-rows file (fixed once it exists, so fetched once per
    session), or why it is not available yet (asked again on the next run: a cancelled
    import's report comes a few seconds after the cancel)."""
    cache: dict[tuple[str, str], bytes] = st.session_state.setdefault(DOWNLOADS_KEY, {})
    if (kind, job_id) not in cache:
        fetch = api.report if kind == "report" else api.failed_rows_csv
        try:
            cache[kind, job_id] = fetch(job_id)
        except ApiError as error:
            return None, str(error)
    return cache[kind, job_id], None


def report_issues(report: bytes) -> pd.DataFrame:
    """Failed and ignored rows with their reasons, from the report's Details sheet."""
    sheet = load_workbook(io.BytesIO(report), read_only=True)["Details"]
    rows = sheet.iter_rows(max_col=3, max_row=ISSUE_ROWS_SHOWN + 1, values_only=True)
    header = next(rows, None)
    return pd.DataFrame(list(rows), columns=list(header or ("Row", "Identifiers", "Reason")))


def outcome_chart(counts: dict[str, int]) -> alt.Chart:
    data = pd.DataFrame({"Outcome": list(OUTCOMES.values()), "Rows": [counts[k] for k in OUTCOMES]})
    colours = alt.Scale(domain=list(OUTCOME_COLOURS), range=list(OUTCOME_COLOURS.values()))
    return (
        alt.Chart(data, height=180)
        .mark_bar()
        .encode(
            x=alt.X("Rows:Q", title="Rows", axis=alt.Axis(tickMinStep=1, format=",d")),
            y=alt.Y("Outcome:N", sort=None, title=None),
            color=alt.Color("Outcome:N", scale=colours, legend=None),
            tooltip=["Outcome", "Rows"],
        )
    )


def render_revert_counts(job: dict[str, Any]) -> None:
    counts = job.get("revertCounts") or dict.fromkeys(["total", *REVERT_OUTCOMES], 0)
    metrics = st.columns(len(REVERT_OUTCOMES) + 1)
    metrics[0].metric("Total", f"{counts['total']:,}")
    for cell, (key, label) in zip(metrics[1:], REVERT_OUTCOMES.items(), strict=True):
        cell.metric(label, f"{counts[key]:,}")


def render_counts(job: dict[str, Any]) -> None:
    if is_revert(job):
        render_revert_counts(job)
        return
    counts = job["counts"]
    metrics = st.columns(5)
    metrics[0].metric("Total", f"{counts['total']:,}")
    for cell, (key, label) in zip(metrics[1:], OUTCOMES.items(), strict=True):
        cell.metric(label, f"{counts[key]:,}")
    if counts["total"]:
        st.altair_chart(outcome_chart(counts), width="stretch")
    elif job["status"] in UNFINISHED:
        st.caption("Counts appear as the first rows are processed.")


def render_downloads(api: ApiClient, job: dict[str, Any]) -> None:
    stem = job["fileName"].rsplit(".", 1)[0]
    report, report_problem = downloaded(api, "report", job["id"])
    if is_revert(job):  # its report lists the conflicts; it has no rows of its own
        failed_rows, failed_rows_problem = None, None
    else:
        failed_rows, failed_rows_problem = downloaded(api, "failed-rows", job["id"])
    left, right = st.columns(2)
    with left:
        if report is not None:
            st.download_button(
                "Download the Excel report",
                data=report,
                file_name=f"{stem}-report.xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                icon=":material/table_view:",
                on_click="ignore",
                key=f"report:{job['id']}",
            )
        else:
            st.warning(f"The report is not available: {plain(report_problem)}")
    with right:
        if failed_rows is not None:
            st.download_button(
                "Download the failed rows (CSV)",
                data=failed_rows,
                file_name=f"{stem}-failed-rows.csv",
                mime="text/csv",
                icon=":material/description:",
                on_click="ignore",
                key=f"failed-rows:{job['id']}",
            )
        elif failed_rows_problem:
            st.warning(f"The failed rows are not available: {plain(failed_rows_problem)}")
    counts = job["counts"]
    if report is not None and counts["failed"] + counts["ignored"]:
        shown = min(counts["failed"] + counts["ignored"], ISSUE_ROWS_SHOWN)
        rows = "row" if shown == 1 else f"{shown} rows"
        st.markdown(f"**Rows not imported** (the first {rows}; the report lists them all)")
        st.dataframe(report_issues(report), hide_index=True)
    if failed_rows is not None:
        render_fix_and_retry(api, job, failed_rows)


def render_cancel(api: ApiClient, job: dict[str, Any]) -> None:
    confirming = st.session_state.get(CONFIRM_CANCEL_KEY) == job["id"]
    if not confirming:
        if st.button("Cancel this import", icon=":material/cancel:", key=f"cancel:{job['id']}"):
            st.session_state[CONFIRM_CANCEL_KEY] = job["id"]
            st.rerun()
        return
    done = job["progress"]["processedRows"]
    st.warning(
        f"Stop the import of {plain(job['fileName'])}? The {done:,} rows already processed stay as "
        "they were written; the rest is not imported.",
        icon=":material/warning:",
    )
    yes, no = st.columns([1, 4])
    if yes.button("Yes, cancel it", type="primary", key=f"cancel-yes:{job['id']}"):
        st.session_state.pop(CONFIRM_CANCEL_KEY, None)
        try:
            api.cancel_import(job["id"])
        except ApiError as error:
            st.error(f"The import was not cancelled: {plain(error)}", icon=":material/error:")
            return
        session.flash(f"Import of {job['fileName']} cancelled; rows already written stay.")
        st.rerun()
    if no.button("Keep it running", key=f"cancel-no:{job['id']}"):
        st.session_state.pop(CONFIRM_CANCEL_KEY, None)
        st.rerun()


def origin_text(api: ApiClient, job: dict[str, Any]) -> str:
    """Where the import's file came from: an upload, a URL, an S3 object, a schedule."""
    source = job.get("source")
    if not source:
        where = "Uploaded file"
    elif source.get("s3"):
        where = f"From S3: s3://{source['s3']['bucket']}/{source['s3']['key']}"
    else:
        where = f"From URL: {source.get('url')}"
    if job.get("scheduleId"):
        try:
            name = api.get_schedule(job["scheduleId"])["name"]
        except ApiError:
            name = f"{job['scheduleId']} (deleted)"
        where += f" · schedule: {name}"
    return where


def render_detail(api: ApiClient, job: dict[str, Any]) -> None:
    st.subheader(f"{plain(title_of(job))} {status_badge(job)}")
    st.caption(
        f"Started by {plain(job.get('createdBy') or 'unknown')} on {when(job['createdAt'])} · "
        f"{job['action'].capitalize()} matching customers found by "
        f"{plain(', '.join(job['deduplicationKeys']))}"
        + (" · dry run: nothing was written" if job.get("dryRun") else "")
        + f" · [link to this upload](?import={job['id']})"
        + (f" · undoes import {job['revertOf']}" if job.get("revertOf") else "")
        + (f" · retries the failed rows of import {job['retryOf']}" if job.get("retryOf") else "")
    )
    if not is_revert(job):
        st.text(origin_text(api, job))  # plain text: a URL or a name is the user's
    processed, total = job["progress"]["processedRows"], job["progress"]["totalRows"]
    text = f"{processed:,} of {total:,} rows processed"
    if pace := speed_and_time_left(job, datetime.now(UTC)):
        text += f" · {pace}"
    st.progress(progress_of(job), text=text)
    if job.get("error"):
        st.error(f"The import failed: {plain(job['error'])}", icon=":material/error:")
    render_counts(job)
    if job["status"] in UNFINISHED and session.can_import():
        render_cancel(api, job)
    render_undo(api, job)
    if job["status"] in WITH_REPORT:
        render_downloads(api, job)

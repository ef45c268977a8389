"""Upload status page: every upload, newest first, refreshing by itself while any is pending
or running; the chosen upload's counts, errors, downloads and cancel button."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
from openpyxl import load_workbook

from ui import session
from ui.api_client import ApiClient, ApiError

REFRESH_SECONDS = 2
LIST_LIMIT = 50
ISSUE_ROWS_SHOWN = 20
UNFINISHED = {"pending", "in_progress"}
WITH_REPORT = {"completed", "failed"}
STATUS_LABELS = {
    "pending": "Pending",
    "in_progress": "In progress",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
STATUS_COLOURS = {
    "pending": "gray",
    "in_progress": "blue",
    "completed": "green",
    "failed": "red",
    "cancelled": "orange",
}
OUTCOMES = {"imported": "Imported", "updated": "Updated", "ignored": "Ignored", "failed": "Failed"}
SELECTED_JOB_KEY = "status_selected_job"
DOWNLOADS_KEY = "status_downloads"


def any_unfinished(jobs: list[dict[str, Any]]) -> bool:
    return any(job["status"] in UNFINISHED for job in jobs)


def when(timestamp: str | None) -> str:
    if not timestamp:
        return ""
    moment = datetime.fromisoformat(timestamp)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def progress_of(job: dict[str, Any]) -> float:
    total = job["progress"]["totalRows"]
    if job["status"] == "completed":
        return 1.0
    return min(job["progress"]["processedRows"] / total, 1.0) if total else 0.0


def jobs_frame(jobs: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "File": job["fileName"],
                "Created by": job.get("createdBy") or "",
                "Created": when(job["createdAt"]),
                "Action": job["action"].capitalize(),
                "Key": ", ".join(job["deduplicationKeys"]),
                "Status": STATUS_LABELS.get(job["status"], job["status"]),
                "Progress": progress_of(job),
                "Rows": f"{job['progress']['processedRows']} / {job['progress']['totalRows']}",
            }
            for job in jobs
        ]
    )


def downloaded(api: ApiClient, kind: str, job_id: str) -> tuple[bytes | None, str | None]:
    """A finished job's report or failed-rows file (fixed once the job ends, so fetched once
    per session), or why it is not available."""
    cache: dict[tuple[str, str], tuple[bytes | None, str | None]]
    cache = st.session_state.setdefault(DOWNLOADS_KEY, {})
    if (kind, job_id) not in cache:
        fetch = api.report if kind == "report" else api.failed_rows_csv
        try:
            cache[kind, job_id] = (fetch(job_id), None)
        except ApiError as error:
            cache[kind, job_id] = (None, str(error))
    return cache[kind, job_id]


def report_issues(report: bytes) -> pd.DataFrame:
    """Failed and ignored rows with their reasons, from the report's Details sheet."""
    sheet = load_workbook(io.BytesIO(report), read_only=True)["Details"]
    rows = sheet.iter_rows(max_col=3, max_row=ISSUE_ROWS_SHOWN + 1, values_only=True)
    header = next(rows, None)
    return pd.DataFrame(list(rows), columns=list(header or ("Row", "Identifiers", "Reason")))


def render_counts(job: dict[str, Any]) -> None:
    counts = job["counts"]
    metrics = st.columns(5)
    metrics[0].metric("Total", counts["total"])
    for cell, (key, label) in zip(metrics[1:], OUTCOMES.items(), strict=True):
        cell.metric(label, counts[key])
    if not counts["total"]:
        st.caption("The outcome counts appear when the import finishes.")
        return
    chart = pd.DataFrame(
        {"Outcome": list(OUTCOMES.values()), "Rows": [counts[k] for k in OUTCOMES]}
    )
    st.bar_chart(chart, x="Outcome", y="Rows", horizontal=True, sort=False, height=220)


def render_downloads(api: ApiClient, job: dict[str, Any]) -> None:
    stem = job["fileName"].rsplit(".", 1)[0]
    report, report_problem = downloaded(api, "report", job["id"])
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
            st.warning(f"The report is not available: {report_problem}")
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
        else:
            st.warning(f"The failed rows are not available: {failed_rows_problem}")
    counts = job["counts"]
    if report is not None and counts["failed"] + counts["ignored"]:
        shown = min(counts["failed"] + counts["ignored"], ISSUE_ROWS_SHOWN)
        st.markdown(f"**Rows not imported** (first {shown}; the report lists them all)")
        st.dataframe(report_issues(report), hide_index=True)


def render_detail(api: ApiClient, job: dict[str, Any]) -> None:
    label = STATUS_LABELS.get(job["status"], job["status"])
    colour = STATUS_COLOURS.get(job["status"], "gray")
    st.subheader(f"{job['fileName']} :{colour}-badge[{label}]")
    st.caption(
        f"Started by {job.get('createdBy') or 'unknown'} on {when(job['createdAt'])} · "
        f"action {job['action']} · key {', '.join(job['deduplicationKeys'])}"
        + (" · dry run" if job.get("dryRun") else "")
        + f" · job {job['id']}"
    )
    processed, total = job["progress"]["processedRows"], job["progress"]["totalRows"]
    st.progress(progress_of(job), text=f"{processed} of {total} rows processed")
    if job.get("error"):
        st.error(f"The import failed: {job['error']}", icon=":material/error:")
    render_counts(job)
    cancellable = job["status"] in UNFINISHED and session.can_import()
    if cancellable and st.button(
        "Cancel this import", icon=":material/cancel:", key=f"cancel:{job['id']}"
    ):
        try:
            api.cancel_import(job["id"])
        except ApiError as error:
            st.error(f"The import was not cancelled: {error}", icon=":material/error:")
        else:
            session.flash(f"Import of {job['fileName']} cancelled; rows already written stay.")
            st.rerun()
    if job["status"] in WITH_REPORT:
        render_downloads(api, job)


def render_uploads(api: ApiClient, refreshing: bool) -> None:
    jobs = api.list_imports(LIST_LIMIT)
    if any_unfinished(jobs) != refreshing:
        # Start or stop the timed refresh, which is fixed when the fragment is declared.
        st.rerun()
    if not jobs:
        st.info("No uploads yet. Imports you start appear here.")
        return
    if refreshing:
        st.caption(f"Updating by itself every {REFRESH_SECONDS} seconds while uploads run.")
    st.dataframe(
        jobs_frame(jobs),
        hide_index=True,
        column_config={
            "Progress": st.column_config.ProgressColumn(
                "Progress", min_value=0.0, max_value=1.0, format="percent"
            )
        },
    )
    by_id = {job["id"]: job for job in jobs}
    if st.session_state.get(SELECTED_JOB_KEY) not in by_id:
        st.session_state[SELECTED_JOB_KEY] = jobs[0]["id"]
    selected = st.selectbox(
        "Upload details",
        list(by_id),
        # Without the status: a label that changes under an open drop-down confuses.
        format_func=lambda job_id: (
            f"{by_id[job_id]['fileName']} — {when(by_id[job_id]['createdAt'])}"
        ),
        key=SELECTED_JOB_KEY,
    )
    render_detail(api, by_id[selected])


def render() -> None:
    api = session.client()
    st.title("Upload status")
    session.show_flash()
    focus = st.session_state.pop(session.FOCUS_JOB_KEY, None)
    if focus:
        st.session_state[SELECTED_JOB_KEY] = focus
    refreshing = any_unfinished(api.list_imports(LIST_LIMIT))

    @st.fragment(run_every=REFRESH_SECONDS if refreshing else None)
    def uploads() -> None:
        try:
            render_uploads(api, refreshing)
        except ApiError as error:
            st.error(str(error), icon=":material/error:")

    uploads()


try:
    render()
except ApiError as error:
    st.error(str(error), icon=":material/error:")

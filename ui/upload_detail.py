"""One upload on the status page: its state in words, live progress (reading and checking the
file, then rows processed, with speed and time left), outcome counts (a check's as what
would happen, an undo's its own), the rows not imported with their reasons, downloads, and
(ui.job_actions) cancelling, resuming, undoing and fixing failed rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ui.api_client import ApiClient, ApiError
from ui.html_table import Cell, grid_html
from ui.job_actions import render_cancel, render_fix_and_retry, render_resume, render_undo
from ui.job_text import (
    UNFINISHED,
    action_text,
    is_check,
    is_revert,
    matched_by,
    planning_text,
    progress_of,
    rows_left,
    speed_and_time_left,
    status_badge,
    title_of,
    when,
)
from ui.markdown import plain
from ui.report_reading import ISSUE_ROWS_SHOWN, holder_of, report_issues, unchanged_updates
from ui.upload_list import identifier_labels

WITH_REPORT = {"completed", "failed", "cancelled"}
DOWNLOADS_KEY = "status_downloads"
# Each outcome its own colour, failures the one that stands out.
OUTCOME_COLOURS = ["#2e9e5b", "#3b7dd8", "#9aa0a6", "#d93025"]
OUTCOMES = {"imported": "Imported", "updated": "Updated", "ignored": "Ignored", "failed": "Failed"}
CHECK_OUTCOMES = {
    "imported": "Would import",
    "updated": "Would update",
    "ignored": "Would ignore",
    "failed": "Would fail",
}
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


def report_ready(job: dict[str, Any]) -> bool:
    return ("report", job["id"]) in st.session_state.get(DOWNLOADS_KEY, {})


def outcome_chart(counts: dict[str, int], labels: dict[str, str]) -> alt.Chart:
    data = pd.DataFrame({"Outcome": list(labels.values()), "Rows": [counts[k] for k in labels]})
    colours = alt.Scale(domain=list(labels.values()), range=OUTCOME_COLOURS)
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
    if job["status"] in UNFINISHED:  # its counts are taken once it has gone through them all
        st.caption("Deleted, restored and conflicting customers are counted when the undo ends.")
        return
    counts = job.get("revertCounts") or dict.fromkeys(["total", *REVERT_OUTCOMES], 0)
    metrics = st.columns(len(REVERT_OUTCOMES) + 1)
    metrics[0].metric("Customers", f"{counts['total']:,}")
    for cell, (key, label) in zip(metrics[1:], REVERT_OUTCOMES.items(), strict=True):
        cell.metric(label, f"{counts[key]:,}")


def render_counts(job: dict[str, Any], unchanged: int) -> None:
    if is_revert(job):
        render_revert_counts(job)
        return
    counts = job["counts"]
    labels = CHECK_OUTCOMES if is_check(job) else OUTCOMES
    metrics = st.columns(5)
    metrics[0].metric("Rows checked" if is_check(job) else "Total", f"{counts['total']:,}")
    for cell, (key, label) in zip(metrics[1:], labels.items(), strict=True):
        cell.metric(label, f"{counts[key]:,}")
        if key == "updated" and unchanged:
            cell.caption(f"{unchanged:,} of them unchanged (nothing to change)")
    if counts["total"]:
        st.altair_chart(outcome_chart(counts, labels), width="stretch")
    elif job["status"] in UNFINISHED:
        st.caption("Counts appear as the first rows are processed.")


def render_downloads(
    api: ApiClient, job: dict[str, Any], report: bytes | None, problem: str | None
) -> None:
    stem = job["fileName"].rsplit(".", 1)[0]
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
            st.warning(f"The report is not available: {plain(problem)}")
    with right:
        if failed_rows is not None and job["counts"]["failed"]:
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
        what = "Rows that would not be imported" if is_check(job) else "Rows not imported"
        st.markdown(f"**{what}** (the first {rows}; the report lists them all)")
        headers = [
            Cell("Row", number=True),
            Cell("Identifiers", long=True),
            Cell("Reason", long=True),
        ]
        issues = [
            [
                row,
                ids,
                Cell(reason, link=f"/customers_page?customer={holder}") if holder else reason,
            ]
            for row, ids, reason in report_issues(report)
            for holder in [holder_of(reason)]
        ]
        st.html(grid_html(headers, issues, what))
    if failed_rows is not None and not is_check(job):
        render_fix_and_retry(api, job, failed_rows)


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
            name = "a schedule since deleted"
        where += f" · schedule: {name}"
    return where


RELATIONS = [
    ("revertOf", "Undoes"),
    ("revertId", "Undone by"),
    ("retryOf", "Imports the fixed failed rows of"),
    ("resumeOf", "Resumes"),
    ("resumedBy", "Resumed by"),
]


def render_relations(api: ApiClient, job: dict[str, Any]) -> None:
    """The uploads this one is linked to, each a link to open it (no raw ids)."""
    links: list[tuple[str, str, str]] = []
    for field, words in RELATIONS:
        for other_id in [job.get(field)] if job.get(field) else []:
            links.append((words, other_id, _upload_name(api, other_id)))
    links += [
        ("Fixed rows sent again in", r, _upload_name(api, r)) for r in job.get("retries") or []
    ]
    if not links:
        return
    rows = [[words, Cell(name, link=f"?import={other}")] for words, other, name in links]
    st.html(grid_html(["Linked upload", "Opens"], rows, "Linked uploads"))


def _upload_name(api: ApiClient, job_id: str) -> str:
    try:
        other = api.get_import(job_id)
    except ApiError:
        return "an upload that no longer exists"
    return f"{title_of(other)} ({when(other['createdAt'])})"


def render_progress(job: dict[str, Any]) -> None:
    processed, total = job["progress"]["processedRows"], job["progress"]["totalRows"]
    if is_revert(job):
        text = f"{processed:,} of {total:,} customers gone through"
    elif planning := planning_text(job):
        checked = job.get("checkedRows") or 0
        st.progress(min(checked / total, 1.0) if total else 0.0, text=planning)
        return
    else:
        text = f"{processed:,} of {total:,} rows processed"
    if job["status"] in ("cancelled", "failed") and rows_left(job):
        text += f" · {rows_left(job):,} not imported"
    if pace := speed_and_time_left(job, datetime.now(UTC)):
        text += f" · {pace}"
    st.progress(progress_of(job), text=text)


def render_detail(api: ApiClient, job: dict[str, Any]) -> None:
    st.subheader(f"{plain(title_of(job))} {status_badge(job)}")
    st.caption(
        f"Started by {plain(job.get('createdBy') or 'unknown')} on {when(job['createdAt'])} · "
        f"{action_text(job)} · matched by {plain(matched_by(job, identifier_labels(api)))}"
        + (" · a check: nothing was written" if is_check(job) else "")
        + f" · [link to this upload](?import={job['id']})"
    )
    if not is_revert(job):
        st.text(origin_text(api, job))  # plain text: a URL or a name is the user's
    render_relations(api, job)
    render_progress(job)
    if job.get("error"):
        st.error(f"The import failed: {plain(job['error'])}", icon=":material/error:")
    report, problem = (None, None)
    if job["status"] in WITH_REPORT:
        report, problem = downloaded(api, "report", job["id"])
    unchanged = unchanged_updates(report) if report and job["counts"]["updated"] else 0
    render_counts(job, unchanged)
    render_cancel(api, job)
    render_resume(api, job)
    render_undo(api, job)
    if job["status"] in WITH_REPORT:
        render_downloads(api, job, report, problem)

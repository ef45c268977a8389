"""The list of uploads on the status page: filters (file name, status, who, when), pages with
the total, and a table whose rows open the upload they show."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from ui.api_client import ApiClient
from ui.job_text import STATUS_LABELS, progress_of, status_label, title_of, when

PAGE_SIZE = 25
PAGE_KEY = "uploads_page"
FILTERS_KEY = "uploads_filters"
ANY_STATUS = "any"


def _day_start(day: date) -> str:
    return datetime.combine(day, time.min, tzinfo=UTC).isoformat()


def filters() -> dict[str, str]:
    """The filter widgets; the query parameters of GET /imports they stand for."""
    name, status, creator, dates = st.columns([3, 2, 2, 3])
    chosen: dict[str, str] = {}
    if text := name.text_input("File name contains", key="uploads_file_name").strip():
        chosen["fileName"] = text
    picked = status.selectbox(
        "Status",
        [ANY_STATUS, *STATUS_LABELS],
        format_func=lambda s: "Any status" if s == ANY_STATUS else STATUS_LABELS[s],
        key="uploads_status",
    )
    if picked != ANY_STATUS:
        chosen["status"] = picked
    if who := creator.text_input("Created by", key="uploads_created_by").strip():
        chosen["createdBy"] = who
    between = dates.date_input("Created between", value=(), key="uploads_dates")
    if isinstance(between, tuple) and between:
        chosen["createdFrom"] = _day_start(between[0])
        chosen["createdTo"] = _day_start(between[-1] + timedelta(days=1))
    if st.session_state.get(FILTERS_KEY) != chosen:  # new filters start at the first page
        st.session_state[FILTERS_KEY] = chosen
        st.session_state[PAGE_KEY] = 0
    return chosen


def frame(jobs: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "File": title_of(job),
                "Created by": job.get("createdBy") or "",
                "Created": when(job["createdAt"]),
                "Action": job["action"].capitalize() + (" (dry run)" if job.get("dryRun") else ""),
                "Key": ", ".join(job["deduplicationKeys"]),
                "Status": status_label(job),
                "Progress": round(progress_of(job) * 100),
                "Rows": f"{job['progress']['processedRows']:,} / {job['progress']['totalRows']:,}",
            }
            for job in jobs
        ]
    )


def page_of_uploads(api: ApiClient, chosen: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    page = st.session_state.setdefault(PAGE_KEY, 0)
    jobs, total = api.list_imports(PAGE_SIZE, page * PAGE_SIZE, **chosen)
    if not jobs and page:  # the list shrank under the page: back to the last one
        st.session_state[PAGE_KEY] = max(0, (total - 1) // PAGE_SIZE)
        jobs, total = api.list_imports(PAGE_SIZE, st.session_state[PAGE_KEY] * PAGE_SIZE, **chosen)
    return jobs, total


def pager(total: int) -> None:
    page = st.session_state[PAGE_KEY]
    pages = max(1, -(-total // PAGE_SIZE))
    first = page * PAGE_SIZE + 1 if total else 0
    last = min(total, (page + 1) * PAGE_SIZE)
    back, where, forward = st.columns([1, 4, 1])
    if back.button("Newer", icon=":material/chevron_left:", disabled=page == 0):
        st.session_state[PAGE_KEY] = page - 1
        st.rerun()
    where.caption(f"Uploads {first:,}–{last:,} of {total:,} · page {page + 1} of {pages}")
    if forward.button("Older", icon=":material/chevron_right:", disabled=page + 1 >= pages):
        st.session_state[PAGE_KEY] = page + 1
        st.rerun()


def table(jobs: list[dict[str, Any]]) -> str | None:
    """The uploads as a table; the id of the upload whose row was clicked, if one was."""
    event = st.dataframe(
        frame(jobs),
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="uploads_table",
        column_config={
            "Progress": st.column_config.ProgressColumn(
                "Progress", min_value=0, max_value=100, format="%d%%"
            )
        },
    )
    rows = event.selection.rows if event is not None else []
    return str(jobs[rows[0]]["id"]) if rows and rows[0] < len(jobs) else None

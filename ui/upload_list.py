"""The list of uploads on the status page: filters (file name, status, who, when, checks),
kept in the page's URL so a reload or a shared link keeps them; pages with the total; and a
table of plain text whose file names open the upload they name."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from ui.api_client import ApiClient
from ui.html_table import Cell, grid_html
from ui.job_text import (
    STATUS_LABELS,
    WITH_ERRORS,
    action_text,
    matched_by,
    status_label,
    title_of,
    when,
)

PAGE_SIZE = 25
LINK_PARAMETER = "import"
ANY_STATUS = "any"
WITH_ERRORS_STATUS = "with_errors"
STATUS_CHOICES = {
    ANY_STATUS: "Any status",
    **{key: STATUS_LABELS[key] for key in ("pending", "in_progress", "completed")},
    WITH_ERRORS_STATUS: WITH_ERRORS,
    **{key: STATUS_LABELS[key] for key in ("failed", "cancelled")},
}
# Widget key → URL parameter: the filters and the page are in the URL.
URL_OF = {
    "uploads_file_name": "file",
    "uploads_status": "status",
    "uploads_created_by": "by",
    "uploads_dates": "created",
    "uploads_checks": "checks",
}
PAGE_PARAMETER = "page"
LABELS_KEY = "identifier_labels"


def _day_start(day: date) -> str:
    return datetime.combine(day, time.min, tzinfo=UTC).isoformat()


def _from_url(key: str, value: str) -> Any:
    """A widget's value as the URL holds it; None when the URL's value is not one."""
    if key == "uploads_status":
        return value if value in STATUS_CHOICES else None
    if key == "uploads_checks":
        return value == "shown"
    if key == "uploads_dates":
        try:
            return tuple(date.fromisoformat(d) for d in value.split("..")[:2])
        except ValueError:
            return None
    return value[:200]


def _to_url(key: str, value: Any) -> str | None:
    if key == "uploads_status":
        return None if value == ANY_STATUS else str(value)
    if key == "uploads_checks":
        return "shown" if value else None
    if key == "uploads_dates":
        return "..".join(d.isoformat() for d in value) if value else None
    return str(value).strip() or None


def _restore_from_url() -> None:
    """On a page's first run, the widgets start from the URL (a reload, a shared link)."""
    for key, parameter in URL_OF.items():
        if key not in st.session_state and parameter in st.query_params:
            value = _from_url(key, st.query_params[parameter])
            if value is not None:
                st.session_state[key] = value


def _keep_in_url(values: dict[str, Any]) -> None:
    for key, parameter in URL_OF.items():
        wanted = _to_url(key, values[key])
        if wanted is None:
            if parameter in st.query_params:
                del st.query_params[parameter]
        elif st.query_params.get(parameter) != wanted:
            st.query_params[parameter] = wanted


def filters() -> dict[str, str]:
    """The filter widgets; the query parameters of GET /imports they stand for."""
    _restore_from_url()
    name, status, creator, dates = st.columns([3, 2, 2, 3])
    values: dict[str, Any] = {
        "uploads_file_name": name.text_input("File name contains", key="uploads_file_name"),
        "uploads_status": status.selectbox(
            "Status", list(STATUS_CHOICES), format_func=STATUS_CHOICES.get, key="uploads_status"
        ),
        "uploads_created_by": creator.text_input("Created by", key="uploads_created_by"),
        "uploads_dates": dates.date_input("Created between", value=(), key="uploads_dates"),
        "uploads_checks": st.checkbox(
            "Show checks (dry runs) too",
            key="uploads_checks",
            help="The checks made before importing write nothing; they are left out unless "
            "this is ticked.",
        ),
    }
    before = {p: st.query_params.get(p) for p in URL_OF.values()}
    _keep_in_url(values)
    if before != {p: st.query_params.get(p) for p in URL_OF.values()}:
        set_page(0)  # new filters start at the first page
    return _query(values)


def _query(values: dict[str, Any]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    if text := values["uploads_file_name"].strip():
        chosen["fileName"] = text
    picked = values["uploads_status"]
    if picked == WITH_ERRORS_STATUS:
        chosen |= {"status": "completed", "hasFailedRows": "true"}
    elif picked != ANY_STATUS:
        chosen["status"] = picked
    if who := values["uploads_created_by"].strip():
        chosen["createdBy"] = who
    between = values["uploads_dates"]
    if isinstance(between, tuple) and between:
        chosen["createdFrom"] = _day_start(between[0])
        chosen["createdTo"] = _day_start(between[-1] + timedelta(days=1))
    if not values["uploads_checks"]:
        chosen["dryRun"] = "false"
    return chosen


def current_page() -> int:
    try:
        return max(0, int(st.query_params.get(PAGE_PARAMETER, "1")) - 1)
    except ValueError:
        return 0


def set_page(page: int) -> None:
    if page:
        st.query_params[PAGE_PARAMETER] = str(page + 1)
    elif PAGE_PARAMETER in st.query_params:
        del st.query_params[PAGE_PARAMETER]


def page_of_uploads(api: ApiClient, chosen: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    page = current_page()
    jobs, total = api.list_imports(PAGE_SIZE, page * PAGE_SIZE, **chosen)
    if not jobs and page:  # the list shrank under the page: back to the last one
        set_page(max(0, (total - 1) // PAGE_SIZE))
        jobs, total = api.list_imports(PAGE_SIZE, current_page() * PAGE_SIZE, **chosen)
    return jobs, total


def pager(total: int) -> None:
    page = current_page()
    pages = max(1, -(-total // PAGE_SIZE))
    first = page * PAGE_SIZE + 1 if total else 0
    last = min(total, (page + 1) * PAGE_SIZE)
    back, where, forward = st.columns([1, 4, 1])
    if back.button("Newer", icon=":material/chevron_left:", disabled=page == 0):
        set_page(page - 1)
        st.rerun()
    where.caption(f"Uploads {first:,}–{last:,} of {total:,} · page {page + 1} of {pages}")
    if forward.button("Older", icon=":material/chevron_right:", disabled=page + 1 >= pages):
        set_page(page + 1)
        st.rerun()


def identifier_labels(api: ApiClient) -> dict[str, str]:
    """email → Email, for the list's "Matched by"; asked once per session."""
    if LABELS_KEY not in st.session_state:
        found = api.channel_identifiers("customers")
        st.session_state[LABELS_KEY] = {i["key"]: i["label"] for i in found}
    labels: dict[str, str] = st.session_state[LABELS_KEY]
    return labels


def link_to(job_id: str) -> str:
    """The status page showing this upload, with the list as it is now."""
    kept = {p: v for p, v in st.query_params.to_dict().items() if p != LINK_PARAMETER}
    return "?" + urlencode({**kept, LINK_PARAMETER: job_id})


def rows_text(job: dict[str, Any]) -> str:
    return f"{job['progress']['processedRows']:,} / {job['progress']['totalRows']:,}"


def table(jobs: list[dict[str, Any]], shown: str | None, labels: dict[str, str]) -> None:
    """The uploads as a table; each file name opens its upload. `labels`: the identifiers'
    names (email → Email)."""
    headers = [
        Cell("File", long=True),
        Cell("Created by", wide_only=True),
        "Created",
        Cell("Action", wide_only=True),
        Cell("Matched by", wide_only=True),
        "Status",
        Cell("Rows", number=True),
    ]
    rows = [
        [
            Cell(title_of(job), link=link_to(job["id"])),
            job.get("createdBy") or "",
            when(job["createdAt"]),
            action_text(job),
            matched_by(job, labels),
            status_label(job),
            rows_text(job),
        ]
        for job in jobs
    ]
    current = next((i for i, job in enumerate(jobs) if job["id"] == shown), None)
    st.html(grid_html(headers, rows, "Uploads", current))

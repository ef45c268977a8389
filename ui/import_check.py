"""The check before an import: a dry run of the file (or of its first rows, for a big file)
against the live data tells how many rows are invalid and why, how many customers are new
and how many match existing ones. Replace asks for a confirmation naming how many profiles
it overwrites."""

from __future__ import annotations

import csv
import io
import itertools
import json
import time
from typing import Any

import streamlit as st

from ui.api_client import ApiClient, ApiError
from ui.html_table import Cell, grid_html
from ui.markdown import plain
from ui.report_reading import report_issues

CHECK_KEY = "import_check"
SAMPLE_ROWS = 5_000  # a bigger file is checked on its first rows: seconds, not minutes
CHECK_TIMEOUT_SECONDS = 120
REASONS_SHOWN = 5


def sample_of(content: bytes, encoding: str, delimiter: str) -> tuple[bytes, bool]:
    """The file, or its header and first SAMPLE_ROWS records; True if cut. The records are
    the file's own bytes, so that the API reads them as it reads the file (a file may mix
    encodings: the API decodes each line by its own rule). A workbook (encoding "xlsx") is
    checked whole."""
    if encoding == "xlsx":
        return content, False
    # Where the records end: in Latin-1 every byte is one character, so the lines found are
    # the file's own bytes; quotes, delimiters and line ends are ASCII in any encoding the
    # API reads but UTF-16, which is decoded and encoded again whole.
    codec = encoding if encoding.startswith("utf-16") else "latin-1"
    lines = io.StringIO(content.decode(codec, errors="replace"), newline="")
    records = csv.reader(lines, delimiter=delimiter)
    kept_lines = 0
    for number, _ in enumerate(records):
        if number > SAMPLE_ROWS:  # the header and SAMPLE_ROWS records are kept
            lines.seek(0)
            return "".join(itertools.islice(lines, kept_lines)).encode(codec), True
        kept_lines = records.line_num
    return content, False


def _dry_run(api: ApiClient, name: str, content: bytes, config: dict[str, Any]) -> dict[str, Any]:
    job = api.create_import(name, content, {**config, "dryRun": True})
    deadline = time.monotonic() + CHECK_TIMEOUT_SECONDS
    while job["status"] in ("pending", "in_progress"):
        if time.monotonic() > deadline:
            raise ApiError("The check took too long; you can still import, or try again later.")
        time.sleep(0.5)
        job = api.get_import(job["id"])
    return job


def _first_invalid_rows(api: ApiClient, job_id: str) -> list[list[str]]:
    """[file row, identifiers, reason] of the first invalid rows, from the check's report."""
    return report_issues(api.report(job_id), failed_only=True, shown=REASONS_SHOWN)


def run_check(
    api: ApiClient, name: str, content: bytes, suggestion: dict[str, Any], config: dict[str, Any]
) -> dict[str, Any]:
    sample, cut = sample_of(content, suggestion["encoding"], suggestion["delimiter"])
    job = _dry_run(api, name, sample, {**config, "delimiter": suggestion["delimiter"]})
    if job["status"] != "completed":
        raise ApiError(f"The check did not finish: {job.get('error') or job['status']}")
    reasons = _first_invalid_rows(api, job["id"]) if job["counts"]["failed"] else []
    return {"counts": job["counts"], "cut": cut, "reasons": reasons}


def render_check(
    api: ApiClient,
    upload_id: str,
    name: str,
    content: bytes,
    suggestion: dict[str, Any],
    config: dict[str, Any],
) -> bool:
    """The check and its outcome; whether the import may go ahead (Replace: once confirmed)."""
    identity = (upload_id, json.dumps(config, sort_keys=True))
    checked = st.session_state.get(CHECK_KEY)
    if checked is None or checked["for"] != identity:
        checked = None
        if st.button("Check the file", icon=":material/fact_check:"):
            try:
                with st.spinner("Checking every row against the live data, writing nothing…"):
                    result = run_check(api, name, content, suggestion, config)
            except ApiError as error:
                st.error(f"The check failed: {plain(error)}", icon=":material/error:")
                return config["action"] != "replace"
            checked = {"for": identity, **result}
            st.session_state[CHECK_KEY] = checked
        else:
            st.caption(
                "A dry run tells how many rows are invalid and how many match existing "
                "customers, before anything is written."
            )
            if config["action"] == "replace":
                st.warning(
                    "Replace overwrites the profiles it matches: check the file first to see "
                    "how many.",
                    icon=":material/warning:",
                )
                return False
            return True
    counts = checked["counts"]
    scope = f"the first {SAMPLE_ROWS:,} rows" if checked["cut"] else f"all {counts['total']:,} rows"
    matching = counts["updated"] + counts["ignored"]
    st.markdown(f"**Checked {scope}** against the live data; nothing was written.")
    new, matched, invalid = st.columns(3)
    new.metric("New customers", f"{counts['imported']:,}")
    matched.metric("Match existing customers", f"{matching:,}")
    invalid.metric("Invalid rows", f"{counts['failed']:,}")
    if counts["failed"]:
        rows = ", ".join(row for row, _, _ in checked["reasons"])
        more = " and more" if counts["failed"] > len(checked["reasons"]) else ""
        st.markdown(
            f"**Invalid rows and why** (rows {rows}{more} of the file; the report after the "
            "import lists them all)"
        )
        headers = [
            Cell("Row", number=True),
            Cell("Identifiers", long=True),
            Cell("Reason", long=True),
        ]
        st.html(grid_html(headers, checked["reasons"], "Invalid rows"))
    if config["action"] != "replace" or not counts["updated"]:
        return True
    where = "of the first rows " if checked["cut"] else ""
    return st.checkbox(
        f"Yes, overwrite {counts['updated']:,} existing profiles {where}with the file's rows "
        "(fields the file leaves empty are removed)",
        key=f"confirm-replace:{identity}",
    )

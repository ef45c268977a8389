"""What a person can do with a finished import on the status page: undo it (after a
confirmation), and fix its failed rows in a table and import the fixed ones again."""

from __future__ import annotations

import csv
import io
from typing import Any

import pandas as pd
import streamlit as st

from domain.formula_safety import escaped, unescaped
from ui import session
from ui.api_client import ApiClient, ApiError
from ui.job_text import is_revert, when
from ui.markdown import plain

FINISHED = {"completed", "failed", "cancelled"}
CONFIRM_UNDO_KEY = "confirm_undo"
ERROR_COLUMN = "error"  # the failed-rows CSV's reason column


def show_job(job_id: str, message: str) -> None:
    """Go on to another job of the list (a revert or a retry just started)."""
    st.session_state[session.FOCUS_JOB_KEY] = job_id
    session.flash(message)
    st.rerun()


def render_undo(api: ApiClient, job: dict[str, Any]) -> None:
    if is_revert(job) or job.get("dryRun") or job["status"] not in FINISHED:
        return
    if job.get("revertId"):
        done = f" on {when(job['revertedAt'])}" if job.get("revertedAt") else " (running)"
        st.info(
            f"Undone by {plain(job.get('revertedBy') or 'unknown')}{done} · "
            f"undo job {job['revertId']}",
            icon=":material/undo:",
        )
        return
    if not session.can_import():
        return
    if st.session_state.get(CONFIRM_UNDO_KEY) != job["id"]:
        if st.button("Undo this import", icon=":material/undo:", key=f"undo:{job['id']}"):
            st.session_state[CONFIRM_UNDO_KEY] = job["id"]
            st.rerun()
        return
    st.warning(
        "Undo this import? The customers it inserted are deleted and the customers it changed "
        "get back what they held before. A customer changed since is left as it is and listed "
        "in the undo's report.",
        icon=":material/warning:",
    )
    confirm, keep = st.columns(2)
    if confirm.button("Yes, undo the import", type="primary", key=f"undo-yes:{job['id']}"):
        st.session_state.pop(CONFIRM_UNDO_KEY, None)
        try:
            revert = api.revert_import(job["id"])
        except ApiError as error:
            st.error(f"The import was not undone: {plain(error)}", icon=":material/error:")
            return
        show_job(revert["id"], f"Undo of {job['fileName']} started: job {revert['id']}.")
    if keep.button("Keep the import", key=f"undo-no:{job['id']}"):
        st.session_state.pop(CONFIRM_UNDO_KEY, None)
        st.rerun()


def failed_rows_frame(content: bytes) -> pd.DataFrame:
    """The failed-rows CSV as the text cells it holds (a phone stays "+1..."), without the
    apostrophes that keep a spreadsheet from reading them as formulas: a person edits the
    real values."""
    rows = [
        [unescaped(cell) for cell in row]
        for row in csv.reader(io.StringIO(content.decode("utf-8-sig")))
    ]
    return pd.DataFrame(rows[1:], columns=rows[0], dtype=str) if rows else pd.DataFrame()


def fixed_rows_csv(original: pd.DataFrame, edited: pd.DataFrame) -> tuple[bytes, int]:
    """The rows a person changed, without their reason, as a CSV with the original's
    columns, escaped as the failed-rows CSV is (the retry reads them back unescaped); and
    how many there are."""
    columns = [c for c in original.columns if c != ERROR_COLUMN]
    changed = (edited[columns].fillna("") != original[columns].fillna("")).any(axis=1)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([escaped(column) for column in columns])
    for row in edited.loc[changed, columns].fillna("").astype(str).values.tolist():
        writer.writerow([escaped(value) for value in row])
    return buffer.getvalue().encode(), int(changed.sum())


def render_fix_and_retry(api: ApiClient, job: dict[str, Any], failed_rows: bytes) -> None:
    if not session.can_import() or not job["counts"].get("failed"):
        return
    original = failed_rows_frame(failed_rows)
    if original.empty:
        return
    st.markdown("**Fix the failed rows and import them again**")
    st.caption(
        "Correct the cells below (the error column says what was wrong), then import the "
        "rows you changed, with this import's settings and mapping."
    )
    edited = st.data_editor(
        original,
        hide_index=True,
        num_rows="fixed",
        disabled=[ERROR_COLUMN],
        key=f"fix:{job['id']}",
    )
    content, count = fixed_rows_csv(original, edited)
    label = f"Import the {count} fixed row{'' if count == 1 else 's'}"
    if st.button(label, icon=":material/replay:", disabled=not count, key=f"retry:{job['id']}"):
        stem = job["fileName"].rsplit(".", 1)[0]
        try:
            retry = api.retry_import(job["id"], f"{stem}-fixed.csv", content)
        except ApiError as error:
            st.error(f"The fixed rows were not imported: {plain(error)}", icon=":material/error:")
            return
        show_job(retry["id"], f"{count} fixed row(s) of {job['fileName']} sent: job {retry['id']}.")

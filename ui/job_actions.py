"""What a person can do with an import on the status page: cancel a running one and resume
a cancelled or failed one, undo one that wrote something (each after a confirmation), and
fix its failed rows in a table and import the fixed ones again."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from domain.formula_safety import escaped, unescaped
from ui import session
from ui.api_client import ApiClient, ApiError
from ui.job_text import UNFINISHED, is_check, is_revert, rows_left, when
from ui.markdown import plain

FINISHED = {"completed", "failed", "cancelled"}
CONFIRM_UNDO_KEY = "confirm_undo"
CONFIRM_CANCEL_KEY = "status_confirm_cancel"
ERROR_COLUMN = "error"  # the failed-rows CSV's reason column


def show_job(job_id: str, message: str) -> None:
    """Go on to another job of the list (a revert or a retry just started)."""
    st.session_state[session.FOCUS_JOB_KEY] = job_id
    session.flash(message)
    st.rerun()


@dataclass(frozen=True)
class Confirmation:
    """A button that asks before it acts: `ask` (label, icon), then a warning with the yes
    and no `answers`. Widget keys: `widget`, `widget`-yes and `widget`-no, with the job's id;
    `state_key` holds the job being confirmed."""

    state_key: str
    widget: str
    ask: tuple[str, str]
    answers: tuple[str, str]
    widths: tuple[int, int]


CANCEL = Confirmation(
    CONFIRM_CANCEL_KEY,
    "cancel",
    ("Cancel this import", ":material/cancel:"),
    ("Yes, cancel it", "Keep it running"),
    (1, 4),
)
UNDO = Confirmation(
    CONFIRM_UNDO_KEY,
    "undo",
    ("Undo this import", ":material/undo:"),
    ("Yes, undo the import", "Keep the import"),
    (1, 1),
)


def confirmed(job: dict[str, Any], confirmation: Confirmation, warning: str) -> bool:
    """True on the run in which the person confirmed."""
    job_id, state_key, widget = job["id"], confirmation.state_key, confirmation.widget
    if st.session_state.get(state_key) != job_id:
        label, icon = confirmation.ask
        if st.button(label, icon=icon, key=f"{widget}:{job_id}"):
            st.session_state[state_key] = job_id
            st.rerun()
        return False
    st.warning(warning, icon=":material/warning:")
    yes, no = st.columns(list(confirmation.widths))
    if yes.button(confirmation.answers[0], type="primary", key=f"{widget}-yes:{job_id}"):
        st.session_state.pop(state_key, None)
        return True
    if no.button(confirmation.answers[1], key=f"{widget}-no:{job_id}"):
        st.session_state.pop(state_key, None)
        st.rerun()
    return False


NextJob = Callable[[dict[str, Any]], tuple[str, str]]  # the API's answer → (job id, message)


def call_then_show(call: Callable[[], dict[str, Any]], failure: str, next_job: NextJob) -> None:
    """Ask the API, then go on to the job `next_job` names; or say why not: "`failure`: why"."""
    try:
        answer = call()
    except ApiError as error:
        st.error(f"{failure}: {plain(error)}", icon=":material/error:")
        return
    show_job(*next_job(answer))


def confirm_then_call(
    job: dict[str, Any],
    confirmation: Confirmation,
    warning: str,
    call: Callable[[], dict[str, Any]],
    failure: str,
    next_job: NextJob,
) -> None:
    if confirmed(job, confirmation, warning):
        call_then_show(call, failure, next_job)


def render_cancel(api: ApiClient, job: dict[str, Any]) -> None:
    """Cancelling a running import, after a confirmation that tells how far it got. An undo
    is not offered a cancel: it runs to its end."""
    if is_revert(job) or job["status"] not in UNFINISHED or not session.may_act_on(job):
        return
    done, total = job["progress"]["processedRows"], job["progress"]["totalRows"]
    warning = (
        f"Stop the import of {plain(job['fileName'])}? The rows processed by then ({done:,} of "
        f"{total:,} so far) stay as they were written; the rest is not imported, and you can "
        "resume it later."
    )

    def cancelled(stopped: dict[str, Any]) -> tuple[str, str]:
        done, total = stopped["progress"]["processedRows"], stopped["progress"]["totalRows"]
        return job["id"], (
            f"Import of {job['fileName']} cancelled after {done:,} of {total:,} rows; rows "
            "already written stay."
        )

    confirm_then_call(
        job,
        CANCEL,
        warning,
        lambda: api.cancel_import(job["id"]),
        "The import was not cancelled",
        cancelled,
    )


def render_resume(api: ApiClient, job: dict[str, Any]) -> None:
    """A cancelled or failed import continued with the rows it did not process."""
    if is_revert(job) or job["status"] not in ("cancelled", "failed") or job.get("resumedBy"):
        return
    left = rows_left(job)
    if not left and job["status"] == "cancelled":
        return
    if not session.may_act_on(job):
        return
    rows = f"the {left:,} rows it did not process" if left else "the rows it did not process"
    st.caption(
        f"Resuming imports {rows}, with the same settings and mapping, as a new upload "
        "linked to this one."
    )
    if st.button("Resume this import", icon=":material/play_arrow:", key=f"resume:{job['id']}"):
        call_then_show(
            lambda: api.resume_import(job["id"]),
            "The import was not resumed",
            lambda resumed: (resumed["id"], f"Import of {job['fileName']} resumed with {rows}."),
        )


def wrote_something(job: dict[str, Any]) -> bool:
    return bool(job["counts"]["imported"] + job["counts"]["updated"])


def render_undo(api: ApiClient, job: dict[str, Any]) -> None:
    if is_revert(job) or is_check(job) or job["status"] not in FINISHED:
        return
    if job.get("revertId"):
        done = f" on {when(job['revertedAt'])}" if job.get("revertedAt") else " (running)"
        st.info(
            f"Undone by {plain(job.get('revertedBy') or 'unknown')}{done}", icon=":material/undo:"
        )
        return
    if not session.may_act_on(job) or not wrote_something(job):
        return
    warning = (
        "Undo this import? The customers it inserted are deleted and the customers it changed "
        "get back what they held before. A customer changed since is left as it is and listed "
        "in the undo's report."
    )
    confirm_then_call(
        job,
        UNDO,
        warning,
        lambda: api.revert_import(job["id"]),
        "The import was not undone",
        lambda revert: (revert["id"], f"Undo of {job['fileName']} started; its progress is below."),
    )


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
    if not session.may_act_on(job) or not job["counts"].get("failed"):
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
        sent = f"{count} fixed row(s) of {job['fileName']} sent; see them below."
        call_then_show(
            lambda: api.retry_import(job["id"], f"{stem}-fixed.csv", content),
            "The fixed rows were not imported",
            lambda retry: (retry["id"], sent),
        )

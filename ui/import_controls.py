"""The import settings' controls shared by the import page and the schedules page: the
actions with their warnings, phone regions, and the column-mapping table fed by the API's
suggestion for a file."""

from __future__ import annotations

import json
from typing import Any

import phonenumbers
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from ui.api_client import ApiClient, ApiError
from ui.mapping_table import Attribute, column_flag, suggestion_words
from ui.markdown import plain

SUGGESTION_KEY = "mapping_suggestion"
MAPPING_CHECK_KEY = "mapping_check"
# Order and wording of the product documentation; replace carries the warning it asks for.
ACTIONS = {
    "ignore": (
        "Ignore",
        "Skip the CSV row and leave the existing profile unchanged. Safest: changes nothing.",
    ),
    "replace": (
        "Replace",
        "The profile becomes exactly the CSV row. :red[**Risky: overwrites everything**], "
        "and fields the row leaves empty are removed.",
    ),
    "update": (
        "Update (merge)",
        "Fill only the profile's empty fields. Safe: never overwrites an existing value.",
    ),
    "append": (
        "Append",
        "Add new values to multi-value fields (emails, phones…); single-value fields such "
        "as city take the CSV's value. Overwrites single-value fields.",
    ),
}
PHONE_REGIONS = [None, *sorted(phonenumbers.SUPPORTED_REGIONS)]
TEMPLATES = [
    ("csv", "CSV", "text/csv"),
    ("xlsx", "Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
]


# On a narrow screen Streamlit stacks columns, which would put the table's headers above
# all of its cells: the mapping table keeps each row's cells side by side instead.
KEEP_ROWS_ACROSS = """<style>
.st-key-mapping-table [data-testid="stHorizontalBlock"] { flex-wrap: nowrap; gap: 0.5rem; }
.st-key-mapping-table [data-testid="stColumn"] { min-width: 0 !important; }
.st-key-mapping-table [data-testid="stColumn"] p { overflow-wrap: anywhere; }
</style>"""


def suggestion_for(
    api: ApiClient, record_type: str, upload: UploadedFile, sheet: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The API's mapping suggestion for this upload (asked once per file, sheet and record
    type), or the reason the file cannot be used."""
    identity = (record_type, upload.file_id, sheet)
    cached = st.session_state.get(SUGGESTION_KEY)
    if cached is None or cached["for"] != identity:
        try:
            content = upload.getvalue()
            result = api.suggest_mapping(upload.name, content, record_type, sheet)
            problem = None
        except ApiError as error:
            if error.status_code is None or error.status_code >= 500:
                raise
            result, problem = None, str(error)
        cached = {"for": identity, "result": result, "problem": problem}
        st.session_state[SUGGESTION_KEY] = cached
    return cached["result"], cached["problem"]


def mapping_check_for(
    api: ApiClient,
    record_type: str,
    upload: UploadedFile,
    sheet: str | None,
    chosen: dict[str, Any],
) -> dict[str, Any]:
    """The API's check of the chosen mapping (`chosenMapping` of its answer), asked again only
    when the file, sheet, record type or choice changes."""
    identity = (record_type, upload.file_id, sheet, json.dumps(chosen, sort_keys=True))
    cached = st.session_state.get(MAPPING_CHECK_KEY)
    if cached is None or cached["for"] != identity:
        answer = api.suggest_mapping(upload.name, upload.getvalue(), record_type, sheet, chosen)
        cached = {"for": identity, "check": answer["chosenMapping"]}
        st.session_state[MAPPING_CHECK_KEY] = cached
    check: dict[str, Any] = cached["check"]
    return check


def field_label(field: str | None, attributes: list[Attribute]) -> str:
    if field is None:
        return "— do not import —"
    return next((a.choice for a in attributes if a.key == field), field)


def render_mapping_table(
    suggestion: dict[str, Any], attributes: list[Attribute], widget_prefix: str
) -> dict[str, str | None]:
    """One row per CSV column with the suggestion and a drop-down; returns the chosen mapping.
    A column is highlighted while nothing is chosen for it, or a weak guess is."""
    options: list[str | None] = [None, *(a.key for a in attributes)]
    samples = suggestion["sampleRows"]
    widths = [2, 3, 3, 3]
    table = st.container(key="mapping-table")
    table.html(KEEP_ROWS_ACROSS)
    header = table.columns(widths)
    titles = ["CSV column", "Sample values", "Suggested", "Import as"]
    for cell, title in zip(header, titles, strict=True):
        cell.markdown(f"**{title}**")
    mapping: dict[str, str | None] = {}
    for index, column in enumerate(suggestion["columns"]):
        name_cell, sample_cell, suggested_cell, choice_cell = table.columns(
            widths, vertical_alignment="center"
        )
        name = plain(column["column"])
        chosen = choice_cell.selectbox(
            f"Import column {name} as",
            options,
            index=options.index(column["field"]) if column["field"] in options else 0,
            format_func=lambda field: field_label(field, attributes),
            key=f"{widget_prefix}:map:{index}",
            label_visibility="collapsed",
        )
        mapping[column["column"]] = chosen
        flag = column_flag(column, chosen, suggestion["confidenceBar"])
        if flag == "unmapped":
            name_cell.markdown(f":red[:material/block: **{name}**]  \n:red[Not imported]")
        elif flag == "low confidence":
            name_cell.markdown(f":orange[:material/help: **{name}**]  \n:orange[Please check]")
        else:
            name_cell.markdown(f"**{name}**")
        values = [row.get(column["column"], "") for row in samples[:3]]
        sample_cell.caption(plain(", ".join(v for v in values if v)) or "(empty)")
        suggested = field_label(column["field"], attributes) if column["field"] else "—"
        suggested_cell.markdown(f"{plain(suggested)}  \n:gray[{suggestion_words(column)}]")
    return mapping

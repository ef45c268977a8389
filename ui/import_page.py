"""Import page: the whole configuration on one screen, in the documented order (record type,
CSV or Excel file and sample templates, channel identifier, action, column mapping), then
Import."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui import session
from ui.api_client import ApiError
from ui.import_check import render_check
from ui.import_controls import (
    ACTIONS,
    PHONE_REGIONS,
    SUGGESTION_KEY,
    TEMPLATES,
    mapping_check_for,
    render_mapping_table,
    suggestion_for,
)
from ui.mapping_table import attribute_display, attributes_of, preview_table
from ui.markdown import plain
from ui.new_attribute import render_new_attributes

ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows"}
SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def read_as_text(encoding: str, delimiter: str) -> str:
    """How the file was read, in a person's words: "UTF-8 text, values separated by commas"."""
    encoding_name = ENCODINGS.get(encoding.lower(), encoding.upper())
    separator = SEPARATORS.get(delimiter, f"'{delimiter}'")
    return f"{encoding_name} text, values separated by {separator}"


def import_config(
    record_type: str,
    channel_identifier: str,
    action: str,
    mapping: dict[str, str | None],
    phone_region: str | None,
    separator: str,
    sheet: str | None,
) -> dict[str, Any]:
    return {
        **({"sheet": sheet} if sheet else {}),
        "recordType": record_type,
        "deduplicationKeys": [channel_identifier],
        "action": action,
        "mapping": mapping,
        "phoneDefaultRegion": phone_region,
        "multiValueSeparator": separator,
    }


def render() -> None:
    api = session.client()
    st.title("Import customers")
    st.caption("Configure everything on this screen, then click Import.")

    top_left, top_right = st.columns(2, gap="large")
    with top_left:
        st.subheader("1. Record type")
        record_types = api.record_types()
        labels = {rt["name"]: rt["label"] for rt in record_types}
        record_type: str = st.selectbox(
            "Record type", list(labels), format_func=lambda name: labels[name]
        )
    with top_right:
        st.subheader("2. CSV or Excel file")
        upload = st.file_uploader(
            "Upload a CSV file or an Excel workbook (.xlsx)", type=["csv", "xlsx"], key="csv_file"
        )
        required = [a for a in attributes_of(api.schema(record_type)) if a.required]
        mandatory = ", ".join(a.display for a in required) or "none"
        csv_template, xlsx_template = st.columns(2)
        for column, (extension, kind, mime) in zip(
            (csv_template, xlsx_template), TEMPLATES, strict=True
        ):
            column.download_button(
                f"Download the sample {kind} template",
                data=api.template(record_type, extension),
                file_name=f"{record_type}-template.{extension}",
                mime=mime,
                icon=":material/download:",
                on_click="ignore",
                help=(
                    "Every attribute of the schema as a header: fill it in and upload it. "
                    f"Mandatory: {plain(mandatory)}."
                    + (" In the workbook they are bold on yellow." if extension == "xlsx" else "")
                ),
            )

    middle_left, middle_right = st.columns(2, gap="large")
    with middle_left:
        st.subheader("3. Channel identifier")
        identifiers = {i["key"]: i["label"] for i in api.channel_identifiers(record_type)}
        channel_identifier: str = st.selectbox(
            "Search for existing customers by",
            list(identifiers),
            format_func=lambda key: identifiers[key],
            help="A CSV row whose value here matches an existing customer is a duplicate.",
        )
    with middle_right:
        st.subheader("4. Action on matching records")
        action: str = st.radio(
            "When a duplicate is found",
            list(ACTIONS),
            format_func=lambda key: ACTIONS[key][0],
            captions=[text for _, text in ACTIONS.values()],
        )

    with st.expander("Advanced options"):
        phone_region: str | None = st.selectbox(
            "Phone default region",
            PHONE_REGIONS,
            format_func=lambda code: code or "None: phone numbers must start with +",
            help="Used for phone numbers written without a country code, e.g. US or GB.",
        )
        separator: str = st.text_input(
            "Multi-value separator",
            value="|",
            max_chars=3,
            key="multi_value_separator",
            help="Splits one cell into several values for multi-value fields.",
        )

    st.subheader("5. Map CSV columns to customer fields")
    ready = False
    mapping: dict[str, str | None] = {}
    suggestion: dict[str, Any] | None = None
    sheet: str | None = None
    if upload is None:
        st.info("Upload a file to see and adjust how its columns map to customer fields.")
    else:
        sheet_key = f"sheet:{upload.file_id}"
        sheet = st.session_state.get(sheet_key)
        suggestion, rejected = suggestion_for(api, record_type, upload, sheet)
        if suggestion is None:
            st.error(f"This file cannot be imported: {plain(rejected)}", icon=":material/error:")
        else:
            attributes = attributes_of(api.schema(record_type))
            if len(suggestion.get("sheets") or []) > 1:
                st.selectbox("Sheet of the workbook", suggestion["sheets"], key=sheet_key)
            read_as = (
                f"sheet {plain(sheet or suggestion['sheets'][0])}"
                if suggestion.get("sheets")
                else read_as_text(suggestion["encoding"], suggestion["delimiter"])
            )
            st.caption(
                f"{plain(upload.name)}: {len(suggestion['columns'])} columns, {read_as}. "
                "Highlighted columns need your attention."
            )
            prefix = f"{upload.file_id}:{sheet}"
            mapping = render_mapping_table(suggestion, attributes, prefix)
            chosen = {
                "mapping": mapping,
                **({"multiValueSeparator": separator} if separator else {}),
            }
            check = mapping_check_for(api, record_type, upload, sheet, chosen)
            proposals = check["proposedAttributes"]
            render_new_attributes(api, record_type, suggestion, mapping, prefix, proposals)
            problems = []
            for key in check["missingRequired"]:
                problems.append(
                    f"Missing mandatory attribute: {plain(attribute_display(key, attributes))}. "
                    "Choose it for one of the columns in the table above."
                )
            for key, columns in check["mappedTwice"].items():
                problems.append(
                    f"{plain(attribute_display(key, attributes))} holds one value, but columns "
                    f"{plain(', '.join(columns))} "
                    "all map to it. Keep it for one column and set the others to "
                    "'— do not import —'."
                )
            for problem in problems:
                st.error(problem, icon=":material/warning:")
            st.subheader("6. Preview")
            rows = preview_table(check["previewRows"], mapping, attributes)
            if rows:
                first = "The first row" if len(rows) == 1 else f"The first {len(rows)} rows"
                st.caption(f"{first} as they will be imported; the check below validates them.")
                st.dataframe(pd.DataFrame(rows), hide_index=True)
            else:
                st.caption("The file has no data rows to preview.")
            ready = not problems

    config = import_config(
        record_type, channel_identifier, action, mapping, phone_region, separator, sheet
    )
    if ready and upload is not None and suggestion is not None:
        st.subheader("7. Check before importing")
        ready = render_check(
            api, upload.file_id, upload.name, upload.getvalue(), suggestion, config
        )
    clicked = st.button("Import", type="primary", disabled=not ready, icon=":material/upload:")
    if clicked and upload is not None:
        try:
            job = api.create_import(upload.name, upload.getvalue(), config)
        except ApiError as error:
            st.error(f"The import was not started: {plain(error)}", icon=":material/error:")
            return
        st.session_state.pop(SUGGESTION_KEY, None)
        st.session_state[session.FOCUS_JOB_KEY] = job["id"]
        session.flash(f"Import of {upload.name} started; its progress is below.")
        st.switch_page("status_page.py")


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

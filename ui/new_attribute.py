"""The mapping step's "Create a new attribute from this column" (issue 25): for each column
that maps to nothing, an admin gets a form with the key and type the API proposes (from the
header, unique, and from the sample values), its label, and the multi-value and
channel-identifier switches; once created, the column maps to it. Everyone else is told to
ask an admin. Column names are shown as plain text."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.markdown import plain

TYPES = ["string", "email", "phone", "number", "boolean", "date"]
ERROR_KEY = "new_attribute_error"


def _mapping_widget(prefix: str, index: int) -> str:
    """The key of the column's drop-down in the mapping table (ui.import_controls)."""
    return f"{prefix}:map:{index}"


def _create(api: ApiClient, record_type: str, form: str, prefix: str, index: int) -> None:
    """On "Create attribute": add it, then map the column to it (before the table is drawn
    again, so its drop-down can be set)."""
    state = st.session_state
    attribute = {
        "key": state[f"{form}:key"].strip(),
        "label": state[f"{form}:label"].strip(),
        "type": state[f"{form}:type"],
        "multiValue": state[f"{form}:multi"],
        "channelIdentifier": state[f"{form}:identifier"],
    }
    try:
        api.add_attribute(record_type, attribute)
    except ApiError as error:
        state[ERROR_KEY] = (form, f"The attribute was not created: {error}")
        return
    state[_mapping_widget(prefix, index)] = attribute["key"]
    session.flash(f"Attribute {attribute['key']} created; the column now maps to it.")


def render_new_attributes(
    api: ApiClient,
    record_type: str,
    suggestion: dict[str, Any],
    mapping: dict[str, str | None],
    prefix: str,
    proposals: dict[str, dict[str, str]],
) -> None:
    """`proposals`: the API's proposed attribute (key, type) of each column not imported
    (`proposedAttributes` of its mapping check)."""
    session.show_flash()  # "Attribute … created" once the column maps to it
    unmapped = [
        (index, column["column"])
        for index, column in enumerate(suggestion["columns"])
        if mapping.get(column["column"]) is None
    ]
    if not unmapped:
        return
    if not session.is_admin():
        st.caption(
            "A column that fits no attribute is not imported. Ask an admin to add this "
            "attribute to the customer schema, then upload the file again."
        )
        return
    error = st.session_state.pop(ERROR_KEY, None)
    for index, column in unmapped:
        form = f"new_attribute:{prefix}:{index}"
        with st.expander(f"Create a new attribute from column {index + 1}"):
            st.text(f"Column: {column}")
            proposal = proposals[column]
            with st.form(form, border=False):
                st.text_input("Key", value=proposal["key"], key=f"{form}:key")
                st.text_input("Label", value=column.strip()[:100], key=f"{form}:label")
                st.selectbox(
                    "Type",
                    TYPES,
                    index=TYPES.index(proposal["type"]),
                    key=f"{form}:type",
                    help="Guessed from the column's first values.",
                )
                st.toggle("Several values (multi-value)", key=f"{form}:multi")
                st.toggle(
                    "Identifies a customer (channel identifier)",
                    key=f"{form}:identifier",
                    help="Imports can then find existing customers by it.",
                )
                st.form_submit_button(
                    "Create attribute",
                    on_click=_create,
                    args=(api, record_type, form, prefix, index),
                )
            if error and error[0] == form:
                st.error(plain(error[1]), icon=":material/error:")

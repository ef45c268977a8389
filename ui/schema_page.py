"""Customer schema page (admins): the attributes, adding one, editing one's label, synonyms
and flags, removing one, and the versions with their diffs (restore any). The API applies
the rules that keep data safe; its refusals are shown as they are worded. Every change is
sent with the ETag of the schema shown, so a change made meanwhile is refused, not lost."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.html_table import text_table
from ui.job_text import when
from ui.markdown import plain
from ui.new_attribute import TYPES

RECORD_TYPE = "customers"
FLAGS = {"required": "Mandatory", "multiValue": "Several values", "channelIdentifier": "Identifier"}


def _yes(flag: object) -> str:
    return "yes" if flag else ""


def render_table(attributes: list[dict[str, Any]]) -> None:
    text_table(
        [
            {
                "Key": a["key"],
                "Label": a["label"],
                "Type": a["type"],
                **{title: _yes(a[flag]) for flag, title in FLAGS.items()},
                "Other names": ", ".join(a["synonyms"]),
            }
            for a in attributes
        ],
        "schema-attributes",
    )


def _synonyms(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _change(api: ApiClient, attributes: list[dict[str, Any]], etag: str, force: bool) -> None:
    try:
        api.replace_schema(RECORD_TYPE, attributes, etag, force)
    except ApiError as error:
        st.error(f"The schema was not changed: {plain(error)}", icon=":material/error:")
        return
    session.flash("Schema saved as a new version.")
    st.rerun()


def render_add(api: ApiClient) -> None:
    with st.form("add_attribute", clear_on_submit=True):
        st.subheader("Add an attribute")
        key = st.text_input("Key", placeholder="company")
        label = st.text_input("Label", placeholder="Company")
        kind = st.selectbox("Type", TYPES)
        synonyms = st.text_input("Other names (comma-separated)")
        multi = st.toggle("Several values (multi-value)")
        identifier = st.toggle("Identifies a customer (channel identifier)")
        if st.form_submit_button("Add attribute", type="primary"):
            attribute = {
                "key": key.strip(),
                "label": label.strip(),
                "type": kind,
                "synonyms": _synonyms(synonyms),
                "multiValue": multi,
                "channelIdentifier": identifier,
            }
            try:
                api.add_attribute(RECORD_TYPE, attribute)
            except ApiError as error:
                st.error(f"The attribute was not added: {plain(error)}", icon=":material/error:")
                return
            session.flash(f"Attribute {attribute['key']} added.")
            st.rerun()


def render_edit(api: ApiClient, attributes: list[dict[str, Any]], etag: str) -> None:
    st.subheader("Edit or remove an attribute")
    keys = [a["key"] for a in attributes]
    chosen = st.selectbox("Attribute", keys, key="edit_attribute")
    current = attributes[keys.index(chosen)]
    with st.form(f"edit:{chosen}"):
        label = st.text_input("Label", value=current["label"])
        synonyms = st.text_input("Other names (comma-separated)", ", ".join(current["synonyms"]))
        kind = st.selectbox("Type", TYPES, index=TYPES.index(current["type"]))
        flags = {
            flag: st.toggle(title, value=bool(current[flag]), key=f"edit:{chosen}:{flag}")
            for flag, title in FLAGS.items()
        }
        force = st.checkbox(
            "Convert the values customers hold to the new type or shape",
            help="Needed to change the type or multi-value flag of an attribute that holds "
            "values; refused if any value does not fit.",
        )
        if st.form_submit_button("Save attribute", type="primary"):
            edited = {**current, "label": label, "synonyms": _synonyms(synonyms), "type": kind}
            edited.update(flags)
            _change(api, [edited if a["key"] == chosen else a for a in attributes], etag, force)
    confirm = st.checkbox(
        "Yes, remove this attribute and the values customers hold for it",
        key=f"remove:{chosen}:confirm",
    )
    if st.button("Remove attribute", icon=":material/delete:", disabled=not confirm):
        _change(api, [a for a in attributes if a["key"] != chosen], etag, force=True)


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """A version's diff as sentences of plain text."""
    lines = [f"Added {a['key']} ({a['label']}, {a['type']})" for a in diff.get("added", [])]
    lines += [f"Removed {a['key']}" for a in diff.get("removed", [])]
    for change in diff.get("changed", []):
        for name, values in change["fields"].items():
            lines.append(f"{change['key']}: {name} {values['before']!r} → {values['after']!r}")
    if diff.get("reordered"):
        lines.append("Attributes reordered")
    if diff.get("restoredFrom"):
        lines.append(f"Restored version {diff['restoredFrom']}")
    return lines


def render_versions(api: ApiClient, etag: str) -> None:
    st.subheader("Versions")
    versions = api.schema_versions(RECORD_TYPE)
    for index, version in enumerate(versions):
        title = f"Version {version['version']} · {when(version['at'])}"
        with st.expander(title + (" (current)" if index == 0 else ""), expanded=index == 0):
            st.text(f"By {version['by']}")
            lines = diff_lines(version["diff"])
            if version["version"] == 1:
                lines = [f"The first schema: {len(version['diff']['added'])} attributes"]
            st.text("\n".join(lines) or "No change")
            if index > 0 and st.button(
                f"Restore version {version['version']}", key=f"restore:{version['version']}"
            ):
                try:
                    api.restore_schema_version(RECORD_TYPE, version["version"], etag)
                except ApiError as error:
                    st.error(f"Not restored: {plain(error)}", icon=":material/error:")
                    return
                session.flash(f"Version {version['version']} restored as a new version.")
                st.rerun()


def render() -> None:
    api = session.client()
    st.title("Customer schema")
    session.show_flash()
    st.caption(
        "The attributes customers have. Default attributes keep their keys; an attribute "
        "customers hold values for is removed or retyped only when you say so, and every "
        "change is kept as a version you can restore."
    )
    schema, etag = api.schema_version(RECORD_TYPE)
    render_table(schema["attributes"])
    left, right = st.columns(2, gap="large")
    with left:
        render_edit(api, schema["attributes"], etag)
    with right:
        render_add(api)
    render_versions(api, etag)


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

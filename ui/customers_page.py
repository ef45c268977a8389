"""Customer lookup: find a customer by any channel identifier (or its id), see its profile and
its history (the imports and reverts that wrote it, with the fields each changed), with links
to those imports on the status page. Every value is shown as plain text."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui import session
from ui.api_client import ApiClient, ApiError
from ui.html_table import text_table
from ui.job_text import when
from ui.markdown import plain

RECORD_TYPE = "customers"
BY_ID = "__id__"
LINK_PARAMETER = "customer"  # ?customer=<id>: the page opens on that customer
BOOKKEEPING = ("id", "createdAt", "updatedAt", "lastImportId")


def shown(value: Any) -> str:
    """A value as plain text for a table cell."""
    if value is None or value == [] or value == "":
        return "—"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def find(api: ApiClient) -> dict[str, Any] | None:
    identifiers = {i["key"]: i["label"] for i in api.channel_identifiers(RECORD_TYPE)}
    choices = {**identifiers, BY_ID: "Customer id"}
    linked = st.query_params.get(LINK_PARAMETER)
    if linked and "customer_find_by" not in st.session_state:  # a link names the customer
        st.session_state["customer_find_by"], st.session_state["customer_value"] = BY_ID, linked
    by, value = st.columns([1, 3])
    key = by.selectbox("Find by", list(choices), format_func=choices.get, key="customer_find_by")
    wanted = value.text_input("Value", placeholder="ann@example.com", key="customer_value")
    wanted = wanted.strip()
    if not wanted:
        return None
    if key == BY_ID:
        return api.get_customer(wanted)
    found = api.find_customers(key, wanted)
    if not found:
        st.info(f"No customer has {plain(choices[key])} {plain(repr(wanted))}.")
        return None
    return api.get_customer(found[0]["id"])


def render_profile(customer: dict[str, Any]) -> None:
    st.subheader("Profile")
    st.text(f"Customer {customer['id']} · created {when(customer.get('createdAt'))}")
    fields = [
        {"Field": key, "Value": shown(value)}
        for key, value in customer.items()
        if key not in BOOKKEEPING
    ]
    text_table(fields, "customer-profile")
    if customer.get("lastImportId"):
        link_to_import(customer["lastImportId"], "Last written by the import")


def change_text(changes: list[dict[str, Any]]) -> str:
    parts = [f"{c['field']}: {shown(c['before'])} → {shown(c['after'])}" for c in changes]
    return "; ".join(parts) or "no field changed"


def render_history(api: ApiClient, customer_id: str) -> None:
    st.subheader("History")
    entries = api.customer_history(customer_id)
    if not entries:
        st.info("No import or revert wrote this customer while their records are kept.")
        return
    rows = [
        {
            "When": when(e["at"]),
            "By": f"{e['kind']} {e['importId']}",
            "Action": e["action"],
            "Outcome": e["outcome"],
            "Changes": change_text(e["changes"]),
        }
        for e in entries
    ]
    text_table(rows, "customer-history")
    for entry in entries:
        label = "revert" if entry["kind"] == "revert" else f"{entry['action']} import"
        link_to_import(entry["importId"], f"Open the {label}")


def link_to_import(import_id: str, label: str) -> None:
    st.page_link(
        "status_page.py",
        label=f"{label} {import_id}",
        query_params={"import": import_id},
        icon=":material/open_in_new:",
    )


def render() -> None:
    api = session.client()
    st.title("Customer lookup")
    st.caption("A customer's profile and the imports that changed it.")
    customer = find(api)
    if customer is None:
        return
    render_profile(customer)
    render_history(api, customer["id"])


try:
    render()
except ApiError as error:
    st.error(plain(error), icon=":material/error:")

"""Tables of text from files and users, shown exactly as text. `st.table` renders its cells as
Markdown (and links bare addresses), so these tables are HTML built here, every cell escaped:
no emphasis, link, tag, directive or formula can come of a value."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import streamlit as st

STYLE = (
    "<style>table.plain{border-collapse:collapse;width:100%;font-size:0.9rem}"
    "table.plain th,table.plain td{border:1px solid #e6e6e6;padding:4px 8px;text-align:left;"
    "vertical-align:top}table.plain th{color:#6b6b6b;font-weight:normal}</style>"
)


def table_html(rows: Sequence[Mapping[str, str]], test_id: str) -> str:
    if not rows:
        return ""
    names = list(rows[0])
    head = "".join(f"<th>{html.escape(name)}</th>" for name in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(row[name])}</td>" for name in names) + "</tr>"
        for row in rows
    )
    return (
        f'{STYLE}<table class="plain" data-testid="{html.escape(test_id)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def text_table(rows: Sequence[Mapping[str, str]], test_id: str) -> None:
    st.html(table_html(rows, test_id))

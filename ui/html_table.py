"""Tables of text from files and users, shown exactly as text. `st.table` renders its cells as
Markdown (and links bare addresses), so these tables are HTML built here, every cell escaped:
no emphasis, link, tag, directive or formula can come of a value. Long text wraps instead of
being cut off, the page grows with the rows instead of scrolling inside a box, and a cell may
link to a page of this UI."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import streamlit as st

STYLE = """<style>
.bcu-table-wrap { overflow-x: auto; }
table.bcu-table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
table.bcu-table th, table.bcu-table td {
  text-align: left; vertical-align: top; padding: 0.35rem 0.6rem;
  border-bottom: 1px solid rgba(49, 51, 63, 0.15);
  white-space: normal; overflow-wrap: break-word;
}
table.bcu-table th { font-weight: 600; background: rgba(49, 51, 63, 0.04); }
table.bcu-table .bcu-long { overflow-wrap: anywhere; min-width: 8rem; }
table.bcu-table .bcu-number { text-align: right; white-space: nowrap; }
table.bcu-table tr[aria-current="true"] td { background: rgba(37, 99, 235, 0.08); }
table.bcu-table a { color: #1d4ed8; }
@media (max-width: 640px) { table.bcu-table .bcu-wide-only { display: none; } }
</style>"""


@dataclass(frozen=True)
class Cell:
    text: str
    link: str | None = None  # a path or "?query" of this UI, opened in the same tab
    number: bool = False  # aligned right, on one line: a figure such as "20,000 / 20,000"
    long: bool = False  # free text (a file name, a reason) that may break anywhere
    wide_only: bool = False  # left out on a phone-sized screen


def _cell(tag: str, cell: Cell) -> str:
    text = html.escape(cell.text)
    if cell.link is not None:
        text = f'<a href="{html.escape(cell.link, quote=True)}" target="_self">{text}</a>'
    classes = [
        name
        for name, wanted in (
            ("bcu-number", cell.number),
            ("bcu-long", cell.long),
            ("bcu-wide-only", cell.wide_only),
        )
        if wanted
    ]
    kind = f' class="{" ".join(classes)}"' if classes else ""
    return f"<{tag}{kind}>{text}</{tag}>"


def grid_html(
    headers: Sequence[str | Cell],
    rows: Sequence[Sequence[str | Cell]],
    label: str | None = None,
    current: int | None = None,
    test_id: str | None = None,
) -> str:
    """The table as HTML for st.html; `label` names it for screen readers; the row at
    index `current` is marked as the one shown. A header given as a Cell sets how its
    column's cells are laid out (number, long, wide_only)."""

    def as_cell(value: str | Cell, column: int) -> Cell:
        cell = value if isinstance(value, Cell) else Cell(value)
        like = headers[column] if column < len(headers) else None
        if isinstance(like, Cell) and like is not value:  # a column's classes are its header's
            cell = Cell(cell.text, cell.link, like.number, like.long, like.wide_only)
        return cell

    head = "".join(_cell("th", as_cell(h, i)) for i, h in enumerate(headers))
    marked = ' aria-current="true"'
    body = "".join(
        f"<tr{marked if index == current else ''}>"
        + "".join(_cell("td", as_cell(value, i)) for i, value in enumerate(row))
        + "</tr>"
        for index, row in enumerate(rows)
    )
    named = f' aria-label="{html.escape(label, quote=True)}"' if label else ""
    tested = f' data-testid="{html.escape(test_id, quote=True)}"' if test_id else ""
    return (
        f'{STYLE}<div class="bcu-table-wrap"><table class="bcu-table"{named}{tested}>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def table_html(rows: Sequence[Mapping[str, str]], test_id: str) -> str:
    """Rows of {column: text} as a table; "" for no rows."""
    if not rows:
        return ""
    names = list(rows[0])
    return grid_html(names, [[row[name] for name in names] for row in rows], test_id=test_id)


def text_table(rows: Sequence[Mapping[str, str]], test_id: str) -> None:
    st.html(table_html(rows, test_id))

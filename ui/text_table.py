"""Tables of plain text as HTML: every cell is escaped (a value from a file is shown as
text, never markup), long text wraps instead of being cut off, and the page grows with the
rows instead of scrolling inside a box. A cell may link to a page of this UI."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

STYLE = """<style>
.bcu-table-wrap { overflow-x: auto; }
table.bcu-table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
table.bcu-table th, table.bcu-table td {
  text-align: left; vertical-align: top; padding: 0.35rem 0.6rem;
  border-bottom: 1px solid rgba(49, 51, 63, 0.15);
  white-space: normal; overflow-wrap: anywhere; word-break: normal;
}
table.bcu-table th { font-weight: 600; background: rgba(49, 51, 63, 0.04); }
table.bcu-table td.bcu-number, table.bcu-table th.bcu-number {
  text-align: right; overflow-wrap: normal; }
table.bcu-table tr[aria-current="true"] td { background: rgba(37, 99, 235, 0.08); }
table.bcu-table a { color: #1d4ed8; }
</style>"""


@dataclass(frozen=True)
class Cell:
    text: str
    link: str | None = None  # a path or "?query" of this UI, opened in the same tab
    number: bool = False  # aligned right; a figure such as "20,000 / 20,000"


def _cell(tag: str, cell: Cell) -> str:
    text = html.escape(cell.text)
    if cell.link is not None:
        text = f'<a href="{html.escape(cell.link, quote=True)}" target="_self">{text}</a>'
    kind = ' class="bcu-number"' if cell.number else ""
    return f"<{tag}{kind}>{text}</{tag}>"


def text_table(
    headers: Sequence[str | Cell],
    rows: Sequence[Sequence[str | Cell]],
    label: str,
    current: int | None = None,
) -> str:
    """The table as HTML for st.html; `label` names it for screen readers; the row at
    index `current` is marked as the one shown."""

    def as_cell(value: str | Cell) -> Cell:
        return value if isinstance(value, Cell) else Cell(value)

    head = "".join(_cell("th", as_cell(h)) for h in headers)
    marked = ' aria-current="true"'
    body = "".join(
        f"<tr{marked if index == current else ''}>"
        + "".join(_cell("td", as_cell(value)) for value in row)
        + "</tr>"
        for index, row in enumerate(rows)
    )
    return (
        f'{STYLE}<div class="bcu-table-wrap"><table class="bcu-table" '
        f'aria-label="{html.escape(label, quote=True)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )

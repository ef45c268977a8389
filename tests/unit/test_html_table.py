"""ui.html_table: any cell text comes back from the HTML table exactly, as text."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from ui.html_table import table_html


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.tags: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


@given(st.text(max_size=30), st.text(max_size=30))
def test_cells_are_their_text_and_add_no_tag(name: str, value: str) -> None:
    parser = Cells()
    parser.feed(table_html([{"Field": name, "Value": value}], "t"))
    assert parser.cells == ["Field", "Value", name, value]
    assert set(parser.tags) <= {"style", "div", "table", "thead", "tbody", "tr", "th", "td"}

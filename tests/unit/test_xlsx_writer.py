"""store.reports.xlsx: what it writes reads back, through openpyxl and the import's own
reader, as the values given (text as text, numbers as numbers), with the header bold and
frozen, the widths and the filters; and Excel's own escapes in the XML keep hostile text as
it was."""

from __future__ import annotations

import io
import re
import zipfile

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from domain.tabular import open_table
from store.reports.excel import EXCEL_CELL_LIMIT, TRUNCATION_MARK, cell_text
from store.reports.xlsx import XlsxWriter


def written(build) -> bytes:  # type: ignore[no-untyped-def]
    target = io.BytesIO()
    with XlsxWriter() as workbook:
        build(workbook)
        workbook.save(target)
    return target.getvalue()


def sheet_xml(xlsx: bytes, number: int) -> str:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        return archive.read(f"xl/worksheets/sheet{number}.xml").decode()


def test_values_sheets_and_their_frame_read_back() -> None:
    def build(workbook: XlsxWriter) -> None:
        first = workbook.sheet("Summary", ["Summary", "Count"], (28, 60))
        first.append(["Imported", 3])
        first.append([])
        first.append(["Duration (s)", 1.25])
        second = workbook.sheet("Details", ["Row", "Reason", "email"], (8,), filtered=True)
        second.append([2, '=HYPERLINK("http://x")', None])
        second.append([3, "  spaced  ", "a&b <c> \"d\" 'e'"])

    book = load_workbook(io.BytesIO(written(build)))
    assert book.sheetnames == ["Summary", "Details"]
    summary, details = book["Summary"], book["Details"]
    assert [[c.value for c in row] for row in summary.iter_rows()] == [
        ["Summary", "Count"],
        ["Imported", 3],
        [None, None],
        ["Duration (s)", 1.25],
    ]
    assert [[c.value for c in row] for row in details.iter_rows()] == [
        ["Row", "Reason", "email"],
        [2, '=HYPERLINK("http://x")', None],
        [3, "  spaced  ", "a&b <c> \"d\" 'e'"],
    ]
    assert details["B2"].data_type == "s"  # text, not a formula
    for sheet in (summary, details):
        assert sheet.freeze_panes == "A2"
        assert sheet["A1"].font.b and not sheet["A2"].font.b
    assert details.auto_filter.ref == "A1:C3"
    assert details.dimensions == "A1:C3" and summary.dimensions == "A1:B4"
    assert not summary.auto_filter.ref
    assert summary.column_dimensions["B"].width == 60
    assert details.column_dimensions["A"].width == 8
    assert details.column_dimensions["C"].width == 12  # fits "email", at least 12


def test_excels_escape_and_carriage_returns_are_kept_in_the_xml() -> None:
    xml = sheet_xml(written(lambda b: b.sheet("S", ["h"]).append(["_x0041_ a\r\nb"])), 1)
    # Excel reads _x0041_ as "A": its underscore is escaped (_x005F_). A raw carriage
    # return would be read as a line feed: it is a character reference.
    assert "_x005F_x0041_ a&#13;\nb" in xml


def test_control_characters_are_written_as_excels_escapes_not_dropped() -> None:
    xml = sheet_xml(written(lambda b: b.sheet("S", ["h"]).append(["a\x0bb\x00c\x1f_x0001_"])), 1)
    # XML cannot hold them; Excel writes them so and shows the characters.
    assert "a_x000B_b_x0000_c_x001F__x005F_x0001_" in xml


def test_text_beyond_a_cells_limit_is_cut_and_marked() -> None:
    long = "x" * (EXCEL_CELL_LIMIT + 10)
    book = load_workbook(io.BytesIO(written(lambda b: b.sheet("S", ["h"]).append([long]))))
    value = book["S"]["A2"].value
    assert len(value) == EXCEL_CELL_LIMIT and value.endswith(TRUNCATION_MARK)


cell_texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.lists(st.lists(cell_texts, min_size=1, max_size=4), min_size=1, max_size=5))
def test_any_text_reads_back_as_the_sheet_can_hold_it(rows: list[list[str]]) -> None:
    """openpyxl does not undo Excel's _xHHHH_ escape: such text is left out here (the tests
    above cover it), and a control character reads back as the escape Excel would undo."""
    rows = [[t.replace("_x", "_y") for t in row] for row in rows]

    def build(workbook: XlsxWriter) -> None:
        sheet = workbook.sheet("S", ["a", "b", "c", "d"])
        for row in rows:
            sheet.append(row)

    book = load_workbook(io.BytesIO(written(build)))
    read = [[c.value for c in row] for row in book["S"].iter_rows(min_row=2)]
    # openpyxl gives every row the sheet's width (the header's four columns).
    expected = [[as_openpyxl_reads(t) for t in row] for row in rows]
    assert read == [row + [None] * (4 - len(row)) for row in expected]


def as_openpyxl_reads(text: str) -> str:
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", cell_text(text))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@given(st.lists(st.lists(cell_texts, min_size=3, max_size=3), min_size=1, max_size=5))
def test_what_it_writes_an_import_reads_back_as_written(rows: list[list[str]]) -> None:
    """Through the import's own reader (domain.xlsxfile), which undoes Excel's escapes: a
    report's text, `_xHHHH_`, control characters and carriage returns included, reads back as
    it was written (a cell's outer spaces aside: an import trims them)."""
    rows = [["x", "y", "z"], *rows]  # a first row that is not blank (else the sheet is refused)

    def build(workbook: XlsxWriter) -> None:
        sheet = workbook.sheet("S", ["a", "b", "c"])
        for row in rows:
            sheet.append(row)

    read = open_table(io.BytesIO(written(build)))
    expected = [[cell_text(t).strip() for t in row] for row in rows]
    assert [r.values for r in read] == [row for row in expected if any(row)]

"""Reading Excel workbooks as rows: cell types to the schema's text, formulas as their cached
values, the chosen sheet, the same header and row checks as a CSV."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.csvfile import CsvLimits
from domain.errors import FileRejected
from domain.tabular import open_table
from domain.xlsxfile import XlsxReader, cell_text
from tests.helpers import raw_xlsx, rewritten_xlsx, xlsx_bytes


def workbook(*sheets: tuple[str, list[list[Any]]]) -> io.BytesIO:
    return io.BytesIO(xlsx_bytes(*sheets))


def with_cached_value(xlsx: io.BytesIO, value: str) -> io.BytesIO:
    """The workbook as Excel saves it: each formula with the value it last calculated
    (openpyxl writes formulas without one)."""
    source, target = zipfile.ZipFile(xlsx), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<v />", f"<v>{value}</v>".encode())
            out.writestr(item, data)
    target.seek(0)
    return target


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (12025550143.0, "12025550143"),
        (3.5, "3.5"),
        (dt.datetime(1990, 5, 17), "1990-05-17"),
        (dt.datetime(1990, 5, 17, 8, 30), "1990-05-17T08:30:00"),
        (dt.date(1991, 1, 2), "1991-01-02"),
        ("  Ann ", "Ann"),
    ],
)
def test_cells_become_the_text_the_schema_reads(value: Any, text: str) -> None:
    assert cell_text(value) == text


def test_rows_of_the_first_sheet_with_blank_rows_skipped_and_short_rows_padded() -> None:
    xlsx = workbook(
        ("People", [["firstName", "email", "city"], ["Ann", "ann@example.com"], [], ["Bob"]]),
        ("Other", [["x"], ["y"]]),
    )
    reader = open_table(xlsx)
    assert (reader.header, reader.encoding) == (["firstName", "email", "city"], "xlsx")
    rows = [(r.number, r.line, r.values, r.error) for r in reader]
    assert rows == [
        (1, 2, ["Ann", "ann@example.com", ""], None),
        (2, 4, ["Bob", "", ""], None),
    ]


def test_a_chosen_sheet_is_read_and_an_unknown_one_is_named_in_the_rejection() -> None:
    xlsx = workbook(("People", [["a"], ["1"]]), ("Other", [["firstName"], ["Cat"]]))
    assert [r.values for r in open_table(xlsx, sheet="Other")] == [["Cat"]]
    xlsx.seek(0)
    with pytest.raises(FileRejected, match="no sheet 'Nope'; its sheets are: People, Other"):
        open_table(xlsx, sheet="Nope")


def test_formulas_are_read_as_their_cached_values_never_evaluated() -> None:
    xlsx = workbook(("S", [["firstName", "total"], ["Ann", "=1+2"]]))
    assert [r.values for r in open_table(with_cached_value(xlsx, "7"))] == [["Ann", "7"]]
    xlsx.seek(0)
    never_calculated = list(open_table(xlsx))
    assert never_calculated[0].error == (
        "Cell B2 holds a formula with no saved value; open the workbook in Excel, let it "
        "calculate and save it again"
    )


def test_the_csv_header_and_row_checks_apply() -> None:
    duplicated = workbook(("S", [["email", "Email"], ["a", "b"]]))
    with pytest.raises(FileRejected, match="duplicate column names: Email"):
        open_table(duplicated)
    wide = workbook(("S", [["firstName"], ["Ann", "extra"], ["x" * 20]]))
    rows = list(open_table(wide, limits=CsvLimits(max_field_chars=10)))
    assert rows[0].error == "Row has 2 values but the header has 1 columns"
    assert rows[1].error == "Value too long (over 10 characters) in: firstName"


def test_a_zip_that_is_not_a_workbook_is_rejected_with_the_reason() -> None:
    with pytest.raises(FileRejected, match="not a readable Excel workbook"):
        open_table(io.BytesIO(b"PK\x03\x04" + b"\x00" * 100))


def rewritten(xlsx: io.BytesIO, part: str, change: Any) -> io.BytesIO:
    return io.BytesIO(rewritten_xlsx(xlsx.getvalue(), {part: change}))


SHEET1 = "xl/worksheets/sheet1.xml"


def test_a_hidden_first_sheet_is_passed_over_for_the_first_visible_one() -> None:
    xlsx = workbook(("Old", [["x"], ["1"]]), ("People", [["firstName"], ["Ann"]]))
    hidden = rewritten(
        xlsx,
        "xl/workbook.xml",
        lambda d: d.replace(b'state="visible" r:id="rId1"', b'state="hidden" r:id="rId1"'),
    )
    reader = open_table(hidden)
    assert (reader.header, [r.values for r in reader]) == (["firstName"], [["Ann"]])
    hidden.seek(0)
    assert XlsxReader(hidden).sheets == ["People"]


def test_the_active_sheet_is_read_when_it_is_visible() -> None:
    xlsx = workbook(("Old", [["x"], ["1"]]), ("People", [["firstName"], ["Ann"]]))
    active = rewritten(
        xlsx,
        "xl/workbook.xml",
        lambda d: d.replace(b'activeTab="0"', b'activeTab="1"'),
    )
    assert open_table(active).header == ["firstName"]


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        b"<!DOCTYPE x>",
    ],
)
@pytest.mark.parametrize("part", [SHEET1, "xl/workbook.xml", "xl/styles.xml"])
def test_any_doctype_in_a_part_refuses_the_workbook(doctype: bytes, part: str) -> None:
    xlsx = rewritten(workbook(("S", [["firstName"], ["Ann"]])), part, lambda d: doctype + d)
    with pytest.raises(FileRejected, match="document type declaration"):
        list(open_table(xlsx))


def test_malformed_sheet_xml_is_refused_naming_the_part() -> None:
    xlsx = rewritten(workbook(("S", [["firstName"], ["Ann"]])), SHEET1, lambda d: d[:-20])
    with pytest.raises(FileRejected, match=r"part xl/worksheets/sheet1\.xml is not well-formed"):
        list(open_table(xlsx))


def test_the_declared_dimension_and_far_away_cells_cost_nothing() -> None:
    def far(data: bytes) -> bytes:
        data = data.replace(b'<dimension ref="A1:A2" />', b'<dimension ref="A1:XFD1048576"/>')
        row = b'<row r="900000"><c r="XFD900000" t="inlineStr"><is><t>far</t></is></c></row>'
        return data.replace(b"</sheetData>", row + b"</sheetData>")

    xlsx = rewritten(workbook(("S", [["firstName"], ["Ann"]])), SHEET1, far)
    rows = list(open_table(xlsx, limits=CsvLimits(max_columns=5)))
    assert [(r.line, r.values, r.error) for r in rows] == [
        (2, ["Ann"], None),
        (
            900000,
            ["", "", "", "", "", ""],
            "Row has a value in column XFD, past the 5 columns an import reads",
        ),
    ]


def test_a_preview_stops_after_its_rows_however_many_blank_rows_follow() -> None:
    def blank_rows(data: bytes) -> bytes:
        rows = b"".join(b'<row r="%d"/>' % i for i in range(3, 200_003))
        return data.replace(b"</sheetData>", rows + b"</sheetData>")

    xlsx = rewritten(workbook(("S", [["firstName"], ["Ann"]])), SHEET1, blank_rows)
    reader = open_table(xlsx, limits=CsvLimits(scan_rows=1_000))
    assert [r.values for r in reader] == [["Ann"]]


def test_the_shared_strings_and_unpacked_bytes_are_bounded() -> None:
    strings = b"<si><t>firstName</t></si>" + b"".join(
        b"<si><t>name %d</t></si>" % i for i in range(50)
    )
    cells = b"".join(
        b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c></row>' % (i + 1, i + 1, i) for i in range(51)
    )
    shared = raw_xlsx(cells, strings)
    reader = open_table(io.BytesIO(shared))
    assert [r.values for r in reader][-1] == ["name 49"]
    with pytest.raises(FileRejected, match="more than 20 distinct strings"):
        open_table(io.BytesIO(shared), limits=CsvLimits(max_shared_strings=20))
    with pytest.raises(FileRejected, match="table of strings unpacks to more than 100 bytes"):
        open_table(io.BytesIO(shared), limits=CsvLimits(max_shared_string_bytes=100))
    with pytest.raises(FileRejected, match="unpacks to more than 2000 bytes"):
        list(open_table(io.BytesIO(shared), limits=CsvLimits(max_unpacked_bytes=2_000)))


def test_cell_types_as_excel_writes_them() -> None:
    cells = (
        b'<row r="2"><c r="A2" t="inlineStr"><is><t> Ann </t></is></c>'
        b'<c r="B2" t="b"><v>1</v></c><c r="C2" t="str"><f>A2</f><v>x</v></c>'
        b'<c r="D2" t="e"><v>#N/A</v></c><c r="E2"><v>1.5E3</v></c>'
        b'<c r="F2" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r>'
        b"<rPh><t>ignored</t></rPh></is></c>"
        b"</row>"
    )

    def replaced(data: bytes) -> bytes:
        start, end = data.index(b'<row r="2"'), data.index(b"</sheetData>")
        return data[:start] + cells + data[end:]

    xlsx = rewritten(workbook(("S", [list("ABCDEF"), list("uvwxyz")])), SHEET1, replaced)
    assert [r.values for r in open_table(xlsx)] == [["Ann", "true", "x", "#N/A", "1500", "ab"]]


def test_a_preview_that_finds_only_blank_rows_says_where_it_looked() -> None:
    rows = b"".join(b'<row r="%d"/>' % i for i in range(1, 5_000))
    with pytest.raises(FileRejected, match="The first 1000 rows of the file are blank"):
        open_table(io.BytesIO(raw_xlsx(rows)), limits=CsvLimits(scan_rows=1_000))


def test_reading_a_workbook_past_the_time_limit_is_refused() -> None:
    with pytest.raises(FileRejected, match="Reading the file took longer than"):
        list(open_table(workbook(("S", [["a"], ["1"]])), limits=CsvLimits(read_seconds=1e-9)))


@pytest.mark.parametrize(
    "cells",
    [
        b'<row r="2"><c r="A!2"><v>1</v></c></row>',
        b'<row r="two"><c r="A2"><v>1</v></c></row>',
        b'<row r="2"><c r="A2" s="x"><v>1</v></c></row>',
    ],
)
def test_attributes_out_of_shape_refuse_the_workbook(cells: bytes) -> None:
    xlsx = io.BytesIO(
        raw_xlsx(b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>' + cells)
    )
    with pytest.raises(FileRejected, match="holds a value that cannot be read"):
        list(open_table(xlsx))


def test_a_shared_string_index_out_of_the_table_fails_its_row() -> None:
    strings = b"<si><t>firstName</t></si>"
    cells = (
        b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        b'<row r="2"><c r="A2" t="s"><v>-1</v></c></row>'
    )
    rows = list(open_table(io.BytesIO(raw_xlsx(cells, strings))))
    assert rows[0].error == "Cell A2 cannot be read"


_SHEET = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>firstName</t></is></c><c r="B1" t="s"><v>0</v>'
    b'</c></row><row r="2"><c r="A2" t="n" s="0"><v>1.5</v></c><c r="B2" t="b"><v>1</v></c>'
    b'<c r="C2" t="d"><v>2020-01-02</v></c><c r="D2"><f>A2</f></c></row>'
)


@settings(max_examples=300, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(_SHEET)),
            st.integers(0, 3),
            st.sampled_from([b"", b"<", b">", b'"', b"x", b"-", b"9", b"&", b"/", b"r=", b"t="]),
        ),
        max_size=4,
    )
)
def test_any_damaged_sheet_is_read_or_refused_with_a_reason(
    edits: list[tuple[int, int, bytes]],
) -> None:
    sheet = _SHEET
    for at, cut, insert in edits:
        sheet = sheet[:at] + insert + sheet[at + cut :]
    xlsx = io.BytesIO(raw_xlsx(sheet, b"<si><t>email</t></si>"))
    try:
        rows = list(open_table(xlsx))
    except FileRejected:
        return
    assert all(isinstance(row.values, list) for row in rows)


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("line_x000D_", "line"),  # stripped as any cell's trailing space is
        ("a_x000D_\nb", "a\r\nb"),
        ("_x005F_x0041_", "_x0041_"),  # the literal text Excel shows
        ("_x0041__X0042_", "AB"),
        ("_xD83D__xDE00_", "\U0001f600"),  # a surrogate pair is one character
        ("_xD83D_ alone", "_xD83D_ alone"),  # a lone surrogate is no character
        ("_x41_ _x00G1_ x0041", "_x41_ _x00G1_ x0041"),  # not escapes
    ],
)
def test_excels_escapes_in_text_are_undone(written: str, shown: str) -> None:
    """Excel writes some characters of a text as `_xHHHH_` (a carriage return as `_x000D_`,
    the underscore of a text that reads like one as `_x005F_`): the cell is what Excel
    shows, in shared strings, inline strings and a formula's text alike."""
    escaped = written.encode()
    cells = (
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr">'
        b'<is><t>b</t></is></c><c r="C1" t="inlineStr"><is><t>c</t></is></c></row>'
        b'<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="inlineStr"><is><t>'
        + escaped
        + b'</t></is></c><c r="C2" t="str"><f>A2</f><v>'
        + escaped
        + b"</v></c></row>"
    )
    rows = list(open_table(io.BytesIO(raw_xlsx(cells, b"<si><t>" + escaped + b"</t></si>"))))
    assert rows[0].values == [shown, shown, shown]

"""Reading Excel workbooks as rows: cell types to the schema's text, formulas as their cached
values, the chosen sheet, the same header and row checks as a CSV."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest

from domain.csvfile import CsvLimits
from domain.errors import FileRejected
from domain.tabular import open_table
from domain.xlsxfile import cell_text
from tests.helpers import xlsx_bytes


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
    assert [r.values for r in open_table(xlsx)] == [["Ann", ""]]  # never calculated


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

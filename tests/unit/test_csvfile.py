"""CSV reading: encodings, dialects, whole-file and row-level errors."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.csvfile import CsvLimits, CsvReader, detect_delimiter
from domain.errors import FileRejected


def read(data: bytes, **kwargs: object) -> tuple[CsvReader, list]:
    reader = CsvReader(io.BytesIO(data), **kwargs)  # type: ignore[arg-type]
    return reader, list(reader)


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("utf-16", b"", "utf-16"),
        ("utf-16-le", b"", "utf-16-le"),
        ("cp1252", b"", "cp1252"),
    ],
)
def test_encodings_are_detected(encoding: str, prefix: bytes, expected: str) -> None:
    text = "firstName,city\r\nJosé,Köln\r\nZoë,Málaga\r\n"
    reader, rows = read(prefix + text.encode(encoding))
    assert reader.encoding == expected
    assert reader.header == ["firstName", "city"]
    assert [r.values for r in rows] == [["José", "Köln"], ["Zoë", "Málaga"]]


def test_a_windows_1252_byte_after_the_sniffed_start_is_still_read() -> None:
    head = "firstName,city\n" + "Ann,Paris\n" * 10_000  # beyond the sniffed bytes
    data = head.encode() + "Renée,Orléans\n".encode("cp1252")
    _, rows = read(data)
    assert rows[-1].values == ["Renée", "Orléans"]


def test_the_callers_stream_is_left_open_and_readable() -> None:
    stream = io.BytesIO(b"a,b\n1,2\n")
    reader = CsvReader(stream)
    del reader
    assert not stream.closed
    stream.seek(0)
    assert stream.read() == b"a,b\n1,2\n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(delimiter: str) -> None:
    data = (
        delimiter.join(["first", "email", "city"]) + "\n" + delimiter.join(["A", "a@x.com", "Oslo"])
    )
    reader, _ = read(data.encode())
    assert reader.delimiter == delimiter


def test_delimiters_inside_quotes_do_not_count() -> None:
    sample = 'name;note\n"Doe, Jane";"a, b, c"\n"Roe, Rick";"d, e"\n'
    assert detect_delimiter(sample) == ";"


def test_an_explicit_delimiter_wins_and_an_unknown_one_is_refused() -> None:
    reader, _ = read(b"a;b,c\n1;2,3\n", delimiter=",")
    assert reader.header == ["a;b", "c"]
    with pytest.raises(FileRejected, match="Unsupported delimiter"):
        read(b"a:b\n1:2\n", delimiter=":")


def test_quoted_newlines_and_spreadsheet_rows() -> None:
    # A spreadsheet shows Ann's two-line cell in row 2, the blank line as row 3, Bob in 4.
    data = b'name,note\r\n"Ann","line one\r\nline two"\r\n\r\nBob,"say ""hi"""\r\n'
    _, rows = read(data)
    assert [(r.number, r.line, r.values) for r in rows] == [
        (1, 2, ["Ann", "line one\r\nline two"]),
        (2, 4, ["Bob", 'say "hi"']),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n \n", "empty"),
        (b"firstName,email\r\n", "header row but no data rows"),
        (b"firstName,email\r\n\r\n,\r\n", "header row but no data rows"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
        (b"\x00\x01\x02\x03binary\x00\x00", "binary"),
        (bytes(range(1, 32)) * 20, "binary"),
        (b"a,,c\n1,2,3\n", "no name for column"),
        (b"email,Email\nx,y\n", "duplicate column names: Email"),
    ],
)
def test_whole_file_problems_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(FileRejected, match=reason):
        read(data)


def test_too_many_columns_is_rejected() -> None:
    header = ",".join(f"c{i}" for i in range(6))
    with pytest.raises(FileRejected, match="6 columns; at most 5"):
        read(f"{header}\n{',' * 5}x\n".encode(), limits=CsvLimits(max_columns=5))


def test_bad_rows_get_reasons_and_do_not_stop_the_others() -> None:
    data = b"a,b\n1,2\n1,2,3\n4\n" + b"x," + b"y" * 50 + b"\n5,6\n"
    _, rows = read(data, limits=CsvLimits(max_field_chars=20))
    assert [(r.number, r.line, r.error) for r in rows] == [
        (1, 2, None),
        (2, 3, "Row has 3 values but the header has 2 columns"),
        (3, 4, "Row has 1 value but the header has 2 columns"),
        (4, 5, "Value too long (over 20 characters) in: b"),
        (5, 6, None),
    ]


_TEXT = st.text(
    st.characters(
        categories=("L", "N", "P", "S", "Zs"),
        include_characters="\r\n\t",
        exclude_characters="\x00",
    ),
    max_size=12,
)
_NAME = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=8)


@st.composite
def tables(draw: st.DrawFn, text: st.SearchStrategy[str]) -> tuple[list[str], list[list[str]]]:
    header = draw(st.lists(_NAME, min_size=1, max_size=6, unique_by=str.lower))
    rows = draw(
        st.lists(
            st.lists(text, min_size=len(header), max_size=len(header)).filter(
                lambda row: any(v.strip() for v in row)
            ),
            min_size=1,
            max_size=8,
        )
    )
    return header, rows


def _write(
    header: list[str], rows: list[list[str]], delimiter: str, quoting: int, newline: str
) -> str:
    # Python's writer quotes a CR only when it is part of the line terminator; an unquoted CR
    # is ambiguous in any reader, and RFC 4180 writers quote it.
    if quoting == csv.QUOTE_MINIMAL and "\r" not in newline:
        assume(not any("\r" in v for row in rows for v in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _encode(text: str, encoding: str) -> bytes:
    data = text.encode(encoding)
    # Each line is read on its own: Windows-1252 bytes that happen to be valid UTF-8 are read
    # as UTF-8.
    if encoding == "cp1252":
        assume(all(line.isascii() or not _is_utf8(line) for line in data.splitlines()))
    return data


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


DIALECTS = {
    "delimiter": st.sampled_from([",", ";", "\t", "|"]),
    "quoting": st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    "newline": st.sampled_from(["\r\n", "\n"]),
    "encoding": st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
}


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much])
@given(table=tables(_TEXT), **DIALECTS)
def test_round_trip_with_the_delimiter_given(
    table: tuple[list[str], list[list[str]]],
    delimiter: str,
    quoting: int,
    newline: str,
    encoding: str,
) -> None:
    header, rows = table
    text = _write(header, rows, delimiter, quoting, newline)
    if encoding == "cp1252":
        assume(all(ord(ch) < 256 and ch.encode("cp1252", "ignore") for ch in text))
    try:
        data = _encode(text, encoding)
    except UnicodeEncodeError:
        assume(False)
    reader, read_rows = read(data, delimiter=delimiter)
    assert reader.header == header
    assert [r.values for r in read_rows] == rows
    assert all(r.error is None for r in read_rows)


@settings(max_examples=200, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    table=tables(st.text(st.characters(categories=("L", "N", "Zs")), max_size=10)),
    **DIALECTS,
)
def test_round_trip_with_the_delimiter_detected(
    table: tuple[list[str], list[list[str]]],
    delimiter: str,
    quoting: int,
    newline: str,
    encoding: str,
) -> None:
    header, rows = table
    assume(len(header) >= 2)
    text = _write(header, rows, delimiter, quoting, newline)
    try:
        data = _encode(text, encoding)
    except UnicodeEncodeError:
        assume(False)
    reader, read_rows = read(data)
    assert reader.delimiter == delimiter
    assert reader.header == header
    assert [r.values for r in read_rows] == rows


def test_blank_and_whitespace_only_rows_are_skipped_and_the_length_limit_is_inclusive() -> None:
    data = b"a,b\n1,2\n \t, \n\n,\nx," + b"y" * 20 + b"\nx," + b"y" * 21 + b"\n"
    _, rows = read(data, limits=CsvLimits(max_field_chars=20))
    assert [(r.number, r.line, r.error) for r in rows] == [
        (1, 2, None),
        (2, 6, None),
        (3, 7, "Value too long (over 20 characters) in: b"),
    ]


@pytest.mark.parametrize("utf8_rows", [1, 30])
def test_rows_of_a_file_mixing_utf8_and_windows_1252_each_read_right(utf8_rows: int) -> None:
    """One Windows-1252 row does not turn the UTF-8 rows into mojibake, nor the other way."""
    utf8 = ["Zoë,Łukasz\n".encode()] * utf8_rows
    data = b"firstName,lastName\n" + b"".join(utf8) + "Renée,Müller\n".encode("cp1252")
    reader, rows = read(data)
    assert reader.encoding == "utf-8"
    assert [r.values for r in rows] == [["Zoë", "Łukasz"]] * utf8_rows + [["Renée", "Müller"]]


def test_a_mostly_windows_1252_file_says_so_and_still_reads_its_utf8_row() -> None:
    data = b"firstName,lastName\n" + "Renée,Müller\n".encode("cp1252") * 3 + "Zoë,Łukasz\n".encode()
    reader, rows = read(data)
    assert reader.encoding == "cp1252"
    assert [r.values for r in rows] == [["Renée", "Müller"]] * 3 + [["Zoë", "Łukasz"]]


@pytest.mark.parametrize("rows_before", [2, 20_000])
def test_a_nul_byte_rejects_the_file_wherever_it_is(rows_before: int) -> None:
    data = b"firstName,city\n" + b"Ann,Paris\n" * rows_before + b"N\x00ed,Oslo\nBob,Rome\n"
    with pytest.raises(FileRejected, match=f"line {rows_before + 2} holds a NUL byte"):
        read(data)


def test_a_file_with_cr_line_ends_only_is_read() -> None:
    reader, rows = read(b'firstName,city\rAnn,Paris\r"Bob\rJr",Rome\rCat,Oslo')
    assert reader.header == ["firstName", "city"]
    assert [(r.values, r.error) for r in rows] == [
        (["Ann", "Paris"], None),
        (["Bob\rJr", "Rome"], None),
        (["Cat", "Oslo"], None),
    ]


def test_an_unclosed_quote_names_the_line_where_it_opened() -> None:
    data = (
        b"firstName,email,city,labels\nAnn,a@x.com,Oslo,x\n"
        b'Bob,"b@x.com,Rome,y\nCat,c@x.com,Lima,z\n'
    )
    _, rows = read(data)
    assert rows[0].error is None
    assert rows[1].error == (
        "Row has 2 values but the header has 4 columns: a quote opened on line 3 takes in the "
        "lines up to line 4; is it closed?"
    )


def test_a_line_longer_than_any_row_fails_its_row_and_the_reader_goes_on() -> None:
    limits = CsvLimits(max_columns=3, max_field_chars=10)  # lines of at most 129 bytes
    data = b"a,b\n1,2\n" + b"x" * 100_000 + b"\n3,4\n"
    _, rows = read(data, limits=limits)
    assert [(r.values, r.error) for r in rows] == [
        (["1", "2"], None),
        (
            [],
            "Row cannot be read: line 3 is longer than 129 bytes, more than a row of 3 values "
            "of at most 10 characters can be",
        ),
        (["3", "4"], None),
    ]


def test_a_header_line_without_an_end_is_refused_once_it_is_longer_than_any_row() -> None:
    with pytest.raises(FileRejected, match="The header row cannot be read: line 1 is longer"):
        read(b"a," * 2_000_000, limits=CsvLimits(max_columns=200, max_field_chars=10))


def test_reading_past_the_time_limit_is_refused() -> None:
    data = b"a,b\n" + b"1,2\n" * 5_000
    with pytest.raises(FileRejected, match="Reading the file took longer than 1e-09 s"):
        read(data, limits=CsvLimits(read_seconds=1e-9))

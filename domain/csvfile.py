"""Streaming CSV reading: encoding and delimiter detection, RFC 4180 quoting, row-level errors.

The reader decodes the byte stream itself, chunk by chunk, and never wraps the caller's file
object: a TextIOWrapper would close it when garbage-collected, and callers re-read the same
upload after the reader is done with it.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

from domain.errors import FileRejected
from domain.textlines import FALLBACK_ERRORS, SNIFF_BYTES, TextLines, detect_encoding

DELIMITERS = (",", ";", "\t", "|")
SNIFF_RECORDS = 50
# Share of control characters (other than tab, CR, LF, FF) above which text is binary.
CONTROL_CHAR_SHARE = 0.02
_CONTROL_CHARS = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\r\n\f") | {"\x7f"}


@dataclass(frozen=True)
class CsvLimits:
    """What one file may hold (rows are counted by the caller), and how long reading it may
    take. Workbooks have bounds of their own: bytes unpacked, strings in their table."""

    max_columns: int = 200
    max_field_chars: int = 10_000
    read_seconds: float | None = None  # None: no time limit
    scan_rows: int | None = None  # a preview: stop after this many rows, blank ones included
    max_unpacked_bytes: int = 1024**3
    max_shared_strings: int = 4_000_000
    max_shared_string_bytes: int = 64 * 1024**2

    @property
    def max_line_bytes(self) -> int:
        """Longer than any line of a row within the limits: every value quoted, every
        character a doubled quote or a 4-byte UTF-8 one."""
        return self.max_columns * (self.max_field_chars * 4 + 3)


class ReadClock:
    """The time limit on reading one file."""

    def __init__(self, limits: CsvLimits) -> None:
        self._seconds = limits.read_seconds
        self._deadline = None if self._seconds is None else time.monotonic() + self._seconds

    def check(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise FileRejected(
                f"Reading the file took longer than {self._seconds:g} s, the most one file may "
                "take; split it into smaller files."
            )


@dataclass(frozen=True)
class CsvRow:
    """One data row. `line` is the row a spreadsheet shows it on when it opens the file: the
    header is 1, a blank line is a row, a quoted cell with line breaks stays in one row."""

    number: int  # 1-based data row number (header excluded)
    line: int
    values: list[str]
    error: str | None = None


def _check_text(sample: str) -> None:
    if not sample:
        return
    controls = sum(1 for ch in sample if ch in _CONTROL_CHARS)
    if controls / len(sample) > CONTROL_CHAR_SHARE:
        raise FileRejected("The file is not a CSV text file (it contains binary data).")


def detect_delimiter(sample: str) -> str:
    """The delimiter among , ; tab | that splits the sample's records most consistently into
    the most columns; quoted fields are parsed, so delimiters inside quotes do not count.
    The last line of the sample may be cut short, so it is left out."""
    lines = sample.split("\n")
    complete = "\n".join(lines[:-1]) if len(lines) > 1 else sample
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        reader = csv.reader(complete.splitlines(keepends=True), delimiter=delimiter)
        try:
            widths = [len(r) for r in itertools.islice(reader, SNIFF_RECORDS) if any(r)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for width in widths if width == widths[0]) / len(widths)
        score = (consistent, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def blank_start(limits: CsvLimits) -> str:
    """Why a preview found no header: it reads the first `limits.scan_rows` rows only."""
    return (
        f"The first {limits.scan_rows} rows of the file are blank; put the header row at the top."
    )


def checked_header(values: list[str], limits: CsvLimits) -> list[str]:
    """The header row's names, trimmed; raises FileRejected when a file cannot be imported
    with it (too many columns, a column without a name, a name twice)."""
    header = [name.strip() for name in values]
    if len(header) > limits.max_columns:
        raise FileRejected(
            f"The file has {len(header)} columns; at most {limits.max_columns} are allowed."
        )
    empty = [str(i + 1) for i, name in enumerate(header) if not name]
    if empty:
        raise FileRejected(
            f"The header has no name for column(s) {', '.join(empty)}; name every column "
            "(or delete empty columns)."
        )
    limit = limits.max_field_chars
    too_long = [str(i + 1) for i, name in enumerate(header) if len(name) > limit]
    if too_long:
        raise FileRejected(
            f"The name of column(s) {', '.join(too_long)} is longer than {limit} characters; "
            "a header names its columns briefly."
        )
    seen: set[str] = set()
    duplicated = []
    for name in header:
        if name.lower() in seen and name not in duplicated:
            duplicated.append(name)
        seen.add(name.lower())
    if duplicated:
        raise FileRejected(f"The header has duplicate column names: {', '.join(duplicated)}.")
    return header


def checked_row(
    header: list[str], limits: CsvLimits, number: int, line: int, values: list[str]
) -> CsvRow:
    """A data row, with the error that makes it fail when its width or a value's length is
    wrong."""
    width = len(header)
    if len(values) != width:
        return CsvRow(
            number,
            line,
            values,
            f"Row has {len(values)} value{'' if len(values) == 1 else 's'} "
            f"but the header has {width} columns",
        )
    limit = limits.max_field_chars
    if max(map(len, values), default=0) > limit:
        too_long = [header[i] for i, v in enumerate(values) if len(v) > limit]
        return CsvRow(
            number,
            line,
            values,
            f"Value too long (over {limit} characters) in: {', '.join(too_long)}",
        )
    return CsvRow(number, line, values)


class _Record(NamedTuple):
    sheet_row: int  # as a spreadsheet numbers it (blank lines count, the header is 1)
    values: list[str] | None  # None: unreadable
    error: str | None
    first: int  # the file's lines it spans
    last: int = 0


class CsvReader:
    """Reads a CSV from a binary stream, one row at a time (never the whole file).

    The stream must be seekable: its start is sniffed for encoding and delimiter, then read
    again from the same position. The reader never closes it."""

    def __init__(
        self, stream: IO[bytes], delimiter: str | None = None, limits: CsvLimits | None = None
    ) -> None:
        self.limits = limits or CsvLimits()
        self._clock = ReadClock(self.limits)
        if delimiter is not None and delimiter not in DELIMITERS:
            raise FileRejected(
                f"Unsupported delimiter {delimiter!r}; use one of comma, semicolon, tab or pipe."
            )
        start = stream.tell()
        head = stream.read(SNIFF_BYTES)
        stream.seek(start)
        if not head.strip():
            raise FileRejected("The file is empty.")
        self.encoding = detect_encoding(head)
        sample = codecs.getincrementaldecoder(self.encoding)(errors=FALLBACK_ERRORS).decode(head)
        sample = sample.lstrip("\ufeff")
        _check_text(sample)
        self.delimiter = delimiter or detect_delimiter(sample)
        # The csv module's limit is process-wide: only ever raise it. Fields between our limit
        # and the csv module's are reported as too long; longer ones as unreadable.
        csv.field_size_limit(max(csv.field_size_limit(), self.limits.max_field_chars * 4))
        self._lines = TextLines(stream, self.encoding, self.limits.max_line_bytes)
        self._reader = csv.reader(
            self._lines,  # type: ignore[arg-type]  # a None stands for a line too long
            delimiter=self.delimiter,
            quotechar='"',
            doublequote=True,
            strict=False,
        )
        self._sheet_rows = 0  # records read, blank ones included: a spreadsheet's rows
        self.scan_cut = False  # a preview stopped before the end of the file
        self.header = self._read_header()
        self._first = self._next_record()
        if self._first is None and not self.scan_cut:
            raise FileRejected("The file has a header row but no data rows.")

    def _next_record(self) -> _Record | None:
        """The next record that is not a blank line; None at the end of the file."""
        while True:
            if self._sheet_rows & 1023 == 1023:
                self._clock.check()
            if self.limits.scan_rows is not None and self._sheet_rows >= self.limits.scan_rows:
                self.scan_cut = True
                return None
            first_line = self._lines.number + 1
            try:
                values = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as error:
                self._sheet_rows += 1
                if self._lines.overlong:
                    return _Record(self._sheet_rows, None, self._overlong(), first_line)
                return _Record(
                    self._sheet_rows,
                    None,
                    f"{error}: a quote opened on line {first_line} may be left open, or a "
                    "field is far too long",
                    first_line,
                )
            self._sheet_rows += 1
            if any(map(str.strip, values)):  # not a blank line
                return _Record(self._sheet_rows, values, None, first_line, self._lines.number)

    def _overlong(self) -> str:
        return (
            f"line {self._lines.number} is longer than {self.limits.max_line_bytes} bytes, more "
            f"than a row of {self.limits.max_columns} values of at most "
            f"{self.limits.max_field_chars} characters can be"
        )

    def _read_header(self) -> list[str]:
        record = self._next_record()
        if record is None:
            raise FileRejected(blank_start(self.limits) if self.scan_cut else "The file is empty.")
        if record.values is None:
            raise FileRejected(f"The header row cannot be read: {record.error}.")
        return checked_header(record.values, self.limits)

    def _row(self, number: int, record: _Record) -> CsvRow:
        if record.values is None:
            return CsvRow(number, record.sheet_row, [], f"Row cannot be read: {record.error}")
        row = checked_row(self.header, self.limits, number, record.sheet_row, record.values)
        if row.error and len(row.values) != len(self.header) and record.last > record.first:
            # A quote left open takes in the lines after it, up to the next quote.
            return dataclasses.replace(
                row,
                error=f"{row.error}: a quote opened on line {record.first} takes in the "
                f"lines up to line {record.last}; is it closed?",
            )
        return row

    def __iter__(self) -> Iterator[CsvRow]:
        record, self._first = self._first, None
        number = 0
        while record is not None:
            number += 1
            yield self._row(number, record)
            record = self._next_record()

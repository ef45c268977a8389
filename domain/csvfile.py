"""Streaming CSV reading: encoding and delimiter detection, RFC 4180 quoting, row-level errors.

The reader decodes the byte stream itself, chunk by chunk, and never wraps the caller's file
object: a TextIOWrapper would close it when garbage-collected, and callers re-read the same
upload after the reader is done with it.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from domain.errors import FileRejected

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 256 * 1024
SNIFF_RECORDS = 50
# Share of control characters (other than tab, CR, LF, FF) above which text is binary.
CONTROL_CHAR_SHARE = 0.02
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or ZIP archive",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}
_CONTROL_CHARS = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\r\n\f") | {"\x7f"}


def _cp1252_or_latin1(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: a byte that is not valid in the main encoding is read as
    Windows-1252 (Latin-1 for the five bytes Windows-1252 leaves undefined)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    text = "".join(_byte_as_cp1252(byte) for byte in error.object[error.start : error.end])
    return text, error.end


def _byte_as_cp1252(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)  # Latin-1


FALLBACK_ERRORS = "bcu-cp1252-fallback"
codecs.register_error(FALLBACK_ERRORS, _cp1252_or_latin1)


@dataclass(frozen=True)
class CsvLimits:
    max_columns: int = 200
    max_field_chars: int = 10_000


@dataclass(frozen=True)
class CsvRow:
    """One data row. `line` is the row a spreadsheet shows it on when it opens the file: the
    header is 1, a blank line is a row, a quoted cell with line breaks stays in one row."""

    number: int  # 1-based data row number (header excluded)
    line: int
    values: list[str]
    error: str | None = None


def _looks_like_utf16_without_bom(head: bytes) -> str | None:
    """ASCII-range text in UTF-16 has a zero in every other byte."""
    sample = head[:4096]
    if len(sample) < 4:
        return None
    even_zeros = sample[0::2].count(0) / len(sample[0::2])
    odd_zeros = sample[1::2].count(0) / len(sample[1::2])
    if odd_zeros > 0.4 and even_zeros < 0.05:
        return "utf-16-le"
    if even_zeros > 0.4 and odd_zeros < 0.05:
        return "utf-16-be"
    return None


def detect_encoding(head: bytes) -> str:
    """The file's encoding from its first bytes: a BOM, else UTF-8 when the bytes are valid
    UTF-8, else Windows-1252. Raises FileRejected for binary content."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for signature, kind in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise FileRejected(f"The file is {kind}, not a CSV text file; save it as CSV.")
    utf16 = _looks_like_utf16_without_bom(head)
    if utf16:
        return utf16
    if b"\x00" in head:
        raise FileRejected("The file is not a CSV text file (it contains binary data).")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if error.start < len(head) - 3:
            return "cp1252"
    return "utf-8"


def _decoded_lines(stream: IO[bytes], encoding: str) -> Iterator[str]:
    """The text of the stream, one line at a time with its line ending kept (the csv module
    needs them for newlines inside quoted fields). Lines end at LF only, so a CR inside a
    quoted field survives."""
    decoder = codecs.getincrementaldecoder(encoding)(errors=FALLBACK_ERRORS)
    pending = ""
    while True:
        chunk = stream.read(CHUNK_BYTES)
        text = decoder.decode(chunk, final=not chunk)
        if text:
            pieces = (pending + text).split("\n")
            pending = pieces.pop()
            for piece in pieces:
                yield piece + "\n"
        if not chunk:
            break
    if pending:
        yield pending


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


class CsvReader:
    """Reads a CSV from a binary stream, one row at a time (never the whole file).

    The stream must be seekable: its start is sniffed for encoding and delimiter, then read
    again from the same position. The reader never closes it."""

    def __init__(
        self, stream: IO[bytes], delimiter: str | None = None, limits: CsvLimits | None = None
    ) -> None:
        self.limits = limits or CsvLimits()
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
        self._reader = csv.reader(
            _decoded_lines(stream, self.encoding),
            delimiter=self.delimiter,
            quotechar='"',
            doublequote=True,
            strict=False,
        )
        self._sheet_rows = 0  # records read, blank ones included: a spreadsheet's rows
        self.header = self._read_header()
        self._first = self._next_record()
        if self._first is None:
            raise FileRejected("The file has a header row but no data rows.")

    def _next_record(self) -> tuple[int, list[str] | None, str | None] | None:
        """(its spreadsheet row, values or None, csv error), skipping blank lines; None at
        the end of the file."""
        while True:
            try:
                values = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as error:
                self._sheet_rows += 1
                return self._sheet_rows, None, str(error)
            self._sheet_rows += 1
            if any(map(str.strip, values)):  # not a blank line
                return self._sheet_rows, values, None

    def _read_header(self) -> list[str]:
        record = self._next_record()
        if record is None:
            raise FileRejected("The file is empty.")
        _, values, error = record
        if values is None:
            raise FileRejected(f"The header row cannot be read: {error}.")
        return checked_header(values, self.limits)

    def _row(self, number: int, line: int, values: list[str] | None, error: str | None) -> CsvRow:
        if values is None:
            return CsvRow(
                number,
                line,
                [],
                f"Row cannot be read ({error}): a quote may be left open or a field is "
                "far too long",
            )
        return checked_row(self.header, self.limits, number, line, values)

    def _records(self) -> Iterable[tuple[int, list[str] | None, str | None]]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        while (record := self._next_record()) is not None:
            yield record

    def __iter__(self) -> Iterator[CsvRow]:
        for number, (line, values, error) in enumerate(self._records(), start=1):
            yield self._row(number, line, values, error)

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
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

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
    """Decode error handler: a byte that is not valid UTF-8 is read as Windows-1252 (Latin-1
    for the five bytes Windows-1252 leaves undefined)."""
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


def decoded_line(line: bytes) -> str:
    """One line of an ASCII-compatible file (UTF-8 or Windows-1252), decoded on its own: a
    file made by pasting rows from several sources mixes both, and each row reads right. A
    line that is valid UTF-8 is UTF-8; in any other line, the bytes that are not valid UTF-8
    are Windows-1252."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("utf-8", errors=FALLBACK_ERRORS)


@dataclass(frozen=True)
class CsvLimits:
    max_columns: int = 200
    max_field_chars: int = 10_000

    @property
    def max_line_bytes(self) -> int:
        """Longer than any line of a row within the limits: every value quoted, every
        character a doubled quote or a 4-byte UTF-8 one."""
        return self.max_columns * (self.max_field_chars * 4 + 3)


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
        raise FileRejected(_NUL_REASON.format(line=head.count(b"\n", 0, head.index(b"\x00")) + 1))
    # Every line is decoded on its own (decoded_line); the encoding the file is said to have
    # is the one most of its non-ASCII lines are in.
    lines = head.splitlines()
    if len(head) == SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # it may be cut, in the middle of a character
    utf8 = other = 0
    for line in lines:
        if not line.isascii():
            try:
                line.decode("utf-8")
                utf8 += 1
            except UnicodeDecodeError:
                other += 1
    return "cp1252" if other > utf8 else "utf-8"


_NUL_REASON = (
    "The file is not a CSV text file: line {line} holds a NUL byte (binary data); save it "
    "again as CSV text."
)
_LINE_END = re.compile(rb"\r\n?|\n")
_OTHER_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


class _Lines:
    """The text of a CSV one line at a time, line endings kept (the csv module needs them for
    line breaks inside quoted fields). Lines end at CR LF, LF or a lone CR (old Mac files),
    as in Python's newline="" mode.

    Linear in the file's size: a line is never read past `max_line_bytes`. Such a line is
    longer than any row the limits admit; it is skipped to its end and stands as a None,
    which the csv module refuses with an error, so its row fails (`overlong` says why) and
    the reader goes on. A NUL byte anywhere rejects the file, as one at its start does."""

    def __init__(self, stream: IO[bytes], encoding: str, max_line_bytes: int) -> None:
        self._stream = stream
        self._recoded = encoding.startswith("utf-16")
        self._encoding = encoding
        self._max_line_bytes = max_line_bytes
        self.number = 0  # lines given so far
        self.overlong = False  # the last line given stood for one that was too long

    def _chunks(self) -> Iterator[bytes]:
        """The file's bytes in pieces; UTF-16 is recoded as UTF-8 first, so lines are found in
        bytes whatever the encoding."""
        if not self._recoded:
            while chunk := self._stream.read(CHUNK_BYTES):
                yield chunk
            return
        decoder = codecs.getincrementaldecoder(self._encoding)(errors="replace")
        while True:
            chunk = self._stream.read(CHUNK_BYTES)
            if text := decoder.decode(chunk, final=not chunk):
                yield text.encode("utf-8")
            if not chunk:
                return

    def _blocks(self) -> Iterator[bytes | None]:
        """Whole lines, several at a time (the last one may lack its line end at the end of
        the file); None for a line longer than the limit, skipped."""
        pending: list[bytes] = []  # the start of a line that has not ended yet
        size = 0
        skipping = False
        carry = b""
        for chunk in itertools.chain(self._chunks(), [b""]):  # b"": the end of the file
            data = carry + chunk
            # A CR ending a piece may start a CR LF: it waits for the next piece.
            carry = b"\r" if chunk and data.endswith(b"\r") else b""
            data = data[: len(data) - len(carry)]
            last_end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            if last_end:
                if skipping:
                    first_end = _LINE_END.search(data)
                    assert first_end is not None
                    data, last_end = data[first_end.end() :], last_end - first_end.end()
                    skipping = False
                    yield None
                yield b"".join([*pending, data[:last_end]]) if pending else data[:last_end]
                pending, size, data = [], 0, data[last_end:]
            if data and not skipping:
                pending.append(data)
                size += len(data)
                if size > self._max_line_bytes:
                    pending, size, skipping = [], 0, True
        if skipping:
            yield None
        elif pending:
            yield b"".join(pending)

    def _lines(self, block: bytes) -> list[str]:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return [decoded_line(line) for line in _byte_lines(block)]
        if any(other in text for other in _OTHER_LINE_BREAKS):  # splitlines breaks there too
            return [line.decode("utf-8") for line in _byte_lines(block)]
        return text.splitlines(keepends=True)

    def __iter__(self) -> Iterator[str | None]:
        first = True
        for block in self._blocks():
            if block is None:
                self.number += 1
                self.overlong = True
                yield None
                continue
            if b"\x00" in block:
                nul = block.index(b"\x00")
                at = self.number + 1 + len(_LINE_END.findall(block, 0, nul))
                raise FileRejected(_NUL_REASON.format(line=at))
            lines = self._lines(block)
            if first:
                lines[0], first = lines[0].lstrip("\ufeff"), False
            self.overlong = False
            for line in lines:
                self.number += 1
                if len(line) > self._max_line_bytes:  # characters: at least as many bytes
                    self.overlong = True
                    yield None
                    self.overlong = False
                else:
                    yield line


def _byte_lines(block: bytes) -> list[bytes]:
    """The lines of a block, line ends kept (the last may have none)."""
    ends = [match.end() for match in _LINE_END.finditer(block)]
    starts = [0, *ends]
    if ends and ends[-1] == len(block):
        starts.pop()
    return [block[start:end] for start, end in zip(starts, [*ends, len(block)], strict=False)]


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
        self._lines = _Lines(stream, self.encoding, self.limits.max_line_bytes)
        self._reader = csv.reader(
            self._lines,  # type: ignore[arg-type]  # a None stands for a line too long
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

    def _next_record(self) -> _Record | None:
        """The next record that is not a blank line; None at the end of the file."""
        while True:
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
            raise FileRejected("The file is empty.")
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

"""Streaming CSV reading: encoding and delimiter detection, RFC 4180 quoting, row-level errors."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from domain.errors import FileRejected

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class CsvLimits:
    max_columns: int = 200
    max_field_chars: int = 10_000


@dataclass(frozen=True)
class CsvRow:
    """One data row: `line` is the 1-based line of the file where the row starts."""

    number: int  # 1-based data row number (header excluded)
    line: int
    values: list[str]
    error: str | None = None


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise FileRejected("The file is not a text CSV file (it contains binary data).")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if error.start < len(head) - 3:
            return "cp1252"
    return "utf-8"


def detect_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", -1
    for delimiter in DELIMITERS:
        counts = [line.count(delimiter) for line in lines]
        if counts[0] == 0:
            continue
        consistent = sum(1 for count in counts if count == counts[0])
        score = consistent * 1000 + counts[0]
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvReader:
    """Reads a CSV from a binary stream, one row at a time (never the whole file)."""

    def __init__(
        self, stream: IO[bytes], delimiter: str | None = None, limits: CsvLimits | None = None
    ) -> None:
        self.limits = limits or CsvLimits()
        # Callers hand in seekable files (spooled uploads, temporary copies): sniff, rewind.
        start = stream.tell()
        head = stream.read(SNIFF_BYTES)
        stream.seek(start)
        if not head.strip():
            raise FileRejected("The file is empty.")
        self.encoding = detect_encoding(head)
        self._text = io.TextIOWrapper(
            stream,
            encoding=self.encoding,
            newline="",
            errors="strict" if self.encoding != "cp1252" else "replace",
        )
        sample = head.decode(self.encoding, errors="ignore")
        if delimiter is not None and delimiter not in DELIMITERS:
            raise FileRejected(f"Unsupported delimiter {delimiter!r}; use one of , ; tab |.")
        self.delimiter = delimiter or detect_delimiter(sample)
        csv.field_size_limit(max(self.limits.max_field_chars * 4, 131072))
        self._reader = csv.reader(
            self._text, delimiter=self.delimiter, quotechar='"', doublequote=True, strict=False
        )
        self.header = self._read_header()

    def _read_header(self) -> list[str]:
        try:
            header = next(self._reader)
        except StopIteration:
            raise FileRejected("The file is empty.") from None
        except UnicodeDecodeError:
            raise FileRejected("The file is not valid text in a supported encoding.") from None
        header = [name.strip() for name in header]
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0].lstrip("\ufeff")
        if not any(header):
            raise FileRejected("The header row is empty.")
        if len(header) > self.limits.max_columns:
            raise FileRejected(
                f"The file has {len(header)} columns; "
                f"at most {self.limits.max_columns} are allowed."
            )
        empty = [str(i + 1) for i, name in enumerate(header) if not name]
        if empty:
            raise FileRejected(f"Header has empty column names at position(s) {', '.join(empty)}.")
        seen: set[str] = set()
        duplicated = []
        for name in header:
            if name.lower() in seen:
                duplicated.append(name)
            seen.add(name.lower())
        if duplicated:
            raise FileRejected(f"Header has duplicate column names: {', '.join(duplicated)}.")
        return header

    def __iter__(self) -> Iterator[CsvRow]:
        number = 0
        width = len(self.header)
        while True:
            line = self._reader.line_num + 1
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise FileRejected("The file is not valid text in a supported encoding.") from None
            except csv.Error as error:
                number += 1
                yield CsvRow(number, line, [], f"Unreadable row: {error}")
                continue
            if not values or all(not v.strip() for v in values):
                continue  # blank lines carry no record
            number += 1
            if len(values) != width:
                yield CsvRow(
                    number, line, values, f"Row has {len(values)} fields; the header has {width}"
                )
                continue
            too_long = [
                self.header[i] for i, v in enumerate(values) if len(v) > self.limits.max_field_chars
            ]
            if too_long:
                yield CsvRow(
                    number,
                    line,
                    values,
                    f"Field too long (over {self.limits.max_field_chars} characters): "
                    + ", ".join(too_long),
                )
                continue
            yield CsvRow(number, line, values)

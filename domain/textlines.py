"""Reading a text file's bytes as lines: its encoding from its first bytes, each line decoded
on its own, line ends as Python's newline="" mode finds them, in time linear in the size."""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterator
from typing import IO

from domain.errors import FileRejected

SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 256 * 1024
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook (.xlsx) or ZIP archive",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls)",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}


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


class TextLines:
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

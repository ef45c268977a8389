"""The parts of an Excel workbook (.xlsx) other than its sheets' rows, read without trusting
them: the ZIP unpacked under a bound, every XML part parsed by expat with any DOCTYPE refused
before anything in it is read, the table of shared strings kept compact and bounded."""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

from domain.csvfile import CsvLimits, ReadClock
from domain.errors import FileRejected

_READ_BYTES = 64 * 1024
# Excel's escape of a character in a text (ST_Xstring): `_x000D_` for a carriage return,
# `_x005F_` for the underscore of a text that reads like an escape. A character outside the
# BMP is two of them (a surrogate pair); a lone surrogate is no character and stays as written.
_ESCAPED = re.compile(
    r"_x(D[89AB][0-9A-F]{2})__x(D[C-F][0-9A-F]{2})_|_x([0-9A-F]{4})_", re.IGNORECASE
)
_DEFAULT_WORKBOOK = "xl/workbook.xml"
Handler = Callable[..., None]


def local_name(name: str) -> str:
    """An element or attribute name without its namespace (expat gives "uri local")."""
    return name[name.rfind(" ") + 1 :]


def attribute(attributes: dict[str, str], local: str) -> str | None:
    for name, value in attributes.items():
        if local_name(name) == local:
            return value
    return None


class Package:
    """The parts of the ZIP, unpacked as streams under one bound on the bytes unpacked."""

    def __init__(self, stream: IO[bytes], limits: CsvLimits) -> None:
        self._clock = ReadClock(limits)
        try:
            self._zip = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise unreadable(error) from None
        self._names = set(self._zip.namelist())
        self._limit = limits.max_unpacked_bytes
        self._unpacked = 0

    def has(self, name: str) -> bool:
        return name in self._names

    def size(self, name: str) -> int:
        """The part's declared unpacked size: zipfile never yields more (a part that lies
        fails its CRC)."""
        return self._zip.getinfo(name).file_size

    def parse(self, name: str, handlers: dict[str, Handler]) -> Iterator[None]:
        """Feed the part to expat with the handlers, pausing after each piece."""
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.StartDoctypeDeclHandler = refuse_doctype
        parser.EntityDeclHandler = refuse_doctype
        for event, handler in handlers.items():
            setattr(parser, event, handler)
        # Checked on declared sizes: the bound holds before anything is unpacked.
        self._unpacked += self.size(name)
        if self._unpacked > self._limit:
            raise FileRejected(
                f"The workbook unpacks to more than {self._limit} bytes, more than an import "
                "takes; save it as CSV, or split it."
            )
        try:
            with self._zip.open(name) as member:
                while chunk := member.read(_READ_BYTES):
                    parser.Parse(chunk, False)
                    self._clock.check()
                    yield
                parser.Parse(b"", True)
        except expat.ExpatError as error:
            raise FileRejected(
                f"The workbook's part {name} is not well-formed XML ({error}); save it again "
                "as .xlsx or CSV."
            ) from None
        except (ValueError, KeyError, OverflowError) as error:  # an attribute out of shape
            raise FileRejected(
                f"The workbook's part {name} holds a value that cannot be read ({error}); "
                "save it again as .xlsx or CSV."
            ) from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as error:
            raise unreadable(error) from None
        except RuntimeError as error:  # an encrypted member
            raise unreadable(error) from None

    def parse_all(self, name: str, handlers: dict[str, Handler]) -> None:
        for _ in self.parse(name, handlers):
            pass

    def close(self) -> None:
        self._zip.close()  # the archive only: the caller's stream stays open


def unreadable(error: BaseException) -> FileRejected:
    return FileRejected(
        f"The file is not a readable Excel workbook (.xlsx) ({error}); save it again as .xlsx "
        "or CSV."
    )


def refuse_doctype(*_: Any) -> None:
    raise FileRejected(
        "The workbook holds an XML document type declaration (DOCTYPE or ENTITY), which Excel "
        "never writes and which can hide entity expansion bombs; save it again as .xlsx or CSV."
    )


def relationships(package: Package, part: str) -> dict[str, tuple[str, str]]:
    """Id → (type, part name) of the relationships of a part."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    found: dict[str, tuple[str, str]] = {}
    if not package.has(rels):
        return found

    def start(element: str, attributes: dict[str, str]) -> None:
        if local_name(element) == "Relationship" and attributes.get("TargetMode") != "External":
            target = attributes.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            found[attributes.get("Id", "")] = (
                attributes.get("Type", ""),
                posixpath.normpath(path),
            )

    package.parse_all(rels, {"StartElementHandler": start})
    return found


def of_type(relationships: dict[str, tuple[str, str]], kind: str) -> str | None:
    return next((part for t, part in relationships.values() if t.endswith("/" + kind)), None)


class WorkbookPart:
    """workbook.xml: the sheets in order with their state and part, the active tab, the date
    system."""

    def __init__(self, package: Package) -> None:
        self.part = of_type(relationships(package, ""), "officeDocument") or _DEFAULT_WORKBOOK
        if not package.has(self.part):
            raise FileRejected("The file is a ZIP archive but not an Excel workbook (.xlsx).")
        self.relationships = relationships(package, self.part)
        self.sheets: list[tuple[str, str, str]] = []  # (name, state, relationship id)
        self.active = 0
        self.epoch = CALENDAR_WINDOWS_1900
        package.parse_all(self.part, {"StartElementHandler": self._start})

    def _start(self, element: str, attributes: dict[str, str]) -> None:
        local = local_name(element)
        if local == "sheet":
            state = attributes.get("state", "visible")
            self.sheets.append(
                (attributes.get("name", ""), state, attribute(attributes, "id") or "")
            )
        elif local == "workbookView":
            self.active = int(attributes.get("activeTab", "0") or 0)
        elif local == "workbookPr" and attributes.get("date1904") in ("1", "true"):
            self.epoch = CALENDAR_MAC_1904

    def visible(self) -> list[str]:
        return [name for name, state, _ in self.sheets if state == "visible"]

    def chosen(self, sheet: str | None) -> str:
        names = [name for name, _, _ in self.sheets]
        if sheet is not None:
            if sheet not in names:
                raise FileRejected(
                    f"The workbook has no sheet {sheet!r}; its sheets are: "
                    f"{', '.join(self.visible())}."
                )
            return sheet
        visible = self.visible()
        if not visible:
            raise FileRejected("The workbook has no visible sheet.")
        active = names[self.active] if 0 <= self.active < len(names) else None
        return active if active in visible else visible[0]

    def part_of(self, sheet: str) -> str:
        rid = next(rid for name, _, rid in self.sheets if name == sheet)
        part = self.relationships.get(rid, ("", ""))[1]
        if not part:
            raise FileRejected(f"The workbook names no content for its sheet {sheet!r}.")
        return part


def _escaped_character(match: re.Match[str]) -> str:
    high, low, single = match.groups()
    if single is None:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + int(low, 16) - 0xDC00)
    code = int(single, 16)
    return match.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)


def excel_unescaped(text: str) -> str:
    """A cell's text as Excel shows it: its `_xHHHH_` escapes undone."""
    return _ESCAPED.sub(_escaped_character, text) if "_x" in text or "_X" in text else text


class SharedStrings:
    """The workbook's table of strings, kept compact (UTF-8 bytes and offsets) and bounded;
    a string longer than a field may be is kept cut, just long enough to fail its row."""

    def __init__(self, package: Package, part: str | None, limits: CsvLimits) -> None:
        self._bytes = bytearray()
        self._ends = array("I")  # offsets below 4 GiB: the bytes are bounded far lower
        self._limits = limits
        self._parts: list[str] = []
        self._length = 0
        self._depth_skipped = 0  # inside a phonetic run, whose text is not the cell's
        self._in_text = False
        if part is not None and package.has(part):
            # Checked on the declared size, before anything is unpacked: the text kept is
            # never more than the part's XML.
            if package.size(part) > limits.max_shared_string_bytes:
                raise FileRejected(
                    "The workbook's table of strings unpacks to more than "
                    f"{limits.max_shared_string_bytes} bytes, more than an import reads from a "
                    "workbook; save it as CSV."
                )
            handlers: dict[str, Handler] = {
                "StartElementHandler": self._start,
                "EndElementHandler": self._end,
                "CharacterDataHandler": self._text,
            }
            package.parse_all(part, handlers)

    def _start(self, element: str, _: dict[str, str]) -> None:
        local = local_name(element)
        if local == "si":
            self._parts, self._length = [], 0
        elif local == "rPh":
            self._depth_skipped += 1
        elif local == "t" and not self._depth_skipped:
            self._in_text = True

    def _text(self, data: str) -> None:
        if self._in_text and self._length <= self._limits.max_field_chars:
            self._parts.append(data)
            self._length += len(data)

    def _end(self, element: str) -> None:
        local = local_name(element)
        if local == "t":
            self._in_text = False
        elif local == "rPh":
            self._depth_skipped -= 1
        elif local == "si":
            text = excel_unescaped("".join(self._parts))[: self._limits.max_field_chars + 1]
            self._bytes += text.encode("utf-8")
            self._ends.append(len(self._bytes))
            if len(self._ends) > self._limits.max_shared_strings:
                raise FileRejected(
                    f"The workbook holds more than {self._limits.max_shared_strings} distinct "
                    "strings, more than an import reads from a workbook; save it as CSV."
                )

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        start = self._ends[index - 1] if index > 0 else 0
        return self._bytes[start : self._ends[index]].decode("utf-8")


def date_styles(package: Package, part: str | None) -> set[int]:
    """The cell formats (indexes into cellXfs) that show a number as a date or time."""
    custom: dict[int, str] = {}
    formats: list[int] = []
    inside = [False]

    def start(element: str, attributes: dict[str, str]) -> None:
        local = local_name(element)
        if local == "numFmt":
            custom[int(attributes.get("numFmtId", "0"))] = attributes.get("formatCode", "")
        elif local == "cellXfs":
            inside[0] = True
        elif local == "xf" and inside[0]:
            formats.append(int(attributes.get("numFmtId", "0") or 0))

    def end(element: str) -> None:
        if local_name(element) == "cellXfs":
            inside[0] = False

    if part is not None and package.has(part):
        handlers: dict[str, Handler] = {"StartElementHandler": start, "EndElementHandler": end}
        package.parse_all(part, handlers)
    codes = {**BUILTIN_FORMATS, **custom}
    return {i for i, fmt in enumerate(formats) if is_date_format(codes.get(fmt, "General"))}

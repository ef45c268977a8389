"""A streaming XLSX writer for the reports: sheets of text and numbers, each with a bold
frozen header, column widths and, if asked, a filter over its rows. Rows go as XML straight
to one temporary file per sheet (memory stays flat whatever the number of rows); `save`
zips them with the few fixed parts a workbook needs.

Why not openpyxl, which the reports used: its write-only mode builds a cell object and an
XML element per cell, 5 of the 7.6 s of a 100,000-row report (`bench.report`, py-spy); the
same rows as XML text take about a fifth of that. Values are written as they are: text is
an inline string, so it never becomes a formula; a control character, which XML cannot hold,
is written as Excel writes it (`_x000B_`, which Excel shows as the character; dropping it
would change the value without a word), a carriage return is a character reference (a parser
would read a raw one as a line feed), and text that reads like Excel's own escape (`_x0041_`,
which Excel shows as "A") has its underscore escaped, so Excel shows the text that was in
the file."""

from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from openpyxl.utils import get_column_letter

from store.reports.excel import CONTROL_CHARACTERS, cell_text

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_ZIP64_FROM = 1 << 31  # a part this large needs zip64 sizes
_FLUSH_ROWS = 1_000
_BOLD = 1  # the style (cellXfs index) of header cells

_STYLES = (
    f'{_DECLARATION}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def as_text(value: Any) -> str:
    """A value that is shown as text whatever it is (a cell of the file, a value the import
    wrote): None is an empty text, a number its digits."""
    return "" if value is None else str(value)


def _text(value: Any) -> str:
    """`value` as the content of an XML text node, read back exactly by Excel."""
    text = cell_text(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(r"_x005F_\1", text)
    text = CONTROL_CHARACTERS.sub(_escaped_control, text)  # after: its `_x` stays as is
    return text.replace("\r", "&#13;")


def _escaped_control(match: re.Match[str]) -> str:
    return f"_x{ord(match.group()):04X}_"


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


class Sheet:
    """One sheet's rows, appended in order below its header."""

    def __init__(self, name: str, header: Sequence[str], widths: Sequence[float], filtered: bool):
        self.name = name
        self.columns = len(header)
        self.widths = [*widths, *(min(40, max(12, len(n) + 4)) for n in header[len(widths) :])]
        self.filtered = filtered
        self.rows = 0  # below the header
        self._letters: list[str] = []  # of the widest row so far
        self._pending: list[str] = []
        self._body = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._append(header, style=_BOLD)

    def append(self, values: Sequence[Any]) -> None:
        """A row: numbers as numbers, None as an empty cell, anything else as text."""
        self.rows += 1
        self._append(values)

    def _append(self, values: Sequence[Any], style: int = 0) -> None:
        number = self.rows + 1
        while len(self._letters) < len(values):
            self._letters.append(get_column_letter(len(self._letters) + 1))
        styled = f' s="{style}"' if style else ""
        cells = []
        for letter, value in zip(self._letters, values, strict=False):
            if value is None:
                continue
            if _is_number(value):
                cells.append(f'<c r="{letter}{number}"{styled}><v>{value!r}</v></c>')
            else:
                cells.append(
                    f'<c r="{letter}{number}"{styled} t="inlineStr"><is>'
                    f'<t xml:space="preserve">{_text(value)}</t></is></c>'
                )
        self._pending.append(f'<row r="{number}">{"".join(cells)}</row>')
        if len(self._pending) >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._body.write("".join(self._pending).encode())
        self._pending = []

    def write_to(self, archive: zipfile.ZipFile, part: str, selected: bool) -> None:
        self._flush()
        size = self._body.tell()
        self._body.seek(0)
        with archive.open(part, "w", force_zip64=size >= _ZIP64_FROM) as out:
            out.write(self._head(selected).encode())
            shutil.copyfileobj(self._body, out)
            out.write(self._tail().encode())

    def filter_range(self) -> str:
        return f"A1:{get_column_letter(max(1, self.columns))}{self.rows + 1}"

    def _head(self, selected: bool) -> str:
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>'
            for i, width in enumerate(self.widths, start=1)
        )
        tab = ' tabSelected="1"' if selected else ""
        return (
            f'{_DECLARATION}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
            f'<dimension ref="A1:{get_column_letter(max(1, len(self._letters)))}{self.rows + 1}"/>'
            f'<sheetViews><sheetView{tab} workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
            f"</sheetView></sheetViews><cols>{cols}</cols><sheetData>"
        )

    def _tail(self) -> str:
        if not self.filtered:
            return "</sheetData></worksheet>"
        return f'</sheetData><autoFilter ref="{self.filter_range()}"/></worksheet>'

    def close(self) -> None:
        self._body.close()


class XlsxWriter:
    """Sheets in the order they are made; `save` writes the workbook, once."""

    def __init__(self) -> None:
        self._sheets: list[Sheet] = []

    def __enter__(self) -> XlsxWriter:
        return self

    def __exit__(self, *_: object) -> None:
        for sheet in self._sheets:
            sheet.close()

    def sheet(
        self, name: str, header: Sequence[str], widths: Sequence[float] = (), filtered: bool = False
    ) -> Sheet:
        """A sheet below a bold, frozen `header`; column widths are given or fit the names;
        `filtered`: a filter on each header column, over all the rows appended."""
        made = Sheet(name, header, widths, filtered)
        self._sheets.append(made)
        return made

    def save(self, target: IO[bytes]) -> None:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", self._content_types())
            archive.writestr(
                "_rels/.rels",
                f'{_DECLARATION}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
                f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument"'
                ' Target="xl/workbook.xml"/></Relationships>',
            )
            archive.writestr("xl/workbook.xml", self._workbook())
            archive.writestr("xl/_rels/workbook.xml.rels", self._workbook_relationships())
            archive.writestr("xl/styles.xml", _STYLES)
            for number, sheet in enumerate(self._sheets, start=1):
                sheet.write_to(archive, f"xl/worksheets/sheet{number}.xml", number == 1)

    def _content_types(self) -> str:
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        sheets = "".join(
            f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{kind}.worksheet+xml"/>'
            for n in range(1, len(self._sheets) + 1)
        )
        return (
            f"{_DECLARATION}<Types "
            'xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{kind}.styles+xml"/>'
            f"{sheets}</Types>"
        )

    def _workbook(self) -> str:
        sheets = "".join(
            f'<sheet name={quoteattr(s.name)} sheetId="{n}" r:id="rId{n}"/>'
            for n, s in enumerate(self._sheets, start=1)
        )
        # Excel keeps a filter's range in this hidden name too.
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
            f"{_text(_absolute(s))}</definedName>"
            for n, s in enumerate(self._sheets)
            if s.filtered
        )
        defined = f"<definedNames>{names}</definedNames>" if names else ""
        return (
            f'{_DECLARATION}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
            f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets>'
            f"{defined}</workbook>"
        )

    def _workbook_relationships(self) -> str:
        sheets = "".join(
            f'<Relationship Id="rId{n}" Type="{_RELATIONSHIPS}/worksheet"'
            f' Target="worksheets/sheet{n}.xml"/>'
            for n in range(1, len(self._sheets) + 1)
        )
        styles = len(self._sheets) + 1
        return (
            f'{_DECLARATION}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">{sheets}'
            f'<Relationship Id="rId{styles}" Type="{_RELATIONSHIPS}/styles"'
            ' Target="styles.xml"/></Relationships>'
        )


def _absolute(sheet: Sheet) -> str:
    """The sheet's filter range as Excel's defined names write it: 'Name'!$A$1:$D$9."""
    last = sheet.filter_range().split(":")[1]
    split = len(last.rstrip("0123456789"))
    quoted = sheet.name.replace("'", "''")
    return f"'{quoted}'!$A$1:${last[:split]}${last[split:]}"

"""Reading an uploaded file in the API: its limits, its header and sample, the mapping
suggested for it (remembered or not), and the mapping preview."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from config import Settings
from domain.csvfile import CsvLimits
from domain.mapping import ColumnSuggestion, missing_required, suggest_mapping
from domain.remembered import RememberedMapping, with_remembered
from domain.schema import RecordSchema
from domain.tabular import open_table
from domain.xlsxfile import XlsxReader
from store import mappings
from store.jobs import admission
from store.schemas import get_schema

SAMPLE_ROWS = 20
PREVIEW_SCAN_ROWS = 10_000  # rows a mapping preview reads at most, looking for its sample


@dataclass(frozen=True)
class MappingPreview:
    columns: list[ColumnSuggestion]
    missing_required: list[str]
    encoding: str
    delimiter: str
    sample_rows: list[dict[str, str]]
    sheets: list[str]  # of an Excel workbook; [] for a CSV


def csv_limits(settings: Settings) -> CsvLimits:
    return CsvLimits(
        max_columns=settings.max_columns,
        max_field_chars=settings.max_field_chars,
        max_unpacked_bytes=settings.xlsx_max_unpacked_bytes,
        max_shared_strings=settings.xlsx_max_shared_strings,
        max_shared_string_bytes=settings.xlsx_max_shared_string_bytes,
    )


def upload_limits(settings: Settings, preview: bool = False) -> CsvLimits:
    """The limits of reading a file in the API: a time limit, and for a preview a bound on
    the rows read, blank ones included (a file of millions of blank rows costs nothing)."""
    return dataclasses.replace(
        csv_limits(settings),
        read_seconds=settings.file_read_seconds,
        scan_rows=PREVIEW_SCAN_ROWS if preview else None,
    )


def read_sample(rows: Iterator[Any]) -> tuple[list[list[str]], int]:
    """The first SAMPLE_ROWS readable rows, and how many rows were read to find them."""
    sample, read = [], 0
    for row in rows:
        read += 1
        if row.error is None:
            sample.append(row.values)
        if len(sample) >= SAMPLE_ROWS:
            break
    return sample, read


def _header(
    upload: IO[bytes], delimiter: str | None, sheet: str | None, settings: Settings
) -> list[str]:
    start = upload.tell()
    header = open_table(
        upload, delimiter=delimiter, sheet=sheet, limits=upload_limits(settings, preview=True)
    )
    upload.seek(start)
    return header.header


async def remembered_for(
    upload: IO[bytes],
    record_type: str,
    delimiter: str | None,
    sheet: str | None,
    settings: Settings,
) -> RememberedMapping | None:
    """The mapping remembered for the file's header set (or a nearly-same one), if any."""
    header = await asyncio.to_thread(_header, upload, delimiter, sheet, settings)
    return await mappings.find(record_type, header)


def suggestions_for(
    header: list[str],
    sample: list[list[str]],
    schema: RecordSchema,
    remembered: RememberedMapping | None,
) -> list[ColumnSuggestion]:
    suggested = suggest_mapping(header, sample, schema)
    return with_remembered(suggested, remembered, schema) if remembered else suggested


def _preview(
    upload: IO[bytes],
    schema: RecordSchema,
    delimiter: str | None,
    sheet: str | None,
    settings: Settings,
    remembered: RememberedMapping | None,
) -> MappingPreview:
    reader = open_table(
        upload, delimiter=delimiter, sheet=sheet, limits=upload_limits(settings, preview=True)
    )
    sample, _ = read_sample(iter(reader))
    suggestions = suggestions_for(reader.header, sample, schema, remembered)
    mapping = {s.column: s.field for s in suggestions if s.field is not None}
    return MappingPreview(
        columns=suggestions,
        missing_required=missing_required(mapping, schema),
        encoding=reader.encoding,
        delimiter=reader.delimiter,
        sample_rows=[dict(zip(reader.header, values, strict=False)) for values in sample],
        sheets=reader.sheets if isinstance(reader, XlsxReader) else [],
    )


async def preview_mapping(
    upload: IO[bytes],
    record_type: str,
    delimiter: str | None,
    settings: Settings,
    sheet: str | None = None,
    created_by: str = "",
) -> MappingPreview:
    """The suggested mapping of a file, its sample rows and what was found reading it."""
    with admission.preview_slot(created_by, settings):
        return await _preview_mapping(upload, record_type, delimiter, settings, sheet)


async def _preview_mapping(
    upload: IO[bytes],
    record_type: str,
    delimiter: str | None,
    settings: Settings,
    sheet: str | None,
) -> MappingPreview:
    schema = await get_schema(record_type)
    remembered = await remembered_for(upload, record_type, delimiter, sheet, settings)
    # Reading and sniffing the file is CPU work: off the event loop, other requests go on.
    return await asyncio.to_thread(_preview, upload, schema, delimiter, sheet, settings, remembered)

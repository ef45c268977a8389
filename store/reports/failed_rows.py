"""The failed-rows CSV of an import, streamed: the rows to correct and import again."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from domain.formula_safety import escaped
from domain.report_rows import failed_row_cells
from store.documents import ImportJob
from store.reports.rows import sorted_rows
from store.reports.spill import SortedSpill

CSV_CHUNK_CHARS = 64 * 1024  # the failed-rows CSV is sent in pieces of about this size


async def failed_rows_csv(job: ImportJob) -> AsyncIterator[bytes]:
    """The failed rows with their original headers plus an `error` column, in file order:
    UTF-8 with a BOM, CRLF line ends, sent in pieces as they are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    width = len(job.header)
    writer.writerow([escaped(name) for name in [*job.header, "error"]])
    yield buffer.getvalue().encode("utf-8-sig")
    buffer.seek(0)
    buffer.truncate()
    with SortedSpill() as spill:
        for _, _, (_, _, reason, raw) in await sorted_rows(job, spill, ("failed",)):
            # A short or long row still has its reason in the `error` column.
            writer.writerow([escaped(v) for v in failed_row_cells(raw, reason, width)])
            if buffer.tell() >= CSV_CHUNK_CHARS:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")

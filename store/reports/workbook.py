"""An import's Excel report, written by store.reports.xlsx and stored in GridFS: the
Summary (counts and settings), the Details (failed and ignored rows with their reasons and
cells), and the Imported and Updated sheets. Rows come by row number from store.reports.rows;
each sheet streams to its own temporary file, so memory stays flat whatever the
number of rows."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from domain.report_rows import NOTHING_CHANGED, WRITTEN, cancelled_note
from store import files
from store.documents import ImportJob, JobStatus
from store.reports.excel import REPORT_CONTENT_TYPE
from store.reports.rows import sorted_rows
from store.reports.spill import Record, SortedSpill
from store.reports.xlsx import Sheet, XlsxWriter, as_text

# Column widths (characters) of the report's sheets.
SUMMARY_WIDTHS = (28, 60)
WRITTEN_WIDTHS = (8, 26, 24, 32, 60)  # Row, Customer id, Name, Identifiers, Changes


def _cancelled(job: ImportJob) -> list[tuple[str, Any]]:
    """The line a cancelled import's report adds: how far it got."""
    if job.status != JobStatus.CANCELLED:
        return []
    return [("Cancelled", cancelled_note(job.processed_rows, job.total_rows, job.resumed_by))]


def _summary(summary: Sheet, job: ImportJob, unchanged: int) -> None:
    """The counts (an update that changed nothing is counted as unchanged too), then the
    import's settings."""
    counts = job.counts
    for label, value in (
        ("Total Records", counts.total),
        ("Imported", counts.imported),
        ("Updated", counts.updated),
        ("  of which unchanged", unchanged),
        ("Ignored", counts.ignored),
        ("Failed", counts.failed),
    ):
        summary.append([label, value])
    summary.append([])
    started, finished = job.started_at or job.created_at, job.finished_at
    duration = (finished - started).total_seconds() if finished and started else None
    settings_rows: list[tuple[str, Any]] = [
        ("File name", job.file_name),
        ("Record type", job.record_type),
        ("Action", job.action),
        ("Deduplication keys", ", ".join(job.deduplication_keys)),
        ("Mapping", "; ".join(f"{c} → {f}" for c, f in job.mapping.items())),
        ("Dry run", "yes" if job.dry_run else "no"),
        *_cancelled(job),
        ("Started", started.isoformat() if started else ""),
        ("Finished", finished.isoformat() if finished else ""),
        ("Duration (s)", round(duration, 3) if duration is not None else ""),
    ]
    if job.retry_of:
        settings_rows.append(("Retry of import", f"{job.retry_of} (its failed rows, corrected)"))
    if job.retries:
        settings_rows.append(("Failed rows retried by", ", ".join(job.retries)))
    if job.resume_of:
        settings_rows.append(("Resumes import", f"{job.resume_of} (the rows it did not process)"))
    if job.resumed_by:
        settings_rows.append(("Resumed by import", job.resumed_by))
    for label, value in settings_rows:
        summary.append([label, value if isinstance(value, float) else as_text(value)])


async def build_report(job: ImportJob) -> Any:
    """Write the report for a finished job to GridFS; returns its file id."""
    with SortedSpill() as spill, tempfile.TemporaryFile() as target:
        records = await sorted_rows(job, spill, ("failed", "ignored", *WRITTEN))
        # Minutes of CPU for a million rows: in a thread, so that the event loop keeps the
        # step's lease renewed and the driver's server checks answered (run on the loop,
        # a 1,000,000-row report held it 80 s; the driver then took the server for
        # unreachable and the save that followed failed, every attempt).
        await asyncio.to_thread(_write_workbook, job, records, target)
        target.seek(0)
        name = f"report-{job.id}.xlsx"
        return await files.save_stream(
            files.reports(),
            name,
            target,
            {"jobId": str(job.id), "contentType": REPORT_CONTENT_TYPE},
        )


def _write_workbook(job: ImportJob, records: Iterator[Record], target: IO[bytes]) -> None:
    """The workbook of `records` (the job's rows by row number), saved to `target`."""
    with XlsxWriter() as workbook:
        summary = workbook.sheet("Summary", ["Summary", "Count"], SUMMARY_WIDTHS)  # filled last
        details_header = ["Row", "Identifiers", "Reason", *job.header]
        details = workbook.sheet(
            "Details", details_header, [8, 32, 60, *[18] * len(job.header)], filtered=True
        )
        written = {
            "imported": workbook.sheet(
                "Imported", ["Row", "Customer id", "Name", "Identifiers"], WRITTEN_WIDTHS, True
            ),
            "updated": workbook.sheet(
                "Updated",
                ["Row", "Customer id", "Name", "Identifiers", "Changes"],
                WRITTEN_WIDTHS,
                True,
            ),
        }
        unchanged = 0
        # Each sheet streams to its own temporary file, so one pass over the rows fills all
        # three, each in row order. Every string from the file is written as text.
        for _, outcome, detail in records:
            sheet = written.get(outcome)
            if sheet is None:
                line, identifiers, reason, raw = detail
                details.append([line, as_text(identifiers), as_text(reason), *map(as_text, raw)])
                continue
            line, *texts, changes = detail
            cells = list(map(as_text, texts))
            if outcome == "updated":
                unchanged += not changes
                cells.append(changes or NOTHING_CHANGED)
            sheet.append([line, *cells])
        _summary(summary, job, unchanged)
        workbook.save(target)

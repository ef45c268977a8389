"""The Excel results report, written in openpyxl's write-only mode and stored in GridFS."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from store import files
from store.documents import ImportBatch, ImportJob

EXCEL_CELL_LIMIT = 32_767
TRUNCATION_MARK = "…[truncated]"
REPORT_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def text_cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    """A cell that always holds text: user data never becomes a formula."""
    text = "" if value is None else str(value)
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(text) > EXCEL_CELL_LIMIT:
        text = text[: EXCEL_CELL_LIMIT - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    return cell


def _header(sheet: WriteOnlyWorksheet, names: list[str]) -> None:
    cells = []
    for name in names:
        cell = text_cell(sheet, name)
        cell.font = Font(bold=True)
        cells.append(cell)
    sheet.append(cells)


def _identifiers(values: dict[str, Any], keys: list[str]) -> str:
    shown = []
    for key in keys:
        value = values.get(key)
        if value:
            shown.append(", ".join(map(str, value)) if isinstance(value, list) else str(value))
    return "; ".join(shown)


async def build_report(job: ImportJob) -> Any:
    """Write the report for a finished job to GridFS; returns its file id."""
    details: list[tuple[int, str, str, list[str]]] = []
    written: dict[str, list[tuple[int, str]]] = {"imported": [], "updated": []}
    identifier_keys = [a["key"] for a in job.schema_attributes if a.get("channelIdentifier")]
    async for batch in ImportBatch.find(ImportBatch.job_id == str(job.id)):
        rows = {row.number: row for row in batch.rows}
        for result in batch.results:
            if result.outcome in written:
                written[result.outcome].append((result.number, result.customer_id or ""))
                continue
            row = rows[result.number]
            # A row that failed validation has no normalised values: show what the file had.
            shown = row.values or {
                job.mapping[c]: v
                for c, v in zip(job.header, row.raw, strict=False)
                if job.mapping.get(c) in identifier_keys and v
            }
            details.append(
                (result.number, _identifiers(shown, identifier_keys), result.reason or "", row.raw)
            )
    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("Summary")
    _header(summary, ["Summary", "Count"])
    counts = job.counts
    for label, value in (
        ("Total Records", counts.total),
        ("Imported", counts.imported),
        ("Updated", counts.updated),
        ("Ignored", counts.ignored),
        ("Failed", counts.failed),
    ):
        summary.append([text_cell(summary, label), value])
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
        ("Started", started.isoformat() if started else ""),
        ("Finished", finished.isoformat() if finished else ""),
        ("Duration (s)", round(duration, 3) if duration is not None else ""),
    ]
    for label, value in settings_rows:
        summary.append(
            [
                text_cell(summary, label),
                value if isinstance(value, float) else text_cell(summary, value),
            ]
        )
    sheet = workbook.create_sheet("Details")
    _header(sheet, ["Row", "Identifiers", "Reason", *job.header])
    for number, identifiers, reason, raw in sorted(details, key=lambda d: d[0]):
        sheet.append(
            [
                number,
                text_cell(sheet, identifiers),
                text_cell(sheet, reason),
                *(text_cell(sheet, v) for v in raw),
            ]
        )
    for outcome, entries in written.items():
        sheet = workbook.create_sheet(outcome.capitalize())
        _header(sheet, ["Row", "Customer id"])
        for number, customer_id in sorted(entries):
            sheet.append([number, text_cell(sheet, customer_id)])
    with tempfile.TemporaryFile() as target:
        workbook.save(target)
        target.seek(0)
        name = f"report-{job.id}.xlsx"
        return await files.save_stream(
            files.reports(),
            name,
            target,
            {"jobId": str(job.id), "contentType": REPORT_CONTENT_TYPE},
        )


_PHONE_OR_NUMBER = re.compile(r"^[+-][\d\s().-]+$")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula; phone numbers such as
    +12025550143 and signed numbers stay as they are (they are not formulas)."""
    if value.startswith(FORMULA_PREFIXES) and not _PHONE_OR_NUMBER.match(value):
        return "'" + value
    return value


async def failed_rows_csv(job: ImportJob) -> bytes:
    """The failed rows with their original headers plus an `error` column, in file order."""
    failed: list[tuple[int, list[str], str]] = []
    async for batch in ImportBatch.find(ImportBatch.job_id == str(job.id)):
        rows = {row.number: row for row in batch.rows}
        failed.extend(
            (r.number, rows[r.number].raw, r.reason or "")
            for r in batch.results
            if r.outcome == "failed"
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*job.header, "error"])
    for _, raw, reason in sorted(failed, key=lambda f: f[0]):
        writer.writerow([csv_safe(v) for v in raw] + [csv_safe(reason)])
    return buffer.getvalue().encode("utf-8-sig")

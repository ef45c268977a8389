"""The Excel results report, written in openpyxl's write-only mode and stored in GridFS,
and the failed-rows CSV, streamed.

Both list rows by CSV row number. Batches hold the rows of whole identifier groups, so a
batch's rows are in file order but batches interleave. Memory stays flat whatever the number
of rows: batches are read a few at a time, each outcome row goes through a `SortedSpill`
(sorted chunks of bounded size spilled to a temporary file, then merged back), and rows go
straight from the merge to the workbook's sheets (openpyxl's write-only mode writes each sheet
to its own temporary file, with inline strings) or to the HTTP response.

Why not one aggregation ($unwind the rows, $sort by number, allowDiskUse)? It keeps the
worker flat, and real MongoDB spills a large $sort to disk; but SecantusDB, the embedded
server of `make run` and the tests, materialises every find and aggregate result as a list in
its own process: about 300 MiB more for a 100,000-row job (see `bench.report`). Reading
batches by ranges of `seq` and sorting here keeps both processes flat on either server.
"""

from __future__ import annotations

import csv
import heapq
import io
import os
import pickle
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from domain.formula_safety import escaped
from store import files
from store.documents import ImportBatch, ImportJob, JobStatus, unpack

EXCEL_CELL_LIMIT = 32_767
TRUNCATION_MARK = "…[truncated]"
REPORT_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Memory bounds of the sorted reading (none depends on the number of rows).
SORT_CHUNK_BYTES = 4 * 1024 * 1024  # about this much row data is sorted in memory at once
MERGE_FAN_IN = 64  # runs merged at once; more runs are first merged into fewer, longer ones
RUN_BUFFER_BYTES = 64 * 1024  # read buffer of each run being merged
READ_ROWS = 2_000  # about this many rows of batches per query
MAX_BATCHES_PER_READ = 64
CSV_CHUNK_CHARS = 64 * 1024  # the failed-rows CSV is sent in pieces of about this size
WRITTEN = ("imported", "updated")  # outcomes listed with their customer id, on their own sheets
# Column widths (characters) of the report's sheets.
SUMMARY_WIDTHS = (28, 60)
WRITTEN_WIDTHS = (8, 26, 24, 32, 60)  # Row, Customer id, Name, Identifiers, Changes


def text_cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    """A cell that always holds text: user data never becomes a formula."""
    text = "" if value is None else str(value)
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(text) > EXCEL_CELL_LIMIT:
        text = text[: EXCEL_CELL_LIMIT - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    return cell


def frame_sheet(sheet: WriteOnlyWorksheet, widths: Sequence[float]) -> None:
    """The header row frozen (it stays in view) and the columns sized; before any row is
    written (a write-only sheet writes these first)."""
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def filter_rows(sheet: WriteOnlyWorksheet, columns: int, rows: int) -> None:
    """A filter on each column of the header, over the `rows` rows below it."""
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(1, columns))}{rows + 1}"


def header_row(sheet: WriteOnlyWorksheet, names: list[str], widths: Sequence[float] = ()) -> None:
    """The bold header, frozen; a column's width is given, or fits its name."""
    frame_sheet(sheet, [*widths, *(min(40, max(12, len(n) + 4)) for n in names[len(widths) :])])
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


# --- rows sorted by row number, in bounded memory --------------------------------------------

Record = tuple[int, str, Any]  # (row number, outcome, what the report shows of the row)
_number = itemgetter(0)


class _RunReader(io.RawIOBase):
    """One run of a spill file, read with pread: any number of runs of the same file can be
    read side by side, each at its own position."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        super().__init__()
        self._fd, self._position, self._end = fd, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._end - self._position)
        if size <= 0:
            return 0
        data = os.pread(self._fd, size, self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


class SortedSpill:
    """Records in, records out sorted by their first item (an int), with bounded memory:
    records gather in a chunk of about SORT_CHUNK_BYTES, which is sorted and written to a
    temporary file as a run; reading merges the runs (MERGE_FAN_IN at a time, in passes when
    there are more). Records are pickled: the file is ours and temporary."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._runs: list[tuple[int, int]] = []
        self._chunk: list[Record] = []
        self._chunk_bytes = 0

    def __enter__(self) -> SortedSpill:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._chunk = []

    def add(self, record: Record, size: int) -> None:
        """`size`: about how many bytes the record holds in memory."""
        self._chunk.append(record)
        self._chunk_bytes += size
        if self._chunk_bytes >= SORT_CHUNK_BYTES:
            self._spill()

    def _spill(self) -> None:
        if not self._chunk:
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._chunk.sort(key=_number)
        self._runs.append(_write_run(self._file, self._chunk))
        self._chunk, self._chunk_bytes = [], 0

    def sorted(self) -> Iterator[Record]:
        """Every record added, by number; call once, after the last `add`."""
        if self._file is None:  # everything fitted in one chunk
            chunk, self._chunk = self._chunk, []
            chunk.sort(key=_number)
            return iter(chunk)
        self._spill()
        while len(self._runs) > MERGE_FAN_IN:
            self._merge_pass()
        return self._merged(self._runs)

    def _merged(self, runs: list[tuple[int, int]]) -> Iterator[Record]:
        assert self._file is not None
        self._file.flush()
        fd = self._file.fileno()
        readers = [_read_run(fd, start, end) for start, end in runs]
        return heapq.merge(*readers, key=_number)

    def _merge_pass(self) -> None:
        target = tempfile.TemporaryFile()  # noqa: SIM115 - becomes self._file
        runs = [
            _write_run(target, self._merged(self._runs[i : i + MERGE_FAN_IN]))
            for i in range(0, len(self._runs), MERGE_FAN_IN)
        ]
        self.close()
        self._file, self._runs = target, runs


def _write_run(target: IO[bytes], records: Iterable[Record]) -> tuple[int, int]:
    start = target.seek(0, os.SEEK_END)
    for record in records:
        pickle.dump(record, target, protocol=pickle.HIGHEST_PROTOCOL)
    return start, target.tell()


def _read_run(fd: int, start: int, end: int) -> Iterator[Record]:
    source = io.BufferedReader(_RunReader(fd, start, end), buffer_size=RUN_BUFFER_BYTES)
    while True:
        try:
            yield pickle.load(source)  # our own temporary file, written just above
        except EOFError:
            return


async def _job_batches(job: ImportJob, projection: dict[str, int]) -> AsyncIterator[dict[str, Any]]:
    """The job's batches (raw documents), a few at a time by ranges of `seq` (READ_ROWS rows
    or so): neither this process nor the server holds more than one range at once."""
    collection = ImportBatch.get_pymongo_collection()
    job_id = str(job.id)
    count = job.batch_count
    if count is None:
        count = await collection.count_documents({"job_id": job_id})
    seq, width = 0, 1
    while seq < count:
        rows = batches = 0
        query = {"job_id": job_id, "seq": {"$gte": seq, "$lt": seq + width}}
        async for batch in collection.find(query, projection):
            rows += batch.get("row_count") or 0
            batches += 1
            yield batch
        seq += width
        # Batches have about the same size: size the next range from this one.
        width = max(1, min(MAX_BATCHES_PER_READ, READ_ROWS * batches // max(rows, 1)))


def _row_size(raw: list[str], *texts: str) -> int:
    """About the bytes a row's strings hold in memory (CPython str overhead included)."""
    return 100 + sum(56 + len(v) for v in raw) + sum(56 + len(t) for t in texts)


def _shown(value: Any) -> str:
    if value is None or value == [] or value == "":
        return "(empty)"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _changes_text(changes: list[Any]) -> str:
    """An update's changes as a person reads them: "city: Rome → Paris; labels: vip → vip, gold"."""
    return "; ".join(f"{key}: {_shown(old)} → {_shown(new)}" for key, old, new in changes)


def _name(values: dict[str, Any]) -> str:
    return " ".join(str(values[k]) for k in ("firstName", "lastName") if values.get(k))


async def _sorted_rows(
    job: ImportJob, spill: SortedSpill, outcomes: tuple[str, ...]
) -> Iterator[Record]:
    """The job's rows with one of `outcomes`, by row number: (number, outcome, detail). The
    detail of a WRITTEN row is (spreadsheet row, customer id, name, identifiers, changes);
    of any other, (spreadsheet row, identifiers, reason, raw cells)."""
    identifier_keys = [a["key"] for a in job.schema_attributes if a.get("channelIdentifier")]
    projection = {"packed_rows": 1, "packed_results": 1, "row_count": 1}
    async for batch in _job_batches(job, projection):
        results = [r for r in unpack(batch.get("packed_results")) if r["outcome"] in outcomes]
        if not results:
            continue
        rows = {row["number"]: row for row in unpack(batch.get("packed_rows"))}
        for result in results:
            outcome, number = result["outcome"], result["number"]
            row = rows.get(number, {})
            line = row.get("line") or number + 1
            raw = row.get("raw") or []
            # A row that failed validation has no normalised values: show what the file had.
            shown = row.get("values") or {
                job.mapping[c]: v
                for c, v in zip(job.header, raw, strict=False)
                if job.mapping.get(c) in identifier_keys and v
            }
            identifiers = _identifiers(shown, identifier_keys)
            if outcome in WRITTEN:
                customer_id = result.get("customer_id") or ""
                written = (customer_id, _name(shown), identifiers)
                changes = _changes_text(result.get("changes") or [])
                spill.add(
                    (number, outcome, (line, *written, changes)), _row_size([], *written, changes)
                )
                continue
            reason = result.get("reason") or ""
            spill.add((number, outcome, (line, identifiers, reason, raw)), _row_size(raw, reason))
    return spill.sorted()


def _cancelled(job: ImportJob) -> list[tuple[str, Any]]:
    """The line a cancelled import's report adds: how far it got."""
    if job.status != JobStatus.CANCELLED:
        return []
    left = job.total_rows - job.processed_rows
    return [
        (
            "Cancelled",
            f"{job.processed_rows:,} of {job.total_rows:,} rows processed; the other {left:,} "
            + (
                f"were left to its resume, import {job.resumed_by}"
                if job.resumed_by
                else "were not imported"
            ),
        )
    ]


def _summary(summary: WriteOnlyWorksheet, job: ImportJob, unchanged: int) -> None:
    """The counts (an update that changed nothing is counted as unchanged too), then the
    import's settings."""
    header_row(summary, ["Summary", "Count"], SUMMARY_WIDTHS)
    counts = job.counts
    for label, value in (
        ("Total Records", counts.total),
        ("Imported", counts.imported),
        ("Updated", counts.updated),
        ("  of which unchanged", unchanged),
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
        summary.append(
            [
                text_cell(summary, label),
                value if isinstance(value, float) else text_cell(summary, value),
            ]
        )


async def build_report(job: ImportJob) -> Any:
    """Write the report for a finished job to GridFS; returns its file id."""
    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("Summary")  # first; filled once the rows are counted
    details = workbook.create_sheet("Details")
    details_header = ["Row", "Identifiers", "Reason", *job.header]
    header_row(details, details_header, [8, 32, 60, *[18] * len(job.header)])
    written: dict[str, WriteOnlyWorksheet] = {}
    for outcome in WRITTEN:
        written[outcome] = workbook.create_sheet(outcome.capitalize())
    header_row(written["imported"], ["Row", "Customer id", "Name", "Identifiers"], WRITTEN_WIDTHS)
    header_row(
        written["updated"], ["Row", "Customer id", "Name", "Identifiers", "Changes"], WRITTEN_WIDTHS
    )
    rows = {"details": 0, "imported": 0, "updated": 0}
    unchanged = 0
    # Each write-only sheet streams to its own temporary file, so one pass over the rows
    # fills all three, each in row order.
    with SortedSpill() as spill, tempfile.TemporaryFile() as target:
        outcomes = ("failed", "ignored", *WRITTEN)
        for _, outcome, detail in await _sorted_rows(job, spill, outcomes):
            sheet = written.get(outcome)
            if sheet is not None:
                line, *texts, changes = detail
                cells = [text_cell(sheet, text) for text in texts]
                if outcome == "updated":
                    unchanged += not changes
                    cells.append(text_cell(sheet, changes or "(nothing changed)"))
                sheet.append([line, *cells])
                rows[outcome] += 1
                continue
            line, identifiers, reason, raw = detail
            details.append(
                [
                    line,
                    text_cell(details, identifiers),
                    text_cell(details, reason),
                    *(text_cell(details, v) for v in raw),
                ]
            )
            rows["details"] += 1
        filter_rows(details, len(details_header), rows["details"])
        filter_rows(written["imported"], 4, rows["imported"])
        filter_rows(written["updated"], 5, rows["updated"])
        _summary(summary, job, unchanged)
        workbook.save(target)
        target.seek(0)
        name = f"report-{job.id}.xlsx"
        return await files.save_stream(
            files.reports(),
            name,
            target,
            {"jobId": str(job.id), "contentType": REPORT_CONTENT_TYPE},
        )


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
        for _, _, (_, _, reason, raw) in await _sorted_rows(job, spill, ("failed",)):
            # A short or long row still has its reason in the `error` column.
            cells = [*raw[:width], *[""] * (width - len(raw))]
            if len(raw) > width:
                reason = f"{reason} (extra cells: {', '.join(raw[width:])})"
            writer.writerow([escaped(v) for v in cells] + [escaped(reason)])
            if buffer.tell() >= CSV_CHUNK_CHARS:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")

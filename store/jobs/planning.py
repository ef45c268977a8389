"""Planning an import: validate every row and store the rows in batches, so that rows that
share any identifier value, or reach one existing customer (store.jobs.holders), land in one
batch, in file order; then one message per batch."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from array import array
from typing import Any

from gridfs.errors import NoFile

from config import Settings
from domain.batching import RowGrouper
from domain.resolution import identifier_values
from domain.tabular import open_table
from store import files
from store.documents import ImportBatch, ImportJob, pack_encoded, utcnow
from store.errors import NotFound
from store.jobs import leases, progress, remote, resume, states, step_run
from store.jobs.dispatch import Dispatcher
from store.jobs.holders import HolderLinks
from store.jobs.progress import enqueue_unfinished
from store.jobs.queries import get_job, job_oid, job_validator
from store.jobs.reading import csv_limits
from store.jobs.row_spool import RowSpool
from store.jobs.states import UNFINISHED
from store.jobs.steps import PLANNING, Document

log = logging.getLogger(__name__)
# A batch's rows (cells and values) must fit one MongoDB document (16 MB) whatever the
# compression: batches close at about this many bytes of rows, as well as at BATCH_SIZE rows.
BATCH_MAX_BYTES = 12 * 1024 * 1024


def _stored_size(cells: list[str]) -> int:
    """At most the bytes a row takes in its batch, before compression: its cells twice (as
    read, and as normalised values), at worst 3 bytes a character in UTF-8, plus overhead."""
    return 200 + sum(16 + 6 * len(cell) for cell in cells)


async def plan_job(job_id: str, dispatcher: Dispatcher, settings: Settings) -> None:
    """Running twice stores the same batches; the step's deliveries are counted and end
    the job failed at the limit (store.jobs.step_run)."""
    oid = job_oid(job_id)

    async def plan(job: Document) -> None:
        await _plan_job(job_id, dispatcher, settings)

    async def give_up(job: Document, attempt: int, error: BaseException) -> None:
        if isinstance(error, NotFound):
            raise error  # no job to end
        reason = "the uploaded file is no longer stored" if isinstance(error, NoFile) else None
        await states.fail(job_id, step_run.failure(PLANNING, attempt, error, reason))

    ran = await step_run.run(PLANNING, states.unfinished(oid), settings, plan, give_up)
    if not ran and await ImportJob.get_pymongo_collection().count_documents({"_id": oid}) == 0:
        raise NotFound(f"No import with id {job_id!r}")
    # Else finished or cancelled meanwhile, or a live delivery is planning it.


async def _plan_job(job_id: str, dispatcher: Dispatcher, settings: Settings) -> None:
    job = await get_job(job_id)
    if job.status not in UNFINISHED:
        return
    if job.file_id is None and job.source is not None:  # its file is fetched first
        fetched = await remote.fetch_and_take_in(job, settings)
        if fetched is None:
            return
        job = fetched
    if job.batch_count is not None:
        await enqueue_unfinished(job, dispatcher)
        return
    validator = job_validator(job, settings)
    identifier_keys = [a.key for a in validator.schema.channel_identifiers]
    grouper = RowGrouper(spill=tempfile.TemporaryFile)
    mapped = {job.mapping[c] for c in job.mapping if job.mapping[c] in identifier_keys}
    holders = await HolderLinks.for_import(
        grouper, job.total_rows * len(mapped), settings.lookup_chunk_size
    )
    left = await resume.rows_left(job)
    yielder = leases.Yielder()
    # A read of the claims or a write of the progress that still runs when planning ends
    # (early: the job was cancelled, or failed) is stopped.
    with (
        tempfile.TemporaryFile() as source,
        tempfile.TemporaryFile() as spool_file,
        contextlib.closing(holders),
        contextlib.closing(progress.Checked(job_id)) as checked,
    ):
        spool = RowSpool(spool_file)
        lines = array("q")  # each row's line, for its batch's row range
        await files.download_to(files.uploads(), job.file_id, source)
        source.seek(0)
        # Only now: a scan of the claims started before the download holds it up (2.2 s
        # instead of 0.05 s for 100,000 rows on one connection, bench.planning --case dup100).
        holders.start()
        reader = open_table(
            source,
            delimiter=job.delimiter,
            sheet=job.sheet,
            limits=csv_limits(settings),
            formula_escaped=job.retry_of is not None,
        )
        for csv_row in reader:
            await yielder.tick()
            if left is not None and csv_row.number not in left:
                continue  # processed by the import this one resumes
            checked.count()
            # A plain dict (BatchRow's fields), encoded once for its batch (row_spool).
            row: dict[str, Any] = {
                "number": csv_row.number,
                "line": csv_row.line,
                "raw": csv_row.values,
                "values": {},
                "errors": [csv_row.error] if csv_row.error else [],
            }
            if not csv_row.error:
                validated = validator.validate_csv_row(reader.header, csv_row.values, job.mapping)
                row["values"], row["errors"] = validated.values, list(validated.errors)
            # Failed rows write nothing, so they need no group.
            identifiers = () if row["errors"] else identifier_values(row["values"], identifier_keys)
            await holders.add(identifiers)
            grouper.add(identifiers, _stored_size(csv_row.values))
            spool.add(row)
            lines.append(csv_row.line)
        await holders.finish()
        batch_of_row, sizes, held_rows, batch_of_link = grouper.assign_batches(
            job.batch_size or settings.batch_size, BATCH_MAX_BYTES
        )
        holders.sort_into_batches(batch_of_link, len(sizes))
        pending: dict[int, tuple[int, list[bytes]]] = {}  # seq: its first row, its rows
        collection = ImportBatch.get_pymongo_collection()
        for index, encoded in enumerate(spool.rows()):
            seq = batch_of_row[index]
            first, rows = pending.setdefault(seq, (index, []))
            rows.append(encoded)
            if len(rows) == sizes[seq]:
                batch = ImportBatch(
                    id=states.batch_id(job_id, seq),
                    job_id=job_id,
                    seq=seq,
                    packed_rows=pack_encoded(rows),
                    row_count=len(rows),
                    # Rows keep file order in a batch: as a person finds them in the file.
                    first_row=lines[first],
                    last_row=lines[index],
                    held_rows=held_rows[seq],
                    packed_claims=holders.claims_of(seq),
                    claims_read_at=holders.read_from,
                )
                document = batch.model_dump(by_alias=True, mode="python")
                await collection.replace_one({"_id": batch.id}, document, upsert=True)
                del pending[seq]
    now = utcnow()
    updated = await states.start(
        job.id,
        {
            "batch_count": len(sizes),
            "total_rows": len(batch_of_row),
            "checked_rows": len(batch_of_row),
            "started_at": job.started_at or now,
            "planned_at": now,
        },
    )
    if updated is None:  # cancelled while planning
        return
    await enqueue_unfinished(ImportJob.model_validate(updated), dispatcher)

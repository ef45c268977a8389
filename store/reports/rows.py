"""An import's rows with their results, read from its batches and given back by row number in
bounded memory, as the report shows them (domain.report_rows).

Batches hold the rows of whole identifier groups, so a batch's rows are in file order but
batches interleave. Batches are read a few at a time and each row goes through a
`SortedSpill`. Why not one aggregation ($unwind the rows, $sort by number, allowDiskUse)? It
keeps the worker flat, and real MongoDB spills a large $sort to disk; but SecantusDB, the
embedded server of `make run` and the tests, materialises every find and aggregate result as
a list in its own process: about 300 MiB more for a 100,000-row job (see `bench.report`).
Reading batches by ranges of `seq` and sorting here keeps both processes flat on either
server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from domain.report_rows import WRITTEN, Detail, report_detail
from store.documents import ImportBatch, ImportJob, unpack
from store.reports.spill import Record, SortedSpill

READ_ROWS = 2_000  # about this many rows of batches per query
MAX_BATCHES_PER_READ = 64


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


def _size(outcome: str, detail: Detail) -> int:
    """About the bytes a row's strings hold in memory (CPython str overhead included)."""
    texts: list[str] = list(detail[1:]) if outcome in WRITTEN else [detail[2], *detail[3]]
    return 100 + sum(56 + len(t) for t in texts)


async def sorted_rows(
    job: ImportJob, spill: SortedSpill, outcomes: tuple[str, ...]
) -> Iterator[Record]:
    """The job's rows with one of `outcomes`, by row number: (number, outcome, detail)."""
    identifier_keys = [a["key"] for a in job.schema_attributes if a.get("channelIdentifier")]
    projection = {"packed_rows": 1, "packed_results": 1, "row_count": 1}
    async for batch in _job_batches(job, projection):
        results = [r for r in unpack(batch.get("packed_results")) if r["outcome"] in outcomes]
        if not results:
            continue
        rows = {row["number"]: row for row in unpack(batch.get("packed_rows"))}
        for result in results:
            row = rows.get(result["number"], {})
            detail = report_detail(result, row, job.header, job.mapping, identifier_keys)
            outcome = result["outcome"]
            spill.add((result["number"], outcome, detail), _size(outcome, detail))
    return spill.sorted()

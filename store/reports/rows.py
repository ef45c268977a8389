"""An import's rows with their results, read from its batches and given back by row number in
bounded memory, as the report shows them (domain.report_rows).

Batches hold the rows of whole identifier groups, so a batch's rows are in file order but
batches interleave. Batches are read a few at a time and each row goes through a
`SortedSpill`. Why not one aggregation ($unwind the rows, $sort by number, allowDiskUse)? It
keeps the worker flat, and real MongoDB spills a large $sort to disk; but SecantusDB, the
embedded server of `make run` and the tests, materialises every find and aggregate result as
a list in its own process: about 300 MiB more for a 100,000-row job (see `bench.report`).
Reading batches by ranges of `seq` and sorting here keeps both processes flat on either
server.

A batch works out what the report shows of its rows as it finishes (`pack_details`, in the
batch's worker, whose CPU is spare while the server bounds the batches): the report then
reads those few strings instead of every row's cells and values and working them out again,
which was most of its time (py-spy of `bench.report`: decoding the rows 39%, the details
another quarter). A batch without them (failed, or finished before they were kept) is worked
out here as before."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from domain.report_rows import WRITTEN, Detail, report_detail
from store.documents import ImportBatch, ImportJob, pack, unpack
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


def _identifier_keys(job: ImportJob) -> list[str]:
    return [a["key"] for a in job.schema_attributes if a.get("channelIdentifier")]


def _details(
    job: ImportJob,
    rows: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    outcomes: tuple[str, ...] | None = None,
) -> Iterator[Record]:
    """(number, outcome, detail) of the `results` with one of `outcomes` (all when None)."""
    identifier_keys = _identifier_keys(job)
    by_number = {row["number"]: row for row in rows}
    for result in results:
        outcome = result["outcome"]
        if outcomes is None or outcome in outcomes:
            row = by_number.get(result["number"], {})
            detail = report_detail(result, row, job.header, job.mapping, identifier_keys)
            yield result["number"], outcome, detail


def pack_details(
    job: ImportJob, rows: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> bytes:
    """What the report shows of a batch's `rows` with their `results` (as the batch stores
    both), packed for the batch document (ImportBatch.packed_details)."""
    return pack([{"n": n, "o": o, "d": list(d)} for n, o, d in _details(job, rows, results)])


async def sorted_rows(
    job: ImportJob, spill: SortedSpill, outcomes: tuple[str, ...]
) -> Iterator[Record]:
    """The job's rows with one of `outcomes`, by row number: (number, outcome, detail)."""
    collection = ImportBatch.get_pymongo_collection()
    worked_out = {"packed_rows": 1, "packed_results": 1}
    async for batch in _job_batches(job, {"packed_details": 1, "row_count": 1}):
        if batch.get("packed_details") is not None:
            records: Iterator[Record] = (
                (item["n"], item["o"], tuple(item["d"]))
                for item in unpack(batch["packed_details"])
                if item["o"] in outcomes
            )
        else:
            stored = await collection.find_one({"_id": batch["_id"]}, worked_out) or {}
            results = unpack(stored.get("packed_results"))
            records = _details(job, unpack(stored.get("packed_rows")), results, outcomes)
        for number, outcome, detail in records:
            spill.add((number, outcome, detail), _size(outcome, detail))
    return spill.sorted()

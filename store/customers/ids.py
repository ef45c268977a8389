"""Customer ids in the write protocol: a writer's new customers get ids made from the writer
and the row, so that running the writer again finds (and rewrites) its own customers, and a
revert finds an import's customers by `_id` range. Every collection of the protocol is keyed
by `_id`, so a write that meets one already there fails with DUPLICATE_KEY."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000  # the server's code for a duplicate `_id`


def id_for_row(writer_key: ObjectId, row_number: int) -> str:
    """The id of the customer a writer's row creates: the same on every run of the writer.
    The writer's timestamp first (ids stay ordered by creation), then 4 bytes of a hash of
    the writer and the row number."""
    return (_row_id_prefix(writer_key.binary) + row_number.to_bytes(4, "big")).hex()


@functools.lru_cache(maxsize=64)
def _row_id_prefix(writer: bytes) -> bytes:
    # Once per writer, not per row (a thousand rows a batch, twice each).
    return writer[:4] + hashlib.sha1(writer).digest()[:4]


def id_range_of(writer_key: ObjectId) -> tuple[ObjectId, ObjectId]:
    """The first and last id `id_for_row` can give a writer's rows: a revert finds the
    customers an import inserted by this `_id` range."""
    prefix = ObjectId(id_for_row(writer_key, 0)).binary[:8]
    return ObjectId(prefix + bytes(4)), ObjectId(prefix + b"\xff" * 4)


def keyed_by_import(import_id: str) -> dict[str, Any]:
    """The query of an import's documents keyed "<import id>:<customer id>" (its pre-images,
    its revert's notes). ";" follows ":" in ASCII: every "<import id>:..." and nothing else."""
    return {"_id": {"$gte": f"{import_id}:", "$lt": f"{import_id};"}}


async def insert_new(
    collection: AsyncCollection[dict[str, Any]], docs: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert `docs`, unordered; the indexes of those whose `_id` existed already (any other
    refusal raises)."""
    if not docs:
        return []
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if {e.get("code") for e in errors} != {DUPLICATE_KEY}:
            raise
        return [e["index"] for e in errors]
    return []


async def in_chunks(
    collection: AsyncCollection[dict[str, Any]],
    query: dict[str, Any],
    chunk_size: int,
    fetch_size: int,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The documents `query` finds, `chunk_size` at a time, in no particular order: one
    cursor of their `_id`s, each chunk then fetched by `_id`, `fetch_size` per `$in`.

    Not a page per query (`_id` greater than the last one, sorted, limited): the embedded
    server reads the whole rest of the range for each page, so paging 10,000 documents
    in pages of 500 took 7.6 s against 0.4 s for one cursor (bench.server_profile --undo
    showed a revert spending a third of its server time there). Only the `_id`s ride the
    cursor: the embedded server holds a cursor's results until they are read."""
    ids = collection.find(query, {"_id": 1}).batch_size(chunk_size)
    chunk: list[Any] = []
    async for doc in ids:
        chunk.append(doc["_id"])
        if len(chunk) == chunk_size:
            yield await by_id(collection, chunk, fetch_size)
            chunk = []
    if chunk:
        yield await by_id(collection, chunk, fetch_size)


async def by_id(
    collection: AsyncCollection[dict[str, Any]], ids: Sequence[Any], fetch_size: int
) -> list[dict[str, Any]]:
    """The documents of these `_id`s that exist, `fetch_size` per `$in` (the embedded
    server's `$in` slows per key as the list grows)."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), fetch_size):
        found += await collection.find(
            {"_id": {"$in": list(ids[start : start + fetch_size])}}
        ).to_list()
    return found


def customer_oid(customer_id: str) -> ObjectId:
    try:
        return ObjectId(customer_id)
    except InvalidId:  # a claim can only name customers we wrote; never expected
        raise ValueError(f"not a customer id: {customer_id!r}") from None

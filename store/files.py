"""Uploaded files and reports in GridFS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO, Any

from bson import Int64, ObjectId
from gridfs import DEFAULT_CHUNK_SIZE, AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from store import db
from store.documents import utcnow

CHUNK = 1024 * 1024
UPLOAD_CHUNKS_PER_INSERT = 4  # GridFS chunks (255 KiB each) sent per insert: about 1 MiB


class Bucket(AsyncGridFSBucket):
    """A GridFS bucket that knows its name: its collections are `<name>.files` and
    `<name>.chunks`."""

    def __init__(self, name: str) -> None:
        super().__init__(db.database(), bucket_name=name)
        self.name = name


def _bucket(name: str) -> Bucket:
    return Bucket(name)


def uploads() -> Bucket:
    return _bucket("uploads")


def reports() -> Bucket:
    return _bucket("reports")


def upload_leases() -> AsyncCollection[dict[str, Any]]:
    """One document per upload being stored, named by its file id, with the lease of the
    API process storing it: an upload whose lease ran out and that no import names was
    abandoned midway (its process died), and the recovery check deletes what it left."""
    return db.database()["upload_leases"]


def _read_full(source: IO[bytes], size: int) -> bytes:
    """`size` bytes, fewer only at the end: every GridFS chunk but the last must be full."""
    data = source.read(size)
    while data and len(data) < size:
        more = source.read(size - len(data))
        if not more:
            break
        data += more
    return data


async def save_stream(
    bucket: Bucket,
    filename: str,
    source: IO[bytes],
    metadata: dict[str, Any] | None = None,
    file_id: ObjectId | None = None,
) -> Any:
    """Copy a local file object into GridFS; returns the file id. The chunks are inserted
    UPLOAD_CHUNKS_PER_INSERT at a time, so memory stays about 1 MiB whatever the file's size:
    pymongo's upload stream holds up to 48 MB of chunk documents before it inserts any
    (measured: 3.7 times the file's size in memory, up to that). The layout is GridFS's
    own, so any driver reads the file."""
    database = db.database()
    chunks, files = database[f"{bucket.name}.chunks"], database[f"{bucket.name}.files"]
    # The indexes GridFS drivers create (idempotent).
    await chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)
    await files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])
    file_id = file_id or ObjectId()
    length = number = 0
    try:
        while True:
            group: list[dict[str, Any]] = []
            while len(group) < UPLOAD_CHUNKS_PER_INSERT:
                data = _read_full(source, DEFAULT_CHUNK_SIZE)
                if not data:
                    break
                group.append({"files_id": file_id, "n": number, "data": data})
                number += 1
                length += len(data)
            if group:
                await chunks.insert_many(group)
            if len(group) < UPLOAD_CHUNKS_PER_INSERT:
                break
        await files.insert_one(
            {
                "_id": file_id,
                "length": Int64(length),
                "chunkSize": DEFAULT_CHUNK_SIZE,
                "uploadDate": utcnow(),
                "filename": filename,
                "metadata": metadata or {},
            }
        )
    except BaseException:
        await chunks.delete_many({"files_id": file_id})
        raise
    return file_id


async def download_to(bucket: AsyncGridFSBucket, file_id: Any, target: IO[bytes]) -> None:
    stream = await bucket.open_download_stream(file_id)
    while chunk := await stream.read(CHUNK):
        target.write(chunk)


async def iterate(bucket: AsyncGridFSBucket, file_id: Any) -> AsyncIterator[bytes]:
    stream = await bucket.open_download_stream(file_id)
    while chunk := await stream.read(CHUNK):
        yield chunk


async def open_chunks(bucket: AsyncGridFSBucket, file_id: Any) -> AsyncIterator[bytes]:
    """Like `iterate`, but the file is opened now: a missing file raises
    `gridfs.errors.NoFile` here, before a response has started, not on the first read."""
    stream = await bucket.open_download_stream(file_id)

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await stream.read(CHUNK):
            yield chunk

    return chunks()


async def delete(bucket: AsyncGridFSBucket, file_id: Any) -> bool:
    """Delete a file and its chunks; False if there was no such file (already deleted)."""
    try:
        await bucket.delete(file_id)
    except NoFile:
        return False
    return True


async def delete_where(bucket: AsyncGridFSBucket, where: dict[str, Any]) -> int:
    """Delete every file whose `files` document matches `where`; returns how many."""
    ids = [grid_out._id async for grid_out in bucket.find(where)]
    deleted = 0
    for file_id in ids:
        deleted += await delete(bucket, file_id)
    return deleted

"""Uploaded files and reports in GridFS."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import IO, Any

from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile

from store import db

CHUNK = 1024 * 1024


def _bucket(name: str) -> AsyncGridFSBucket:
    return AsyncGridFSBucket(db.database(), bucket_name=name)


def uploads() -> AsyncGridFSBucket:
    return _bucket("uploads")


def reports() -> AsyncGridFSBucket:
    return _bucket("reports")


async def save_stream(
    bucket: AsyncGridFSBucket,
    filename: str,
    source: IO[bytes],
    metadata: dict[str, Any] | None = None,
) -> Any:
    """Copy a local file object into GridFS chunk by chunk; returns the file id."""
    stream = bucket.open_upload_stream(filename, metadata=metadata or {})
    try:
        while chunk := source.read(CHUNK):
            await stream.write(chunk)
    except BaseException:
        await stream.abort()
        raise
    await stream.close()
    return stream._id


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


def copy_file(source: IO[bytes], target: IO[bytes]) -> None:
    shutil.copyfileobj(source, target, CHUNK)

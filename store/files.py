"""Uploaded files and reports in GridFS."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import IO, Any

from gridfs import AsyncGridFSBucket

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


def copy_file(source: IO[bytes], target: IO[bytes]) -> None:
    shutil.copyfileobj(source, target, CHUNK)

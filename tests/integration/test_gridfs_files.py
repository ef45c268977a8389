"""store.files writes GridFS files itself (a few chunks per insert, so memory does not grow
with the file): whatever the size and however the source reads, the driver reads back the
same bytes, and a failed upload leaves nothing behind."""

from __future__ import annotations

import io
import os

import pytest
from gridfs import DEFAULT_CHUNK_SIZE

from store import files

CHUNK = DEFAULT_CHUNK_SIZE
GROUP = files.UPLOAD_CHUNKS_PER_INSERT


class Trickle(io.RawIOBase):
    """A source that hands out at most 1000 bytes per read, as a pipe or socket may."""

    def __init__(self, content: bytes) -> None:
        self._source = io.BytesIO(content)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._source.read(min(size, 1000) if size >= 0 else 1000)


class Broken(io.RawIOBase):
    def __init__(self, good: int) -> None:
        self._left = good

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise OSError("disk gone")
        take = min(size, self._left)
        self._left -= take
        return b"x" * take


async def read_back(file_id: object) -> bytes:
    return b"".join([chunk async for chunk in files.iterate(files.uploads(), file_id)])


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK * GROUP, CHUNK * GROUP + 1, 3 * 2**20 + 7]
)
@pytest.mark.parametrize("trickle", [False, True])
async def test_round_trip(database, size: int, trickle: bool) -> None:
    content = os.urandom(size)
    source = Trickle(content) if trickle else io.BytesIO(content)
    file_id = await files.save_stream(files.uploads(), "f.csv", source, {"recordType": "x"})
    assert await read_back(file_id) == content
    stored = await database["uploads.files"].find_one({"_id": file_id})
    assert stored["length"] == size and stored["chunkSize"] == CHUNK
    assert stored["filename"] == "f.csv" and stored["metadata"] == {"recordType": "x"}
    sizes = [
        len(c["data"])
        async for c in database["uploads.chunks"].find({"files_id": file_id}).sort("n", 1)
    ]
    assert sizes == [CHUNK] * (size // CHUNK) + ([size % CHUNK] if size % CHUNK else [])


async def test_a_failed_upload_leaves_nothing(database) -> None:
    with pytest.raises(OSError, match="disk gone"):
        await files.save_stream(files.uploads(), "f.csv", Broken(CHUNK * GROUP * 2 + 10))
    assert await database["uploads.chunks"].count_documents({}) == 0
    assert await database["uploads.files"].count_documents({}) == 0

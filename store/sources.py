"""Fetching an import's remote source (DESIGN.md §7) into a local file: a URL through the
guarded outbound client (store.outbound), an S3 object from the S3-compatible store of the
settings (S3_ENDPOINT_URL and credentials, never from a request). Streamed, at most
MAX_UPLOAD_BYTES and SOURCE_TIMEOUT_SECONDS; any failure is a SourceError whose text is the
reason the import fails with.

A fetch also tells the source's version (ETag, Last-Modified, SHA-256 of the bytes), and
given the previous one asks for the file only if it changed: a schedule with
`skipUnchanged` skips an unchanged source."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import asdict, dataclass
from typing import IO, Any

import httpcore

from config import Settings
from domain.remote import Source
from store import outbound

CHUNK = 1024 * 1024


class SourceError(Exception):
    """The source could not be fetched; `str()` is the reason, for the job's error."""


@dataclass(frozen=True)
class Version:
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None

    def same_as(self, other: Version | None) -> bool:
        if other is None:
            return False
        return any(
            mine is not None and mine == theirs
            for mine, theirs in (
                (self.etag, other.etag),
                (self.last_modified, other.last_modified),
                (self.sha256, other.sha256),
            )
        )

    def as_document(self) -> dict[str, str | None]:
        return asdict(self)

    @classmethod
    def of(cls, document: dict[str, Any] | None) -> Version | None:
        return None if not document else cls(**document)


class _Sink:
    """Writes the bytes, counting and hashing them, within the size limit."""

    def __init__(self, target: IO[bytes], limit: int) -> None:
        self.target, self.limit = target, limit
        self.size = 0
        self.digest = hashlib.sha256()
        self.stopped = False  # the fetch timed out: an S3 read in its thread stops too

    def write(self, chunk: bytes) -> None:
        if self.stopped:
            raise SourceError("stopped")
        self.size += len(chunk)
        if self.size > self.limit:
            raise SourceError(
                f"The source is larger than {self.limit} bytes, the most one import takes "
                "(MAX_UPLOAD_BYTES)"
            )
        self.digest.update(chunk)
        self.target.write(chunk)


async def fetch(
    source: Source,
    target: IO[bytes],
    settings: Settings,
    previous: Version | None = None,
    rule: outbound.AddressRule | None = None,
) -> Version | None:
    """Copy the source into `target`; its version, or None when it is the same as
    `previous` (then `target` may hold part of it or nothing)."""
    sink = _Sink(target, settings.max_upload_bytes)
    try:
        async with asyncio.timeout(settings.source_timeout_seconds):
            if source.s3 is not None:
                version = await asyncio.to_thread(_fetch_s3, source, sink, settings, previous)
            else:
                version = await _fetch_url(str(source.url), sink, settings, previous, rule)
    except TimeoutError:
        sink.stopped = True
        raise SourceError(
            f"The source did not arrive within {settings.source_timeout_seconds:.0f} seconds "
            "(SOURCE_TIMEOUT_SECONDS)"
        ) from None
    if version is None:
        return None
    version = Version(version.etag, version.last_modified, sink.digest.hexdigest())
    return None if version.same_as(previous) else version


async def _fetch_url(
    url: str,
    sink: _Sink,
    settings: Settings,
    previous: Version | None,
    rule: outbound.AddressRule | None,
) -> Version | None:
    headers = {}
    if previous is not None and previous.etag:
        headers["if-none-match"] = previous.etag
    if previous is not None and previous.last_modified:
        headers["if-modified-since"] = previous.last_modified
    try:
        async with outbound.get(url, settings, headers, rule=rule) as response:
            if response.status == 304 and previous is not None:
                return None
            if response.status != 200:
                raise SourceError(f"The source answered HTTP {response.status}, not 200")
            version = Version(
                outbound.header(response, "etag"), outbound.header(response, "last-modified")
            )
            if version.same_as(previous):
                return None
            async for chunk in response.aiter_stream():
                sink.write(chunk)
            return version
    except outbound.Refused as refused:
        raise SourceError(f"The source may not be reached: {refused}") from None
    except httpcore.TimeoutException:
        raise SourceError("The source stopped answering (no data for 30 seconds)") from None
    except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as error:
        reason = str(error) or type(error).__name__
        raise SourceError(f"The source could not be reached: {reason}") from None


def s3_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or None,
        aws_access_key_id=settings.aws_access_key_id or None,
        aws_secret_access_key=settings.aws_secret_access_key or None,
        region_name=settings.aws_region,
        config=Config(connect_timeout=10, read_timeout=30, retries={"max_attempts": 2}),
    )


def _fetch_s3(
    source: Source, sink: _Sink, settings: Settings, previous: Version | None
) -> Version | None:
    from botocore.exceptions import BotoCoreError, ClientError

    assert source.s3 is not None
    where = f"s3://{source.s3.bucket}/{source.s3.key}"
    ask: dict[str, Any] = {"Bucket": source.s3.bucket, "Key": source.s3.key}
    if previous is not None and previous.etag:
        ask["IfNoneMatch"] = previous.etag
    try:
        answer = s3_client(settings).get_object(**ask)
        version = Version(answer.get("ETag"), _http_date(answer.get("LastModified")))
        if version.same_as(previous):
            answer["Body"].close()
            return None
        body = answer["Body"]
        while chunk := body.read(CHUNK):
            sink.write(chunk)
        return version
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 304 or code == "304":
            return None
        if code in ("NoSuchKey", "404", "NoSuchBucket"):
            raise SourceError(f"The source {where} does not exist (S3 answered {code})") from None
        raise SourceError(f"S3 refused {where}: {code or status}") from None
    except BotoCoreError as error:
        raise SourceError(f"S3 could not be reached for {where}: {error}") from None


def _http_date(moment: Any) -> str | None:
    from datetime import UTC
    from email.utils import format_datetime

    return format_datetime(moment.astimezone(UTC), usegmt=True) if moment is not None else None

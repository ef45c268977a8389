"""Remote sources of an import (DESIGN.md §7): a URL or an S3 object, and the rules on the
addresses an outbound connection (a source, a webhook) may reach. Pure: resolving names and
connecting are the store's (store.outbound)."""

from __future__ import annotations

import fnmatch
import ipaddress
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.errors import Unprocessable

MAX_URL_CHARS = 2048
URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://"


class S3Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str = Field(min_length=3, max_length=63)
    key: str = Field(min_length=1, max_length=1024)


def _one_of(schema: dict[str, Any]) -> None:
    """As documented: an object of exactly one of the two, neither of them null."""
    properties = schema["properties"]
    properties["url"] = {k: v for k, v in properties["url"].items() if k != "default"}
    properties["url"].update(properties["url"].pop("anyOf")[0])
    properties["s3"] = properties["s3"]["anyOf"][0]
    schema.update(minProperties=1, maxProperties=1)


class Source(BaseModel):
    """Where an import's file comes from: exactly one of `url` and `s3`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_one_of)

    url: str | None = Field(default=None, max_length=MAX_URL_CHARS, pattern=URL_PATTERN)
    s3: S3Location | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Source:
        given = [name for name in self.model_fields_set if getattr(self, name) is not None]
        if len(given) != 1 or len(self.model_fields_set) != 1:
            raise ValueError("give the source as either 'url' or 's3', not both or neither")
        return self

    def describe(self) -> str:
        if self.s3 is not None:
            return f"s3://{self.s3.bucket}/{self.s3.key}"
        return str(self.url)

    def file_name(self) -> str:
        """The last segment of the URL's path or of the object's key (`source.csv` if none)."""
        path = self.s3.key if self.s3 is not None else urlsplit(str(self.url)).path
        name = unquote(path.rstrip("/").rsplit("/", 1)[-1]).strip()
        return name[:255] or "source.csv"


def web_address(url: str) -> tuple[str, str, int]:
    """The scheme, host and port of an http(s) URL; Unprocessable with the reason otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Unprocessable(f"The URL is not valid: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Unprocessable("The URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise Unprocessable(
            "The URL must not carry a user name or password; put a token in its query instead"
        )
    host = (parts.hostname or "").lower()
    if not host or any(c.isspace() or not c.isprintable() for c in host):
        raise Unprocessable("The URL has no valid host name")
    return scheme, host, port or (443 if scheme == "https" else 80)


def host_allowed(host: str, patterns: list[str]) -> bool:
    """Whether `host` is one of `patterns` (`*.example.com` matches its subdomains); an
    empty list allows every host."""
    return not patterns or any(fnmatch.fnmatchcase(host, pattern) for pattern in patterns)


def non_public_reason(address: str) -> str | None:
    """Why an IP address is no place for an outbound connection (loopback, private, ...), or
    None for a public address. IPv4 addresses inside IPv6 ones are judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return non_public_reason(str(inner))
    for kind, test in (
        ("a loopback", ip.is_loopback),
        ("an unspecified", ip.is_unspecified),
        ("a link-local", ip.is_link_local),
        ("a private", ip.is_private),
        ("a multicast", ip.is_multicast),
        ("a reserved", ip.is_reserved),
    ):
        if test:
            return f"{address} is {kind} address"
    if not ip.is_global:
        return f"{address} is not a public address"
    return None

"""Which channel identifiers a write finds existing customers by (DESIGN.md §6):
`deduplicationKeys`, or `channelIdentifier`, its synonym with one entry. The import config and
the bulk request take them by this one rule."""

from __future__ import annotations


def deduplication_keys(keys: list[str], channel_identifier: str | None) -> list[str]:
    """The keys given either way; ValueError (a 422 in the API) when both are given and
    differ, or neither is."""
    if channel_identifier:
        if keys and keys != [channel_identifier]:
            raise ValueError("give deduplicationKeys or channelIdentifier, not both")
        keys = [channel_identifier]
    if not keys:
        raise ValueError("deduplicationKeys needs at least one channel identifier")
    return keys

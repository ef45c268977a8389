"""Checking an uploaded file before it is stored (store.jobs.intake), in one pass over its
rows: mandatory attributes and deduplication keys mapped, readable, within the limits."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from config import Settings
from domain.errors import FileRejected
from domain.import_config import ImportConfig
from domain.mapping import missing_required, resolve_mapping
from domain.remembered import RememberedMapping, adjusted
from domain.schema import RecordSchema
from domain.tabular import open_table
from store.documents import ImportJob
from store.jobs.reading import read_sample, suggestions_for, upload_limits


@dataclass(frozen=True)
class CheckedFile:
    header: list[str]
    mapping: dict[str, str]
    total_rows: int
    size: int
    delimiter: str
    encoding: str
    adjusted: bool  # the mapping differs from the suggested one


def _retry_mapping(header: list[str], original: Mapping[str, str]) -> dict[str, str]:
    """A retry's file is mapped exactly as the original was: its other columns (such as the
    failed rows' `error`) are left out, and every column the original mapped must be there."""
    missing = [column for column in original if column not in header]
    if missing:
        raise FileRejected(
            "The corrected file lacks column(s) the original import mapped: "
            + ", ".join(missing)
            + "; send the rows with the original's columns (as in its failed-rows CSV)."
        )
    return {column: original[column] for column in header if column in original}


def check_file(
    upload: IO[bytes],
    config: ImportConfig,
    schema: RecordSchema,
    settings: Settings,
    retry_of: ImportJob | None = None,
    remembered: RememberedMapping | None = None,
) -> CheckedFile:
    """Read the whole file once: mandatory attributes mapped, readable, within the limits.
    Raises FileRejected with the reason."""
    reader = open_table(
        upload,
        delimiter=config.delimiter,
        sheet=config.sheet,
        limits=upload_limits(settings),
        formula_escaped=retry_of is not None,  # its rows come from the failed-rows CSV
    )
    rows = iter(reader)  # one pass: a reader read again does not go on where it stopped
    sample, read = read_sample(rows)
    suggestions = suggestions_for(reader.header, sample, schema, remembered)
    if retry_of is not None:
        mapping = _retry_mapping(reader.header, retry_of.mapping)
    else:
        mapping = resolve_mapping(reader.header, suggestions, config.mapping, schema)
    missing = missing_required(mapping, schema)
    if missing:
        raise FileRejected(
            "The file has no column for mandatory attribute(s): " + ", ".join(missing),
            missing_required=missing,
        )
    unmatched = [key for key in config.deduplication_keys if key not in mapping.values()]
    if unmatched:
        # Rows could not be matched on it: every row would be new, or fail on another key.
        raise FileRejected(
            "No column of the file is mapped to the deduplication key(s) "
            + ", ".join(unmatched)
            + "; map a column to each, or deduplicate on other keys."
        )
    # Reads to the end (undecodable files fail here), or to the first row past the limit:
    # a file over it is refused without reading the rest.
    rest = itertools.islice(rows, max(0, settings.max_rows - read + 1))
    total = read + sum(1 for _ in rest)
    if total == 0:
        raise FileRejected("The file has a header but no data rows.")
    if total > settings.max_rows:
        raise FileRejected(
            f"The file has more than {settings.max_rows} rows, the most one import takes; "
            "split it into several files."
        )
    size = upload.seek(0, 2)
    upload.seek(0)
    return CheckedFile(
        reader.header,
        mapping,
        total,
        size,
        reader.delimiter,
        reader.encoding,
        adjusted(mapping, suggestions),
    )

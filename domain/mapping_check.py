"""What a mapping chosen in the UI still lacks or breaks, and the file's sample rows as that
mapping would import them: the API answers it (POST /imports/mapping with `mapping`), so that
the UI shows the import's own rules rather than a copy of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from domain.attribute_proposal import guess_type, propose_key
from domain.import_config import DEFAULT_SEPARATOR, Separator
from domain.mapping import missing_required, refuse_unknown_attributes
from domain.schema import RecordSchema


class ChosenMapping(BaseModel):
    """The mapping to check: every column → the attribute key it is imported as, or None
    (not imported); and how a cell holds several values."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    mapping: dict[str, str | None]
    multi_value_separator: Separator = DEFAULT_SEPARATOR


@dataclass(frozen=True)
class MappingCheck:
    missing_required: list[str]  # mandatory attribute keys no column maps to
    mapped_twice: dict[str, list[str]]  # single-value attribute key → the columns mapping to it
    # Per sample row, attribute key → its values: multi-value cells split on the separator
    # and gathered across columns, empty cells left out, values as written (not validated).
    preview_rows: list[dict[str, list[str]]]
    # Column not imported → the attribute an admin may create for it: (its key, its type).
    proposed_attributes: dict[str, tuple[str, str]]


def single_values_mapped_twice(
    chosen: Mapping[str, str | None], schema: RecordSchema
) -> dict[str, list[str]]:
    """Single-value attributes that more than one column maps to (an import refuses those)."""
    columns_of: dict[str, list[str]] = {}
    for column, field in chosen.items():
        if field is not None:
            columns_of.setdefault(field, []).append(column)
    return {
        a.key: columns_of[a.key]
        for a in schema.attributes
        if not a.multi_value and len(columns_of.get(a.key, [])) > 1
    }


def preview_rows(
    sample_rows: Sequence[Mapping[str, str]],
    chosen: Mapping[str, str | None],
    schema: RecordSchema,
    separator: str,
) -> list[dict[str, list[str]]]:
    rows = []
    for sample in sample_rows:
        values: dict[str, list[str]] = {}
        for column, field in chosen.items():
            cell = (sample.get(column) or "").strip()
            attribute = schema.attribute(field) if field is not None else None
            if attribute is None or not cell:
                continue
            parts = cell.split(separator) if attribute.multi_value and separator else [cell]
            values.setdefault(attribute.key, []).extend(p.strip() for p in parts if p.strip())
        rows.append({a.key: values[a.key] for a in schema.attributes if a.key in values})
    return rows


def proposed_attributes(
    chosen: Mapping[str, str | None], schema: RecordSchema, sample_rows: Sequence[Mapping[str, str]]
) -> dict[str, tuple[str, str]]:
    """For each column the mapping does not import: a key from its header, a type from its
    sample values (domain.attribute_proposal)."""
    return {
        column: (
            propose_key(column, schema.keys),
            guess_type([str(row.get(column, "")) for row in sample_rows], schema),
        )
        for column, field in chosen.items()
        if field is None
    }


def check_mapping(
    chosen: ChosenMapping, schema: RecordSchema, sample_rows: Sequence[Mapping[str, str]]
) -> MappingCheck:
    refuse_unknown_attributes(chosen.mapping, schema)
    mapped = {column: field for column, field in chosen.mapping.items() if field is not None}
    return MappingCheck(
        missing_required=missing_required(mapped, schema),
        mapped_twice=single_values_mapped_twice(chosen.mapping, schema),
        preview_rows=preview_rows(
            sample_rows, chosen.mapping, schema, chosen.multi_value_separator
        ),
        proposed_attributes=proposed_attributes(chosen.mapping, schema, sample_rows),
    )

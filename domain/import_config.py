"""The configuration of one import (DESIGN.md §6), validated against the schema."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from domain.actions import Action
from domain.deduplication_keys import deduplication_keys
from domain.remote import Source

# How a cell holds several values of a multi-value attribute.
Separator = Annotated[str, Field(min_length=1, max_length=3)]
DEFAULT_SEPARATOR = "|"


class ImportConfig(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    record_type: str = "customers"
    deduplication_keys: list[str] = Field(default_factory=list)
    channel_identifier: str | None = None  # synonym of deduplicationKeys with one entry
    action: Action = Action.IGNORE
    mapping: dict[str, str | None] | None = None
    phone_default_region: str | None = None
    multi_value_separator: Separator = DEFAULT_SEPARATOR
    delimiter: str | None = None
    sheet: str | None = None  # of an Excel workbook; None: its first sheet
    dry_run: bool = False
    batch_size: int | None = Field(default=None, ge=1, le=10_000)  # advanced: rows per batch
    # Instead of an uploaded file: where the job fetches it (DESIGN.md §7).
    source: Source | None = None

    @field_validator("batch_size", mode="before")
    @classmethod
    def _integral(cls, value: object) -> object:
        """JSON's 500.0 is the integer 500 (as JSON Schema has it); 500.5 is no integer."""
        return int(value) if isinstance(value, float) and value.is_integer() else value

    @field_validator("phone_default_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is None or not region.strip():
            return None
        region = region.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {region!r} (use a code such as US or GB)")
        return region

    @model_validator(mode="after")
    def _one_way_to_name_keys(self) -> ImportConfig:
        self.deduplication_keys = deduplication_keys(
            self.deduplication_keys, self.channel_identifier
        )
        return self

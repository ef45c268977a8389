"""The multipart forms of the import routes: what the OpenAPI document says of them, and how
a handler reads their fields (the file, the settings, a mapping to check)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from api.bodies import parse_json
from api.models.imports import MappingCheck, ProposedAttribute
from api.openapi import model_schema, request_body
from config import Settings
from domain.errors import InvalidRequest, Unprocessable
from domain.import_config import ImportConfig
from domain.mapping_check import ChosenMapping, check_mapping
from store import schemas

Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
_FILE = {"type": "string", "format": "binary", "description": "The CSV or .xlsx file"}
MAPPING_FORM = request_body(
    {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": _FILE,
            "recordType": {"type": "string", "default": "customers"},
            "delimiter": {"type": "string", "maxLength": 1},
            "sheet": {"type": "string", "description": "A workbook's sheet; default the first"},
            "chosenMapping": model_schema(ChosenMapping)
            | {
                "description": "A mapping to check: the answer's `chosenMapping` says what it "
                "lacks and shows the sample rows as it would import them"
            },
        },
    },
    "multipart/form-data",
)
_CONFIG_SCHEMA = model_schema(ImportConfig)
IMPORT_FORM = request_body(
    {
        "type": "object",
        "required": ["config"],
        "properties": {"file": _FILE, "config": _CONFIG_SCHEMA},
        # The file, or (without a file part) a remote source named in config.source.
        "anyOf": [
            {"required": ["file"]},
            {
                "properties": {
                    "config": {"required": ["source"], "properties": {"source": {"type": "object"}}}
                }
            },
        ],
    },
    "multipart/form-data",
    encoding={"config": {"contentType": "application/json"}},
)
RETRY_FORM = request_body(
    {"type": "object", "required": ["file"], "properties": {"file": _FILE}},
    "multipart/form-data",
)


MAX_FILE_NAME_CHARS = 255  # what most file systems allow


def file_name(upload: UploadFile, default: str) -> str:
    """The upload's name, a longer one cut (its extension kept): it is shown in every list
    and names the downloads."""
    name = upload.filename or default
    if len(name) <= MAX_FILE_NAME_CHARS:
        return name
    _, dot, extension = name.rpartition(".")
    kept = dot + extension if dot and len(extension) <= 10 else ""
    return name[: MAX_FILE_NAME_CHARS - len(kept) - 1] + "…" + kept


def upload_of(data: dict[str, Any]) -> UploadFile:
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("Send the CSV or .xlsx file as the multipart field 'file'")
    return upload


def config_text(data: dict[str, Any]) -> str | bytes:
    raw = data.get("config")
    if raw is None:
        raise InvalidRequest("Send the import settings as the multipart field 'config' (JSON)")
    text: str | bytes = raw if isinstance(raw, str) else raw.file.read()
    return text


def parse_config(text: str | bytes, settings: Settings) -> ImportConfig:
    return parse_json(text, ImportConfig, settings.max_json_depth, "'config'")


def upload_unless_source(data: dict[str, Any], config: ImportConfig) -> UploadFile | None:
    """The uploaded file, or None for an import of config.source (then no file is sent)."""
    if config.source is None:
        return upload_of(data)
    if data.get("file") is not None:
        raise Unprocessable(
            "Send either a file or a remote source (config.source), not both: the import "
            "takes one file"
        )
    return None


async def checked_mapping(
    data: dict[str, Any], record_type: str, sample_rows: list[dict[str, str]], settings: Settings
) -> MappingCheck | None:
    """The `chosenMapping` form field checked against the schema, if it was sent."""
    text = text_field(data, "chosenMapping")
    if text is None:
        return None
    chosen = parse_json(text, ChosenMapping, settings.max_json_depth, "'chosenMapping'")
    check = check_mapping(chosen, await schemas.get_schema(record_type), sample_rows)
    proposed = {
        column: ProposedAttribute(key=key, type=kind)
        for column, (key, kind) in check.proposed_attributes.items()
    }
    return MappingCheck(
        missing_required=check.missing_required,
        mapped_twice=check.mapped_twice,
        preview_rows=check.preview_rows,
        proposed_attributes=proposed,
    )


def text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a text field, not a file")
    return value or None

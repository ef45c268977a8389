from __future__ import annotations

import csv
import io
from typing import Any

from litestar import Controller, Response, get, put
from litestar.params import FromPath, JSONBody

from api.security import ADMIN
from domain.errors import InvalidRequest
from domain.schema import RECORD_TYPE_LABELS, RecordSchema, example_value
from store import schemas


def schema_json(schema: RecordSchema) -> dict[str, Any]:
    return {
        "recordType": schema.record_type,
        "attributes": [a.model_dump(by_alias=True, mode="json") for a in schema.attributes],
    }


def template_csv(schema: RecordSchema) -> bytes:
    """The header (every attribute key) and one example row that imports cleanly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(schema.keys)
    writer.writerow([example_value(a) for a in schema.attributes])
    return buffer.getvalue().encode()


class RecordTypeController(Controller):
    path = "/record-types"
    tags = ["schema"]

    @get("/", summary="The record types that can be imported")
    async def list_record_types(self) -> list[dict[str, str]]:
        return [{"name": name, "label": label} for name, label in RECORD_TYPE_LABELS.items()]

    @get("/{record_type:str}/schema", summary="The record type's attributes")
    async def get_schema(self, record_type: FromPath[str]) -> dict[str, Any]:
        return schema_json(await schemas.get_schema(record_type))

    @put(
        "/{record_type:str}/schema",
        opt=ADMIN,
        status_code=200,
        summary="Replace the attribute list (admin); validated",
    )
    async def put_schema(
        self, record_type: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> dict[str, Any]:
        if data.get("recordType", record_type) != record_type:
            raise InvalidRequest("recordType in the body differs from the path")
        if not isinstance(data.get("attributes"), list):
            raise InvalidRequest('Send the schema as {"attributes": [...]}')
        schema = RecordSchema.model_validate(
            {"recordType": record_type, "attributes": data["attributes"]}
        )
        return schema_json(await schemas.replace_schema(schema))

    @get("/{record_type:str}/channel-identifiers", summary="Attributes usable to deduplicate")
    async def channel_identifiers(self, record_type: FromPath[str]) -> list[dict[str, str]]:
        schema = await schemas.get_schema(record_type)
        return [{"key": a.key, "label": a.label} for a in schema.channel_identifiers]

    @get(
        "/{record_type:str}/template.csv",
        media_type="text/csv",
        summary="A CSV template from the live schema",
    )
    async def template(self, record_type: FromPath[str]) -> Response[bytes]:
        schema = await schemas.get_schema(record_type)
        return Response(
            template_csv(schema),
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{record_type}-template.csv"',
            },
        )

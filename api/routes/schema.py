"""A record schema: read it (anyone) and change it (admin): replace the list, add one
attribute, list the versions, restore one. Every change goes through store.schema_changes;
its rules are stated here once, for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, TypeVar

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, HeaderParameter, Parameter, QueryParameter
from pydantic import BaseModel

from api.bodies import parse_json
from api.dependencies import InjectedSettings
from api.models.schema import AttributeBody, SchemaBody, SchemaVersionBody, SchemaVersionList
from api.openapi import errors, model_schema, request_body
from api.paging import MAX_OFFSET
from api.security import ADMIN, current_principal
from config import Settings
from domain.errors import Unprocessable
from domain.schema import DEFAULT_CUSTOMER_SCHEMA, Attribute, RecordSchema, SchemaReplacement
from store.schema_changes import versions as schema_versions
from store.schema_changes.change import change_schema
from store.schema_changes.versions import StoredSchema

RULES = """Rules of every schema change (PUT, POST .../attributes, restore):

- the default attributes ({defaults}) keep their keys; their labels, synonyms and flags
  may change. Removing one is 409.
- an attribute customers hold values for cannot be removed, nor change `type` or
  `multiValue`, unless `force=true` is given: 409 naming how many customers hold values.
  With `force=true`, removing it removes those values; a new type or `multiValue` converts
  every stored value (a number 42 becomes the text "42"), and if any value is not valid for
  it, nothing changes: 409 naming how many are not.
- a channel identifier that customers hold values for cannot change its type: remove the
  flag first.
- making an attribute a channel identifier first checks that no two customers share one of
  its values (409 naming the shared values), then claims every value, so the next import
  matches on it. Removing the flag releases them.
- every accepted change is a new version (GET .../schema/versions: who, when, the diff); a
  request whose `If-Match` is not the schema's current `ETag` is refused with 412, and
  nothing changes. A request without `If-Match` applies to the schema as it is.""".format(
    defaults=", ".join(DEFAULT_CUSTOMER_SCHEMA.keys)
)


def schema_body(schema: RecordSchema) -> SchemaBody:
    return SchemaBody(
        record_type=schema.record_type,
        attributes=[
            AttributeBody(
                key=a.key,
                label=a.label,
                type=a.type,
                required=a.required,
                multi_value=a.multi_value,
                channel_identifier=a.channel_identifier,
                synonyms=list(a.synonyms),
            )
            for a in schema.attributes
        ],
    )


ETAG_HEADERS = [
    ResponseHeader(
        name="ETag",
        description="The schema's version: send it back as If-Match to change the schema only "
        "if no one changed it since (412 otherwise)",
        documentation_only=True,
    )
]


def schema_response(stored: StoredSchema, status_code: int = 200) -> Response[SchemaBody]:
    return Response(
        schema_body(stored.schema), status_code=status_code, headers={"ETag": stored.etag}
    )


Body = TypeVar("Body", bound=BaseModel)


async def _body(request: Request, model: type[Body], settings: Settings) -> Body:  # type: ignore[type-arg]
    return parse_json(await request.body(), model, settings.max_json_depth)


async def _changed(
    schema: RecordSchema,
    request: Request,  # type: ignore[type-arg]
    settings: Settings,
    *,
    if_match: str | None,
    force: bool,
    status_code: int = 200,
    restored_from: int | None = None,
) -> Response[SchemaBody]:
    """Make `schema` the record type's by the rules, and answer it with its ETag."""
    stored = await change_schema(
        schema,
        current_principal(request),
        if_match=if_match,
        force=force,
        phone_policy=settings.phone_validation,
        restored_from=restored_from,
    )
    return schema_response(stored, status_code)


FORCE_DOC = "Remove or convert values customers hold, as the rules say (default false)."
Force = Annotated[bool, QueryParameter(name="force", description=FORCE_DOC)]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=100,
        description="The ETag of the schema this change was made on: 412 if it is no "
        "longer the current one",
    ),
]
SCHEMA_BODY = request_body(model_schema(SchemaReplacement), "application/json")
ATTRIBUTE_BODY = request_body(model_schema(Attribute), "application/json")


class SchemaController(Controller):
    path = "/record-types/{record_type:str}/schema"
    tags = ["schema"]

    @get(
        "/",
        responses=errors(404),
        response_headers=ETAG_HEADERS,
        summary="The record type's attributes; its ETag names the version (for If-Match)",
    )
    async def get_schema(self, record_type: FromPath[str]) -> Response[SchemaBody]:
        return schema_response(await schema_versions.load(record_type))

    @put(
        "/",
        opt=ADMIN,
        status_code=200,
        operation_class=SCHEMA_BODY,
        responses=errors(404, 409, 412, 422),
        response_headers=ETAG_HEADERS,
        summary="Replace the attribute list (admin)",
        description=RULES,
    )
    async def replace(
        self,
        record_type: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        force: Force = False,
        if_match: IfMatch = None,
    ) -> Response[SchemaBody]:
        body = await _body(request, SchemaReplacement, settings)
        if body.record_type not in (None, record_type):
            raise Unprocessable(
                f"recordType {body.record_type!r} in the body differs from the path's "
                f"{record_type!r}"
            )
        await schema_versions.load(record_type)  # 404 before the body's rules
        schema = RecordSchema(record_type=record_type, attributes=body.attributes)
        return await _changed(schema, request, settings, if_match=if_match, force=force)

    @post(
        "/attributes",
        opt=ADMIN,
        status_code=201,
        operation_class=ATTRIBUTE_BODY,
        responses=errors(404, 409, 412, 422),
        response_headers=ETAG_HEADERS,
        summary="Add one attribute (admin); 201 with the schema",
        description="The attribute is appended to the list, under the same rules as PUT.\n\n"
        + RULES,
    )
    async def add_attribute(
        self,
        record_type: FromPath[str],
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        if_match: IfMatch = None,
    ) -> Response[SchemaBody]:
        attribute = await _body(request, Attribute, settings)
        current = await schema_versions.load(record_type)
        if current.schema.attribute(attribute.key) is not None:
            raise Unprocessable(f"{record_type} already has an attribute {attribute.key!r}")
        schema = RecordSchema(
            record_type=record_type, attributes=(*current.schema.attributes, attribute)
        )
        return await _changed(
            schema,
            request,
            settings,
            if_match=if_match or current.etag,  # applies to the list it was added to
            force=False,
            status_code=201,
        )

    @get(
        "/versions",
        opt=ADMIN,
        responses=errors(404),
        summary="Every accepted schema change, newest first (admin)",
    )
    async def versions(
        self,
        record_type: FromPath[str],
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> SchemaVersionList:
        found, total = await schema_versions.list_versions(record_type, limit, offset)
        return SchemaVersionList(items=[SchemaVersionBody.of(doc) for doc in found], total=total)

    @post(
        "/versions/{version:int}/restore",
        opt=ADMIN,
        status_code=200,
        responses=errors(404, 409, 412, 422),
        response_headers=ETAG_HEADERS,
        summary="Make an earlier version's attributes the schema again (admin): a new version",
        description=RULES,
    )
    async def restore(
        self,
        record_type: FromPath[str],
        version: Annotated[int, Parameter(ge=1, le=2**62)],
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        force: Force = False,
        if_match: IfMatch = None,
    ) -> Response[SchemaBody]:
        schema = await schema_versions.version_schema(record_type, version)
        return await _changed(
            schema, request, settings, if_match=if_match, force=force, restored_from=version
        )

from __future__ import annotations

import csv
import io

from litestar import Controller, Response, get
from litestar.params import FromPath
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from api.models.schema import ChannelIdentifier, RecordType
from api.openapi import errors
from domain.schema import RECORD_TYPE_LABELS, RecordSchema, example_value
from store import schemas
from store.reports.excel import REPORT_CONTENT_TYPE, filter_rows, frame_sheet, header_row, text_cell


def template_rows(schema: RecordSchema) -> list[list[str]]:
    """The header (every attribute key) and one example row that imports cleanly."""
    return [schema.keys, [example_value(a) for a in schema.attributes]]


def template_csv(schema: RecordSchema) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(template_rows(schema))
    return buffer.getvalue().encode()


REQUIRED_FILL = PatternFill("solid", fgColor="FFE8A3")


def template_xlsx(schema: RecordSchema) -> bytes:
    """The same template as a workbook of text cells (a phone stays "+1...", not a number):
    mandatory columns' headers in bold on yellow; a second sheet describes every column."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(schema.record_type)
    header, example = template_rows(schema)
    frame_sheet(sheet, [max(14, len(name) + 4) for name in header])
    cells = []
    for attribute, name in zip(schema.attributes, header, strict=True):
        cell = text_cell(sheet, name)
        if attribute.required:
            cell.font, cell.fill = Font(bold=True), REQUIRED_FILL
        cells.append(cell)
    sheet.append(cells)
    sheet.append([text_cell(sheet, value) for value in example])
    filter_rows(sheet, len(header), 1)
    fields = workbook.create_sheet("Columns")
    titles = ["Column", "Label", "Type", "Mandatory", "Several values", "Identifies a customer"]
    header_row(fields, titles)
    for a in schema.attributes:
        flags = [a.required, a.multi_value, a.channel_identifier]
        row = [a.key, a.label, a.type, *("yes" if flag else "" for flag in flags)]
        fields.append([text_cell(fields, value) for value in row])
    filter_rows(fields, len(titles), len(schema.attributes))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class RecordTypeController(Controller):
    path = "/record-types"
    tags = ["schema"]

    @get("/", responses=errors(), summary="The record types that can be imported")
    async def list_record_types(self) -> list[RecordType]:
        return [RecordType(name=name, label=label) for name, label in RECORD_TYPE_LABELS.items()]

    @get(
        "/{record_type:str}/channel-identifiers",
        responses=errors(404),
        summary="Attributes usable to deduplicate",
    )
    async def channel_identifiers(self, record_type: FromPath[str]) -> list[ChannelIdentifier]:
        schema = await schemas.get_schema(record_type)
        return [ChannelIdentifier(key=a.key, label=a.label) for a in schema.channel_identifiers]

    @get(
        "/{record_type:str}/template.csv",
        media_type="text/csv",
        responses=errors(404),
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

    @get(
        "/{record_type:str}/template.xlsx",
        media_type=REPORT_CONTENT_TYPE,
        responses=errors(404),
        summary="The same template as an Excel workbook",
    )
    async def template_workbook(self, record_type: FromPath[str]) -> Response[bytes]:
        schema = await schemas.get_schema(record_type)
        return Response(
            template_xlsx(schema),
            headers={"Content-Disposition": f'attachment; filename="{record_type}-template.xlsx"'},
        )

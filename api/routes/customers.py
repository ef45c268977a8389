from __future__ import annotations

import asyncio
from typing import Annotated

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, Parameter

from api.bodies import parse_json
from api.dependencies import InjectedSettings
from api.idempotency import REPLAY_HEADERS, IdempotencyKey, answer_once
from api.models.customers import (
    BulkResult,
    CustomerBody,
    CustomerHistory,
    CustomerPage,
    HistoryEntry,
    RejectedCustomer,
)
from api.openapi import errors, model_schema, request_body
from api.paging import MAX_OFFSET
from api.security import IMPORTER, current_principal
from config import get_settings
from domain.bulk import BulkRequest
from store import bulk, schemas
from store.customers import history, lookup

PAGING = {"limit", "offset"}
BULK_BODY = request_body(model_schema(BulkRequest), "application/json", retry_after=(409, 429))
BULK_REASONS = {
    409: "Other requests or imports kept writing some of the same customers for longer than "
    "BULK_WAIT_SECONDS (or the same Idempotency-Key is still being answered): send the "
    "request again after Retry-After seconds"
}


class CustomerController(Controller):
    path = "/customers"
    tags = ["customers"]

    @get(
        "/",
        responses=errors(),
        summary="A page of customers; any attribute filters, e.g. ?email=a@b.com (filters on "
        "other attributes than channel identifiers read every customer: a few at a time, "
        "within CUSTOMER_SCAN_SECONDS)",
    )
    async def list_customers(
        self,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> CustomerPage:
        schema = await schemas.get_schema("customers")
        filters = {k: v for k, v in request.query_params.items() if k not in PAGING}
        scan_limits = lookup.ScanLimits(
            settings.customer_scan_seconds,
            settings.customer_scan_max_customers,
            request.app.state.get("customer_scans"),
            current_principal(request).key_id,
        )
        items, total = await lookup.list_customers(schema, filters, (limit, offset), scan_limits)
        return CustomerPage(items=items, total=total)

    @get("/{customer_id:str}", responses=errors(404), summary="One customer")
    async def get_customer(self, customer_id: FromPath[str]) -> CustomerBody:
        return await lookup.get_customer(customer_id)

    @get(
        "/{customer_id:str}/history",
        responses=errors(404),
        summary="The imports and reverts that wrote this customer, newest first, with the fields "
        "each changed (while their pre-images are kept)",
    )
    async def get_history(self, customer_id: FromPath[str]) -> CustomerHistory:
        found = await history.history(customer_id)
        return CustomerHistory(items=[msgspec.convert(e, HistoryEntry) for e in found])

    @post(
        "/bulkCustomers",
        opt=IMPORTER,
        status_code=200,
        # Set when the module is imported: Litestar reads route limits at declaration.
        request_max_body_size=get_settings().bulk_max_bytes,
        operation_class=BULK_BODY,
        responses=errors(404, 409, 413, 422, reasons=BULK_REASONS),
        response_headers=REPLAY_HEADERS,
        summary="Write up to BULK_MAX_CUSTOMERS customers at once, synchronously (waiting up to "
        "BULK_WAIT_SECONDS for other writers of the same customers)",
    )
    async def bulk_customers(
        self,
        request: Request,  # type: ignore[type-arg]
        settings: InjectedSettings,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BulkResult]:
        body = await request.body()  # parsing megabytes is CPU work: off the event loop
        parsed = await asyncio.to_thread(parse_json, body, BulkRequest, settings.max_json_depth)

        async def act(_: str | None) -> BulkResult:
            return _bulk_result(await bulk.bulk_write(parsed, settings))

        return await answer_once(request, idempotency_key, settings, [body], 200, act)


def _bulk_result(result: bulk.BulkOutcome) -> BulkResult:
    return BulkResult(
        inserted_count=result.inserted,
        updated_count=result.updated,
        ignored_count=result.ignored,
        appended_count=result.appended,
        rejected_count=len(result.rejected),
        rejected_customers=[
            RejectedCustomer(customer=customer, reason=reason)
            for customer, reason in result.rejected
        ],
    )

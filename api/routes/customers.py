from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, Parameter

from api.dependencies import InjectedSettings
from api.paging import MAX_OFFSET
from api.security import IMPORTER
from config import get_settings
from domain.bulk import BulkRequest
from store import bulk, customers, schemas

PAGING = {"limit", "offset"}


class CustomerController(Controller):
    path = "/customers"
    tags = ["customers"]

    @get("/")
    async def list_customers(
        self,
        request: Request,  # type: ignore[type-arg]
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        schema = await schemas.get_schema("customers")
        filters = {k: v for k, v in request.query_params.items() if k not in PAGING}
        items, total = await customers.list_customers(schema, filters, limit, offset)
        return {"items": items, "total": total}

    @get("/{customer_id:str}")
    async def get_customer(self, customer_id: FromPath[str]) -> dict[str, Any]:
        return await customers.get_customer(customer_id)

    @post(
        "/bulkCustomers",
        opt=IMPORTER,
        status_code=200,
        request_max_body_size=get_settings().bulk_max_bytes,
    )
    async def bulk_customers(
        self, data: JSONBody[dict[str, Any]], settings: InjectedSettings
    ) -> dict[str, Any]:
        return await bulk.bulk_write(BulkRequest.model_validate(data), settings)

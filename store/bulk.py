"""POST /customers/bulkCustomers: the same validation and semantics as an import, at once."""

from __future__ import annotations

from typing import Any

from config import Settings
from domain.bulk import BulkRequest, customer_row
from domain.errors import DomainError
from domain.resolution import Outcome
from domain.validation import RowValidator
from store import customers
from store.schemas import get_schema


class TooManyCustomers(DomainError):
    pass


async def bulk_write(request: BulkRequest, settings: Settings) -> dict[str, Any]:
    if len(request.customers) > settings.bulk_max_customers:
        raise TooManyCustomers(
            f"{len(request.customers)} customers in one request; at most "
            f"{settings.bulk_max_customers} are accepted (split the request or use an import)"
        )
    schema = await get_schema(request.record_type)
    request.check_against(schema)
    validator = RowValidator(
        schema, phone_region=request.phone_default_region, phone_policy=settings.phone_validation
    )
    rows = [customer_row(i, c, validator) for i, c in enumerate(request.customers)]
    resolution = await customers.resolve_and_commit(
        rows,
        action=request.action,
        deduplication_keys=request.deduplication_keys,
        schema=schema,
        dry_run=False,
        lookup_chunk_size=settings.lookup_chunk_size,
    )
    assert resolution is not None  # no in-transaction check can refuse it
    counts = dict.fromkeys(Outcome, 0)
    rejected = []
    for result in resolution.results:
        counts[result.outcome] += 1
        if result.outcome is Outcome.FAILED:
            rejected.append({"customer": request.customers[result.number], "reason": result.reason})
    appended = {r.customer_id for r in resolution.results if r.changed}
    return {
        "insertedCount": counts[Outcome.IMPORTED],
        "updatedCount": counts[Outcome.UPDATED],
        "ignoredCount": counts[Outcome.IGNORED],
        "appendedCount": len(appended) if request.action == "append" else 0,
        "rejectedCount": counts[Outcome.FAILED],
        "rejectedCustomers": rejected,
    }

"""POST /customers/bulkCustomers: the same validation and semantics as an import, at once."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import random
import time
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from config import Settings
from domain.bulk import BulkRequest, customer_row
from domain.errors import DomainError
from domain.resolution import BatchResolution, Outcome
from domain.validation import RowValidator
from store.customers import writers
from store.customers.commit import commit
from store.customers.ids import id_for_row
from store.customers.request import Commit
from store.errors import RetryLater
from store.retry import TryAgain
from store.schemas import get_schema

CONTENDED_RETRY_SECONDS = 5


class TooManyCustomers(DomainError):
    pass


@dataclass(frozen=True)
class BulkOutcome:
    inserted: int
    updated: int
    ignored: int
    appended: int  # profiles an `append` changed; 0 for the other actions
    rejected: list[tuple[dict[str, Any], str]]  # each refused customer, with its reason


async def _commit_waiting(attempt: Commit, wait_seconds: float) -> BatchResolution:
    """Commit, trying again while other writers hold the same customers, for at most
    `wait_seconds`. The same writer every time: it keeps its age, so the writers it waits
    for give way to it in turn. Beyond the wait: RetryLater, in words (no writer ids)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return await commit(attempt)
        except TryAgain:
            if time.monotonic() >= deadline:
                raise RetryLater(
                    "Other requests or imports are writing some of the same customers right "
                    f"now, and still were after {wait_seconds:g} s of waiting; send this "
                    f"request again in {CONTENDED_RETRY_SECONDS} s",
                    retry_after=CONTENDED_RETRY_SECONDS,
                ) from None
        # An earlier attempt may have written some of its customers: find them this time.
        attempt = dataclasses.replace(attempt, resumed=True)
        await asyncio.sleep(random.uniform(0.05, 0.5))


async def bulk_write(request: BulkRequest, settings: Settings) -> BulkOutcome:
    if len(request.customers) > settings.bulk_max_customers:
        raise TooManyCustomers(
            f"{len(request.customers)} customers in one request; at most "
            f"{settings.bulk_max_customers} are accepted (split the request or use an import)"
        )
    schema = await get_schema(request.record_type)
    schema.check_deduplication_keys(request.deduplication_keys)
    validator = RowValidator(
        schema, phone_region=request.phone_default_region, phone_policy=settings.phone_validation
    )
    # Validating thousands of customers is CPU work: off the event loop.
    rows = await asyncio.to_thread(
        lambda: [
            customer_row(i, c, validator, settings.max_field_chars)
            for i, c in enumerate(request.customers)
        ]
    )
    writer = writers.new_writer_id()
    attempt = Commit(
        rows=rows,
        action=request.action,
        deduplication_keys=request.deduplication_keys,
        schema=schema,
        writer=writer,
        new_id=functools.partial(id_for_row, ObjectId(writer.split("-")[0])),
        lookup_chunk_size=settings.lookup_chunk_size,
        lease_seconds=settings.writer_lease_seconds,
        bounds=settings.profile_bounds,
    )
    resolution = await _commit_waiting(attempt, settings.bulk_wait_seconds)
    counts = dict.fromkeys(Outcome, 0)
    rejected = []
    for result in resolution.results:
        counts[result.outcome] += 1
        if result.outcome is Outcome.FAILED:
            rejected.append((request.customers[result.number], result.reason or ""))
    appended = {r.customer_id for r in resolution.results if r.changed}
    return BulkOutcome(
        inserted=counts[Outcome.IMPORTED],
        updated=counts[Outcome.UPDATED],
        ignored=counts[Outcome.IGNORED],
        appended=len(appended) if request.action == "append" else 0,
        rejected=rejected,
    )

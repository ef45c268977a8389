"""Beanie documents, one module per concern: `customers` (customers and their record
schema), `jobs` (import jobs and their batches), `keys` (API keys and sign-in sessions),
`webhooks`, `schedules`, `audit`; `clock.utcnow` stamps them all. The package exposes them
all, and DOCUMENT_MODELS, the list store.db binds with Beanie. Collections without a
document of their own (identifier claims, writer leases, pre-images) are in store.customers."""

from beanie import Document

from store.documents.audit import AuditActor, AuditEvent
from store.documents.clock import utcnow
from store.documents.customers import Customer, SchemaDocument
from store.documents.jobs import (
    BatchRow,
    BatchStatus,
    Counts,
    ImportBatch,
    ImportJob,
    JobKind,
    JobStatus,
    RevertCounts,
    RowResultRecord,
    pack,
    pack_encoded,
    unpack,
)
from store.documents.keys import ApiKey, Role, SignInSession
from store.documents.schedules import Schedule, ScheduleRun
from store.documents.webhooks import DeliveryStatus, Webhook, WebhookDelivery

DOCUMENT_MODELS: list[type[Document]] = [
    Customer,
    SchemaDocument,
    ApiKey,
    SignInSession,
    ImportJob,
    ImportBatch,
    Webhook,
    WebhookDelivery,
    Schedule,
    ScheduleRun,
    AuditEvent,
]

__all__ = [
    "DOCUMENT_MODELS",
    "ApiKey",
    "AuditActor",
    "AuditEvent",
    "BatchRow",
    "BatchStatus",
    "Counts",
    "Customer",
    "DeliveryStatus",
    "ImportBatch",
    "ImportJob",
    "JobKind",
    "JobStatus",
    "RevertCounts",
    "Role",
    "RowResultRecord",
    "Schedule",
    "ScheduleRun",
    "SchemaDocument",
    "SignInSession",
    "Webhook",
    "WebhookDelivery",
    "pack",
    "pack_encoded",
    "unpack",
    "utcnow",
]

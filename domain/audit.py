"""The actions the audit trail records (DESIGN.md §8): store.audit writes them, the API filters
by them and the UI's Audit page offers them."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    IMPORT_CREATED = "import.created"
    IMPORT_CANCELLED = "import.cancelled"
    IMPORT_REVERTED = "import.reverted"
    IMPORT_RETRIED = "import.retried"
    IMPORT_RESUMED = "import.resumed"
    SCHEMA_UPDATED = "schema.updated"
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    SESSION_CREATED = "session.created"
    SESSION_ENDED = "session.ended"
    MAPPING_DELETED = "mapping.deleted"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_DELETED = "webhook.deleted"
    SCHEDULE_CREATED = "schedule.created"
    SCHEDULE_UPDATED = "schedule.updated"
    SCHEDULE_DELETED = "schedule.deleted"

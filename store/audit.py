"""The audit trail (DESIGN.md §8): who did what to which import, key, schema, mapping, webhook
or schedule, and when.

Each service records its action with `record` right after the write that makes it happen,
in the same function: an action that was refused raised before it and has no event. Events
are only ever inserted (nothing here changes one) and deleted only past AUDIT_RETENTION_DAYS.
An action that happens at most once for its target (an import created, cancelled or reverted,
a key created, a webhook deleted...) has an event `_id` made from the action and the target,
so a request answered twice (an Idempotency-Key takeover, a schedule run delivered twice)
still makes one event. `details` never holds a secret: callers pass names, ids and counts."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beanie import SortDirection
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from domain.audit import AuditAction
from store.documents import AuditActor, AuditEvent, ImportJob, utcnow
from store.principal import Principal

# Actions a target undergoes at most once: their event's id is made from the target.
ONCE = frozenset(
    {
        AuditAction.IMPORT_CREATED,
        AuditAction.IMPORT_CANCELLED,
        AuditAction.IMPORT_REVERTED,
        AuditAction.IMPORT_RETRIED,
        AuditAction.IMPORT_RESUMED,
        AuditAction.KEY_CREATED,
        AuditAction.KEY_REVOKED,
        AuditAction.SESSION_CREATED,
        AuditAction.SESSION_ENDED,
        AuditAction.WEBHOOK_CREATED,
        AuditAction.WEBHOOK_DELETED,
        AuditAction.SCHEDULE_CREATED,
        AuditAction.SCHEDULE_DELETED,
    }
)


def actor_of(principal: Principal) -> AuditActor:
    return AuditActor(key_id=principal.key_id, name=principal.name, role=principal.role.value)


@dataclass(frozen=True)
class Target:
    type: str  # "import", "apiKey", "session", "schema", "mapping", "webhook", "schedule"
    id: str


async def record(
    action: AuditAction,
    actor: Principal | AuditActor,
    target: Target,
    details: dict[str, Any] | None = None,
) -> None:
    """Append the event of an action that has just happened (see the module's note)."""
    event_id = f"{action}:{target.type}:{target.id}" if action in ONCE else str(ObjectId())
    event = AuditEvent(
        id=event_id,
        actor=actor if isinstance(actor, AuditActor) else actor_of(actor),
        action=action,
        target_type=target.type,
        target_id=target.id,
        details=details or {},
    )
    with suppress(DuplicateKeyError):  # the same action, recorded by an earlier answer
        await event.insert()


async def record_new_import(job: ImportJob, creator_role: str | None) -> None:
    """The event of an import just created: `import.retried` or `import.resumed` (its target
    the import whose corrected or unprocessed rows it takes) or `import.created`. Its actor is
    the import's creator."""
    actor = AuditActor(key_id=job.created_by_key, name=job.created_by, role=creator_role)
    for action, original in (
        (AuditAction.IMPORT_RETRIED, job.retry_of),
        (AuditAction.IMPORT_RESUMED, job.resume_of),
    ):
        if original is not None:
            details: dict[str, Any] = {"importId": str(job.id), "fileName": job.file_name}
            await record(action, actor, Target("import", original), details)
            return
    details = {"fileName": job.file_name, "action": job.action, "dryRun": job.dry_run}
    if job.schedule_id is not None:
        details["scheduleId"] = job.schedule_id
    await record(AuditAction.IMPORT_CREATED, actor, Target("import", str(job.id)), details)


@dataclass(frozen=True)
class EventFilter:
    action: AuditAction | None = None
    actor_key_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.action is not None:
            query["action"] = self.action.value
        if self.actor_key_id is not None:
            query["actor.key_id"] = self.actor_key_id
        moments = {
            op: moment for op, moment in (("$gte", self.since), ("$lte", self.until)) if moment
        }
        if moments:
            query["at"] = moments
        return query


async def listed(which: EventFilter, limit: int, offset: int) -> tuple[list[AuditEvent], int]:
    """The events, newest first."""
    query = AuditEvent.find(which.query())
    total = await query.count()
    newest = [("at", SortDirection.DESCENDING), ("_id", SortDirection.DESCENDING)]
    return await query.sort(newest).skip(offset).limit(limit).to_list(), total


async def delete_expired(retention_days: int) -> int:
    """Retention: events older than AUDIT_RETENTION_DAYS go (0 keeps them forever)."""
    if retention_days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=retention_days)
    deleted = await AuditEvent.get_pymongo_collection().delete_many({"at": {"$lt": cutoff}})
    return deleted.deleted_count

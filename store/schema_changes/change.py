"""Making a schema the current one: checked, its new identifier values claimed, switched
with a compare-and-set on its version, recorded as a version and in the audit trail, then
its values moved (store.schema_changes.migration)."""

from __future__ import annotations

from domain.audit import AuditAction
from domain.schema import RecordSchema
from domain.schema_changes import check_default_keys, diff
from domain.validation import PhonePolicy
from store import audit
from store.audit import Target
from store.customers import claims
from store.documents import utcnow
from store.errors import PreconditionFailed
from store.principal import Principal
from store.schema_changes import versions
from store.schema_changes.holdings import Holdings, check, scan
from store.schema_changes.migration import WRITE_CHUNK, claim_range, finish_migration
from store.schema_changes.versions import StoredSchema


async def _claim(holdings: Holdings) -> None:
    """Claims of the values of attributes becoming identifiers (any left by an earlier flag
    are stale: claims of a key exist only while it is an identifier)."""
    for key, values in holdings.identifier_values.items():
        await claims.collection().delete_many(claim_range(key))
        docs = [
            {"_id": claims.claim_id((key, value)), "c": next(iter(ids)), "w": None}
            for value, ids in values.items()
        ]
        for start in range(0, len(docs), WRITE_CHUNK):
            await claims.collection().insert_many(docs[start : start + WRITE_CHUNK], ordered=False)


async def change_schema(
    after: RecordSchema,
    by: Principal,
    *,
    if_match: str | None,
    force: bool,
    phone_policy: PhonePolicy,
    restored_from: int | None = None,
) -> StoredSchema:
    """Make `after` the schema (a new version), under the rules; the schema as it is then."""
    record_type = after.record_type
    await finish_migration(record_type)
    current = await versions.load(record_type)
    if if_match is not None and if_match.strip() not in (current.etag, "*"):
        raise PreconditionFailed(
            f"The schema has changed since you read it: it is version {current.version} "
            f"(ETag {current.etag}), your If-Match is {if_match.strip()}. Read it again, then "
            "make your change"
        )
    change = diff(current.schema, after)
    if change.empty:
        return current
    check_default_keys(after)
    holdings = await scan(change, after, phone_policy)
    check(change, holdings, force)
    await _claim(holdings)
    version = current.version + 1
    migration = {
        "unset": [a.key for a in change.removed if holdings.holders.get(a.key)],
        "convert": [
            c.after.model_dump(by_alias=True, mode="json")
            for c in change.changed
            if c.reshapes_values and holdings.holders.get(c.key)
        ],
        "release": change.released_identifiers,
        "phonePolicy": phone_policy,
    }
    switched = await versions.schema_documents().update_one(
        {"_id": record_type, "version": current.version},
        {
            "$set": {
                "attributes": versions.attributes_json(after),
                "version": version,
                "updated_at": utcnow(),
                "migration": migration,
            }
        },
    )
    if switched.matched_count == 0:
        raise PreconditionFailed(
            "Another change to the schema was made while this one was checked; read it "
            "again, then make your change"
        )
    await versions.save_version(record_type, version, after, by.name, change, restored_from)
    details = {
        "version": version,
        "added": [a.key for a in change.added],
        "removed": [a.key for a in change.removed],
        "changed": [c.key for c in change.changed],
        "restoredFrom": restored_from,
        "force": force,
    }
    await audit.record(AuditAction.SCHEMA_UPDATED, by, Target("schema", record_type), details)
    await finish_migration(record_type)
    return StoredSchema(after, version)

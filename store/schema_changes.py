"""Changing a record schema without losing data (issue 25): the rules of
domain.schema_changes checked against the values customers hold, one version per accepted
change, and the values moved to the new shape.

Order: check everything (refusing changes nothing); claim the values of attributes that
become channel identifiers (new imports must find them as soon as the schema says so); switch
the schema with a compare-and-set on its version (a concurrent change is refused, 412); then
move the values (unset, convert, release claims). The switch records what the move has to do
as `migration`, so a process dying after it leaves the move to the next change or start."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from domain.audit import AuditAction
from domain.schema import Attribute, RecordSchema
from domain.schema_changes import (
    ChangeRefused,
    SchemaDiff,
    check_default_keys,
    convert,
    diff,
    holds_value,
    shared_values,
)
from domain.validation import PhonePolicy, RowValidator
from store import audit
from store.audit import Target
from store.auth import Principal
from store.customers import claims
from store.documents import Customer, SchemaDocument, utcnow
from store.errors import NotFound, PreconditionFailed

VERSIONS = "schema_versions"
EXAMPLES = 5  # shared values named in a refusal
WRITE_CHUNK = 1000


def versions() -> AsyncCollection[dict[str, Any]]:
    return Customer.get_pymongo_collection().database[VERSIONS]


def _schemas() -> AsyncCollection[dict[str, Any]]:
    return SchemaDocument.get_pymongo_collection()


def _customers() -> AsyncCollection[dict[str, Any]]:
    return Customer.get_pymongo_collection()


def attributes_json(schema: RecordSchema) -> list[dict[str, Any]]:
    return [a.model_dump(by_alias=True, mode="json") for a in schema.attributes]


@dataclass(frozen=True)
class StoredSchema:
    schema: RecordSchema
    version: int

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _stored(record_type: str, doc: dict[str, Any]) -> StoredSchema:
    schema = RecordSchema.model_validate(
        {"recordType": record_type, "attributes": doc["attributes"]}
    )
    return StoredSchema(schema, int(doc.get("version") or 1))


async def load(record_type: str) -> StoredSchema:
    doc = await _schemas().find_one({"_id": record_type})
    if doc is None:
        raise NotFound(f"Unknown record type: {record_type}")
    return _stored(record_type, doc)


def _version_id(record_type: str, version: int) -> str:
    return f"{record_type}:{version}"


async def record_first_version(record_type: str) -> None:
    """Version 1 is the schema as first stored (databases of earlier releases included)."""
    await _schemas().update_one(
        {"_id": record_type, "version": {"$exists": False}}, {"$set": {"version": 1}}
    )
    first = await load(record_type)
    if first.version == 1:
        await _save_version(record_type, 1, first.schema, "system", diff(None, first.schema))
    await finish_migration(record_type)


async def _save_version(
    record_type: str,
    version: int,
    schema: RecordSchema,
    by: str,
    change: SchemaDiff,
    restored_from: int | None = None,
) -> None:
    record = {
        "record_type": record_type,
        "version": version,
        "at": utcnow(),
        "by": by,
        "diff": {**change.as_json(), "restoredFrom": restored_from},
        "attributes": attributes_json(schema),
    }
    await versions().update_one(
        {"_id": _version_id(record_type, version)}, {"$setOnInsert": record}, upsert=True
    )


async def list_versions(record_type: str, limit: int, offset: int) -> tuple[list[Any], int]:
    await load(record_type)  # 404 for an unknown record type
    query = {"record_type": record_type}
    total = await versions().count_documents(query)
    cursor = versions().find(query, {"attributes": 0}).sort("version", -1)
    return await cursor.skip(offset).limit(limit).to_list(), total


async def version_schema(record_type: str, version: int) -> RecordSchema:
    doc = await versions().find_one({"_id": _version_id(record_type, version)})
    if doc is None:
        raise NotFound(f"{record_type} has no schema version {version}")
    return RecordSchema.model_validate({"recordType": record_type, "attributes": doc["attributes"]})


@dataclass
class _Holdings:
    """What customers hold for the attributes a change touches."""

    holders: dict[str, int]  # key → customers holding a value
    unfit: dict[str, tuple[int, str]]  # key → (customers whose value does not fit, a reason)
    # key → converted identifier value → the customers holding it
    identifier_values: dict[str, dict[str, set[str]]]


async def _scan(change: SchemaDiff, after: RecordSchema, policy: PhonePolicy) -> _Holdings:
    reshaped = {c.key: c.after for c in change.changed if c.reshapes_values}
    identifiers = set(change.new_identifiers)
    keys = sorted({a.key for a in change.removed} | set(reshaped) | identifiers)
    holdings = _Holdings({k: 0 for k in keys}, {}, {k: defaultdict(set) for k in identifiers})
    if not keys:
        return holdings
    validator = RowValidator(after, phone_policy=policy)
    query = {"$or": [{f"attributes.{k}": {"$exists": True}} for k in keys]}
    projection = {f"attributes.{k}": 1 for k in keys}
    async for doc in _customers().find(query, projection):
        attributes = doc.get("attributes") or {}
        for key in keys:
            value = attributes.get(key)
            if not holds_value(value):
                continue
            holdings.holders[key] += 1
            target = after.attribute(key)
            if target is None:
                continue
            converted = convert(value, target, validator.normalizer(target))
            if converted.reason is not None:
                count, reason = holdings.unfit.get(key, (0, converted.reason))
                holdings.unfit[key] = (count + 1, reason)
            elif key in identifiers:
                for item in (
                    converted.value if isinstance(converted.value, list) else [converted.value]
                ):
                    holdings.identifier_values[key][item].add(str(doc["_id"]))
    return holdings


def _check(change: SchemaDiff, holdings: _Holdings, force: bool) -> None:
    problems: list[str] = []
    held = {k: n for k, n in holdings.holders.items() if n}
    for attribute in change.removed:
        if attribute.key in held and not force:
            problems.append(
                f"{held[attribute.key]} customers hold values for {attribute.key}: removing it "
                "removes them (send force=true to do so)"
            )
    for c in change.changed:
        if not c.reshapes_values or c.key not in held:
            continue
        what = _reshape_words(c.before, c.after)
        if (
            c.before.channel_identifier
            and c.after.channel_identifier
            and (c.before.type != c.after.type)
        ):
            problems.append(
                f"{c.key} is a channel identifier that {held[c.key]} customers hold values "
                f"for: remove its channel-identifier flag first, then change its type"
            )
        elif not force:
            problems.append(
                f"{held[c.key]} customers hold values for {c.key}: changing its {what} "
                "converts them (send force=true to do so)"
            )
        elif c.key in holdings.unfit:
            count, reason = holdings.unfit[c.key]
            problems.append(
                f"{count} of the {held[c.key]} customers holding {c.key} have a value that "
                f"is not valid as its new {what} (for example: {reason})"
            )
    for key in change.new_identifiers:
        shared = shared_values(holdings.identifier_values[key])
        if shared:
            named = ", ".join(
                f"{value!r} ({len(ids)} customers)"
                for value, ids in list(shared.items())[:EXAMPLES]
            )
            problems.append(
                f"{key} cannot become a channel identifier: {len(shared)} values are held by "
                f"more than one customer: {named}"
            )
    if problems:
        raise ChangeRefused("; ".join(problems))


def _reshape_words(before: Attribute, after: Attribute) -> str:
    words = []
    if before.type != after.type:
        words.append(f"type from {before.type} to {after.type}")
    if before.multi_value != after.multi_value:
        words.append("multiValue to " + str(after.multi_value).lower())
    return " and ".join(words)


def _claim_range(key: str) -> dict[str, Any]:
    """Every claim of the attribute: `_id`s "<key>:<value>" sort between these two."""
    return {"_id": {"$gte": f"{key}:", "$lt": f"{key};"}}


async def _claim(holdings: _Holdings) -> None:
    """Claims of the values of attributes becoming identifiers (any left by an earlier flag
    are stale: claims of a key exist only while it is an identifier)."""
    for key, values in holdings.identifier_values.items():
        await claims.collection().delete_many(_claim_range(key))
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
    current = await load(record_type)
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
    holdings = await _scan(change, after, phone_policy)
    _check(change, holdings, force)
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
    switched = await _schemas().update_one(
        {"_id": record_type, "version": current.version},
        {
            "$set": {
                "attributes": attributes_json(after),
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
    await _save_version(record_type, version, after, by.name, change, restored_from)
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


async def finish_migration(record_type: str) -> None:
    """Move the values customers hold to the schema's current shape, as its last change
    recorded (idempotent: converting a converted value gives it back)."""
    doc = await _schemas().find_one({"_id": record_type})
    if doc is None or not doc.get("migration"):
        return
    migration, current = doc["migration"], _stored(record_type, doc)
    now = utcnow()
    for key in migration["unset"]:
        await _customers().update_many(
            {f"attributes.{key}": {"$exists": True}},
            {"$unset": {f"attributes.{key}": ""}, "$set": {"updated_at": now}, "$inc": {"rev": 1}},
        )
    validator = RowValidator(current.schema, phone_policy=migration["phonePolicy"])
    for attribute_json in migration["convert"]:
        await _convert_values(Attribute.model_validate(attribute_json), validator)
    for key in migration["release"]:
        await claims.collection().delete_many(_claim_range(key))
    await _schemas().update_one(
        {"_id": record_type, "version": current.version}, {"$unset": {"migration": ""}}
    )


async def _convert_values(attribute: Attribute, validator: RowValidator) -> None:
    key, normalize = attribute.key, validator.normalizer(attribute)
    path = f"attributes.{key}"
    writes: list[UpdateOne] = []
    async for doc in _customers().find({path: {"$exists": True}}, {path: 1}):
        value = (doc.get("attributes") or {}).get(key)
        converted = convert(value, attribute, normalize)
        if converted.reason is not None or converted.value == value:
            continue  # checked before the switch; a value written since is the writer's
        change: dict[str, Any] = {"$set": {"updated_at": utcnow()}, "$inc": {"rev": 1}}
        if converted.value in (None, []):
            change["$unset"] = {path: ""}
        else:
            change["$set"][path] = converted.value
        writes.append(UpdateOne({"_id": doc["_id"], path: value}, change))
        if len(writes) >= WRITE_CHUNK:
            await _customers().bulk_write(writes, ordered=False)
            writes = []
    if writes:
        await _customers().bulk_write(writes, ordered=False)

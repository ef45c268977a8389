"""What customers hold for the attributes a schema change touches, and the change's rules
checked against it (domain.schema_changes): a refused change has changed nothing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from domain.schema import Attribute, RecordSchema
from domain.schema_changes import ChangeRefused, SchemaDiff, convert, holds_value, shared_values
from domain.validation import PhonePolicy, RowValidator
from store.documents import Customer

EXAMPLES = 5  # shared values named in a refusal


@dataclass
class Holdings:
    """What customers hold for the attributes a change touches."""

    holders: dict[str, int]  # key → customers holding a value
    unfit: dict[str, tuple[int, str]]  # key → (customers whose value does not fit, a reason)
    # key → converted identifier value → the customers holding it
    identifier_values: dict[str, dict[str, set[str]]]


async def scan(change: SchemaDiff, after: RecordSchema, policy: PhonePolicy) -> Holdings:
    reshaped = {c.key: c.after for c in change.changed if c.reshapes_values}
    identifiers = set(change.new_identifiers)
    keys = sorted({a.key for a in change.removed} | set(reshaped) | identifiers)
    holdings = Holdings({k: 0 for k in keys}, {}, {k: defaultdict(set) for k in identifiers})
    if not keys:
        return holdings
    validator = RowValidator(after, phone_policy=policy)
    query = {"$or": [{f"attributes.{k}": {"$exists": True}} for k in keys]}
    projection = {f"attributes.{k}": 1 for k in keys}
    async for doc in Customer.get_pymongo_collection().find(query, projection):
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


def check(change: SchemaDiff, holdings: Holdings, force: bool) -> None:
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

"""The one-off script a user would write instead of the product: read the CSV with the csv
module, validate emails with email_validator and phones with phonenumbers, and upsert by the
first email with one unordered `bulk_write` per 1,000 rows into a collection whose only
secondary index is a unique one on `email`. No job, no batches, no report, no transactions:
the baseline the product's import is compared with.

    .venv/bin/python -m bench.oneoff_script FILE --mongo-url URL [--database D] [--action A]

The duplicate actions are done as such a script would do them, roughly: ignore is
`$setOnInsert`; replace and update `$set` the row's (provided) fields; append `$set`s the
single-value fields and `$addToSet`s the emails and phones.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pymongo import ASCENDING, InsertOne, MongoClient, UpdateOne
from pymongo.errors import BulkWriteError

BATCH = 1_000
COLLECTION = "customers"
ACTIONS = ("ignore", "replace", "update", "append")


@dataclass
class ScriptResult:
    rows: int
    seconds: float
    valid: int
    failed: int  # invalid rows plus write errors
    upserted: int
    matched: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": self.rows_per_second}


def clean_emails(cell: str) -> list[str] | None:
    emails = []
    for value in (v.strip() for v in cell.split("|")):
        if not value:
            continue
        try:
            emails.append(validate_email(value, check_deliverability=False).normalized.lower())
        except EmailNotValidError:
            return None
    return emails


def clean_phones(cell: str) -> list[str] | None:
    phones = []
    for value in (v.strip() for v in cell.split("|")):
        if not value:
            continue
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        phones.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return phones


def operation(row: dict[str, str], action: str, now: datetime) -> InsertOne | UpdateOne | None:
    """The write for one CSV row, or None when the row is invalid."""
    first_name = (row.get("firstName") or "").strip()
    emails = clean_emails(row.get("email") or "")
    phones = clean_phones(row.get("phoneNumber") or "")
    if not first_name or emails is None or phones is None:
        return None
    fields: dict[str, Any] = {
        "firstName": first_name,
        "lastName": (row.get("lastName") or "").strip() or None,
        "city": (row.get("city") or "").strip() or None,
        "emails": emails,
        "phones": phones,
    }
    if not emails:
        return InsertOne({**fields, "created_at": now, "updated_at": now})
    key = {"email": emails[0]}
    if action == "ignore":
        update: dict[str, Any] = {"$setOnInsert": {**fields, "created_at": now, "updated_at": now}}
    elif action in ("replace", "update"):
        if action == "update":
            fields = {k: v for k, v in fields.items() if v not in (None, "", [])}
        update = {"$set": {**fields, "updated_at": now}, "$setOnInsert": {"created_at": now}}
    else:  # append
        single = {k: v for k, v in fields.items() if k not in ("emails", "phones") and v}
        update = {
            "$set": {**single, "updated_at": now},
            "$setOnInsert": {"created_at": now},
            "$addToSet": {"emails": {"$each": emails}, "phones": {"$each": phones}},
        }
    return UpdateOne(key, update, upsert=True)


def run(path: Path, mongo_url: str, database: str, action: str = "ignore") -> ScriptResult:
    """Import `path` into `database`.customers (the collection is created with its index if
    missing, as the script's author would have done once beforehand)."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}")
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True)
    try:
        collection = client[database][COLLECTION]
        collection.create_index([("email", ASCENDING)], unique=True)
        rows = valid = failed = upserted = matched = 0
        started = time.perf_counter()
        with path.open(newline="", encoding="utf-8-sig") as file:
            ops: list[InsertOne | UpdateOne] = []

            def flush() -> None:
                nonlocal failed, upserted, matched
                try:
                    result = collection.bulk_write(ops, ordered=False).bulk_api_result
                except BulkWriteError as error:
                    result = error.details
                    failed += len(result["writeErrors"])
                upserted += result["nUpserted"] + result["nInserted"]
                matched += result["nMatched"]
                ops.clear()

            now = datetime.now(UTC)
            for row in csv.DictReader(file):
                rows += 1
                op = operation(row, action, now)
                if op is None:
                    failed += 1
                    continue
                valid += 1
                ops.append(op)
                if len(ops) == BATCH:
                    flush()
                    now = datetime.now(UTC)
            if ops:
                flush()
        return ScriptResult(rows, time.perf_counter() - started, valid, failed, upserted, matched)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--mongo-url", required=True)
    parser.add_argument("--database", default="bcu_bench_script")
    parser.add_argument("--action", choices=ACTIONS, default="ignore")
    args = parser.parse_args()
    result = run(args.file, args.mongo_url, args.database, args.action)
    print(f"{result.rows} rows in {result.seconds:.2f} s: {result.rows_per_second:,.0f} rows/s")
    print(f"    {result.as_dict()}")


if __name__ == "__main__":
    main()

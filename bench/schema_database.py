"""What the schema-change bench (bench.schema_changes) measures on the database alone: the
floors its steps are compared with, and the state the steps leave in the database."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient, UpdateOne

from bench.harness import AppStack
from store.schema_changes.migration import WRITE_CHUNK

NUMBER_KEY, IDENTIFIER_KEY = "loyaltyPoints", "memberCode"
FLOOR_COLLECTION = "bench_claims_floor"


def claims_floor(stack: AppStack, customers: int) -> float:
    """Seconds of insert_many (as the change writes them: chunks, unordered) of `customers`
    claim documents into a scratch collection, dropped after."""
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.servers.mongo_url)
    with mongo:
        collection = mongo[stack.database][FLOOR_COLLECTION]
        docs = [
            {"_id": f"floor:M{i:08d}", "c": f"customer-{i}", "w": None} for i in range(customers)
        ]
        started = time.perf_counter()
        for start in range(0, customers, WRITE_CHUNK):
            collection.insert_many(docs[start : start + WRITE_CHUNK], ordered=False)
        seconds = time.perf_counter() - started
        collection.drop()
    return seconds


def retype_floor(stack: AppStack) -> float:
    """Seconds of bulk_write (chunks, unordered) of the updates the forced retype makes, one
    per customer: by `_id` and the value read, $set of the text and the time, $inc of rev."""
    path = f"attributes.{NUMBER_KEY}"
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.servers.mongo_url)
    with mongo:
        collection = mongo[stack.database]["customers"]
        now = datetime.now(UTC)
        writes = [
            UpdateOne(
                {"_id": doc["_id"], path: doc["attributes"][NUMBER_KEY]},
                {
                    "$set": {path: str(doc["attributes"][NUMBER_KEY]), "updated_at": now},
                    "$inc": {"rev": 1},
                },
            )
            for doc in collection.find({path: {"$exists": True}}, {path: 1})
        ]
        started = time.perf_counter()
        for start in range(0, len(writes), WRITE_CHUNK):
            collection.bulk_write(writes[start : start + WRITE_CHUNK], ordered=False)
        return time.perf_counter() - started


def stored_state(stack: AppStack) -> dict[str, int]:
    """What the database holds after the steps: claims of the identifier, values by type."""
    mongo: MongoClient[dict[str, Any]] = MongoClient(stack.servers.mongo_url)
    with mongo:
        db = mongo[stack.database]
        path = f"attributes.{NUMBER_KEY}"
        return {
            "identifier_claims": db["identifier_claims"].count_documents(
                {"_id": {"$gte": f"{IDENTIFIER_KEY}:", "$lt": f"{IDENTIFIER_KEY};"}}
            ),
            "number_values_as_text": db["customers"].count_documents({path: {"$type": "string"}}),
            "number_values_as_number": db["customers"].count_documents(
                {path: {"$type": ["int", "long", "double"]}}
            ),
        }

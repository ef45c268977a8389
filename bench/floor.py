"""A case's floor: the database alone doing the fewest writes the case needs with the
product's guarantees, as fast as it does them. Against it, `vs floor` says how much of a
case's time is the product's own (reading, checking, bookkeeping, the report) and how much
is writing that no implementation keeping the guarantees avoids.

    .venv/bin/python -m bench.floor --mongo-url URL [--rows 20000] [--case dup50-replace]

The fewest writes, per row of the file (what a row does is DESIGN.md §3's action, computed
with the product's own domain.actions, on the data bench.data makes):
- a new row: its customer, and one identifier claim per identifier value (store.customers.
  claims: the proxy collection that keeps values unique, also on a sharded cluster);
- a matched row its action changes: the customer written whole by `_id` (`ReplaceOne`, the
  cheapest write of one customer on this server), its pre-image (the document before, for
  the undo) and a claim per value it gains (a value it loses: its claim deleted);
- a matched row its action leaves as it is: nothing.
Unordered `bulk_write`s of 1,000 rows' writes per collection, from one client, as
`bench.insert_many` does; only those calls are timed. The seed (the customers the file
matches, with their claims) is written first, untimed, into a database of its own.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from bson import ObjectId
from pymongo import DeleteOne, InsertOne, MongoClient, ReplaceOne
from pymongo.collection import Collection

from bench import data
from domain.actions import Action, apply_action
from domain.resolution import identifier_values
from domain.schema import DEFAULT_CUSTOMER_SCHEMA
from store.customers import claims, preimages

CHUNK = 1_000
IDENTIFIER_KEYS = [a.key for a in DEFAULT_CUSTOMER_SCHEMA.channel_identifiers]
CUSTOMERS = "customers"


@dataclass
class FloorResult:
    rows: int
    seconds: float
    writes: dict[str, int]  # per collection and kind, e.g. "customers insert"

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": self.rows_per_second}


def file_rows(rows: int, seed_rows: int) -> Iterator[data.Person]:
    """The rows of the case's file: all new, 50% duplicates or every row matching."""
    if seed_rows == 0:
        return data.people(rows)
    if seed_rows < rows:
        return data.duplicate_people(rows)
    return (data.duplicate(i) for i in range(rows))


def _values(attributes: dict[str, Any]) -> set[str]:
    """The `_id`s of the claims of the customer's identifier values."""
    return {claims.claim_id(i) for i in identifier_values(attributes, IDENTIFIER_KEYS)}


def _customer(attributes: dict[str, Any], now: datetime, rev: int) -> dict[str, Any]:
    return {"attributes": attributes, "created_at": now, "updated_at": now, "rev": rev}


class Writes:
    """One chunk's writes, by collection."""

    def __init__(self) -> None:
        names = (claims.COLLECTION, CUSTOMERS, preimages.COLLECTION)
        self.by_collection: dict[str, list[Any]] = {name: [] for name in names}

    def add(self, collection: str, write: Any) -> None:
        self.by_collection[collection].append(write)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for collection, writes in self.by_collection.items():
            for write in writes:
                key = f"{collection} {type(write).__name__}"
                found[key] = found.get(key, 0) + 1
        return found


def _seed(database: Any, seed_rows: int, now: datetime) -> list[tuple[ObjectId, dict[str, Any]]]:
    """The customers the file matches, with their claims; (id, attributes) by row index."""
    seeded = []
    for start in range(0, seed_rows, CHUNK):
        customers, held = [], []
        for i in range(start, min(seed_rows, start + CHUNK)):
            oid, attributes = ObjectId(), data.person(i).attributes()
            seeded.append((oid, attributes))
            customers.append({"_id": oid, **_customer(attributes, now, 1)})
            held += [{"_id": v, "c": str(oid), "w": None} for v in _values(attributes)]
        database[CUSTOMERS].insert_many(customers, ordered=False)
        database[claims.COLLECTION].insert_many(held, ordered=False)
    return seeded


def _row_writes(
    writes: Writes,
    row: data.Person,
    seeded: list[tuple[ObjectId, dict[str, Any]]],
    action: Action,
    now: datetime,
) -> None:
    new = row.attributes()
    if row.number >= len(seeded):  # a new customer
        oid = ObjectId()
        writes.add(CUSTOMERS, InsertOne({"_id": oid, **_customer(new, now, 1)}))
        for value in _values(new):
            writes.add(claims.COLLECTION, InsertOne({"_id": value, "c": str(oid), "w": None}))
        return
    oid, before = seeded[row.number]
    after = apply_action(action, before, new, DEFAULT_CUSTOMER_SCHEMA)
    if after == before:
        return
    writes.add(CUSTOMERS, ReplaceOne({"_id": oid}, _customer(after, now, 2)))
    preimage = {"_id": f"floor:{oid}", "before": {"_id": oid, **_customer(before, now, 1)}}
    writes.add(preimages.COLLECTION, InsertOne(preimage))
    for value in _values(after) - _values(before):
        writes.add(claims.COLLECTION, InsertOne({"_id": value, "c": str(oid), "w": None}))
    for value in _values(before) - _values(after):
        writes.add(claims.COLLECTION, DeleteOne({"_id": value}))


class Floor:
    """One case's floor in `database_name` (dropped when made and when closed): `seed` writes
    the customers the file matches, untimed; `write` does the case's writes, timed. Apart, so
    that what measures the writes (commands, CPU) does not count the seed."""

    def __init__(
        self, mongo_url: str, database_name: str, rows: int, seed_rows: int, action: str
    ) -> None:
        self.rows, self.seed_rows, self.action = rows, seed_rows, Action(action)
        self._client: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True)
        self._name = database_name
        self._client.drop_database(database_name)
        self._database = self._client[database_name]
        self._now = datetime.now(UTC)
        self._seeded: list[tuple[ObjectId, dict[str, Any]]] = []

    def __enter__(self) -> Floor:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._client.drop_database(self._name)
        finally:
            self._client.close()

    def seed(self) -> None:
        self._seeded = _seed(self._database, self.seed_rows, self._now)

    def write(self) -> FloorResult:
        seconds, written = 0.0, 0
        counts: dict[str, int] = {}
        rows_left = file_rows(self.rows, self.seed_rows)
        while chunk := list(islice(rows_left, CHUNK)):
            writes = Writes()
            for row in chunk:
                _row_writes(writes, row, self._seeded, self.action, self._now)
            written += len(chunk)
            for name, count in writes.counts().items():
                counts[name] = counts.get(name, 0) + count
            seconds += _timed(self._database, writes)
        return FloorResult(written, seconds, counts)


def run(mongo_url: str, database_name: str, rows: int, seed_rows: int, action: str) -> FloorResult:
    """The floor of the case (`rows` rows, of which the first `seed_rows` match customers
    written before; `action` on those), in `database_name`, dropped before and after."""
    with Floor(mongo_url, database_name, rows, seed_rows, action) as floor:
        floor.seed()
        return floor.write()


def _timed(database: Any, writes: Writes) -> float:
    """Seconds the server took for one chunk's writes (claims first, as the product takes
    values before writing customers)."""
    started = time.perf_counter()
    for name, ops in writes.by_collection.items():
        if ops:
            collection: Collection[dict[str, Any]] = database[name]
            collection.bulk_write(ops, ordered=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mongo-url", required=True)
    parser.add_argument("--database", default="bcu_bench_floor")
    parser.add_argument("--rows", type=int, default=20_000)
    cases = ["new", "dup100-replace", *(f"dup50-{a.value}" for a in Action)]
    parser.add_argument("--case", choices=cases, default="new")
    args = parser.parse_args()
    seed = {"new": 0, "dup100-replace": args.rows}.get(args.case, args.rows // 2)
    action = "ignore" if args.case == "new" else args.case.rsplit("-", 1)[-1]
    result = run(args.mongo_url, args.database, args.rows, seed, action)
    print(f"{args.case}: {result.rows:,} rows in {result.seconds:.2f} s:")
    print(f"  {result.rows_per_second:,.0f} rows/s; writes {result.writes}")


if __name__ == "__main__":
    main()

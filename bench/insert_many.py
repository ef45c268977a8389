"""The database alone: `insert_many` (ordered=False, 1,000 per call) of already-normalised
customer documents, in the product's shape, into a fresh collection with no secondary index.

    .venv/bin/python -m bench.insert_many --mongo-url URL [--rows 100000]

Only the `insert_many` calls are timed; making the documents is not.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from typing import Any

from pymongo import MongoClient

from bench.data import customer_documents

CHUNK = 1_000
COLLECTION = "customers"


@dataclass
class InsertResult:
    docs: int
    seconds: float

    @property
    def docs_per_second(self) -> float:
        return self.docs / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "docs_per_second": self.docs_per_second}


def run(mongo_url: str, database: str, docs: int, drop_after: bool = True) -> InsertResult:
    """Insert `docs` documents into `database`.customers, dropped first (and after)."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True)
    try:
        client.drop_database(database)
        collection = client[database][COLLECTION]
        seconds = 0.0
        for start in range(0, docs, CHUNK):
            chunk = customer_documents(start, min(docs, start + CHUNK))
            started = time.perf_counter()
            collection.insert_many(chunk, ordered=False)
            seconds += time.perf_counter() - started
        inserted = collection.estimated_document_count()
        if drop_after:
            client.drop_database(database)
        return InsertResult(inserted, seconds)
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mongo-url", required=True)
    parser.add_argument("--database", default="bcu_bench_insert")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    result = run(args.mongo_url, args.database, args.rows)
    print(f"{result.docs} docs in {result.seconds:.2f} s: {result.docs_per_second:,.0f} docs/s")


if __name__ == "__main__":
    main()

"""A write the server refuses is reported by codes and first message: never with the
documents, which a BulkWriteError's text holds in full (issue 19 item 6: a 17.9 MB log line
of one customer's data)."""

from __future__ import annotations

from pymongo.errors import BulkWriteError

from store.customers.commit import _without_documents


def test_a_refused_bulk_write_is_described_without_its_documents() -> None:
    document = {
        "_id": "c1",
        "attributes": {"email": [f"user{n}@example.com" for n in range(50_000)]},
    }
    error = BulkWriteError(
        {
            "writeErrors": [
                {"index": 0, "code": 10334, "errmsg": "object to insert too large", "op": document}
            ]
        }
    )
    assert len(str(error)) > 1_000_000  # what would have been logged
    described = str(_without_documents(error))
    assert described == "1 write(s) refused (codes 10334): object to insert too large"

"""Planning's row spool gives back every row it was given, in order, as its BSON document,
whatever the write and read chunk sizes; a batch packed from those documents is the same
bytes as one packed from the rows (store.documents.pack)."""

from __future__ import annotations

import tempfile
from typing import Any

import bson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.documents import pack, pack_encoded, unpack
from store.jobs import row_spool
from store.jobs.row_spool import RowSpool

texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
values = st.dictionaries(
    st.sampled_from(["firstName", "email", "phoneNumber", "age", "vip", "labels"]),
    st.one_of(
        texts,
        st.lists(texts, max_size=3),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False),
        st.booleans(),
    ),
)
rows = st.builds(
    lambda number, line, raw, vals, errors: {
        "number": number,
        "line": line,
        "raw": raw,
        "values": vals,
        "errors": errors,
    },
    st.integers(min_value=1, max_value=10**7),
    st.integers(min_value=2, max_value=10**7),
    st.lists(texts, max_size=6),
    values,
    st.lists(texts, max_size=2),
)


@settings(max_examples=80, deadline=None)
@given(items=st.lists(rows, max_size=40))
def test_a_batch_packed_from_encoded_rows_is_the_batch_packed_from_the_rows(
    items: list[dict[str, Any]],
) -> None:
    packed = pack_encoded([bson.encode(item) for item in items])
    assert packed == pack(items)
    assert unpack(packed) == items


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(rows, max_size=60),
    write_bytes=st.integers(min_value=1, max_value=3000),
    read_bytes=st.integers(min_value=1, max_value=3000),
)
def test_gives_back_every_row_in_order(
    items: list[dict[str, Any]], write_bytes: int, read_bytes: int
) -> None:
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryFile() as file:
        patch.setattr(row_spool, "WRITE_BYTES", write_bytes)
        patch.setattr(row_spool, "READ_BYTES", read_bytes)
        spool = RowSpool(file)
        for item in items:
            spool.add(item)
        assert [bson.decode(encoded) for encoded in spool.rows()] == items


def test_a_spool_cut_inside_a_row_is_an_error_not_a_lost_row() -> None:
    with tempfile.TemporaryFile() as file:
        spool = RowSpool(file)
        spool.add({"number": 1, "line": 2, "raw": ["a"], "values": {}, "errors": []})
        spool.add({"number": 2, "line": 3, "raw": ["b"], "values": {}, "errors": []})
        assert len(list(spool.rows())) == 2
        file.seek(0, 2)
        file.truncate(file.tell() - 3)
        with pytest.raises(ValueError, match="ends inside a row"):
            list(spool.rows())

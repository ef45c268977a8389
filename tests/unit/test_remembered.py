"""Header-set matching of remembered mappings: the same set whatever the order, case and
spacing; nearly the same when most headers are shared; and how a remembered mapping joins the
suggestions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.mapping import ColumnSuggestion, suggest_mapping
from domain.remembered import (
    RememberedMapping,
    best_match,
    header_key,
    header_set_id,
    with_remembered,
)
from domain.schema import DEFAULT_CUSTOMER_SCHEMA as SCHEMA

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
headers = st.lists(names, min_size=1, max_size=15, unique_by=header_key)


def respelled(name: str, draw: st.DrawFn) -> str:
    """The same header as another file may write it: other case, spaces around and inside."""
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    inner = " ".join(cased) if draw(st.booleans()) else cased
    return " " * draw(st.integers(0, 2)) + inner + " " * draw(st.integers(0, 2))


@st.composite
def same_headers_written_differently(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    header = draw(headers)
    other = [respelled(name, draw) for name in draw(st.permutations(header))]
    return header, other


def remembered_for(header: list[str], field: str | None = "firstName") -> RememberedMapping:
    fields = {header_key(name): None for name in header} | {header_key(header[0]): field}
    return RememberedMapping(header_set_id(header), fields)


@given(same_headers_written_differently())
def test_the_same_headers_in_any_order_case_and_spacing_are_the_same_set(
    pair: tuple[list[str], list[str]],
) -> None:
    header, other = pair
    assert header_set_id(other) == header_set_id(header)
    assert best_match(other, [remembered_for(header)]) == remembered_for(header)


@given(headers.filter(lambda h: len(h) >= 8), st.data())
def test_one_header_more_or_fewer_out_of_eight_or_more_still_matches(
    header: list[str], data: st.DataObject
) -> None:
    remembered = remembered_for(header)
    fewer = header[:-1]
    more = [*header, "zzzz extra column"]
    assert best_match(fewer, [remembered]) == remembered
    assert best_match(more, [remembered]) == remembered


@given(headers, headers)
def test_files_that_share_under_three_quarters_of_their_headers_do_not_match(
    a: list[str], b: list[str]
) -> None:
    shared = {header_key(n) for n in a} & {header_key(n) for n in b}
    union = {header_key(n) for n in a} | {header_key(n) for n in b}
    found = best_match(b, [remembered_for(a)])
    assert (found is not None) == (len(shared) / len(union) >= 0.75)


def test_the_most_similar_of_several_is_chosen() -> None:
    file = ["a", "b", "c", "d", "e", "f", "g", "h"]
    near = remembered_for([*file[:-1], "x"])  # 7 of 9
    nearer = remembered_for(file[:-1])  # 7 of 8
    assert best_match(file, [near, nearer]) == nearer


def test_remembered_columns_win_and_free_the_single_value_fields_they_take() -> None:
    header = ["Vorname", "First Name", "Kontakt"]
    suggestions = suggest_mapping(header, [], SCHEMA)
    assert [s.field for s in suggestions] == [None, "firstName", None]
    remembered = RememberedMapping(
        "id", {"vorname": "firstName", "firstname": None, "kontakt": "email"}
    )
    assert with_remembered(suggestions, remembered, SCHEMA) == [
        ColumnSuggestion("Vorname", "firstName", "remembered", 1.0),
        ColumnSuggestion("First Name", None, "remembered", 1.0),
        ColumnSuggestion("Kontakt", "email", "remembered", 1.0),
    ]
    partly = RememberedMapping("id", {"vorname": "firstName", "kontakt": "email"})
    assert with_remembered(suggestions, partly, SCHEMA)[1] == ColumnSuggestion(
        "First Name", None, "none", 0.0
    )

import re

from hypothesis import given
from hypothesis import strategies as st

from domain.formula_safety import FORMULA_PREFIXES, escaped, unescaped

_TEXT = st.text(alphabet=st.sampled_from("'=+-@\t\rab1 ()"), max_size=8) | st.text(max_size=8)


@given(_TEXT)
def test_unescaping_gives_back_every_value(value: str) -> None:
    assert unescaped(escaped(value)) == value


@given(_TEXT)
def test_an_escaped_cell_never_starts_a_formula(value: str) -> None:
    cell = escaped(value)
    number = re.fullmatch(r"[+-][\d\s().-]+", cell)
    assert cell.startswith("'") or not cell.startswith(FORMULA_PREFIXES) or number


def test_examples() -> None:
    assert escaped("@rt_handle") == "'@rt_handle"
    assert escaped("-Berlin-") == "'-Berlin-"
    assert escaped("+12025550143") == "+12025550143"
    assert escaped("'=x") == "''=x"
    assert escaped("'plain") == "'plain"
    assert unescaped("'@rt_handle") == "@rt_handle"
    assert unescaped("'plain") == "'plain"

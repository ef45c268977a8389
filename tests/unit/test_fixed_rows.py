"""The status page's fix-and-retry table: only the rows a person changed are sent again,
with the original's columns and without the reason."""

from __future__ import annotations

from ui.job_actions import failed_rows_frame, fixed_rows_csv

FAILED_ROWS = (
    "\ufeffemail,firstName,error\r\n"
    "eve(at)example.com,Eve,Invalid email format\r\n"
    "fay@example.com,,Missing mandatory field: firstName\r\n"
    "+12025550143,Gus,Invalid email format\r\n"
).encode()


def test_only_the_changed_rows_are_sent_without_their_reason() -> None:
    original = failed_rows_frame(FAILED_ROWS)
    edited = original.copy()
    edited.loc[1, "firstName"] = "Fay"
    content, count = fixed_rows_csv(original, edited)
    assert count == 1
    assert content.decode() == "email,firstName\r\nfay@example.com,Fay\r\n"


def test_nothing_changed_sends_nothing_and_cells_stay_text() -> None:
    original = failed_rows_frame(FAILED_ROWS)
    assert original.loc[2, "email"] == "+12025550143"
    assert fixed_rows_csv(original, original.copy())[1] == 0


def test_the_editor_shows_real_values_and_sends_them_escaped_again() -> None:
    content = (
        "\ufefftwitter,city,firstName,error\r\n"
        "'@rt_handle,'-Berlin-,,Missing mandatory field: firstName\r\n"
    ).encode()
    original = failed_rows_frame(content)
    assert (original.loc[0, "twitter"], original.loc[0, "city"]) == ("@rt_handle", "-Berlin-")
    edited = original.copy()
    edited.loc[0, "firstName"] = "Ann"
    sent, _ = fixed_rows_csv(original, edited)
    assert sent.decode() == "twitter,city,firstName\r\n'@rt_handle,'-Berlin-,Ann\r\n"

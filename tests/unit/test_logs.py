"""config.logs: JSON lines with their context, text lines, and secrets masked."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from config import Settings, logs

ADMIN_KEY = "admin-key-for-the-log-test"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    logs.configure(Settings(_env_file=None, log_format="json", admin_api_key=ADMIN_KEY))  # type: ignore[call-arg]
    yield out
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_has_its_fields_and_only_the_context_that_applies(captured) -> None:
    log = logging.getLogger("store.jobs")
    log.info("plain")
    with logs.bound(requestId="r-1", importId="j-1", batch=3, step="process_batch"):
        log.warning("in a batch: %s", "x")
    first, second = lines(captured)
    assert set(first) == {"ts", "level", "logger", "msg"}
    assert (first["level"], first["logger"], first["msg"]) == ("info", "store.jobs", "plain")
    assert second["msg"] == "in a batch: x"
    assert (second["requestId"], second["importId"], second["batch"], second["step"]) == (
        "r-1",
        "j-1",
        3,
        "process_batch",
    )
    assert logs.current("requestId") is None  # restored after the block


def test_an_exception_is_one_line(captured) -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("x").exception("failed")
    (line,) = lines(captured)
    assert "ValueError: boom" in str(line["exc"])


@given(st.text(max_size=40))
def test_any_message_is_one_json_line_and_secrets_are_masked(text: str) -> None:
    assume(not any(shape in text.lower() for shape in ("bearer", "whsec_", "bcus_")))
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter(logs._Redactor([ADMIN_KEY])))
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s", (text,), None)
    message = (
        f"{text} Authorization: Bearer abc.DEF-123 whsec_c2VjcmV0+/= bcus_tok-EN_9 {ADMIN_KEY}"
    )
    record.args = (message,)
    handler.emit(record)
    rendered = out.getvalue()
    assert len(rendered.splitlines()) == 1
    assert json.loads(rendered)["msg"].startswith(text)
    for secret in ("abc.DEF-123", "c2VjcmV0", "tok-EN_9", ADMIN_KEY):
        assert secret not in rendered

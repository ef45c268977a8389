"""Logging of every process (DESIGN.md §8): LOG_FORMAT=json writes one JSON object per line
(`ts`, `level`, `logger`, `msg`, and `requestId`, `importId`, `batch`, `step` where they
apply), `text` one readable line.

The standard library's logging, with a JSON formatter of our own, rather than structlog:
every library here (uvicorn, Litestar, Dramatiq, httpx, Streamlit) logs through it, so one
formatter on the root handler turns all of their lines into JSON, with no second logging
system to bridge. The context fields are context variables: the API sets them per request
(api.request_context), the workers per message (workers.step_context), and asyncio copies
them into the tasks a request or message starts.

No secret reaches a line: nothing logs keys, tokens or secrets, and as a second line of
defence the formatter masks what looks like one (a Bearer credential, a webhook secret, a
session token, the admin key)."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from config.settings import Settings

# The context of a line: JSON name → variable.
CONTEXT: dict[str, ContextVar[Any]] = {
    "requestId": ContextVar("request_id", default=None),
    "importId": ContextVar("import_id", default=None),
    "batch": ContextVar("batch", default=None),
    "step": ContextVar("step", default=None),
}
MASK = "[redacted]"
_SECRET_SHAPES = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
    re.compile(r"(whsec_)[A-Za-z0-9+/=]+"),
    re.compile(r"(bcus_)[A-Za-z0-9_\-]+"),
)
# Loggers (and their children) that bring their own handlers: their lines go to the root
# handler instead.
_OWN_HANDLERS = ("uvicorn", "litestar", "streamlit")


def bind(**fields: Any) -> None:
    """Set context fields (JSON names) for what this task or thread logs from now on."""
    for name, value in fields.items():
        CONTEXT[name].set(value)


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Context fields for the duration of a block, then back to what they were."""
    tokens = [(CONTEXT[name], CONTEXT[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def current(name: str) -> Any:
    return CONTEXT[name].get()


class _Redactor:
    def __init__(self, literal_secrets: list[str]) -> None:
        self.literals = [s for s in literal_secrets if len(s) >= 8]

    def __call__(self, text: str) -> str:
        for literal in self.literals:
            text = text.replace(literal, MASK)
        for shape in _SECRET_SHAPES:
            text = shape.sub(lambda m: m.group(1) + MASK, text)
        return text


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: _Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.redact(record.getMessage()),
        }
        for name, variable in CONTEXT.items():
            value = variable.get()
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.redact(self.formatException(record.exc_info))
        # ASCII only: a U+2028 or U+0085 in a value would end the line for some readers.
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, redact: _Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{name}={variable.get()}"
            for name, variable in CONTEXT.items()
            if variable.get() is not None
        )
        text = super().format(record)
        return self.redact(f"{text} [{context}]" if context else text)


def configure(settings: Settings) -> None:
    """One handler on stdout, in the LOG_FORMAT, for this process (called again, it replaces
    it: a Dramatiq worker process configures itself once its output is redirected)."""
    redact = _Redactor([settings.admin_api_key])
    formatter = (JsonFormatter if settings.log_format == "json" else TextFormatter)(redact)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    known = list(logging.root.manager.loggerDict)
    for name in known:
        if name.split(".")[0] in _OWN_HANDLERS:
            own = logging.getLogger(name)
            for old in list(own.handlers):
                own.removeHandler(old)
            own.propagate = True

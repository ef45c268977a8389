"""Errors of the pure rules. The API maps each to an HTTP status in one place."""


class DomainError(Exception):
    """A rule refused the input; `str(error)` is the user-facing reason."""


class FileRejected(DomainError):
    """The whole file is refused: nothing of it is written."""

    def __init__(self, reason: str, missing_required: list[str] | None = None) -> None:
        super().__init__(reason)
        self.missing_required = missing_required or []


class InvalidRequest(DomainError):
    """A request's configuration or payload is invalid."""


class Unprocessable(InvalidRequest):
    """Well-formed, but against a rule the request's documented shape cannot express (an
    attribute that does not exist, a key that is not a channel identifier)."""


NAMES_SHOWN = 10
NAME_CHARS_SHOWN = 100


def named(names: list[str]) -> str:
    """Names from a request or a file, as a reason lists them: the first few, each cut short,
    so a request naming thousands of long ones gets an answer of a readable size."""
    shown = [
        name if len(name) <= NAME_CHARS_SHOWN else name[:NAME_CHARS_SHOWN] + "…"
        for name in names[:NAMES_SHOWN]
    ]
    more = len(names) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")

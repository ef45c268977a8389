"""Errors raised by services; the API maps each to an HTTP status in one place."""

from domain.errors import DomainError


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    """The request is valid but the resource is not in a state that allows it."""


class RetryLater(Conflict):
    """The request is valid but meets other work in progress; sent again after
    `retry_after` seconds it may succeed."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class StillInFlight(RetryLater):
    """The same request is being answered now; it may be sent again after `retry_after`
    seconds (then it gets that answer)."""


class PreconditionFailed(DomainError):
    """The request's If-Match names a version that is no longer the current one."""


class Gone(DomainError):
    """The resource existed but was deleted for good (retention of reports and files)."""


class Forbidden(DomainError):
    pass


class Unauthorized(DomainError):
    pass


class UnknownKey(Unauthorized):
    """A key that is none of ours: counted against the client's failed authentications."""


class TooManyRequests(DomainError):
    """A limit on one client's rate or concurrency; it may retry after `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after

"""The one retry policy (store.retry): each reason's deliveries, and errors that are no
reason to try again."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError

from store import retry
from store.errors import Conflict


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (retry.Contended("claims held by a live writer"), retry.Reason.CONTENDED),
        (retry.KeptChanging("customers changed meanwhile"), retry.Reason.CHANGED),
        (AutoReconnect("connection reset"), retry.Reason.TRANSIENT),
        (ServerSelectionTimeoutError("no server"), retry.Reason.TRANSIENT),
        (RedisConnectionError("refused"), retry.Reason.TRANSIENT),
        (Conflict("The report is not ready"), None),  # the API's 409: no reason to retry
        (ValueError("a bug"), None),
    ],
)
def test_each_error_has_its_reason(error: BaseException, reason: retry.Reason | None) -> None:
    assert retry.reason_of(error) == reason
    expected = retry.OTHER_DELIVERIES if reason is None else retry.RULES[reason].deliveries
    assert retry.deliveries_allowed(error) == expected


def test_a_step_is_delivered_until_its_reason_allows_no_more() -> None:
    contended = retry.Contended("held")
    limit = retry.RULES[retry.Reason.CONTENDED].deliveries
    assert retry.may_retry(limit - 1, contended) and not retry.may_retry(limit, contended)
    assert retry.retry_when(retry.OTHER_DELIVERIES - 1, ValueError())
    assert not retry.retry_when(retry.OTHER_DELIVERIES, ValueError())
    # Writers meet each other for a while: more deliveries than an error that repeats.
    assert limit > retry.OTHER_DELIVERIES

"""The pure rules of DESIGN.md §7: webhook signatures as the Standard Webhooks package
verifies them, the retry schedule, the addresses an outbound connection may reach, and
schedules' cron times across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook as Verifier

from domain import cron, webhooks
from domain.errors import InvalidRequest
from domain.remote import Source, host_allowed, non_public_reason

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@given(message_id=st.text(min_size=1, max_size=40), body=st.binary(max_size=500))
def test_a_signature_verifies_with_the_standard_webhooks_package(message_id, body) -> None:
    timestamp = int(datetime.now(UTC).timestamp())
    headers = webhooks.signed_headers(SECRET, message_id, timestamp, body)
    Verifier(SECRET).verify(body, headers, json_parse=False)


def test_another_body_does_not_verify() -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    timestamp = int(datetime.now(UTC).timestamp())
    headers = webhooks.signed_headers(SECRET, "msg_1", timestamp, b'{"a": 1}')
    with pytest.raises(WebhookVerificationError):
        Verifier(SECRET).verify(b'{"a": 2}', headers)


def test_the_retries_start_within_10_seconds_and_last_at_least_a_day() -> None:
    first = webhooks.wait_after(1)
    assert first is not None and first <= timedelta(seconds=10)
    waits = [webhooks.wait_after(n) for n in range(1, len(webhooks.RETRY_WAITS) + 1)]
    assert all(w is not None for w in waits)
    assert sum(waits, timedelta()) >= timedelta(hours=24)  # type: ignore[arg-type]
    assert waits == sorted(waits)  # type: ignore[type-var]
    assert webhooks.wait_after(len(webhooks.RETRY_WAITS) + 1) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
        "100.64.0.1",
    ],
)
def test_non_public_addresses_are_refused(address) -> None:
    assert non_public_reason(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address) -> None:
    assert non_public_reason(address) is None


def test_allowed_hosts() -> None:
    assert host_allowed("anything.example", [])
    assert host_allowed("files.crm.example", ["*.crm.example"])
    assert not host_allowed("crm.example.evil", ["*.crm.example", "crm.example"])


def test_a_source_s_file_name_is_the_last_segment() -> None:
    assert (
        Source(url="https://h/exports/Customers%20A.csv?token=x").file_name() == "Customers A.csv"
    )
    assert Source(s3={"bucket": "bkt", "key": "a/b/c.xlsx"}).file_name() == "c.xlsx"
    assert Source(url="https://h/").file_name() == "source.csv"


def test_next_run_across_a_daylight_saving_change() -> None:
    # Europe/Paris springs forward on 2026-03-29 at 02:00 (to 03:00): 02:30 does not exist
    # that day, and the run happens when the clock is back (03:00 local, 01:00 UTC).
    before = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    first = cron.next_run("30 2 * * *", "Europe/Paris", before)
    assert first == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert cron.next_run("30 2 * * *", "Europe/Paris", first) == datetime(
        2026, 3, 30, 0, 30, tzinfo=UTC
    )
    # In autumn, 02:30 happens twice (2026-10-25): one run.
    autumn = cron.next_run("30 2 * * *", "Europe/Paris", datetime(2026, 10, 24, 12, tzinfo=UTC))
    assert autumn == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert cron.next_run("30 2 * * *", "Europe/Paris", autumn) == datetime(
        2026, 10, 26, 1, 30, tzinfo=UTC
    )
    # 2 am every night, in UTC: 01:00 in winter, 00:00 in summer.
    assert cron.next_run("0 2 * * *", "Europe/Paris", datetime(2026, 1, 5, tzinfo=UTC)).hour == 1
    assert cron.next_run("0 2 * * *", "Europe/Paris", datetime(2026, 7, 5, tzinfo=UTC)).hour == 0


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    )
)
def test_the_next_run_is_later_and_on_the_minute(moment) -> None:
    following = cron.next_run("*/7 3 * * 1-5", "America/New_York", moment)
    assert following > moment and following.second == 0 and following.microsecond == 0


@pytest.mark.parametrize(
    ("expression", "zone", "named"),
    [
        ("0 2 * *", "UTC", "cron"),
        ("61 * * * *", "UTC", "cron"),
        ("0 0 31 2 *", "UTC", "cron"),
        ("0 2 * * *", "Mars/Olympus", "timezone"),
        ("@daily", "UTC", "cron"),
    ],
)
def test_an_invalid_cron_or_zone_is_named(expression, zone, named) -> None:
    with pytest.raises(InvalidRequest, match=f"Invalid {named}"):
        cron.check(expression, zone)

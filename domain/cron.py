"""Schedules' times: a five-field cron expression read in an IANA time zone, daylight saving
included (cronsim: a job in an hour that a change skips runs when the hour is back; one in an
hour that repeats runs once)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from functools import lru_cache

from cronsim import CronSim, CronSimError

from domain.errors import InvalidRequest


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def zone(name: str) -> zoneinfo.ZoneInfo:
    if name not in time_zones():
        raise InvalidRequest(
            f"Invalid timezone {name!r}: give an IANA time zone such as Europe/Paris or UTC"
        )
    return zoneinfo.ZoneInfo(name)


def check(cron: str, timezone: str) -> None:
    """InvalidRequest naming the cron expression or the zone when either is not valid."""
    zone(timezone)
    if len(cron.split()) != 5:
        raise InvalidRequest(
            f"Invalid cron {cron!r}: give five fields (minute hour day-of-month month "
            "day-of-week), such as '0 2 * * *' for 2 am every day"
        )
    try:
        next(CronSim(cron, datetime.now(UTC)))
    except CronSimError as error:
        raise InvalidRequest(f"Invalid cron {cron!r}: {error}") from None
    except StopIteration:  # a date that never comes
        raise InvalidRequest(f"Invalid cron {cron!r}: it never matches a date") from None


def next_run(cron: str, timezone: str, after: datetime) -> datetime:
    """The first time after `after` the expression matches in the zone, in UTC."""
    local = after.astimezone(zone(timezone))
    return next(CronSim(cron, local)).astimezone(UTC)

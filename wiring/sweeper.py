"""`python -m wiring.sweeper`: the recovery process (workers.sweeper), given what a webhook
event carries: the job as GET /imports/{id} answers it (the API's own serializer), so that
workers/ imports nothing of api/."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from api.serializers import job_body
from config import get_settings, logs
from store.documents import ImportJob
from workers.sweeper import sweep_forever


def render(job: ImportJob) -> dict[str, Any]:
    """A webhook's `data`: the job as GET /imports/{id} answers it."""
    rendered: dict[str, Any] = msgspec.to_builtins(job_body(job))
    return rendered


if __name__ == "__main__":
    logs.configure(get_settings())
    asyncio.run(sweep_forever(render))

from __future__ import annotations

from litestar import Response, get
from litestar.openapi.datastructures import ResponseSpec

from api.models.health import Health
from api.security import PUBLIC
from store import health


@get(
    "/health",
    opt=PUBLIC,
    responses={503: ResponseSpec(data_container=Health, description="A part is not answering")},
    summary="Liveness of the API and its MongoDB and Redis",
)
async def get_health() -> Response[Health]:
    parts = await health.check()
    ok = all(state == "ok" for state in parts.values())
    body = Health(status="ok" if ok else "error", mongo=parts["mongo"], redis=parts["redis"])
    return Response(body, status_code=200 if ok else 503)

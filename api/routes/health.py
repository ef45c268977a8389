from __future__ import annotations

from litestar import Response, get

from api.security import PUBLIC
from store import health


@get("/health", opt=PUBLIC, summary="Liveness of the API and its MongoDB and Redis")
async def get_health() -> Response[dict[str, str]]:
    parts = await health.check()
    ok = all(state == "ok" for state in parts.values())
    return Response({"status": "ok" if ok else "error", **parts}, status_code=200 if ok else 503)

"""The Litestar application: `uvicorn api.app:create_app --factory`. The app factory is the
API's composition root: it wires in the workers (wiring.DramatiqWorkers) unless given others."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.prometheus import PrometheusConfig
from litestar.routes import HTTPRoute

from api.dependencies import DEPENDENCIES, Workers
from api.errors import EXCEPTION_HANDLERS
from api.request_context import request_context
from api.routes.audit import AuditController
from api.routes.customers import CustomerController
from api.routes.health import get_health
from api.routes.imports import ImportController
from api.routes.keys import KeyController
from api.routes.mappings import MappingController
from api.routes.metrics import get_metrics
from api.routes.record_types import RecordTypeController
from api.routes.schedules import ScheduleController
from api.routes.schema import SchemaController
from api.routes.webhooks import WebhookController
from api.security import OPENAPI_PATH, require_role
from config import Settings, get_settings, logs
from store import db
from store.throttle import FailedAuthentication, RateLimiter, ScanSlots, TokenBuckets
from wiring import DramatiqWorkers

# HTTP requests by route template (not by path: ids would make a series each), method and
# status, with their latency: bcu_http_requests_total, bcu_http_request_duration_seconds.
HTTP_METRICS = PrometheusConfig(app_name="bcu", prefix="bcu_http", group_path=True)


def _allowed_methods(app: Litestar) -> dict[str, str]:
    """Each path's methods, for OPTIONS. Litestar's own OPTIONS answer names only the methods
    of the first handler registered on a path when several handlers share it."""
    return {
        route.path_format: ", ".join(sorted(route.methods))
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }


async def _answer_options(request: Request[Any, Any, Any]) -> Response[None] | None:
    if request.method != "OPTIONS":
        return None
    allowed: dict[str, str] = request.app.state.allowed_methods
    allow = allowed.get(request.scope.get("path_template", ""), "OPTIONS")
    return Response(None, status_code=204, headers={"Allow": allow})


async def close_limits(state: State) -> None:
    """Close the limits' Redis clients (the app's shutdown; tests that build an app)."""
    for name in ("rate_limiter", "failed_authentication", "customer_scans"):
        limiter: TokenBuckets | ScanSlots | None = state.get(name)
        if limiter is not None:
            await limiter.close()


def create_app(settings: Settings | None = None, workers: Workers | None = None) -> Litestar:
    settings = settings or get_settings()
    state = State({"settings": settings, "workers": workers or DramatiqWorkers()})
    if settings.redis_url:  # the clients connect on first use
        state.rate_limiter = RateLimiter(
            settings.redis_url, settings.rate_limit_per_second, settings.rate_limit_burst
        )
        state.failed_authentication = FailedAuthentication(
            settings.redis_url, settings.auth_failures_per_minute, settings.auth_failure_burst
        )
        state.customer_scans = ScanSlots(
            settings.redis_url,
            settings.customer_scans_per_key,
            settings.customer_scans_at_once,
            hold_seconds=settings.customer_scan_seconds + 5,
        )

    async def start() -> None:
        await db.connect(settings)

    async def stop() -> None:
        await close_limits(state)
        await db.disconnect()

    app = Litestar(
        route_handlers=[
            get_health,
            RecordTypeController,
            SchemaController,
            ImportController,
            CustomerController,
            KeyController,
            MappingController,
            WebhookController,
            ScheduleController,
            AuditController,
            get_metrics,
        ],
        middleware=[request_context, HTTP_METRICS.middleware],
        guards=[require_role],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_request=_answer_options,
        on_startup=[start],
        on_shutdown=[stop],
        state=state,
        request_max_body_size=settings.max_upload_bytes,
        openapi_config=OpenAPIConfig(
            title="Bulk Customer Upload",
            version="1.0.0",
            path=OPENAPI_PATH,
            render_plugins=[SwaggerRenderPlugin(path="/")],
        ),
    )
    state.allowed_methods = _allowed_methods(app)
    logs.configure(settings)  # after Litestar set up its own logging, which this replaces
    return app

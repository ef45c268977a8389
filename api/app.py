"""The Litestar application: `uvicorn api.app:create_app --factory`."""

from __future__ import annotations

import logging

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from api.dependencies import DEPENDENCIES
from api.errors import EXCEPTION_HANDLERS
from api.routes.customers import CustomerController
from api.routes.health import get_health
from api.routes.imports import ImportController
from api.routes.keys import KeyController
from api.routes.record_types import RecordTypeController
from api.security import OPENAPI_PATH, require_role
from config import get_settings
from store import db


async def _connect() -> None:
    await db.connect(get_settings())


def create_app() -> Litestar:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO)
    return Litestar(
        route_handlers=[
            get_health,
            RecordTypeController,
            ImportController,
            CustomerController,
            KeyController,
        ],
        guards=[require_role],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        on_startup=[_connect],
        on_shutdown=[db.disconnect],
        request_max_body_size=settings.max_upload_bytes,
        openapi_config=OpenAPIConfig(
            title="Bulk Customer Upload",
            version="1.0.0",
            path=OPENAPI_PATH,
            render_plugins=[SwaggerRenderPlugin(path="/")],
        ),
    )

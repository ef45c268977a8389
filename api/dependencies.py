"""What the app injects into controllers: the settings, and the dispatcher that sends work to
the workers. The broker is built on the first request that needs it, not when the API's
modules are imported."""

from __future__ import annotations

from litestar.di import NamedDependency, Provide

from config import Settings, get_settings
from store.jobs import Dispatcher


def provide_settings() -> Settings:
    return get_settings()


def provide_dispatcher() -> Dispatcher:
    from workers.actors import dispatcher  # configures the Redis broker from the settings

    return dispatcher


InjectedSettings = NamedDependency[Settings]
InjectedDispatcher = NamedDependency[Dispatcher]

DEPENDENCIES = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "dispatcher": Provide(provide_dispatcher, sync_to_thread=False),
}

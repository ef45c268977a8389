"""What the app injects into controllers: its settings, and the dispatcher that sends work to
the workers. The broker is built on the first request that needs it, not when the API's
modules are imported."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from config import Settings
from store.jobs import Dispatcher


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_dispatcher() -> Dispatcher:
    from workers.actors import dispatcher  # configures the Redis broker from the settings

    return dispatcher


InjectedSettings = NamedDependency[Settings]
InjectedDispatcher = NamedDependency[Dispatcher]

DEPENDENCIES = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "dispatcher": Provide(provide_dispatcher, sync_to_thread=False),
}

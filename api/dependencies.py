"""What the app injects into controllers: its settings, the dispatcher that sends work to
the workers, and the workers' queues. What implements the last two is given to the app
factory (the composition root: wiring.DramatiqWorkers), so api/ depends on no worker code."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from config import Settings
from store.jobs import Dispatcher


@runtime_checkable  # the app checks what it injects, as for the dispatcher
class Workers(Protocol):
    """What the API asks of the workers: a dispatcher, and the names of their queues."""

    def dispatcher(self) -> Dispatcher: ...
    def queues(self) -> Sequence[str]: ...


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_workers(state: State) -> Workers:
    workers: Workers = state.workers
    return workers


def provide_dispatcher(state: State) -> Dispatcher:
    return provide_workers(state).dispatcher()


InjectedSettings = NamedDependency[Settings]
InjectedDispatcher = NamedDependency[Dispatcher]
InjectedWorkers = NamedDependency[Workers]

DEPENDENCIES = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "workers": Provide(provide_workers, sync_to_thread=False),
    "dispatcher": Provide(provide_dispatcher, sync_to_thread=False),
}

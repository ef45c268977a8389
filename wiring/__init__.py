"""The composition root's seam between the API and the workers.

The API sends work through `store.jobs.Dispatcher` and reads the depth of the workers'
queues; what implements both is Dramatiq's, in workers/. The app factory (api.app.create_app)
takes them from here, so that api/ imports nothing of workers/, and the worker entry point
(workers.actors) builds the same dispatcher for its own actors."""

from __future__ import annotations

from store.jobs import Dispatcher


class DramatiqWorkers:
    """The workers as the API sees them. Each part is imported on first use, not with the
    API's modules: importing workers/ configures the Redis broker from the settings."""

    def dispatcher(self) -> Dispatcher:
        from workers.actors import dispatcher

        return dispatcher

    def queues(self) -> tuple[str, ...]:
        from workers.backlog import QUEUES

        return QUEUES

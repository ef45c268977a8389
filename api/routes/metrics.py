"""GET /metrics: the Prometheus text format. The domain metrics (DESIGN.md §8) are read from
MongoDB and Redis at each scrape (store.metrics), so every replica answers the same; the
HTTP metrics (bcu_http_*, Litestar's Prometheus middleware, by route template) and the
process metrics are this process's own, as Prometheus expects of each scraped instance."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from api.dependencies import InjectedSettings, InjectedWorkers
from api.openapi import errors
from store import metrics

log = logging.getLogger(__name__)


def _labelled(family: Metric, values: dict[str, int]) -> Metric:
    for label, value in sorted(values.items()):
        family.add_metric([label], value)  # type: ignore[attr-defined]
    return family


class _Snapshot(Collector):
    """The domain metrics read for one scrape, as metric families."""

    def __init__(self, read: metrics.DomainMetrics, queues: dict[str, int] | None) -> None:
        self.read, self.queues = read, queues

    def collect(self) -> Iterator[Metric]:
        read, counter, gauge = self.read, CounterMetricFamily, GaugeMetricFamily
        rows_help = "Rows of real imports by outcome (dry runs excluded)"
        yield _labelled(counter("bcu_import_rows", rows_help, labels=["outcome"]), read.rows)
        ended_help = "Imports that ended, by status"
        yield _labelled(counter("bcu_imports", ended_help, labels=["status"]), read.imports)
        yield HistogramMetricFamily(
            "bcu_import_duration_seconds",
            "Time from an import's creation to its end",
            buckets=[(_bound(le), n) for le, n in read.duration.buckets],
            sum_value=read.duration.total,
        )
        jobs_help = "Jobs pending or in progress now"
        yield _labelled(gauge("bcu_jobs", jobs_help, labels=["status"]), read.jobs)
        if self.queues is not None:  # None: Redis did not answer
            queue_help = "Messages the broker holds per queue"
            yield _labelled(gauge("bcu_queue_messages", queue_help, labels=["queue"]), self.queues)
        for name, label, help_text in (
            (metrics.STEP_RECOVERIES, "step", "Steps the recovery check drove again"),
            (metrics.WEBHOOK_DELIVERIES, "result", "Webhook delivery attempts by result"),
        ):
            family = counter(name.removesuffix("_total"), help_text, labels=[label])
            yield _labelled(family, read.counters.get(name, {}))


def _bound(le: float) -> str:
    return "+Inf" if le == float("inf") else repr(le)


@get(
    "/metrics",
    media_type=CONTENT_TYPE_LATEST,
    responses=errors(),
    summary="Prometheus metrics: rows, imports, durations, jobs, queues, recoveries, webhooks, "
    "HTTP requests",
)
async def get_metrics(settings: InjectedSettings, workers: InjectedWorkers) -> Response[bytes]:
    read = await metrics.read()
    queues = None
    if settings.redis_url:
        names = workers.queues()
        try:
            queues = await metrics.queue_depths(settings.redis_url, names)
        except Exception as error:  # Redis away: the other metrics still answer
            log.warning("queue depths unavailable: %s", type(error).__name__)
    domain = CollectorRegistry(auto_describe=False)
    domain.register(_Snapshot(read, queues))
    body = generate_latest(REGISTRY) + generate_latest(domain)
    return Response(body, media_type=CONTENT_TYPE_LATEST)

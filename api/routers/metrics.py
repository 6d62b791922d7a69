"""``/metrics``: Prometheus text exposition of request counts, latencies, bookings and feeds.

Operators only: the counts are business data (bookings made, refused,
cancelled) and traffic volumes, so the endpoint wants the operator key, as
``X-API-Key`` or as ``Authorization: Bearer <key>`` (Prometheus'
``authorization`` scrape setting). With several workers the answer sums
every worker's counters (prometheus_client's multiprocess mode: the
supervisor gives each server run its own ``PROMETHEUS_MULTIPROC_DIR``), so it
does not depend on which worker takes the scrape. Live feed health is the
answering worker's view: every worker applies the same feed versions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from api.deps import require_operator
from api.schemas import ErrorBody

router = APIRouter(tags=["health"])


def registry_of(request: Request) -> CollectorRegistry:
    """Every worker's metrics in multiprocess mode, else this app's own registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return combined
    registry: CollectorRegistry = request.app.state.metrics.registry
    return registry


class FeedCollector:
    """Per live feed: age of the last good fetch, errors, entities applied, up/expired."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def collect(self) -> Iterator[Any]:
        """Yield the feed metric families (read at scrape time)."""
        labels = ["feed", "kind"]
        age = GaugeMetricFamily(
            "elster_live_feed_age_seconds", "Seconds since the last good fetch.", labels=labels
        )
        errors = CounterMetricFamily(
            "elster_live_feed_errors", "Failed polls (HTTP, timeout, malformed).", labels=labels
        )
        entities = GaugeMetricFamily(
            "elster_live_feed_entities", "Entities applied from the current version.", labels=labels
        )
        up = GaugeMetricFamily(
            "elster_live_feed_up", "1 when the feed's data is fresh and used.", labels=labels
        )
        version = GaugeMetricFamily(
            "elster_live_feed_version", "Payload version applied.", labels=labels
        )
        for row in self.rows:
            key = [row["key"], row["kind"]]
            if row["age_s"] is not None:
                age.add_metric(key, float(row["age_s"]))
            errors.add_metric(key, float(row["errors_total"]))
            entities.add_metric(key, float(row["entities"]))
            up.add_metric(key, 0.0 if row["expired"] else 1.0)
            version.add_metric(key, float(row["version"]))
        yield from (age, errors, entities, up, version)


@router.get(
    "/metrics",
    summary="Prometheus metrics (operator)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        401: {"model": ErrorBody, "description": "Missing or wrong operator key"},
    },
)
def metrics(request: Request, _key: str = Depends(require_operator)) -> Response:
    """Request counts and latencies by route, booking outcomes, batch sizes (all workers), feeds."""
    text = generate_latest(registry_of(request))
    state = getattr(request.app.state, "elster", None)
    if state is not None and getattr(state, "realtime", None) is not None:
        feeds = CollectorRegistry(auto_describe=False)
        feeds.register(FeedCollector(state.realtime.health()))
        text += generate_latest(feeds)
    return Response(text, media_type=CONTENT_TYPE_LATEST)

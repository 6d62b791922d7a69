"""``/metrics``: Prometheus text exposition of request counts, latencies, bookings and feeds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

router = APIRouter(tags=["health"])


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
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Return this process's metrics in the Prometheus text format."""
    registry = request.app.state.metrics.registry
    text = generate_latest(registry)
    state = getattr(request.app.state, "elster", None)
    if state is not None and getattr(state, "realtime", None) is not None:
        feeds = CollectorRegistry(auto_describe=False)
        feeds.register(FeedCollector(state.realtime.health()))
        text += generate_latest(feeds)
    return Response(text, media_type=CONTENT_TYPE_LATEST)

"""``/metrics``: Prometheus text exposition of request counts, latencies and bookings.

Operators only: the counts are business data (bookings made, refused,
cancelled) and traffic volumes, so the endpoint wants the operator key, as
``X-API-Key`` or as ``Authorization: Bearer <key>`` (Prometheus'
``authorization`` scrape setting). With several workers the answer sums
every worker's counters (prometheus_client's multiprocess mode: the
supervisor gives each server run its own ``PROMETHEUS_MULTIPROC_DIR``), so it
does not depend on which worker takes the scrape.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

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
    """Request counts and latencies by route, booking outcomes and batch sizes, all workers."""
    return Response(generate_latest(registry_of(request)), media_type=CONTENT_TYPE_LATEST)

"""``/health``: is the server up, which region, which components are ready."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from api.deps import get_state
from api.schemas import ComponentStatus, FeedHealth, Health
from api.state import RegionState

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Server and component status")
def health(state: RegionState = Depends(get_state)) -> Health:
    """Report the served region, the readiness of each domain and the live feeds' health."""
    return Health(
        status="ok",
        region=state.region.name,
        title=state.region.title,
        timezone=state.region.timezone,
        bbox=list(state.region.bbox),
        uptime_s=round(time.time() - state.started_at, 3),
        components={
            name: ComponentStatus(ready=c.ready, detail=c.detail, load_seconds=round(c.seconds, 3))
            for name, c in state.components.items()
        },
        default_date=state.region.default_date,
        sample_queries=[[list(a), list(b)] for a, b in state.region.sample_queries],
        feeds=[FeedHealth(**row) for row in state.realtime.health()] if state.realtime else [],
    )

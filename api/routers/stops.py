"""``/stops`` and ``/departures``: transit stops and the next departures at a stop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_state, need
from api.routers.stations import point_query
from api.schemas import ERROR_RESPONSES
from api.state import RegionState
from api.validation import local_time

router = APIRouter(tags=["transit"])


class Stop(BaseModel):
    """A transit stop."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    name: str
    lat: float
    lon: float
    parent_station: str | None = Field(default=None, alias="parentStation")
    routes: list[str]
    distance: float | None = None


class Departure(BaseModel):
    """One departure from a stop."""

    model_config = ConfigDict(populate_by_name=True)

    time: datetime
    mode: str
    route_id: str = Field(alias="routeId")
    route_short_name: str = Field(alias="routeShortName")
    headsign: str
    trip_id: str = Field(alias="tripId")
    last_stop: str = Field(alias="lastStop")
    stops_left: int = Field(alias="stopsLeft")


class DeparturesOut(BaseModel):
    """A departure board."""

    stop: Stop
    time: datetime
    departures: list[Departure]


@router.get("/stops", response_model=list[Stop], responses=ERROR_RESPONSES, summary="Transit stops")
def list_stops(
    lat: float | None = Query(None, ge=-90, le=90, description="Centre of a radius search."),
    lon: float | None = Query(None, ge=-180, le=180),
    radius: float = Query(500.0, gt=0, le=20_000, description="Metres."),
    name: str | None = Query(
        None, min_length=2, max_length=100, description="Part of the stop name."
    ),
    limit: int = Query(100, ge=1, le=1000),
    state: RegionState = Depends(get_state),
) -> list[dict[str, Any]]:
    """Stops near lat/lon (nearest first) and/or matching a name; all stops without filters."""
    need(state, "transit", "transit stops")
    from api.services import transit_adapter

    centre = point_query(state, lat, lon, radius)
    return transit_adapter.find_stops(
        state,
        lat=centre[0] if centre else None,
        lon=centre[1] if centre else None,
        radius=radius,
        name=name,
        limit=limit,
    )


STOP_ID = Path(max_length=200, description="GTFS stop id.")


@router.get("/stops/{stop_id}", response_model=Stop, responses=ERROR_RESPONSES, summary="One stop")
def get_stop(stop_id: str = STOP_ID, state: RegionState = Depends(get_state)) -> dict[str, Any]:
    """One stop and the lines calling there."""
    need(state, "transit", "transit stops")
    from api.services import transit_adapter

    return transit_adapter.stop_info(state, transit_adapter.stop_by_id(state, stop_id))


@router.get(
    "/departures",
    response_model=DeparturesOut,
    responses=ERROR_RESPONSES,
    summary="Next departures",
)
def next_departures(
    stop_id: str = Query(..., alias="stopId", max_length=200, description="GTFS stop id."),
    time: datetime | None = Query(
        None,
        description="From this time (ISO 8601, local without offset); default: now, or "
        "the current clock time on the timetable's day for old feeds.",
    ),
    limit: int = Query(10, ge=1, le=100),
    state: RegionState = Depends(get_state),
) -> dict[str, Any]:
    """The next departures at a stop, earliest first."""
    need(state, "transit", "departures")
    from api.routers.plan import plan_time
    from api.services import transit_adapter

    when = plan_time(state, time, ("transit",))
    s = transit_adapter.stop_by_id(state, stop_id)
    return {
        "stop": transit_adapter.stop_info(state, s),
        "time": local_time(state, when).isoformat(),
        "departures": transit_adapter.departures(state, s, when, limit),
    }

"""``/stops`` and ``/departures``: transit stops and the next departures at a stop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_state, require
from api.live.annotate import annotate_departures
from api.routers.plan import plan_time
from api.routers.stations import point_query
from api.schemas import ERROR_RESPONSES, Alert, RealtimeStatus
from api.services import transit_adapter
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
    realtime: bool = Field(default=False, description="The time comes from a realtime feed.")
    scheduled_time: datetime | None = Field(default=None, alias="scheduledTime")
    delay: int | None = Field(default=None, description="Seconds late (None: cancelled).")
    cancelled: bool = Field(
        default=False, description="The trip is cancelled or no longer calls at this stop."
    )
    skipped: bool = Field(default=False, description="The trip passes without stopping.")
    alerts: list[Alert] = Field(default_factory=list)


class DeparturesOut(BaseModel):
    """A departure board."""

    stop: Stop
    time: datetime
    departures: list[Departure]
    alerts: list[Alert] = Field(
        default_factory=list, description="Service alerts naming the stop itself."
    )
    realtime: RealtimeStatus | None = None


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
    transit = require(state, "transit", "transit stops", state.transit)
    centre = point_query(state, lat, lon, radius)
    return transit_adapter.find_stops(
        transit.timetable,
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
    tt = require(state, "transit", "transit stops", state.transit).timetable
    return transit_adapter.stop_info(tt, transit_adapter.stop_by_id(tt, stop_id))


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
    tt = require(state, "transit", "departures", state.transit).timetable
    when = plan_time(state, time, ("transit",))
    s = transit_adapter.stop_by_id(tt, stop_id)
    out: dict[str, Any] = {
        "stop": transit_adapter.stop_info(tt, s),
        "time": local_time(state, when).isoformat(),
    }
    snapshot = state.realtime.current() if state.realtime is not None else None
    if snapshot is None or snapshot.network is None:
        out["departures"] = transit_adapter.departures(tt, s, when, limit)
        return out
    rows = transit_adapter.departures(snapshot.timetable, s, when, limit)
    scheduled = (
        transit_adapter.departures(snapshot.scheduled.timetable, s, when, limit)
        if snapshot.realtime
        else []
    )
    out["departures"] = annotate_departures(rows, scheduled, snapshot, stop_id)[:limit]
    out["alerts"] = [a.to_dict() for a in snapshot.alerts.for_stop(stop_id, at=when.timestamp())]
    out["realtime"] = snapshot.status()
    return out


@router.get(
    "/alerts",
    response_model=list[Alert],
    responses=ERROR_RESPONSES,
    summary="Service alerts in force",
)
def list_alerts(
    route_id: str | None = Query(None, alias="routeId", max_length=200),
    stop_id: str | None = Query(None, alias="stopId", max_length=200),
    trip_id: str | None = Query(None, alias="tripId", max_length=200),
    state: RegionState = Depends(get_state),
) -> list[dict[str, Any]]:
    """GTFS-RT service alerts in force now; filtered by the route, stop or trip they inform."""
    snapshot = state.realtime.current() if state.realtime is not None else None
    if snapshot is None:
        return []
    now = local_time(state, None).timestamp()
    if route_id or stop_id or trip_id:
        found = snapshot.alerts.matching(now, route_id=route_id, stop_id=stop_id, trip_id=trip_id)
    else:
        found = [a for a in snapshot.alerts.alerts if a.active_at(now)]
    return [a.to_dict() for a in found]

"""``/operations``: road closures and traffic readings for operators, and their map layer.

Thin glue over :class:`routing.live.LiveState`, persisted to
``DATA_DIR/live/REGION.json`` and kept in step across worker processes by
:class:`api.services.live_sync.LiveSync` (``state.live``, built once at startup
by :func:`api.state.build_live_sync` and attached to the served networks and the
planner, so routes, matrices, isochrones and plans respect a change at once).
Changing endpoints need the operator key; the GeoJSON of active closures is
public (the map page draws it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from api.deps import get_state, require, require_operator
from api.errors import NotFoundError
from api.schemas import ERROR_RESPONSES, ErrorBody, GeoJSON
from api.services.live_sync import LiveSync
from api.state import RegionState
from api.validation import parse_local_instant
from routing.live import Closure, LiveState

router = APIRouter(prefix="/operations", tags=["operations"])

OPERATOR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key"},
}


def live_sync(state: RegionState) -> LiveSync:
    """The server's :class:`~api.services.live_sync.LiveSync` (503 when it is not loaded)."""
    return require(state, "live", "live road state", state.live)


def live_state(state: RegionState) -> LiveState:
    """The current :class:`routing.live.LiveState` (with changes made by other workers)."""
    return live_sync(state).current()


#: Largest value of a signed 64-bit integer (OSM ids and the arrays behind them are int64).
INT64_MAX = 2**63 - 1
#: Edge ids index a graph's arrays (int32 at most).
EDGE_ID_MAX = 2**31 - 1
#: An OSM way id: a non-negative 64-bit integer (larger values are answered 422, never 500).
WayId = Annotated[int, Field(ge=0, le=INT64_MAX)]
#: An edge id of one profile's graph.
EdgeId = Annotated[int, Field(ge=0, le=EDGE_ID_MAX)]
#: Most ids in one list: a list this long of the largest ids still fits into the default
#: body limit (ELSTER_MAX_BODY_BYTES, 64 KiB), so a list too long is a 422 naming the field,
#: not a 413 about the body.
MAX_IDS = 3000


class ClosureIn(BaseModel):
    """A closure or speed change: by OSM ways, by a polygon, or by edge ids of one profile."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["closed", "speed"] = "closed"
    way_ids: list[WayId] = Field(
        default_factory=list, max_length=MAX_IDS, description="OSM way ids (0 .. 2^63-1)."
    )
    polygon: dict[str, Any] | None = Field(
        default=None, description="GeoJSON Polygon/MultiPolygon (lon, lat), e.g. a flooded area."
    )
    edges: list[EdgeId] = Field(
        default_factory=list,
        max_length=MAX_IDS,
        description="Edge ids of the graph of edge_profile (0 .. 2^31-1).",
    )
    edge_profile: str | None = Field(default=None, max_length=20)
    profiles: list[str] = Field(
        default_factory=list, max_length=8, description="Affected profiles (empty: all)."
    )
    speed_kmh: float | None = Field(default=None, gt=0, le=250)
    factor: float | None = Field(default=None, gt=0, le=10)
    start: str | float | None = Field(default=None, description="ISO 8601 or unix seconds.")
    end: str | float | None = Field(default=None, description="ISO 8601 or unix seconds.")
    reason: str = Field(default="", max_length=500)
    id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class ClosureOut(BaseModel):
    """A stored closure with the number of affected edges per profile."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    active: bool
    edges_per_profile: dict[str, int]


class ClosuresOut(BaseModel):
    """All closures and the state's version."""

    version: int
    closures: list[ClosureOut]


class TrafficReadingIn(BaseModel):
    """One sensor reading: a way (``way_id``) or a point (``lat``/``lon``), a speed and a time.

    The alternative field names of the CSV import are accepted too (``way``,
    ``osm_way_id``; ``speed``, ``kmh``; ``time``, ``measured_at``; ``sensor_id``, ``id``).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    way_id: WayId | None = Field(
        default=None, validation_alias=AliasChoices("way_id", "way", "osm_way_id")
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    speed_kmh: float = Field(
        ge=0, le=250, validation_alias=AliasChoices("speed_kmh", "speed", "kmh")
    )
    timestamp: str | float = Field(
        validation_alias=AliasChoices("timestamp", "time", "measured_at"),
        description="ISO 8601 (without offset: the region's local time) or unix seconds.",
    )
    sensor: str | None = Field(
        default=None, max_length=100, validation_alias=AliasChoices("sensor", "sensor_id", "id")
    )

    def to_record(self) -> dict[str, Any]:
        """The reading as the dict :meth:`routing.live.LiveState.add_traffic` reads."""
        record = {
            "way_id": self.way_id,
            "lat": self.lat,
            "lon": self.lon,
            "speed_kmh": self.speed_kmh,
            "timestamp": self.timestamp,
            "sensor": self.sensor,
        }
        return {k: v for k, v in record.items() if v is not None}


class TrafficIn(BaseModel):
    """Sensor readings: way_id or lat/lon, speed_kmh, timestamp (ISO 8601 or unix seconds)."""

    model_config = ConfigDict(extra="forbid")

    readings: list[TrafficReadingIn] = Field(..., max_length=MAX_IDS)


class TrafficOut(BaseModel):
    """What a traffic upload changed."""

    applied: int
    stale: int
    ignored: list[str]
    version: int


def _closure_out(live: LiveState, closure: Closure) -> dict[str, Any]:
    counts = {p: int(live.closure_edges(closure.id, p).size) for p in live.graphs}
    return {
        **closure.to_json(),
        "active": closure.active(live.now()),
        "edges_per_profile": {p: n for p, n in counts.items() if n},
    }


@router.post(
    "/closures",
    response_model=ClosureOut,
    status_code=201,
    responses=OPERATOR_RESPONSES,
    summary="Add a closure",
)
def add_closure(
    body: ClosureIn = Body(...),
    state: RegionState = Depends(get_state),
    _key: str = Depends(require_operator),
) -> dict[str, Any]:
    """Close roads (or change their speed) now or in a time window; routes respect it at once."""
    zone = state.region.timezone
    parse_local_instant(body.start, zone, name="body field 'start'")
    parse_local_instant(body.end, zone, name="body field 'end'")
    with live_sync(state).change() as live:
        closure = live.add_closure(
            way_ids=body.way_ids,
            polygon=body.polygon,
            edges=body.edges,
            edge_profile=body.edge_profile,
            profiles=body.profiles,
            kind=body.kind,
            speed_kmh=body.speed_kmh,
            factor=body.factor,
            start=body.start,
            end=body.end,
            reason=body.reason,
            closure_id=body.id,
        )
        return _closure_out(live, closure)


@router.get(
    "/closures", response_model=ClosuresOut, responses=OPERATOR_RESPONSES, summary="List closures"
)
def list_closures(
    active_only: bool = Query(False, description="Only closures in force now."),
    state: RegionState = Depends(get_state),
    _key: str = Depends(require_operator),
) -> dict[str, Any]:
    """Every stored closure (also future and expired ones unless ``active_only``)."""
    live = live_state(state)
    items = live.closures(active_at=live.now() if active_only else None)
    return {"version": live.version, "closures": [_closure_out(live, c) for c in items]}


@router.delete(
    "/closures/{closure_id}",
    status_code=204,
    responses=OPERATOR_RESPONSES,
    summary="Delete a closure",
)
def delete_closure(
    closure_id: str = Path(..., max_length=64),
    state: RegionState = Depends(get_state),
    _key: str = Depends(require_operator),
) -> Response:
    """Lift a closure (routes use the roads again at once)."""
    with live_sync(state).change() as live:
        removed = live.remove_closure(closure_id)
    if not removed:
        raise NotFoundError(
            f"no closure with id {closure_id!r}", fix="list them at GET /operations/closures"
        )
    return Response(status_code=204)


@router.post(
    "/traffic", response_model=TrafficOut, responses=OPERATOR_RESPONSES, summary="Post traffic"
)
def post_traffic(
    body: TrafficIn = Body(...),
    state: RegionState = Depends(get_state),
    _key: str = Depends(require_operator),
) -> dict[str, Any]:
    """Current car speeds from sensors; readings older than the TTL are ignored."""
    for i, reading in enumerate(body.readings):
        parse_local_instant(
            reading.timestamp, state.region.timezone, name=f"body field 'readings.{i}.timestamp'"
        )
    with live_sync(state).change() as live:
        result = live.add_traffic([reading.to_record() for reading in body.readings])
        return {**result, "version": live.version}


@router.get(
    "/closures.geojson",
    response_model=GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Active closures (map layer)",
)
def closures_geojson(
    profile: str | None = Query(None, max_length=20, description="Graph to draw the edges of."),
    state: RegionState = Depends(get_state),
) -> dict[str, Any]:
    """Closures in force now as GeoJSON (affected roads, plus the area of polygon closures)."""
    return live_state(state).geojson(profile=profile)

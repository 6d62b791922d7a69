"""``/stations``: bike-share stations, bike boxes and bike parking with live availability."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_state, require, require_operator
from api.errors import NotFoundError
from api.schemas import ERROR_RESPONSES, ErrorBody, GeoJSON
from api.state import RegionState
from api.validation import check_in_region
from routing.errors import RequestError

router = APIRouter(prefix="/stations", tags=["stations"])

OPERATOR_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorBody, "description": "Missing or wrong X-API-Key"},
}
STATION_ID = Path(max_length=200, description="Station id, e.g. 'osm:n1787201156'.")


class StationsOut(BaseModel):
    """Stations as plain records (``format=json``)."""

    stations: list[dict[str, Any]]


class AvailabilityUpdate(BaseModel):
    """Live counts of one station (fields left out are kept)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    bikes_available: int | None = Field(default=None, ge=0, le=10_000, alias="bikesAvailable")
    docks_available: int | None = Field(default=None, ge=0, le=10_000, alias="docksAvailable")
    is_renting: bool | None = Field(default=None, alias="isRenting")
    is_returning: bool | None = Field(default=None, alias="isReturning")
    valid_for_s: float | None = Field(
        default=None,
        gt=0,
        le=7 * 86400,
        alias="validForS",
        description="Seconds the counts stay fresh (default: no limit).",
    )


class UpdateOut(BaseModel):
    """What a live update changed."""

    applied: int
    warnings: list[str] = Field(default_factory=list)


def point_query(
    state: RegionState, lat: float | None, lon: float | None, radius: float
) -> tuple[float, float] | None:
    """Validate an optional (lat, lon) centre: both or neither, inside the region."""
    if (lat is None) != (lon is None):
        raise RequestError("give both lat and lon (a centre for the radius search) or neither")
    if lat is None or lon is None:
        return None
    check_in_region(state, lat, lon, name="lat,lon")
    return lat, lon


def _records(collection: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f in collection["features"]:
        lon, lat = f["geometry"]["coordinates"]
        out.append({**f["properties"], "lat": lat, "lon": lon})
    return out


@router.get(
    "", response_model=StationsOut | GeoJSON, responses=ERROR_RESPONSES, summary="Bike stations"
)
def list_stations(
    lat: float | None = Query(None, ge=-90, le=90, description="Centre of a radius search."),
    lon: float | None = Query(None, ge=-180, le=180),
    radius: float = Query(1000.0, gt=0, le=50_000, description="Search radius in metres."),
    kind: Literal["bike_share", "bike_box", "bike_parking"] | None = Query(None),
    has_bikes: bool = Query(False, alias="hasBikes", description="Only with rentable bikes now."),
    has_free_space: bool = Query(
        False, alias="hasFreeSpace", description="Only with free docks/boxes now."
    ),
    limit: int = Query(500, ge=1, le=5000),
    format: Literal["json", "geojson"] = Query("json"),
    state: RegionState = Depends(get_state),
) -> Any:
    """All stations (or those within ``radius`` of lat/lon, nearest first) with live counts."""
    stations = require(state, "stations", "bike stations", state.stations)
    from routing.stations import stations_to_geojson
    from routing.stations.store import station_filter

    centre = point_query(state, lat, lon, radius)
    keep = station_filter(kind, has_bikes=has_bikes, has_free_space=has_free_space)
    items = stations.select(keep, near=centre, radius_m=radius, limit=limit)
    doc = stations_to_geojson(items)
    return doc if format == "geojson" else {"stations": _records(doc)}


@router.get("/{station_id}", responses=ERROR_RESPONSES, summary="One station")
def get_station(
    station_id: str = STATION_ID, state: RegionState = Depends(get_state)
) -> dict[str, Any]:
    """One station with its live counts."""
    stations = require(state, "stations", "bike stations", state.stations)
    from routing.stations import stations_to_geojson

    station = stations.get(station_id)
    if station is None:
        raise NotFoundError(
            f"no station {station_id!r}", fix="list stations with GET /api/v1/stations"
        )
    return _records(stations_to_geojson([station]))[0]


@router.put(
    "/{station_id}/availability",
    response_model=UpdateOut,
    responses=OPERATOR_RESPONSES,
    dependencies=[Depends(require_operator)],
    summary="Update live availability (operator)",
)
def update_availability(
    update: AvailabilityUpdate = Body(...),
    station_id: str = STATION_ID,
    state: RegionState = Depends(get_state),
) -> UpdateOut:
    """Set a station's live counts (operator key required)."""
    stations = require(state, "stations", "bike stations", state.stations)
    report = stations.update_availability(
        station_id,
        bikes_available=update.bikes_available,
        docks_available=update.docks_available,
        is_renting=update.is_renting,
        is_returning=update.is_returning,
        valid_for_s=update.valid_for_s,
    )
    return report_out(report, what=f"station {station_id!r}")


def report_out(report: Any, *, what: str) -> UpdateOut:
    """Turn a store's UpdateReport into a response, or a 404/422 error."""
    if report.unknown:
        raise NotFoundError(f"unknown {what}: {', '.join(report.unknown)}", fix="check the ids")
    if report.rejected:
        raise RequestError("; ".join(report.rejected))
    return UpdateOut(applied=report.applied, warnings=list(report.warnings))

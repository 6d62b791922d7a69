"""``/plan``: multimodal itineraries between two places (MOTIS/OTP-like shape)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from api.deps import get_state
from api.schemas import ERROR_RESPONSES, GeoJSON, PlanResponse
from api.services.geojson import itineraries_geojson
from api.services.planner import PlanRequest, parse_modes, place, plan
from api.state import RegionState
from api.validation import (
    PLACE_PATTERN,
    check_in_region,
    check_time_window,
    local_time,
    parse_place,
)

router = APIRouter(tags=["plan"])


def plan_time(state: RegionState, value: datetime | None, modes: tuple[str, ...]) -> datetime:
    """Resolve the request time and check it against what the server can answer.

    Transit needs a time inside the loaded timetable's validity; road-only trips
    accept any time within ten years back and two years ahead.
    """
    from api.services.transit_adapter_base import timetable_window

    window = timetable_window(state) if "transit" in modes else None
    default = None
    if value is None and window is not None:
        now = local_time(state, None)
        if not (window[0] <= now <= window[1]):
            # Outside the feed (old test data): today's clock time on the region's sample day.
            day = datetime.fromisoformat(state.region.default_date or window[0].date().isoformat())
            default = now.replace(year=day.year, month=day.month, day=day.day)
    when = local_time(state, value, default=default)
    if window is not None:
        check_time_window(
            when,
            earliest=window[0],
            latest=window[1],
            name="time",
            why="the loaded timetable covers only these days",
        )
    else:
        now = local_time(state, None)
        check_time_window(
            when,
            earliest=now - timedelta(days=3653),
            latest=now + timedelta(days=731),
            name="time",
            why="plans are made within ten years back and two years ahead",
        )
    return when


@router.get(
    "/plan",
    response_model=PlanResponse | GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Plan a trip",
)
def plan_trip(
    from_place: str = Query(
        ...,
        alias="fromPlace",
        max_length=64,
        pattern=PLACE_PATTERN,
        description="Origin as 'lat,lon'.",
        examples=["49.4094,8.6937"],
    ),
    to_place: str = Query(
        ...,
        alias="toPlace",
        max_length=64,
        pattern=PLACE_PATTERN,
        description="Destination as 'lat,lon'.",
        examples=["49.4183,8.6758"],
    ),
    time: datetime | None = Query(
        None,
        description="Departure (or arrival with arriveBy) in ISO 8601; without an offset the "
        "region's local time. Default: now (on the timetable's sample day for old feeds).",
    ),
    arrive_by: bool = Query(False, alias="arriveBy", description="time is the latest arrival."),
    modes: str = Query(
        "walk,transit",
        max_length=100,
        description="Comma-separated modes: walk, bike, car, transit.",
    ),
    num_itineraries: int = Query(5, alias="numItineraries", ge=1, le=10),
    format: Literal["json", "geojson"] = Query(
        "json", description="geojson: one LineString per leg."
    ),
    state: RegionState = Depends(get_state),
) -> Any:
    """Itineraries from ``fromPlace`` to ``toPlace``, earliest arrival first."""
    origin = parse_place(from_place, name="fromPlace")
    destination = parse_place(to_place, name="toPlace")
    check_in_region(state, *origin, name="fromPlace")
    check_in_region(state, *destination, name="toPlace")
    mode_list = parse_modes(modes)
    when = plan_time(state, time, mode_list)
    request = PlanRequest(origin, destination, when, arrive_by, mode_list, num_itineraries)
    itineraries = plan(state, request)
    # The planner already builds the documented shape; answering with a JSONResponse
    # skips re-validating it through the response model (a third of the HTTP overhead).
    if format == "geojson":
        return JSONResponse(itineraries_geojson(itineraries))
    return JSONResponse(
        {
            "from": place("Origin", *origin),
            "to": place("Destination", *destination),
            "time": when.isoformat(),
            "arriveBy": arrive_by,
            "modes": list(mode_list),
            "itineraries": itineraries,
        }
    )

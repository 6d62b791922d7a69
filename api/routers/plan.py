"""``/plan``: multimodal itineraries between two places (MOTIS/OTP-like shape).

A thin adapter over :func:`routing.planner.plan`: parse the query, build a
:class:`~routing.planner.PlanRequest` (the core validates it), plan with the
one :class:`~routing.planner.PlanContext` loaded at startup, and answer the
core's own dicts (or its GeoJSON). "Mapping is simple -- routing is not."
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import get_state, require
from api.json import json_response
from api.schemas import ERROR_RESPONSES, GeoJSON, PlanResponse
from api.state import TIMETABLE_MODES, RegionState, planner_modes
from api.validation import (
    PLACE_PATTERN,
    check_in_region,
    check_time_window,
    local_time,
    parse_place,
)
from routing.errors import RequestError

router = APIRouter(tags=["plan"])

#: Timetable seconds a query may start at: the service day and the early hours after it.
WINDOW_END_S = 30 * 3600 - 1
#: Core field names -> the query parameters a caller can change.
_PARAM_NAMES = (
    ("ev.capacity_kwh", "evCapacityKwh"),
    ("ev.consumption_kwh_per_km", "evConsumptionKwhPerKm"),
    ("ev.battery_kwh", "evBatteryKwh"),
    ("ev.battery_percent", "evBatteryPercent"),
    ("ev.max_ac_kw", "evMaxAcKw"),
    ("ev.max_dc_kw", "evMaxDcKw"),
    ("ev.target_percent", "evTargetPercent"),
    ("ev.reserve_percent", "evReservePercent"),
    ("ev.connectors", "evConnectors"),
    ("max_direct_walk_s", "maxDirectWalkTime"),
    ("max_direct_bike_s", "maxDirectBikeTime"),
    ("max_walk_s", "maxWalkTime"),
    ("max_bike_s", "maxBikeTime"),
    ("max_transfers", "maxTransfers"),
    ("parked_bike_at", "parkedBikeAt"),
    ("depart_at", "time"),
)


def _api_names(message: str) -> str:
    for core, param in _PARAM_NAMES:
        message = message.replace(core, param)
    return message


def timetable_window(state: RegionState) -> tuple[datetime, datetime] | None:
    """First and last instant the loaded timetable answers, or None without one."""
    if state.transit is None:
        return None
    tt = state.transit.timetable
    return tt.to_datetime(0), tt.to_datetime(WINDOW_END_S)


def plan_time(state: RegionState, value: datetime | None, modes: Any) -> datetime:
    """Resolve the request time and check it against what the server can answer.

    Modes that ride transit need a time inside the loaded timetable's validity;
    road-only trips accept any time within ten years back and two years ahead.
    """
    window = timetable_window(state) if TIMETABLE_MODES & set(modes) else None
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


def parse_modes(state: RegionState, text: str) -> tuple[str, ...]:
    """Requested modes in the planner's order; unknown or unavailable ones are a 4xx."""
    from routing.planner import MODES
    from routing.planner.request import parse_modes as core_parse

    try:
        wanted = core_parse(text)
    except RequestError as exc:
        message = _api_names(str(exc)).replace("known modes:", "modes is a list of:")
        raise RequestError(message) from None
    available = planner_modes(state)
    missing = [m for m in MODES if m in wanted and m not in available]
    if missing:
        raise RequestError(
            f"mode(s) {', '.join(missing)} need the timetable, which is not loaded on this "
            f"server ({state.component('transit').detail}); use: {', '.join(available)}"
        )
    return tuple(m for m in MODES if m in wanted)


def ev_spec(
    modes: tuple[str, ...],
    *,
    capacity_kwh: float | None,
    battery_percent: float | None,
    battery_kwh: float | None,
    consumption: float,
    connectors: str | None,
    max_ac_kw: float,
    max_dc_kw: float,
    target_percent: float,
    reserve_percent: float,
) -> Any:
    """The EvSpec of the query, None when no EV mode is asked for (validated by the core)."""
    from routing.planner import EvSpec

    if not {"ev", "ev_park_charge"} & set(modes):
        return None
    if capacity_kwh is None or (battery_percent is None and battery_kwh is None):
        raise RequestError(
            "modes ev and ev_park_charge need the vehicle: give evCapacityKwh and the battery "
            "state as evBatteryPercent or evBatteryKwh (and optionally evConsumptionKwhPerKm)"
        )
    extra: dict[str, Any] = {}
    if connectors:
        extra["connectors"] = tuple(c.strip() for c in connectors.split(",") if c.strip())
    try:
        return EvSpec(
            capacity_kwh=capacity_kwh,
            consumption_kwh_per_km=consumption,
            battery_kwh=battery_kwh,
            battery_percent=battery_percent,
            max_ac_kw=max_ac_kw,
            max_dc_kw=max_dc_kw,
            target_percent=target_percent,
            reserve_percent=reserve_percent,
            **extra,
        )
    except RequestError as exc:
        raise RequestError(_api_names(str(exc))) from None


@router.get(
    "/plan",
    response_model=PlanResponse | GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Plan a trip",
)
async def plan_trip(
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
        description="Departure in ISO 8601; without an offset the region's local time. "
        "Default: now (on the timetable's sample day for old feeds).",
    ),
    arrive_by: bool = Query(
        False,
        alias="arriveBy",
        description="time is the latest arrival: itineraries arrive by then and leave as "
        "late as possible (not with the shuttle mode).",
    ),
    wheelchair: bool = Query(
        False,
        description="Step-free trips: walks on step-free ways only, accessible stops and "
        "trips, shuttles with a wheelchair place, no bike modes; unknown accessibility is "
        "reported per leg.",
    ),
    window: float = Query(
        0,
        ge=0,
        le=7200,
        description="Depart-at only: also consider departures up to this many seconds later.",
    ),
    modes: str = Query(
        "walk,transit",
        max_length=200,
        description="Comma-separated modes: walk, transit, bike, bike_ride (own bike to a "
        "bike box or bike parking, then transit), bike_share, free_floating (walk to a "
        "free-floating e-scooter or bike, ride it within its geofencing zones, park where "
        "allowed), car, ev (with charging stops), ev_park_charge (drive to a free charger "
        "near the destination, walk on), shuttle (on-demand legs to/from transit, when the "
        "server has a dispatcher). Stations, boxes and chargers without live data are "
        "offered with availability 'unknown' on the leg.",
    ),
    num_itineraries: int = Query(5, alias="numItineraries", ge=1, le=10),
    max_walk_time: float = Query(
        900,
        alias="maxWalkTime",
        gt=0,
        le=21600,
        description="Longest walk to/from transit, a station or a charger (seconds).",
    ),
    max_bike_time: float = Query(
        1200,
        alias="maxBikeTime",
        gt=0,
        le=21600,
        description="Longest ride to/from a bike box for bike+ride (seconds).",
    ),
    max_direct_walk_time: float = Query(
        3600,
        alias="maxDirectWalkTime",
        gt=0,
        le=21600,
        description="Longest walk offered as the whole trip (seconds).",
    ),
    max_direct_bike_time: float = Query(
        3600,
        alias="maxDirectBikeTime",
        gt=0,
        le=21600,
        description="Longest bike ride offered as the whole trip (seconds).",
    ),
    max_transfers: int = Query(4, alias="maxTransfers", ge=0, le=10),
    parked_bike_at: str | None = Query(
        None,
        alias="parkedBikeAt",
        min_length=1,
        max_length=200,
        description="bike_ride home: id of the bike box or bike parking holding your bike.",
    ),
    ev_capacity_kwh: float | None = Query(
        None, alias="evCapacityKwh", gt=0, le=1000, description="EV usable battery capacity."
    ),
    ev_battery_percent: float | None = Query(
        None, alias="evBatteryPercent", ge=0, le=100, description="EV charge at departure (%)."
    ),
    ev_battery_kwh: float | None = Query(
        None,
        alias="evBatteryKwh",
        ge=0,
        le=1000,
        description="EV charge at departure (kWh), instead of evBatteryPercent.",
    ),
    ev_consumption: float = Query(
        0.18, alias="evConsumptionKwhPerKm", gt=0, le=2, description="EV consumption."
    ),
    ev_connectors: str | None = Query(
        None,
        alias="evConnectors",
        max_length=300,
        description="Comma-separated OCPI plug standards the car accepts "
        "(default IEC_62196_T2,IEC_62196_T2_COMBO).",
    ),
    ev_max_ac_kw: float = Query(11.0, alias="evMaxAcKw", gt=0, le=1000),
    ev_max_dc_kw: float = Query(50.0, alias="evMaxDcKw", gt=0, le=1000),
    ev_target_percent: float = Query(
        80.0, alias="evTargetPercent", ge=0, le=100, description="Charging stops charge to this."
    ),
    ev_reserve_percent: float = Query(
        5.0, alias="evReservePercent", ge=0, le=100, description="Never arrive with less."
    ),
    format: Literal["json", "geojson"] = Query(
        "json", description="geojson: one LineString per leg, one Point per station used."
    ),
    state: RegionState = Depends(get_state),
) -> Any:
    """Pareto-optimal itineraries (arrival, transfers, effort, cost), earliest arrival first.

    A mode that finds nothing never fails the request: ``reasons`` says why per mode
    (the list of itineraries may then be empty).
    """
    # Planned on the event loop, not in the threadpool: a plan is a few ms of CPU, and
    # handing it to a thread costs more (GIL hand-offs between 20+ threads) than it
    # gives. Throughput comes from one uvicorn worker process per core.
    from routing.planner import PlanRequest, plan, plan_to_geojson
    from routing.transit.itinerary import Place

    planner = require(state, "planner", "trip planning", state.planner)
    # The realtime snapshot this request plans on, read once (api.live.snapshot).
    snapshot = state.realtime.current() if state.realtime is not None else None
    if state.live is not None:
        state.live.current()  # closures posted to another worker apply here too
    if arrive_by and window > 0:
        raise RequestError("window applies to departures only; send it without arriveBy=true")
    origin = parse_place(from_place, name="fromPlace")
    destination = parse_place(to_place, name="toPlace")
    check_in_region(state, *origin, name="fromPlace")
    check_in_region(state, *destination, name="toPlace")
    mode_list = parse_modes(state, modes)
    when = plan_time(state, time, mode_list)
    ev = ev_spec(
        mode_list,
        capacity_kwh=ev_capacity_kwh,
        battery_percent=ev_battery_percent,
        battery_kwh=ev_battery_kwh,
        consumption=ev_consumption,
        connectors=ev_connectors,
        max_ac_kw=ev_max_ac_kw,
        max_dc_kw=ev_max_dc_kw,
        target_percent=ev_target_percent,
        reserve_percent=ev_reserve_percent,
    )
    try:
        request = PlanRequest(
            origin=origin,
            destination=destination,
            depart_at=when,
            modes=frozenset(mode_list),
            ev=ev,
            parked_bike_at=parked_bike_at if "bike_ride" in mode_list else None,
            max_walk_s=max_walk_time,
            max_bike_s=max_bike_time,
            max_direct_walk_s=max_direct_walk_time,
            max_direct_bike_s=max_direct_bike_time,
            max_transfers=max_transfers,
            timezone=state.region.timezone,
            wheelchair=wheelchair,
            arrive_by=arrive_by,
            window_s=float(window),
        )
        context = snapshot.context(planner) if snapshot is not None else planner
        result = plan(request, context)
    except RequestError as exc:
        raise RequestError(_api_names(str(exc))) from None
    del result.itineraries[num_itineraries:]
    if format == "geojson":
        return json_response(plan_to_geojson(result))
    # The core builds the documented shape; answering the dicts directly skips
    # re-validating them through the response model.
    body = {
        "from": Place("Origin", *origin).to_dict(),
        "to": Place("Destination", *destination).to_dict(),
        "time": when.isoformat(),
        "arriveBy": arrive_by,
        "wheelchair": wheelchair,
        "modes": list(mode_list),
        "itineraries": [it.to_dict() for it in result.itineraries],
        "reasons": result.reasons,
    }
    if snapshot is not None:
        from api.live.annotate import annotate_plan

        annotate_plan(body, snapshot)
    return json_response(body)

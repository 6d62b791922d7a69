"""Compose a /plan answer: direct road itineraries plus what the transit planner finds.

Direct walk, bike and car trips come from :mod:`api.services.road`; transit
itineraries (with their walking access and egress) from the transit core via
:mod:`api.services.transit_adapter`. All are dicts in the MOTIS/OTP shape.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from api.services import road
from api.services.polyline import encode
from api.state import RegionState
from routing.errors import ElsterError, NoRouteError, RequestError

logger = logging.getLogger(__name__)

#: Modes a plan request may name, and the road profile of the direct ones.
DIRECT_MODES = {"walk": "WALK", "bike": "BICYCLE", "car": "CAR"}
KNOWN_MODES = ("walk", "bike", "car", "transit")


@dataclass(frozen=True)
class PlanRequest:
    """A validated plan query."""

    origin: tuple[float, float]
    destination: tuple[float, float]
    time: datetime
    arrive_by: bool
    modes: tuple[str, ...]
    num_itineraries: int


def parse_modes(text: str) -> tuple[str, ...]:
    """Parse ``"walk,transit"``; unknown names are a 4xx listing the known ones."""
    modes = tuple(dict.fromkeys(m.strip().lower() for m in text.split(",") if m.strip()))
    if not modes:
        raise RequestError(
            f"modes is empty; give a comma-separated list of: {', '.join(KNOWN_MODES)}"
        )
    unknown = [m for m in modes if m not in KNOWN_MODES]
    if unknown:
        raise RequestError(
            f"unknown mode(s) {', '.join(repr(m) for m in unknown)}; "
            f"modes is a comma-separated list of: {', '.join(KNOWN_MODES)}"
        )
    return modes


def place(name: str, lat: float, lon: float, stop_id: str | None = None) -> dict[str, Any]:
    """A leg end in the wire shape."""
    out: dict[str, Any] = {"name": name, "lat": float(lat), "lon": float(lon)}
    if stop_id is not None:
        out["stopId"] = stop_id
    return out


def direct_itinerary(state: RegionState, mode: str, request: PlanRequest) -> dict[str, Any]:
    """A one-leg itinerary on the road network (raises NoRouteError/SnapError)."""
    found = road.route(state, mode, request.origin, request.destination)
    span = timedelta(seconds=found.duration_s)
    start = request.time - span if request.arrive_by else request.time
    end = start + span
    leg = {
        "mode": DIRECT_MODES[mode],
        "from": place("Origin", *request.origin),
        "to": place("Destination", *request.destination),
        "startTime": start.isoformat(),
        "endTime": end.isoformat(),
        "duration": round(found.duration_s, 1),
        "distance": round(found.distance_m, 1),
        "legGeometry": {
            "points": encode(found.lats, found.lons, 6),
            "precision": 6,
            "length": int(found.lats.size),
        },
    }
    return {
        "duration": leg["duration"],
        "startTime": leg["startTime"],
        "endTime": leg["endTime"],
        "transfers": 0,
        "legs": [leg],
    }


def plan(state: RegionState, request: PlanRequest) -> list[dict[str, Any]]:
    """Return itineraries for ``request``, fastest (by arrival, then duration) first.

    Raises
    ------
    NoRouteError
        When no requested mode finds anything (the message names why per mode).
    """
    itineraries: list[dict[str, Any]] = []
    failures: list[str] = []
    for mode in request.modes:
        try:
            if mode in DIRECT_MODES:
                itineraries.append(direct_itinerary(state, mode, request))
            elif mode == "transit":
                if state.transit is None:
                    raise RequestError(
                        "mode 'transit' is not available on this server (no timetable loaded: "
                        f"{state.component('transit').detail}); use walk, bike or car"
                    )
                from api.services.transit_adapter import plan_transit_itineraries

                itineraries.extend(plan_transit_itineraries(state, request))
        except NoRouteError as exc:
            failures.append(f"{mode}: {exc}")
        except ElsterError:
            raise
    walks = [
        it["duration"]
        for it in itineraries
        if it["legs"][0]["mode"] == "WALK" and len(it["legs"]) == 1
    ]
    if walks:
        # Riding is pointless when walking all the way is as fast.
        itineraries = [
            it
            for it in itineraries
            if not any(leg.get("transitLeg") for leg in it["legs"]) or it["duration"] < walks[0]
        ]
    if not itineraries:
        raise NoRouteError("no itinerary found (" + "; ".join(failures or ["nothing to try"]) + ")")
    if request.arrive_by:
        itineraries.sort(key=lambda it: (it["startTime"], it["duration"]), reverse=True)
    else:
        itineraries.sort(key=lambda it: (it["endTime"], it["duration"]))
    return itineraries[: request.num_itineraries]

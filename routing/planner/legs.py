"""Build :class:`~routing.transit.itinerary.Leg` objects for road stretches and stations.

Candidates carry planned times; these helpers draw the geometry (a route on the
profile's graph, from the exact point to its snapped road position and back off
the road at the end) and attach station / charger details in the leg's
``extra`` (shown in ``to_dict()``): ``fromStation`` / ``toStation`` with the
availability the plan relied on, ``booking`` for bookable legs, ``cost`` in EUR.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from routing.errors import NoRouteError, SnapError
from routing.geo import haversine_m
from routing.planner.searches import Searches
from routing.stations.model import Availability, Station
from routing.transit.itinerary import Leg, Place

log = logging.getLogger(__name__)

PROFILE_MODE = {"walk": "WALK", "bike": "BICYCLE", "car": "CAR"}


def seconds(delta: float) -> dt.timedelta:
    """A timedelta of ``delta`` seconds."""
    return dt.timedelta(seconds=float(delta))


_NO_EDGES = np.zeros(0, np.int64)


class Drawn(NamedTuple):
    """A drawn road stretch: geometry, length, the graph edges used and what is unknown.

    ``edges`` index the graph of ``profile`` (the network that drew it:
    ``wheelchair`` for step-free walks); ``unknown`` counts segments without
    accessibility information (step-free walks only, else None); ``routed``
    is False for a straight line drawn because no road path exists.
    """

    lats: np.ndarray
    lons: np.ndarray
    metres: float
    edges: np.ndarray = _NO_EDGES
    profile: str = ""
    unknown: int | None = None
    routed: bool = True


@dataclass
class RoadLeg(Leg):
    """A WALK / BICYCLE / CAR leg that knows the road edges it follows.

    ``road_edges`` (edge ids of the ``road_profile`` graph, in order) are not
    part of the JSON; they let callers and tests check which roads a plan
    uses (closures, steps).
    """

    road_edges: np.ndarray = field(default_factory=lambda: _NO_EDGES)
    road_profile: str = ""


def road_geometry(s: Searches, profile: str, a: Place, b: Place) -> Drawn:
    """The fastest road path between two places, drawn; a straight line if there is none."""
    try:
        route = s.route(profile, (a.lat, a.lon), (b.lat, b.lon))
        lats = np.concatenate(([a.lat], route.lats, [b.lat]))
        lons = np.concatenate(([a.lon], route.lons, [b.lon]))
        keep = np.ones(lats.size, dtype=bool)
        keep[1:] = (np.diff(lats) != 0) | (np.diff(lons) != 0)
        lats, lons = lats[keep], lons[keep]
        off = float(haversine_m(a.lat, a.lon, lats[1], lons[1])) if lats.size > 1 else 0.0
        off_end = float(haversine_m(lats[-2], lons[-2], b.lat, b.lon)) if lats.size > 1 else 0.0
        # Off-road ends are walked/pushed; count them so the leg length matches the line.
        return Drawn(
            lats,
            lons,
            float(route.distance_m) + off + off_end,
            np.asarray(route.edges, np.int64),
            route.profile,
            route.unknown_access,
        )
    except (SnapError, NoRouteError) as exc:
        log.debug("straight %s line %s -> %s: %s", profile, a.name, b.name, exc)
        lats, lons = np.array([a.lat, b.lat]), np.array([a.lon, b.lon])
        return Drawn(
            lats,
            lons,
            float(haversine_m(a.lat, a.lon, b.lat, b.lon)),
            profile=s.network(profile).profile if profile in s.networks else profile,
            routed=False,
        )


def accessibility(drawn: Drawn) -> dict[str, Any]:
    """The ``accessibility`` object of a step-free walk: what is known about its segments."""
    if not drawn.routed:
        return {"stepFree": "unknown", "unknownSegments": None, "note": "no step-free path drawn"}
    return {"stepFree": True, "unknownSegments": int(drawn.unknown or 0)}


def drawn_leg(
    mode: str,
    a: Place,
    b: Place,
    start: dt.datetime,
    duration_s: float,
    drawn: Drawn,
    extra: dict[str, Any] | None = None,
) -> RoadLeg:
    """A :class:`RoadLeg` from a drawn stretch (step-free walks get ``accessibility``)."""
    extra = dict(extra or {})
    if drawn.profile == "wheelchair":
        extra["accessibility"] = accessibility(drawn)
    return RoadLeg(
        mode,
        a,
        b,
        start,
        start + seconds(duration_s),
        drawn.metres,
        drawn.lats,
        drawn.lons,
        extra=extra,
        road_edges=drawn.edges,
        road_profile=drawn.profile,
    )


def road_leg(
    s: Searches,
    profile: str,
    a: Place,
    b: Place,
    start: dt.datetime,
    duration_s: float,
    *,
    mode: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Leg:
    """A WALK / BICYCLE / CAR leg with planned times and drawn geometry."""
    drawn = road_geometry(s, profile, a, b)
    return drawn_leg(mode or PROFILE_MODE[profile], a, b, start, duration_s, drawn, extra)


def shift_legs(legs: list[Leg], delta_s: float) -> list[Leg]:
    """Move every leg (and intermediate stop) ``delta_s`` seconds later (earlier if negative)."""
    d = seconds(delta_s)
    for leg in legs:
        leg.start += d
        leg.end += d
        if leg.intermediate_stops:
            from dataclasses import replace

            leg.intermediate_stops = [
                replace(c, arrival=c.arrival + d, departure=c.departure + d)
                for c in leg.intermediate_stops
            ]
    return legs


def point_leg(
    mode: str, where: Place, start: dt.datetime, duration_s: float, extra: dict[str, Any]
) -> Leg:
    """A leg that stays in one place (charging): zero distance, a one-point geometry."""
    return Leg(
        mode,
        where,
        where,
        start,
        start + seconds(duration_s),
        0.0,
        np.array([where.lat, where.lat]),
        np.array([where.lon, where.lon]),
        extra=dict(extra),
    )


def station_place(station: Station) -> Place:
    """The :class:`Place` of a bike station."""
    return Place(station.name, station.lat, station.lon)


#: Station actions and what each needs there now.
_NEEDS_BIKE = frozenset({"rent_bike"})
_NEEDS_SPACE = frozenset({"return_bike", "park_bike"})
UNKNOWN_NOTE = "availability unknown: no live data for this site; have a fallback in mind"


def station_availability(station: Station, action: str) -> Availability | None:
    """What is known about what ``action`` needs at ``station`` (None: needs nothing)."""
    if action in _NEEDS_BIKE:
        return station.bike_availability()
    if action in _NEEDS_SPACE:
        return station.space_availability()
    return None


def station_info(station: Station, *, action: str) -> dict[str, Any]:
    """What the plan relied on at a station: kind, live counts, when they were reported.

    ``availability`` is ``available`` (fresh live data shows a bike / a free
    space), ``unknown`` (no live data, or stale: offered anyway) or None when
    the action needs nothing (picking up one's own bike).
    """
    avail = station_availability(station, action)
    info = {
        "id": station.id,
        "name": station.name,
        "kind": station.kind.value,
        "action": action,
        "bikesAvailable": station.bikes_available,
        "docksAvailable": station.docks_available,
        "capacity": station.capacity,
        "realtime": station.realtime,
        "stale": station.stale,
        "availability": None if avail is None else avail.value,
        "lastReported": station.last_reported.isoformat() if station.last_reported else None,
        "operator": station.operator,
    }
    if avail is Availability.UNKNOWN:
        info["availabilityNote"] = UNKNOWN_NOTE
    return info


def availability_flags(*infos: dict[str, Any]) -> dict[str, Any]:
    """Leg fields saying what the leg relies on at its stations or chargers.

    ``reliesOnRealtime`` is true when live data showed the bike, space or
    charging point the leg needs; ``availability`` is ``unknown`` when any of
    them has no (fresh) live data, else ``available``.
    """
    levels = [i.get("availability") for i in infos if i.get("availability") is not None]
    if not levels:
        return {}
    return {
        "reliesOnRealtime": any(v == Availability.AVAILABLE.value for v in levels),
        "availability": (
            Availability.UNKNOWN.value
            if Availability.UNKNOWN.value in levels
            else Availability.AVAILABLE.value
        ),
    }


def unknown_buffer_s(settings: Any, *availabilities: Availability | None) -> float:
    """Extra seconds planned for sites of unknown availability (to find room or move on)."""
    n = sum(1 for a in availabilities if a is Availability.UNKNOWN)
    return float(n * settings.unknown_availability_s)


def cost(amount: float) -> dict[str, Any]:
    """The ``cost`` object of a leg (EUR, rounded to cents)."""
    return {"amount": round(float(amount), 2), "currency": "EUR"}

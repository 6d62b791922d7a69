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
from routing.stations.model import Station
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


def station_info(station: Station, *, action: str) -> dict[str, Any]:
    """What the plan relied on at a station: kind, live counts, when they were reported."""
    return {
        "id": station.id,
        "name": station.name,
        "kind": station.kind.value,
        "action": action,
        "bikesAvailable": station.bikes_available,
        "docksAvailable": station.docks_available,
        "capacity": station.capacity,
        "realtime": station.realtime,
        "lastReported": station.last_reported.isoformat() if station.last_reported else None,
        "operator": station.operator,
    }


def cost(amount: float) -> dict[str, Any]:
    """The ``cost`` object of a leg (EUR, rounded to cents)."""
    return {"amount": round(float(amount), 2), "currency": "EUR"}
